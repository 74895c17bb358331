// The demo endpoint in a process of its own, as a real service would be: its timers then do not
// share an event loop with the processor or the client being measured.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";

export interface EndpointProcess {
  url: string;
  stop(): Promise<void>;
}

/** Starts an HTTP server script in a child process and resolves once it printed its {"url"}. */
export async function startServerProcess(
  script: string,
  args: readonly string[],
): Promise<EndpointProcess> {
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const { url } = JSON.parse(line) as { url?: string };
    if (url !== undefined) {
      lines.close();
      return {
        url,
        stop: async () => {
          child.kill("SIGTERM");
          await exited;
        },
      };
    }
  }
  throw new Error(`${script} exited before it listened`);
}

export function startEndpointProcess(latencyMs: number): Promise<EndpointProcess> {
  return startServerProcess(join(import.meta.dirname, "../../demo/endpoint.ts"), [
    "--port",
    "0",
    "--latency-ms",
    String(latencyMs),
  ]);
}
