// What KPL aggregation on write saves: the sink batcher writes the same 10,000 small output records
// with aggregation off and on, and every PutRecords entry it sends is counted (entries, bytes, and
// billed PUT payload units: 25 KiB each, per entry rounded up). Counting runs against an in-process
// stream that answers as Kinesis does (each entry placed on the shard owning its hash key): the
// emulator takes about 0.8 ms per entry, 8 s for the 10,000 entries of the run without
// aggregation. The run with aggregation is then repeated on the real emulator, read back and
// de-aggregated, to check that the same packing is what a stream really holds.
import {
  ListShardsCommand,
  PutRecordsCommand,
  type KinesisClient,
  type PutRecordsRequestEntry,
} from "@aws-sdk/client-kinesis";
import type { KinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { readAllRecords } from "../../demo/stream-tools.ts";
import { createShardTracker } from "../../processor/checkpoint/tracker.ts";
import { deaggregate } from "../../processor/kinesis/kpl/deaggregate.ts";
import { effectiveHashKey } from "../../processor/kinesis/kpl/hash-key.ts";
import { createPutBatcher, type SinkAggregation } from "../../processor/kinesis/put-batcher.ts";

export const putPayloadUnitBytes = 25 * 1024;

export interface SinkCounts {
  calls: number;
  entries: number;
  bytes: number;
  putUnits: number;
}

export interface SinkAggregationRun extends SinkCounts {
  mode: string;
  records: number;
  /** On the emulator: user records read back (de-aggregated) with their own partition key. */
  readBack?: number;
}

/** An in-process stream of `shards` equal shards answering ListShards and PutRecords as Kinesis. */
function inProcessStream(shards: number): KinesisClient {
  const top = (1n << 128n) - 1n;
  const width = (top + 1n) / BigInt(shards);
  const ranges = Array.from({ length: shards }, (_, index) => ({
    ShardId: `shardId-${String(index).padStart(12, "0")}`,
    HashKeyRange: {
      StartingHashKey: String(width * BigInt(index)),
      EndingHashKey: String(index === shards - 1 ? top : width * BigInt(index + 1) - 1n),
    },
    SequenceNumberRange: { StartingSequenceNumber: "1" },
  }));
  const client = {
    send(command: unknown) {
      if (command instanceof ListShardsCommand) return Promise.resolve({ Shards: ranges });
      if (!(command instanceof PutRecordsCommand)) throw new Error("unexpected command");
      return Promise.resolve({
        Records: (command.input.Records ?? []).map((entry) => {
          const key = effectiveHashKey({
            partitionKey: entry.PartitionKey ?? "",
            explicitHashKey: entry.ExplicitHashKey,
          });
          const shard = ranges.find((range) => key <= BigInt(range.HashKeyRange.EndingHashKey));
          return { SequenceNumber: "1", ShardId: shard?.ShardId };
        }),
      });
    },
  };
  return client as unknown as KinesisClient;
}

/** Wraps a client to count what PutRecords sends; ListShards can be refused, as IAM might. */
function countingClient(client: KinesisClient, refuseListShards: boolean) {
  const counts: SinkCounts = { calls: 0, entries: 0, bytes: 0, putUnits: 0 };
  const counting = {
    send(command: unknown, options?: unknown) {
      if (refuseListShards && command instanceof ListShardsCommand) {
        const error = new Error("not authorized to perform: kinesis:ListShards");
        error.name = "AccessDeniedException";
        return Promise.reject(error);
      }
      if (command instanceof PutRecordsCommand) {
        counts.calls++;
        for (const entry of command.input.Records ?? ([] as PutRecordsRequestEntry[])) {
          const bytes = (entry.Data?.length ?? 0) + Buffer.byteLength(entry.PartitionKey ?? "");
          counts.entries++;
          counts.bytes += bytes;
          counts.putUnits += Math.ceil(bytes / putPayloadUnitBytes);
        }
      }
      return (client.send as (command: unknown, options?: unknown) => Promise<unknown>)(
        command,
        options,
      );
    },
  };
  return { client: counting as unknown as KinesisClient, counts };
}

/** About 100 bytes of JSON, each record with its own partition key (an order id). */
export function smallRecords(count: number): { data: Buffer; partitionKey: string }[] {
  return Array.from({ length: count }, (_, index) => {
    const partitionKey = `order-${String(index).padStart(6, "0")}`;
    const json = JSON.stringify({ orderId: partitionKey, customer: `c-${index % 997}`, score: 0 });
    return { data: Buffer.from(json.padEnd(100, " ")), partitionKey };
  });
}

export interface RunOptions {
  records: number;
  shards: number;
  aggregation?: SinkAggregation;
  refuseListShards?: boolean;
  /** Write to the emulator and read back, instead of the in-process stream. */
  emulator?: KinesisEmulator;
}

export async function sinkAggregationRun(
  mode: string,
  options: RunOptions,
): Promise<SinkAggregationRun> {
  const stream = `bench-sink-${Date.now()}`;
  let target: KinesisClient;
  if (options.emulator === undefined) {
    target = inProcessStream(options.shards);
  } else {
    await options.emulator.createStream(stream, options.shards);
    target = options.emulator.client;
  }
  const { client, counts } = countingClient(target, options.refuseListShards ?? false);
  const sink = createPutBatcher({
    client,
    stream,
    maxBatchRecords: 500,
    maxBatchBytes: 5 * 1024 * 1024,
    lingerMs: 50,
    maxInFlightBatches: 4,
    observer: { written: () => undefined, failed: () => undefined },
    aggregation: options.aggregation,
  });
  // Let the first ListShards answer arrive, as it would long before a pod's first output.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const tracker = createShardTracker("bench");
  const records = smallRecords(options.records);
  for (const [index, record] of records.entries()) {
    await sink.add({ ...record, receipt: tracker.track(String(index + 1)) });
  }
  await sink.flush();
  if (tracker.pending !== 0) throw new Error(`${mode}: ${tracker.pending} records unacknowledged`);
  if (options.emulator === undefined) return { mode, records: options.records, ...counts };

  const keys = new Map(records.map((record) => [record.data.toString(), record.partitionKey]));
  const read = (await readAllRecords(options.emulator.client, stream)).flatMap(
    (record) => deaggregate(record).records,
  );
  const intact = read.filter(
    (user) => keys.get(Buffer.from(user.data).toString()) === user.partitionKey,
  ).length;
  if (read.length !== options.records || intact !== options.records) {
    throw new Error(`${mode}: ${intact} of ${options.records} records read back intact`);
  }
  return { mode, records: options.records, ...counts, readBack: intact };
}
