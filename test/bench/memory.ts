// Memory of a processor pod (the real entry point, in a process of its own): its peak RSS while
// it drains a backlog (memory must follow capacity and batch sizes, not the number of records
// waiting), and its RSS while it holds shards that carry no traffic.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  emulatorCredentials,
  freePort,
  type KinesisEmulator,
} from "../../demo/kinesis-emulator.ts";
import { produceRecords } from "../../demo/stream-tools.ts";
import { waitFor } from "../support/wait-for.ts";

export const sourceShards = 20;
export const maxRecordsPerFetch = 500;

export interface DrainResult {
  records: number;
  seconds: number;
  maxRssBytes: number;
}

interface RunningProcessor {
  child: ChildProcess;
  port: number;
  /** Its /metrics text, empty until it answers. */
  metrics(): Promise<string>;
  /** Resident set now, from /proc (Linux). */
  rssBytes(): number;
  /** Stops it (SIGTERM) and returns its peak RSS, from its last log line. */
  stop(): Promise<number>;
}

async function startProcessorProcess(
  config: Record<string, unknown>,
  /** The heap the processor gets, as a pod's memory limit would size it. */
  nodeOptions: string,
): Promise<RunningProcessor> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "bench-processor-"));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ ...config, metrics: { host: "127.0.0.1", port } }),
  );
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "../../processor/main.ts"), "--config", join(dir, "config.json")],
    {
      env: {
        PATH: process.env.PATH ?? "",
        NODE_OPTIONS: nodeOptions,
        AWS_ACCESS_KEY_ID: emulatorCredentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: emulatorCredentials.secretAccessKey,
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      resolve();
    }),
  );
  return {
    child,
    port,
    async metrics() {
      const response = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      return (await response?.text()) ?? "";
    },
    rssBytes() {
      const status = readFileSync(`/proc/${child.pid ?? 0}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024;
    },
    async stop() {
      child.kill("SIGTERM");
      await exited;
      const stopped = output
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { msg?: string; maxRssBytes?: number })
        .find((line) => line.msg === "processor stopped");
      if (stopped?.maxRssBytes === undefined)
        throw new Error(`the processor did not report its peak RSS:\n${output}`);
      return stopped.maxRssBytes;
    },
  };
}

export async function drainBacklog(
  emulator: KinesisEmulator,
  endpointUrl: string,
  records: number,
  capacity: number,
  nodeOptions: string,
  progress: (line: string) => void,
): Promise<DrainResult> {
  const names = { source: `drain-source-${records}`, sink: `drain-sink-${records}` };
  // The emulator slows down as a shard grows; many shards keep producing the backlog fast.
  await emulator.createStream(names.source, sourceShards);
  await emulator.createStream(names.sink, 4);
  const payload = "x".repeat(200);
  await produceRecords(
    emulator.client,
    names.source,
    Array.from({ length: records }, (_, id) => ({
      data: Buffer.from(JSON.stringify({ id, payload })),
      partitionKey: `k-${id % 1000}`,
    })),
    (written) => {
      if (written % 50_000 === 0) progress(`  produced ${written}/${records}`);
    },
  );
  const started = performance.now();
  const processor = await startProcessorProcess(
    {
      jobName: "drain",
      aws: { endpoint: emulator.endpoint },
      // Records held by readers are at most shards x maxRecordsPerFetch: that, with capacity and
      // the sink's batches, is what bounds memory; the backlog stays in the stream.
      source: { stream: names.source, maxRecordsPerFetch },
      sink: { stream: names.sink },
      endpoint: { url: endpointUrl },
      capacity,
      failurePolicy: "drop",
    },
    nodeOptions,
  );
  let lastReport = 0;
  await waitFor(
    async () => {
      const written = Number(
        /aej_sink_records_written_total\{[^}]*role="sink"[^}]*\} (\d+)/.exec(
          await processor.metrics(),
        )?.[1] ?? 0,
      );
      if (performance.now() - lastReport > 5_000) {
        lastReport = performance.now();
        progress(`  drained ${written}/${records}`);
      }
      return written;
    },
    (written) => written >= records,
    { timeoutMs: 600_000, what: `${records} records drained`, intervalMs: 250 },
  );
  const seconds = (performance.now() - started) / 1000;
  return { records, seconds, maxRssBytes: await processor.stop() };
}

/** RSS of a processor reading `shards` empty shards, once it has held them for `settleMs`. */
export async function idleRss(
  emulator: KinesisEmulator,
  endpointUrl: string,
  shards: number,
  nodeOptions: string,
  settleMs: number,
): Promise<number> {
  const names = { source: `idle-source-${shards}`, sink: `idle-sink-${shards}` };
  await emulator.createStream(names.source, shards);
  await emulator.createStream(names.sink, 1);
  const processor = await startProcessorProcess(
    {
      jobName: "idle",
      aws: { endpoint: emulator.endpoint },
      source: { stream: names.source },
      sink: { stream: names.sink },
      endpoint: { url: endpointUrl },
      capacity: 100,
      failurePolicy: "drop",
    },
    nodeOptions,
  );
  try {
    // Reading: every shard has answered a GetRecords call at least once.
    await waitFor(
      async () => (await processor.metrics()).split("\naej_millis_behind_latest{").length - 1,
      (reading) => reading >= shards,
      { timeoutMs: 30_000, what: `the processor to read ${shards} shards`, intervalMs: 250 },
    );
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    return processor.rssBytes();
  } finally {
    await processor.stop();
  }
}
