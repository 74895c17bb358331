// The integration test bed: the real Kinesis emulator and a processor wired to it, with quiet logs.
// One emulator per test file; each test creates streams of its own so tests cannot see each other.
import { randomUUID } from "node:crypto";
import {
  DescribeStreamSummaryCommand,
  SplitShardCommand,
  type KinesisClient,
} from "@aws-sdk/client-kinesis";
import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { startKinesisEmulator, type KinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { produceRecords } from "../../demo/stream-tools.ts";
import type { CheckpointStore } from "../../processor/checkpoint/store.ts";
import { validateConfig } from "../../processor/config/load.ts";
import type { ProcessorConfigInput } from "../../processor/config/schema.ts";
import { startProcessor, type Processor } from "../../processor/processor.ts";
import { metricValue } from "./metric-value.ts";
import { waitFor } from "./wait-for.ts";

export interface Streams {
  source: string;
  sink: string;
  deadLetter: string;
}

/** A logger that keeps lines in memory, so tests can assert on what was logged. */
export function memoryLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: pino({ level: "debug" }, sink), lines };
}

export async function createStreams(
  emulator: KinesisEmulator,
  sourceShards: number,
): Promise<Streams> {
  const id = randomUUID().slice(0, 8);
  const streams = { source: `source-${id}`, sink: `sink-${id}`, deadLetter: `dead-${id}` };
  await emulator.createStream(streams.source, sourceShards);
  await emulator.createStream(streams.sink, 2);
  await emulator.createStream(streams.deadLetter, 1);
  return streams;
}

export function jsonRecords(count: number, keys = 20, from = 0) {
  return Array.from({ length: count }, (_, index) => ({
    data: Buffer.from(JSON.stringify({ id: from + index, key: `k${(from + index) % keys}` })),
    partitionKey: `k${(from + index) % keys}`,
  }));
}

export async function produce(
  emulator: KinesisEmulator,
  stream: string,
  records: ReturnType<typeof jsonRecords>,
) {
  await produceRecords(emulator.client, stream, records);
}

export function runProcessor(
  emulator: KinesisEmulator,
  streams: Streams,
  overrides: Partial<ProcessorConfigInput> & Pick<ProcessorConfigInput, "endpoint">,
  dependencies: {
    checkpointStore?: CheckpointStore;
    logger?: Logger;
    kinesis?: KinesisClient;
  } = {},
): Processor {
  const config = validateConfig({
    jobName: "test",
    aws: { endpoint: emulator.endpoint },
    source: {
      stream: streams.source,
      idleTimeBetweenReadsMs: 200,
      shardDiscoveryIntervalMs: 1_000,
    },
    sink: { stream: streams.sink },
    deadLetter: { stream: streams.deadLetter },
    checkpointIntervalMs: 200,
    ...overrides,
  });
  return startProcessor(config, {
    kinesis: dependencies.kinesis ?? emulator.client,
    logger: dependencies.logger ?? memoryLogger().logger,
    ...(dependencies.checkpointStore === undefined
      ? {}
      : { checkpointStore: dependencies.checkpointStore }),
  });
}

/** Waits until the sink and dead-letter streams have acknowledged `count` records in all. */
export async function waitForOutput(
  processor: Processor,
  count: number,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    () => metricValue(processor.metrics.registry, "aej_sink_records_written_total"),
    (written) => written >= count,
    { timeoutMs, what: `${count} records written to sink and dead letter` },
  );
}

/** Splits a shard at the middle of the hash key space (or `at`) and waits for the stream. */
export async function splitShard(
  emulator: KinesisEmulator,
  stream: string,
  shardId = "shardId-000000000000",
  at = 2n ** 127n,
): Promise<void> {
  await emulator.client.send(
    new SplitShardCommand({
      StreamName: stream,
      ShardToSplit: shardId,
      NewStartingHashKey: at.toString(),
    }),
  );
  await waitFor(
    async () =>
      (await emulator.client.send(new DescribeStreamSummaryCommand({ StreamName: stream })))
        .StreamDescriptionSummary?.StreamStatus,
    (status) => status === "ACTIVE",
    { timeoutMs: 10_000, what: `the split of ${shardId} done` },
  );
}

export { startKinesisEmulator, type KinesisEmulator };
