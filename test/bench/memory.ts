// Memory of a processor pod (the real entry point, in a process of its own): its peak RSS while
// it drains a backlog (memory must follow capacity and batch sizes, not the number of records
// waiting), and its RSS while it holds shards that carry no traffic.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  emulatorCredentials,
  freePort,
  type KinesisEmulator,
} from "../../demo/kinesis-emulator.ts";
import { produceRecords } from "../../demo/stream-tools.ts";
import { temporaryDirectory } from "../support/temporary-directory.ts";
import { waitFor } from "../support/wait-for.ts";

export const sourceShards = 20;
export const maxRecordsPerFetch = 500;

/** Where a processor's memory is, from its own /metrics (prom-client's default metrics). */
export interface MemoryBreakdown {
  rssBytes: number;
  heapTotalBytes: number;
  heapUsedBytes: number;
  /** Memory of JavaScript objects held outside the heap: Buffers and other array buffers. */
  externalBytes: number;
  /** The young generation: what a scavenge copies from and to. */
  newSpaceBytes: number;
}

export interface DrainResult {
  records: number;
  seconds: number;
  maxRssBytes: number;
  /** The sample taken while the RSS was highest. */
  atPeak: MemoryBreakdown;
}

const gauge = (metrics: string, name: string, labels = ""): number =>
  Number(new RegExp(`^${name}\\{${labels}[^}]*\\} (\\S+)$`, "m").exec(metrics)?.[1] ?? Number.NaN);

export function memoryBreakdown(metrics: string): MemoryBreakdown {
  return {
    rssBytes: gauge(metrics, "process_resident_memory_bytes"),
    heapTotalBytes: gauge(metrics, "nodejs_heap_size_total_bytes"),
    heapUsedBytes: gauge(metrics, "nodejs_heap_size_used_bytes"),
    externalBytes: gauge(metrics, "nodejs_external_memory_bytes"),
    newSpaceBytes: gauge(metrics, "nodejs_heap_space_size_total_bytes", 'space="new",'),
  };
}

interface RunningProcessor {
  child: ChildProcess;
  port: number;
  /** Its /metrics text, empty until it answers. */
  metrics(): Promise<string>;
  /** Stops it (SIGTERM) and returns its peak RSS, from its last log line. */
  stop(): Promise<number>;
}

async function startProcessorProcess(
  /** processor/main.js as the image holds it (compiled-processor.ts). */
  script: string,
  config: Record<string, unknown>,
  /** The heap the processor gets, as a pod's memory limit would size it. */
  nodeOptions: string,
): Promise<RunningProcessor> {
  const port = await freePort();
  const dir = temporaryDirectory("bench-processor-");
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ ...config, metrics: { host: "127.0.0.1", port } }),
  );
  const child = spawn(process.execPath, [script, "--config", join(dir, "config.json")], {
    env: {
      PATH: process.env.PATH ?? "",
      NODE_OPTIONS: nodeOptions,
      AWS_ACCESS_KEY_ID: emulatorCredentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emulatorCredentials.secretAccessKey,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
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
  script: string,
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
    script,
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
  let atPeak = memoryBreakdown("");
  await waitFor(
    async () => {
      const metrics = await processor.metrics();
      const memory = memoryBreakdown(metrics);
      if (!(memory.rssBytes <= atPeak.rssBytes)) atPeak = memory;
      const written = Number(
        /aej_sink_records_written_total\{[^}]*role="sink"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0,
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
  return { records, seconds, maxRssBytes: await processor.stop(), atPeak };
}

/** Memory of a processor reading `shards` empty shards, once it has held them for `settleMs`. */
export async function idleMemory(
  script: string,
  emulator: KinesisEmulator,
  endpointUrl: string,
  shards: number,
  nodeOptions: string,
  settleMs: number,
): Promise<MemoryBreakdown> {
  const names = { source: `idle-source-${shards}`, sink: `idle-sink-${shards}` };
  await emulator.createStream(names.source, shards);
  await emulator.createStream(names.sink, 1);
  const processor = await startProcessorProcess(
    script,
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
    return memoryBreakdown(await processor.metrics());
  } finally {
    await processor.stop();
  }
}
