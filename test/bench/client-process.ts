// One side of a per-record comparison (the processor's in-memory pipeline, or the bare undici
// loop) in a process of its own: its CPU time is then its own, neither side inherits the other's
// heap or JIT state, and the parent only starts it and reads one JSON line.
import { spawn } from "node:child_process";
import { bareUndiciWindow } from "./bare-undici.ts";
import { inMemoryPipelineWindow } from "./in-memory-pipeline.ts";
import type { Window } from "./measure-window.ts";

/** The processor's in-memory pipeline, or a bare loop through pool.request or the dispatcher. */
export type Side = "pipeline" | "bare-request" | "bare-dispatch";

export interface ClientRun {
  side: Side;
  url: string;
  capacity: number;
  /** The request body: the same bytes on both sides. */
  body: string;
  warmupMs: number;
  durationMs: number;
  /** Node flags for the child (heap sizes), before its script. */
  nodeFlags?: readonly string[];
}

/** A window, and the child's peak resident set over its whole run. */
export interface ClientWindow extends Window {
  maxRssBytes: number;
}

export async function runInChildProcess(run: ClientRun): Promise<ClientWindow> {
  const child = spawn(
    process.execPath,
    [...(run.nodeFlags ?? []), import.meta.filename, JSON.stringify(run)],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`the ${run.side} client exited with ${code}: ${output}`);
  return JSON.parse(output) as ClientWindow;
}

if (import.meta.main) {
  const run = JSON.parse(process.argv[2] ?? "") as ClientRun;
  const body = Buffer.from(run.body);
  const window =
    run.side === "pipeline"
      ? await inMemoryPipelineWindow(run.url, run.capacity, body, run.durationMs, run.warmupMs)
      : await bareUndiciWindow(
          run.url,
          run.capacity,
          body,
          run.durationMs,
          run.warmupMs,
          run.side === "bare-request" ? "request" : "dispatch",
        );
  const maxRssBytes = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`${JSON.stringify({ ...window, maxRssBytes })}\n`);
}
