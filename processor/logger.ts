// pino JSON logs, one line per event, with the job and worker on every line.
import { pino, type Logger } from "pino";

export function createLogger(
  level: string,
  bindings: Record<string, string>,
  destination?: NodeJS.WritableStream,
): Logger {
  return pino(
    { level, base: bindings, timestamp: pino.stdTimeFunctions.isoTime },
    destination ?? process.stdout,
  );
}
