// Aggregation on write, read back by the reference reader (awslabs aws-kinesis-agg) and by this
// project's de-aggregation: every record, key and order intact, no entry over the size limit, and
// every aggregate on a single shard, so that KCL's hash-key-range filter never skips one.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createAggregator,
  maxKinesisRecordBytes,
  type Aggregate,
  type ShardHashKeyRange,
} from "../../../../processor/kinesis/kpl/aggregator.ts";
import { deaggregate } from "../../../../processor/kinesis/kpl/deaggregate.ts";
import { effectiveHashKey, partitionKeyHash } from "../../../../processor/kinesis/kpl/hash-key.ts";
import { seededRandom } from "../../seeded-random.ts";
import { awsDeaggregate } from "./aws-kinesis-agg.ts";
import { everyByte, randomRecords, type TestRecord } from "./records.ts";

function aggregateAll(
  records: readonly TestRecord[],
  options: Parameters<typeof createAggregator>[0],
): Aggregate<TestRecord>[] {
  const aggregator = createAggregator<TestRecord>(options);
  const entries = records.flatMap((record) => aggregator.add(record));
  entries.push(...aggregator.flush());
  assert.equal(aggregator.pendingRecords, 0);
  return entries;
}

const kinesisBytes = (entry: { data: Uint8Array; partitionKey: string }): number =>
  entry.data.length + Buffer.byteLength(entry.partitionKey);

// Four shards of equal width, as a stream of four created shards has.
const quarter = 1n << 126n;
const fourShards: ShardHashKeyRange[] = [0n, 1n, 2n, 3n].map((index) => ({
  shardId: `shardId-00000000000${index}`,
  startingHashKey: index * quarter,
  endingHashKey: (index + 1n) * quarter - 1n,
}));

test("aws-kinesis-agg reads the aggregator's output as the same records, keys and order", () => {
  const records = randomRecords(21, 2_000, { keys: 40, maxDataBytes: 200 });
  const entries = aggregateAll(records, { maxBytes: 50_000, maxRecords: 500, shards: fourShards });
  assert.ok(entries.length < records.length / 10, `${entries.length} entries`);
  const readByShard = new Map<string, TestRecord[]>();
  entries.forEach((entry, index) => {
    const read = awsDeaggregate({ ...entry, sequenceNumber: String(index) });
    assert.equal(read.length, entry.records.length);
    read.forEach((user, position) => {
      const written = entry.records[position];
      assert.ok(written !== undefined);
      assert.deepEqual(Buffer.from(user.data), Buffer.from(written.data));
      assert.equal(user.partitionKey, written.partitionKey);
    });
    const shard = entry.shardId ?? "";
    readByShard.set(shard, [...(readByShard.get(shard) ?? []), ...entry.records]);
  });
  // Per partition key, the records read (shard by shard) are in the order written.
  for (const key of new Set(records.map((record) => record.partitionKey))) {
    const written = records.filter((record) => record.partitionKey === key);
    const shards = [...readByShard.values()].filter((list) =>
      list.some((r) => r.partitionKey === key),
    );
    assert.equal(shards.length, 1, `${key} on one shard`);
    assert.deepEqual(
      shards[0]?.filter((record) => record.partitionKey === key),
      written,
    );
  }
});

test("aws-kinesis-agg reads explicit hash keys and binary data the aggregator wrote", () => {
  const records = [
    { data: everyByte, partitionKey: "a", explicitHashKey: "12345" },
    { data: everyByte.subarray(7), partitionKey: "b", explicitHashKey: "12345" },
    { data: new Uint8Array(), partitionKey: "c", explicitHashKey: "12345" },
  ];
  const [entry, ...rest] = aggregateAll(records, { maxBytes: 10_000, maxRecords: 10 });
  assert.ok(entry !== undefined);
  assert.equal(rest.length, 0);
  const read = awsDeaggregate({ ...entry, sequenceNumber: "1" });
  assert.deepEqual(
    read.map((user) => [Buffer.from(user.data), user.partitionKey, user.explicitHashKey]),
    records.map((record) => [Buffer.from(record.data), record.partitionKey, "12345"]),
  );
});

test("no entry exceeds maxBytes and the size reported is the size sent (randomized)", () => {
  const random = seededRandom(5);
  for (let round = 0; round < 30; round++) {
    const maxBytes = 200 + Math.floor(random() * 5_000);
    const records = randomRecords(round, 200, {
      keys: 1 + Math.floor(random() * 30),
      // Up to records that only fit alone, and past them.
      maxDataBytes: Math.floor(random() * maxBytes),
      explicitHashKeys: random() < 0.3,
    });
    const maxRecords = 1 + Math.floor(random() * 100);
    const shards = random() < 0.5 ? fourShards : undefined;
    const entries = aggregateAll(records, { maxBytes, maxRecords, shards });
    for (const entry of entries) {
      assert.equal(entry.bytes, kinesisBytes(entry), `round ${round}`);
      // A record over the limit on its own goes out alone, as it would without aggregation.
      const [only, ...others] = entry.records;
      const alone = others.length === 0 && entry.data === only?.data;
      assert.ok(entry.bytes <= maxBytes || alone, `round ${round}: ${entry.bytes} > ${maxBytes}`);
      assert.ok(entry.records.length <= maxRecords);
      const read = deaggregate({ ...entry, sequenceNumber: "1" });
      assert.equal(read.rejected, undefined);
      assert.deepEqual(
        read.records.map((record) => [Buffer.from(record.data), record.partitionKey]),
        entry.records.map((record) => [Buffer.from(record.data), record.partitionKey]),
      );
    }
    assert.equal(
      entries.reduce((sum, entry) => sum + entry.records.length, 0),
      records.length,
    );
  }
});

test("aggregates fill up to the 1 MiB Kinesis limit, counting the partition key", () => {
  const partitionKey = "k".repeat(256);
  const records = Array.from({ length: 300 }, () => ({
    data: new Uint8Array(10_000),
    partitionKey,
  }));
  const entries = aggregateAll(records, { maxBytes: maxKinesisRecordBytes, maxRecords: 10_000 });
  assert.equal(entries.length, 3);
  for (const entry of entries) assert.ok(entry.bytes <= maxKinesisRecordBytes);
  for (const entry of entries.slice(0, -1)) {
    assert.ok(entry.bytes > maxKinesisRecordBytes - 10_100, `${entry.bytes} is not full`);
  }
});

test("maxRecords closes an aggregate at once", () => {
  const aggregator = createAggregator<TestRecord>({ maxBytes: 100_000, maxRecords: 3 });
  const record = { data: Buffer.from("x"), partitionKey: "k" };
  assert.equal(aggregator.add(record).length, 0);
  assert.equal(aggregator.add(record).length, 0);
  const [entry] = aggregator.add(record);
  assert.equal(entry?.records.length, 3);
  assert.equal(aggregator.pendingRecords, 0);
});

test("an aggregate of one record is sent as that plain record", () => {
  const record = { data: everyByte, partitionKey: "k", explicitHashKey: "99" };
  const [entry] = aggregateAll([record], { maxBytes: 100_000, maxRecords: 10 });
  assert.ok(entry !== undefined);
  assert.equal(entry.data, record.data);
  assert.equal(entry.partitionKey, "k");
  assert.equal(entry.explicitHashKey, "99");
  assert.equal(deaggregate({ ...entry, sequenceNumber: "1" }).records[0]?.aggregated, false);
});

test("a record too large to aggregate is sent alone and plain, after the records before it", () => {
  const small = { data: Buffer.from("small"), partitionKey: "k" };
  const large = { data: new Uint8Array(990), partitionKey: "k" };
  const aggregator = createAggregator<TestRecord>({ maxBytes: 1_000, maxRecords: 10 });
  aggregator.add(small);
  aggregator.add(small);
  const entries = aggregator.add(large);
  assert.deepEqual(
    entries.map((entry) => entry.records),
    [[small, small], [large]],
  );
  assert.equal(entries[1]?.data, large.data);
});

test("an aggregate goes where its first record would: its key and hash key", () => {
  const records = [
    { data: Buffer.from("1"), partitionKey: "first" },
    { data: Buffer.from("2"), partitionKey: "first" },
  ];
  const [entry] = aggregateAll(records, { maxBytes: 10_000, maxRecords: 10 });
  assert.equal(entry?.partitionKey, "first");
  assert.equal(entry.explicitHashKey, partitionKeyHash("first").toString());
});

test("without a shard map, only records of the same hash key share an aggregate", () => {
  const records = randomRecords(8, 500, { keys: 5, maxDataBytes: 20 });
  const entries = aggregateAll(records, { maxBytes: 100_000, maxRecords: 1_000 });
  assert.equal(entries.length, 5);
  for (const entry of entries) {
    assert.equal(new Set(entry.records.map((record) => record.partitionKey)).size, 1);
  }
});

test("with a shard map, every record of an aggregate hashes into the shard it is packed for", () => {
  const records = randomRecords(13, 2_000, { keys: 300, maxDataBytes: 20 });
  const entries = aggregateAll(records, {
    maxBytes: 100_000,
    maxRecords: 10_000,
    shards: fourShards,
  });
  assert.equal(entries.length, 4);
  for (const entry of entries) {
    const shard = fourShards.find((candidate) => candidate.shardId === entry.shardId);
    assert.ok(shard !== undefined);
    const entryHash = BigInt(entry.explicitHashKey ?? "-1");
    assert.ok(entryHash >= shard.startingHashKey && entryHash <= shard.endingHashKey);
    for (const record of entry.records) {
      const hash = effectiveHashKey({ ...record, explicitHashKey: record.explicitHashKey });
      assert.ok(hash >= shard.startingHashKey && hash <= shard.endingHashKey);
    }
  }
});

test("flush completes the open aggregates in the order their first records came", () => {
  const aggregator = createAggregator<TestRecord>({ maxBytes: 10_000, maxRecords: 10 });
  for (const partitionKey of ["b", "a", "b", "c", "a"]) {
    aggregator.add({ data: Buffer.from(partitionKey), partitionKey });
  }
  assert.deepEqual(
    aggregator.flush().map((entry) => entry.partitionKey),
    ["b", "a", "c"],
  );
  assert.deepEqual(aggregator.flush(), []);
});

test("limits outside what Kinesis allows are refused", () => {
  assert.throws(
    () => createAggregator({ maxBytes: maxKinesisRecordBytes + 1, maxRecords: 1 }),
    RangeError,
  );
  assert.throws(() => createAggregator({ maxBytes: 20, maxRecords: 1 }), RangeError);
  assert.throws(() => createAggregator({ maxBytes: 1_000, maxRecords: 0 }), RangeError);
});
