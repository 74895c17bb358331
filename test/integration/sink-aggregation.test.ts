// Aggregation on write against the real Kinesis emulator: the sink stream is written in the KPL
// aggregated format and read back by the awslabs reader, with every record, key and per-key order
// intact, and nothing a KCL consumer would skip (an aggregate on a shard that does not own all of
// its records), also when the sink stream is split while it is being written.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ListShardsCommand } from "@aws-sdk/client-kinesis";
import { startDemoEndpoint, type DemoEndpoint } from "../../demo/endpoint.ts";
import { readAllRecords, type StoredRecord } from "../../demo/stream-tools.ts";
import { createShardTracker } from "../../processor/checkpoint/tracker.ts";
import { startsWithKplMagic } from "../../processor/kinesis/kpl/envelope.ts";
import { inHashKeyRange, type HashKeyRange } from "../../processor/kinesis/kpl/hash-key.ts";
import { listOpenShardRanges } from "../../processor/kinesis/open-shard-ranges.ts";
import { createPutBatcher } from "../../processor/kinesis/put-batcher.ts";
import {
  createStreams,
  jsonRecords,
  produce,
  runProcessor,
  splitShard,
  startKinesisEmulator,
  waitForOutput,
  type KinesisEmulator,
} from "../support/test-bed.ts";
import { waitFor } from "../support/wait-for.ts";
import { awsDeaggregate } from "../unit/kinesis/kpl/aws-kinesis-agg.ts";

interface UserRecord {
  data: string;
  partitionKey: string;
  shardId: string;
}

/**
 * Every user record of the stream, as a KCL consumer sees it: aggregates de-aggregated (awslabs
 * reader, checksums verified), and an aggregate holding a record outside its shard's range skipped.
 */
function userRecords(
  stored: readonly StoredRecord[],
  ranges: ReadonlyMap<string, HashKeyRange>,
): { records: UserRecord[]; aggregates: number; skipped: number } {
  const records: UserRecord[] = [];
  let aggregates = 0;
  let skipped = 0;
  for (const record of stored) {
    const users = awsDeaggregate(record);
    if (startsWithKplMagic(record.data)) aggregates++;
    const range = ranges.get(record.shardId);
    if (range === undefined) throw new Error(`no range for ${record.shardId}`);
    if (
      users.length > 1 &&
      users.some((user) => !inHashKeyRange({ ...user, explicitHashKey: undefined }, range))
    ) {
      skipped++;
      continue;
    }
    for (const user of users) {
      records.push({
        data: Buffer.from(user.data).toString(),
        partitionKey: user.partitionKey,
        shardId: record.shardId,
      });
    }
  }
  return { records, aggregates, skipped };
}

async function shardRanges(
  emulator: KinesisEmulator,
  stream: string,
): Promise<Map<string, HashKeyRange>> {
  const page = await emulator.client.send(new ListShardsCommand({ StreamName: stream }));
  return new Map(
    (page.Shards ?? []).map((shard) => [
      shard.ShardId ?? "",
      {
        startingHashKey: BigInt(shard.HashKeyRange?.StartingHashKey ?? "0"),
        endingHashKey: BigInt(shard.HashKeyRange?.EndingHashKey ?? "0"),
      },
    ]),
  );
}

describe("aggregation on write against the Kinesis emulator", () => {
  let emulator: KinesisEmulator;
  let endpoint: DemoEndpoint;

  before(async () => {
    emulator = await startKinesisEmulator();
    endpoint = await startDemoEndpoint({ latencyMs: 2, jitterMs: 3 });
  });
  after(async () => {
    await endpoint.close();
    await emulator.stop();
  });

  test("the processor's sink, aggregated, reads back as every record once, with its key, in order per key", async () => {
    const streams = await createStreams(emulator, 4);
    const count = 2_000;
    await produce(emulator, streams.source, jsonRecords(count, 50));
    const processor = runProcessor(emulator, streams, {
      endpoint: { url: `${endpoint.url}/enrich` },
      capacity: 40,
      ordering: "ordered",
      sink: { stream: streams.sink, aggregation: { enabled: true } },
    });
    await waitForOutput(processor, count);
    await processor.stop();
    assert.deepEqual(await processor.done, { exitCode: 0, reason: undefined });

    const stored = await readAllRecords(emulator.client, streams.sink);
    const read = userRecords(stored, await shardRanges(emulator, streams.sink));
    assert.equal(read.skipped, 0, "no aggregate a KCL consumer would skip");
    assert.ok(read.aggregates > 0, "the sink holds aggregates");
    assert.ok(stored.length <= count / 10, `${count} records in ${stored.length} Kinesis records`);
    const output = read.records.map((record) => ({
      ...(JSON.parse(record.data) as { id: number; key: string; score: number }),
      partitionKey: record.partitionKey,
    }));
    assert.deepEqual(
      output.map((record) => record.id).sort((a, b) => a - b),
      Array.from({ length: count }, (_, index) => index),
      "each id exactly once",
    );
    assert.ok(
      output.every((record) => typeof record.score === "number"),
      "records were enriched",
    );
    assert.ok(
      output.every((record) => record.partitionKey === record.key),
      "each record keeps its own partition key",
    );
    const lastIdByKey = new Map<string, number>();
    for (const record of output) {
      const last = lastIdByKey.get(record.key) ?? -1;
      assert.ok(record.id > last, `key ${record.key}: id ${record.id} came after ${last}`);
      lastIdByKey.set(record.key, record.id);
    }
  });

  test("a split of the sink stream while it is written: aggregates packed for the parent are sent again, nothing is lost", async () => {
    const stream = `split-sink-${randomUUID().slice(0, 8)}`;
    await emulator.createStream(stream, 1);
    const wrongShard: number[] = [];
    const sink = createPutBatcher({
      client: emulator.client,
      stream,
      maxBatchRecords: 500,
      maxBatchBytes: 5 * 1024 * 1024,
      lingerMs: 10,
      maxInFlightBatches: 1,
      observer: {
        written: () => undefined,
        failed: (entries, reason) => {
          if (reason.startsWith("WrongShard")) wrongShard.push(entries);
        },
      },
      aggregation: { maxBytes: 51_200, maxRecords: 1_000 },
    });
    const tracker = createShardTracker("shardId-source");
    const write = async (from: number, count: number): Promise<void> => {
      for (const record of jsonRecords(count, 40, from)) {
        await sink.add({ ...record, receipt: tracker.track(String(from + 1)) });
      }
      await sink.flush();
    };
    await waitFor(
      () => listOpenShardRanges(emulator.client, stream),
      (shards) => shards.length === 1,
      { timeoutMs: 5_000, what: "the sink stream listed" },
    );
    await write(0, 500);
    // The batcher lists the shard map once a minute: right after the split its map is stale.
    await splitShard(emulator, stream);
    await write(500, 1_000);
    await write(1_500, 500);

    assert.ok(wrongShard.length > 0, "the stale map was noticed");
    const stored = await readAllRecords(emulator.client, stream);
    const read = userRecords(stored, await shardRanges(emulator, stream));
    const ids = new Set(
      read.records.map((record) => (JSON.parse(record.data) as { id: number }).id),
    );
    assert.equal(ids.size, 2_000, "every record readable by a KCL consumer");
    assert.ok(read.skipped > 0, "the misplaced aggregates are there, and skipped");
    assert.ok(
      read.records.every((record) => {
        const { key } = JSON.parse(record.data) as { key: string };
        return key === record.partitionKey;
      }),
    );
  });
});
