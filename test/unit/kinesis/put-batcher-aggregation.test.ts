// The sink batcher with KPL aggregation on, against a scripted Kinesis client (ListShards and
// PutRecords): what each PutRecords entry holds, when it leaves, and what happens when it fails or
// lands on a shard the map did not predict. Entries are read back with the awslabs reader.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ListShardsCommand, PutRecordsCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import { createShardTracker, type Receipt } from "../../../processor/checkpoint/tracker.ts";
import { effectiveHashKey } from "../../../processor/kinesis/kpl/hash-key.ts";
import {
  createPutBatcher,
  type PutBatcherOptions,
} from "../../../processor/kinesis/put-batcher.ts";
import { waitFor } from "../../support/wait-for.ts";
import { awsDeaggregate } from "./kpl/aws-kinesis-agg.ts";

interface PutEntryInput {
  Data: Uint8Array;
  PartitionKey: string;
  ExplicitHashKey?: string;
}

interface Shard {
  ShardId: string;
  HashKeyRange: { StartingHashKey: string; EndingHashKey: string };
  SequenceNumberRange: { StartingSequenceNumber: string; EndingSequenceNumber?: string };
}

const top = (1n << 128n) - 1n;
const half = top / 2n;

/** A stream's shards, split evenly over the hash key space. */
function shards(count: number, prefix = "shardId-"): Shard[] {
  const width = (top + 1n) / BigInt(count);
  return Array.from({ length: count }, (_, index) => ({
    ShardId: `${prefix}${index}`,
    HashKeyRange: {
      StartingHashKey: String(width * BigInt(index)),
      EndingHashKey: String(index === count - 1 ? top : width * BigInt(index + 1) - 1n),
    },
    SequenceNumberRange: { StartingSequenceNumber: "1" },
  }));
}

const shardOf = (stream: readonly Shard[], hashKey: bigint): string =>
  stream.find(
    (shard) =>
      hashKey >= BigInt(shard.HashKeyRange.StartingHashKey) &&
      hashKey <= BigInt(shard.HashKeyRange.EndingHashKey),
  )?.ShardId ?? "none";

const entryHashKey = (entry: PutEntryInput): bigint =>
  effectiveHashKey({ partitionKey: entry.PartitionKey, explicitHashKey: entry.ExplicitHashKey });

/** Where Kinesis itself would put each entry: the shard whose range holds its hash key. */
const placed = (stream: readonly Shard[]) => (entries: PutEntryInput[]) => ({
  Records: entries.map((entry) => ({
    SequenceNumber: "1",
    ShardId: shardOf(stream, entryHashKey(entry)),
  })),
});

interface Script {
  /** What ListShards answers (the map the batcher packs by); throws to refuse. */
  listShards(call: number): Shard[];
  putRecords(entries: PutEntryInput[], call: number): unknown;
}

function scriptedClient(script: Script) {
  const puts: PutEntryInput[][] = [];
  let lists = 0;
  const client = {
    send(command: unknown) {
      if (command instanceof ListShardsCommand) {
        lists++;
        const call = lists;
        return Promise.resolve().then(() => ({ Shards: script.listShards(call) }));
      }
      if (command instanceof PutRecordsCommand) {
        const entries = (command.input.Records ?? []) as PutEntryInput[];
        puts.push(entries);
        const call = puts.length;
        return Promise.resolve().then(() => script.putRecords(entries, call));
      }
      throw new Error("unexpected command");
    },
  };
  return {
    client: client as unknown as KinesisClient,
    puts,
    get lists() {
      return lists;
    },
  };
}

const silentObserver = { written: () => undefined, failed: () => undefined };

function batcher(client: KinesisClient, overrides: Partial<PutBatcherOptions> = {}) {
  return createPutBatcher({
    client,
    stream: "out",
    maxBatchRecords: 500,
    maxBatchBytes: 5 * 1024 * 1024,
    lingerMs: 20,
    maxInFlightBatches: 1,
    observer: silentObserver,
    aggregation: { maxBytes: 51_200, maxRecords: 1_000 },
    ...overrides,
  });
}

/** 100-byte JSON records over `keys` partition keys, each key's records numbered in order. */
function records(count: number, keys: number) {
  const tracker = createShardTracker("shardId-source");
  return Array.from({ length: count }, (_, index) => {
    const text = JSON.stringify({ id: index, key: `customer-${index % keys}` });
    return {
      data: Buffer.from(text.padEnd(100, " ")),
      partitionKey: `customer-${index % keys}`,
      receipt: tracker.track(String(index + 1)),
    };
  });
}

/** Every user record the entries carry, as the awslabs reader sees them, in write order. */
const readBack = (entries: PutEntryInput[]) =>
  entries.flatMap((entry) =>
    awsDeaggregate({ data: entry.Data, partitionKey: entry.PartitionKey, sequenceNumber: "1" }),
  );

const acknowledged = (receipts: Receipt[]): number =>
  receipts.filter((receipt) => receipt.acknowledged).length;

/** Lets the first ListShards answer arrive before records are added. */
const mapListed = (scripted: { lists: number }) =>
  waitFor(
    () => scripted.lists,
    (lists) => lists >= 1,
    { timeoutMs: 2_000, what: "ListShards" },
  ).then(() => new Promise((resolve) => setImmediate(resolve)));

test("small records travel as a few aggregates per shard, each aimed at its shard, every record and its key intact", async () => {
  const stream = shards(4);
  const scripted = scriptedClient({ listShards: () => stream, putRecords: placed(stream) });
  const sink = batcher(scripted.client);
  await mapListed(scripted);
  const list = records(2_000, 200);
  for (const record of list) await sink.add(record);
  await sink.flush();

  const entries = scripted.puts.flat();
  // 2,000 records of about 115 bytes in 50 KiB aggregates: 5 per shard at most.
  assert.ok(entries.length <= 4 * 5, `${entries.length} entries`);
  for (const entry of entries) {
    assert.ok(entry.ExplicitHashKey !== undefined, "an aggregate names its hash key");
    assert.ok(entry.Data.length + entry.PartitionKey.length <= 51_200);
    const shard = shardOf(stream, BigInt(entry.ExplicitHashKey));
    const users = readBack([entry]);
    assert.ok(
      users.every(
        (user) =>
          shardOf(stream, effectiveHashKey({ ...user, explicitHashKey: undefined })) === shard,
      ),
      "every record of an aggregate belongs to the shard it is sent to",
    );
  }
  const read = readBack(entries);
  assert.deepEqual(
    read.map((user) => [Buffer.from(user.data).toString(), user.partitionKey]).sort(),
    list.map((record) => [record.data.toString(), record.partitionKey]).sort(),
    "each record once, with its own partition key",
  );
  const lastByKey = new Map<string, number>();
  for (const user of read) {
    const { id } = JSON.parse(Buffer.from(user.data).toString()) as { id: number };
    assert.ok(
      id > (lastByKey.get(user.partitionKey) ?? -1),
      `${user.partitionKey}: ${id} in order`,
    );
    lastByKey.set(user.partitionKey, id);
  }
  assert.equal(acknowledged(list.map((record) => record.receipt)), 2_000);
  assert.equal(sink.unacknowledged, 0);
});

test("an open aggregate is sent within lingerMs, without a flush", async () => {
  const stream = shards(1);
  const scripted = scriptedClient({ listShards: () => stream, putRecords: placed(stream) });
  const sink = batcher(scripted.client, { lingerMs: 30 });
  await mapListed(scripted);
  const list = records(3, 3);
  for (const record of list) assert.equal(sink.add(record), undefined);
  const added = performance.now();
  await waitFor(
    () => acknowledged(list.map((record) => record.receipt)),
    (count) => count === 3,
    { timeoutMs: 2_000, what: "the three records acknowledged" },
  );
  assert.ok(performance.now() - added < 1_000);
  assert.equal(scripted.puts.length, 1);
  assert.equal(scripted.puts[0]?.length, 1, "one aggregate of three records");
  assert.equal(readBack(scripted.puts.flat()).length, 3);
});

test("a failed aggregate is retried whole, and its records are acknowledged only once it is written", async () => {
  const stream = shards(1);
  const list = records(50, 5);
  const receipts = list.map((record) => record.receipt);
  const acknowledgedAtCall: number[] = [];
  const scripted = scriptedClient({
    listShards: () => stream,
    putRecords: (entries, call) => {
      acknowledgedAtCall.push(acknowledged(receipts));
      return call === 1
        ? {
            FailedRecordCount: 1,
            Records: [{ ErrorCode: "InternalFailure", ErrorMessage: "try again" }],
          }
        : placed(stream)(entries);
    },
  });
  const failures: number[] = [];
  const sink = batcher(scripted.client, {
    observer: { written: () => undefined, failed: (entries) => failures.push(entries) },
  });
  await mapListed(scripted);
  for (const record of list) await sink.add(record);
  await sink.flush();
  assert.equal(scripted.puts.length, 2);
  assert.deepEqual(scripted.puts[1], scripted.puts[0], "the same aggregate, byte for byte");
  assert.deepEqual(failures, [1]);
  assert.deepEqual(acknowledgedAtCall, [0, 0], "nothing acknowledged before it was written");
  assert.equal(acknowledged(receipts), 50);
});

test("an aggregate that lands on another shard than its map said is sent again, and the map is listed again", async () => {
  const before = shards(1);
  const after = shards(2, "shardId-child-");
  const scripted = scriptedClient({
    // The first map predates a split of the stream's only shard.
    listShards: (call) => (call === 1 ? before : after),
    putRecords: placed(after),
  });
  const wrongShard: string[] = [];
  const sink = batcher(scripted.client, {
    observer: { written: () => undefined, failed: (_entries, reason) => wrongShard.push(reason) },
  });
  await mapListed(scripted);
  // Keys on both halves of the hash key space, so one stale aggregate holds both.
  const list = records(40, 8);
  const hashKeys = list.map((record) =>
    effectiveHashKey({ ...record, explicitHashKey: undefined }),
  );
  assert.ok(hashKeys.some((key) => key <= half) && hashKeys.some((key) => key > half));
  for (const record of list) await sink.add(record);
  await sink.flush();

  assert.equal(scripted.puts[0]?.length, 1, "first sent as one aggregate, packed by the old map");
  assert.ok(wrongShard.some((reason) => reason.startsWith("WrongShard")));
  const resent = scripted.puts.slice(1).flat();
  for (const entry of resent) {
    const users = readBack([entry]);
    const shard = shardOf(after, entryHashKey(entry));
    assert.ok(
      users.every(
        (user) =>
          shardOf(after, effectiveHashKey({ ...user, explicitHashKey: undefined })) === shard,
      ),
      "a resent entry holds only records of the shard it lands on",
    );
  }
  assert.deepEqual(
    readBack(resent)
      .map((user) => Buffer.from(user.data).toString())
      .sort(),
    list.map((record) => record.data.toString()).sort(),
    "every record of the misplaced aggregate sent again",
  );
  assert.equal(acknowledged(list.map((record) => record.receipt)), 40);
  await waitFor(
    () => scripted.lists,
    (lists) => lists >= 2,
    { timeoutMs: 2_000, what: "ListShards again after the stale map" },
  );
});

test("without a shard map (ListShards refused), records are packed per hash key and the failure is reported", async () => {
  const stream = shards(2);
  const reasons: string[] = [];
  const scripted = scriptedClient({
    listShards: () => {
      const error = new Error("not authorized to perform: kinesis:ListShards");
      error.name = "AccessDeniedException";
      throw error;
    },
    putRecords: placed(stream),
  });
  const sink = batcher(scripted.client, {
    observer: { ...silentObserver, shardMapFailed: (reason) => reasons.push(reason) },
  });
  await mapListed(scripted);
  const list = records(100, 4);
  for (const record of list) await sink.add(record);
  await sink.flush();
  assert.match(reasons[0] ?? "", /AccessDeniedException/);
  const entries = scripted.puts.flat();
  assert.equal(entries.length, 4, "one aggregate per partition key");
  for (const entry of entries) {
    assert.ok(new Set(readBack([entry]).map((user) => user.partitionKey)).size === 1);
  }
  assert.equal(acknowledged(list.map((record) => record.receipt)), 100);
});

test("add pushes back once the records waiting reach the byte bound, and frees space as aggregates are written", async () => {
  const stream = shards(1);
  let holding = true;
  const held: (() => void)[] = [];
  const scripted = scriptedClient({
    listShards: () => stream,
    putRecords: (entries) => {
      const answer = placed(stream)(entries);
      if (!holding) return answer;
      return new Promise((resolve) =>
        held.push(() => {
          resolve(answer);
        }),
      );
    },
  });
  // One batch in flight and one filling: 2 x 4 KiB of records at most.
  const sink = batcher(scripted.client, {
    maxBatchBytes: 4_096,
    lingerMs: 5,
    aggregation: { maxBytes: 2_048, maxRecords: 1_000 },
  });
  await mapListed(scripted);
  const list = records(200, 10);
  let added = 0;
  let full: Promise<void> | undefined;
  while (full === undefined && added < list.length) {
    full = sink.add(list[added] as (typeof list)[number]);
    added++;
  }
  assert.ok(full !== undefined, "add pushed back");
  // Each record weighs its 100 data bytes and its 10-character key.
  assert.equal(added, Math.ceil((2 * 4_096) / 110), "pushed back at the bound, not before");
  let resolved = false;
  void full.then(() => (resolved = true));
  await waitFor(
    () => held.length,
    (calls) => calls === 1,
    { timeoutMs: 2_000, what: "the first batch sent" },
  );
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(resolved, false, "still full while nothing is written");
  holding = false;
  held.shift()?.();
  await full;
  for (const record of list.slice(added)) await sink.add(record);
  await sink.flush();
  assert.equal(acknowledged(list.map((record) => record.receipt)), 200);
});
