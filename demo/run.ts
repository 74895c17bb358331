// `npm run demo`: the point of the project on one machine, no cloud account. A Kinesis emulator, a
// slow enrichment endpoint, and the processor run twice over the same stream: once with capacity 1
// (the AWS sample's synchronous Map) and once with capacity C (Async I/O). Ends with a table and a
// check that every record reached the sink or the dead-letter stream.
import { parseArgs } from "node:util";
import { pino } from "pino";
import { createMemoryCheckpointStore } from "../processor/checkpoint/store.ts";
import { validateConfig } from "../processor/config/load.ts";
import { startProcessor } from "../processor/processor.ts";
import { startDemoEndpoint, type DemoEndpoint } from "./endpoint.ts";
import { startKinesisEmulator, type KinesisEmulator } from "./kinesis-emulator.ts";
import { latencyStats } from "./latency-stats.ts";
import { produceRecords, readAllRecords, type StoredRecord } from "./stream-tools.ts";

const usage = `Usage: npm run demo -- [options]
  --records N        records to produce (default 5000)
  --latency-ms MS    endpoint latency (default 50)
  --capacity C       requests in flight in the async run (default 50)
  --error-rate R     share of endpoint calls answered with 500, 0..1 (default 0.01)
  --shards S         source stream shards (default 4)
  --ordering O       unordered (default, as the AWS sample's unorderedWait) or ordered
  --sync-seconds T   time box of the capacity-1 run (default 10; it would take records x latency)`;

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "5000" },
    "latency-ms": { type: "string", default: "50" },
    capacity: { type: "string", default: "50" },
    "error-rate": { type: "string", default: "0.01" },
    shards: { type: "string", default: "4" },
    ordering: { type: "string", default: "unordered" },
    "sync-seconds": { type: "string", default: "10" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

function numberFlag(name: keyof typeof values, min: number, max: number): number {
  const value = Number(values[name]);
  if (!Number.isFinite(value) || value < min || value > max) {
    process.stderr.write(
      `--${name}: expected a number from ${min} to ${max}, got ${String(values[name])}\n\n${usage}\n`,
    );
    process.exit(2);
  }
  return value;
}

const records = numberFlag("records", 1, 1_000_000);
const latencyMs = numberFlag("latency-ms", 0, 60_000);
const capacity = numberFlag("capacity", 1, 10_000);
const errorRate = numberFlag("error-rate", 0, 1);
const shards = numberFlag("shards", 1, 50);
const syncSeconds = numberFlag("sync-seconds", 1, 3_600);
const ordering = values.ordering;
if (ordering !== "ordered" && ordering !== "unordered") {
  process.stderr.write(`--ordering: expected ordered or unordered, got ${ordering}\n\n${usage}\n`);
  process.exit(2);
}

const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

interface RunResult {
  name: string;
  capacity: number;
  written: number;
  seconds: number;
  perSecond: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  complete: boolean;
  checked: string;
}

const json = (bytes: Uint8Array): Record<string, unknown> =>
  JSON.parse(Buffer.from(bytes).toString()) as Record<string, unknown>;
const idOf = (record: StoredRecord): number => Number(json(record.data).id);
/** A dead letter carries the original record, base64-encoded, in its data field. */
const deadLetterIdOf = (record: StoredRecord): number =>
  Number(json(Buffer.from(String(json(record.data).data), "base64")).id);

async function run(
  emulator: KinesisEmulator,
  source: string,
  name: string,
  runCapacity: number,
  timeBoxSeconds: number | undefined,
): Promise<RunResult> {
  const sink = `demo-sink-${name}`;
  const deadLetter = `demo-dead-letter-${name}`;
  await emulator.createStream(sink, 2);
  await emulator.createStream(deadLetter, 1);
  const store = createMemoryCheckpointStore();
  const config = validateConfig({
    jobName: `demo-${name}`,
    aws: { endpoint: emulator.endpoint },
    source: { stream: source, idleTimeBetweenReadsMs: 200 },
    sink: { stream: sink },
    deadLetter: { stream: deadLetter },
    endpoint: {
      url: `${endpointUrl}/enrich`,
      timeoutMs: Math.max(1_000, latencyMs * 10),
      deadlineMs: 60_000,
    },
    capacity: runCapacity,
    ordering,
    checkpointIntervalMs: 1_000,
  });
  const processor = startProcessor(config, {
    kinesis: emulator.client,
    checkpointStore: store,
    logger: pino({ level: "warn" }, process.stderr),
  });
  const count = async (metric: string): Promise<number> =>
    (await processor.metrics.registry.getSingleMetric(metric)?.get())?.values.reduce(
      (sum, sample) => sum + sample.value,
      0,
    ) ?? 0;

  say(
    `\n${name}: capacity ${runCapacity}, ${ordering}${timeBoxSeconds === undefined ? "" : `, time-boxed to ${timeBoxSeconds} s`}`,
  );
  let firstReadAt: number | undefined;
  let written: number;
  let lastPrint = 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const read = await count("aej_records_in_total");
    written = await count("aej_sink_records_written_total");
    const now = performance.now();
    if (read > 0) firstReadAt ??= now;
    const elapsed = firstReadAt === undefined ? 0 : (now - firstReadAt) / 1000;
    if (now - lastPrint > 1_000 || written >= records) {
      lastPrint = now;
      const status = processor.status();
      say(
        `  ${elapsed.toFixed(1).padStart(5)} s  fetched ${read}/${records}  written ${written}  in flight ${status.inFlight}/${runCapacity}  ${(written / Math.max(elapsed, 0.001)).toFixed(0)} records/s`,
      );
    }
    if (written >= records || (timeBoxSeconds !== undefined && elapsed >= timeBoxSeconds)) break;
  }
  const seconds = firstReadAt === undefined ? 0 : (performance.now() - firstReadAt) / 1000;
  const latency = await latencyStats(processor.metrics.registry);
  await processor.stop("demo run over");

  // Everything the run checkpointed (all of it, unless time-boxed) must be in the sink or the dead letter.
  const outputIds = new Set([
    ...(await readAllRecords(emulator.client, sink)).map(idOf),
    ...(await readAllRecords(emulator.client, deadLetter)).map(deadLetterIdOf),
  ]);

  const covered = sourceRecords.filter((record) => {
    const checkpoint = store.checkpoints.get(record.shardId);
    return checkpoint !== undefined && BigInt(record.sequenceNumber) <= BigInt(checkpoint);
  });
  const missing = covered.filter((record) => !outputIds.has(idOf(record))).length;
  return {
    name,
    capacity: runCapacity,
    written,
    seconds,
    perSecond: written / Math.max(seconds, 0.001),
    meanMs: latency.meanMs,
    p50Ms: latency.p50Ms,
    p99Ms: latency.p99Ms,
    complete: missing === 0 && (timeBoxSeconds !== undefined || covered.length === records),
    checked: `${covered.length - missing}/${covered.length} checkpointed records found in sink or dead letter`,
  };
}

let sourceRecords: StoredRecord[] = [];
let endpointUrl = "";

function table(results: RunResult[]): string {
  const header = [
    "run",
    "capacity",
    "records",
    "seconds",
    "records/s",
    "mean ms",
    "p50 ms",
    "p99 ms",
    "Little's-law bound/s",
    "ratio",
  ];
  const rows = results.map((result) => {
    const bound = result.capacity / (result.meanMs / 1000);
    return [
      result.name,
      String(result.capacity),
      String(result.written),
      result.seconds.toFixed(1),
      result.perSecond.toFixed(1),
      result.meanMs.toFixed(1),
      `≈${result.p50Ms.toFixed(0)}`,
      `≈${result.p99Ms.toFixed(0)}`,
      bound.toFixed(1),
      (result.perSecond / bound).toFixed(2),
    ];
  });
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join(
    "\n",
  );
}

let emulator: KinesisEmulator | undefined;
let endpoint: DemoEndpoint | undefined;
const cleanUp = async (): Promise<void> => {
  await endpoint?.close();
  await emulator?.stop();
};
process.once("SIGINT", () => {
  say("\ninterrupted: stopping the emulator and the endpoint");
  void cleanUp().then(() => process.exit(130));
});

try {
  say("starting the Kinesis emulator (kinesis-local) and the demo endpoint on 127.0.0.1");
  emulator = await startKinesisEmulator();
  endpoint = await startDemoEndpoint({ latencyMs, jitterMs: latencyMs / 5, errorRate });
  endpointUrl = endpoint.url;
  say(
    `  emulator ${emulator.endpoint}, endpoint ${endpoint.url} (latency ${latencyMs} ms ± ${latencyMs / 10}, error rate ${errorRate})`,
  );
  await emulator.createStream("demo-source", shards);
  say(`producing ${records} records to demo-source (${shards} shards)`);
  await produceRecords(
    emulator.client,
    "demo-source",
    Array.from({ length: records }, (_, id) => ({
      data: Buffer.from(JSON.stringify({ id, customer: `c-${id % 97}` })),
      partitionKey: `c-${id % 97}`,
    })),
  );
  sourceRecords = await readAllRecords(emulator.client, "demo-source");

  const sync = await run(emulator, "demo-source", "sync", 1, syncSeconds);
  const asyncRun = await run(emulator, "demo-source", "async", capacity, undefined);

  process.stdout.write(`\n${table([sync, asyncRun])}\n\n`);
  process.stdout.write(
    `speed-up of capacity ${capacity} over capacity 1: ${(asyncRun.perSecond / sync.perSecond).toFixed(1)}x\n`,
  );
  for (const result of [sync, asyncRun]) {
    process.stdout.write(
      `${result.name}: ${result.complete ? "OK" : "MISSING RECORDS"}, ${result.checked}\n`,
    );
  }
  await cleanUp();
  process.exit(sync.complete && asyncRun.complete ? 0 : 1);
} catch (error) {
  say(`demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await cleanUp();
  process.exit(1);
}
