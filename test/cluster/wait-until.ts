// Polls a check until it yields a value or a deadline passes; fails with what was last seen, and at
// once if one of the watched processes has died (with the tail of its log), never on a bare sleep.
import { existsSync, readFileSync } from "node:fs";
import type { OwnedProcess } from "./owned-process.ts";

export interface Watched {
  name: string;
  process: OwnedProcess;
  log: string;
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return "(no log)";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; watched?: Watched[]; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: string;
  for (;;) {
    for (const { name, process, log } of options.watched ?? []) {
      const { exitCode, signalCode } = process.child;
      if (exitCode !== null || signalCode !== null) {
        throw new Error(
          `${name} exited (${String(exitCode ?? signalCode)}) while waiting for ${what}; ` +
            `end of ${log}:\n${tail(log, 20)}`,
        );
      }
    }
    try {
      const value = await check();
      if (value !== undefined) return value;
      last = "not yet";
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}; last: ${last}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
