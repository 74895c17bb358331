// Ordered mode's sink: a partial PutRecords failure must never let a later record of a key land
// before an earlier one. Example tests of the batch rule, and a seeded randomized run of the real
// batcher against a client that fails random entries, checking the order of what was written.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { createShardTracker } from "../../../processor/checkpoint/tracker.ts";
import { takeKeyOrderedBatch } from "../../../processor/kinesis/key-ordered-batch.ts";
import { createPutBatcher } from "../../../processor/kinesis/put-batcher.ts";
import type { PutEntry } from "../../../processor/kinesis/sink-packing.ts";
import { seededRandom } from "../seeded-random.ts";

const entry = (partitionKey: string, data: string, explicitHashKey?: string): PutEntry => ({
  data: Buffer.from(data),
  partitionKey,
  explicitHashKey,
  records: [],
  bytes: data.length + partitionKey.length,
  shardId: undefined,
});
const names = (list: readonly PutEntry[]) => list.map((item) => Buffer.from(item.data).toString());

test("a call carries one entry per key; the others keep their order for the next call", () => {
  const buffered = [
    entry("a", "a1"),
    entry("b", "b1"),
    entry("a", "a2"),
    entry("c", "c1"),
    entry("a", "a3"),
  ];
  const first = takeKeyOrderedBatch(buffered, { maxRecords: 500, maxBytes: 1_000 });
  assert.deepEqual(names(first.batch), ["a1", "b1", "c1"]);
  assert.deepEqual(names(first.left), ["a2", "a3"]);
  assert.equal(first.bytes, 3 * 3);
  const second = takeKeyOrderedBatch(first.left, { maxRecords: 500, maxBytes: 1_000 });
  assert.deepEqual(names(second.batch), ["a2"]);
  assert.deepEqual(names(second.left), ["a3"]);
});

test("aggregates are keyed by their explicit hash key, and the batch limits still hold", () => {
  const buffered = [
    entry("a", "agg1", "100"),
    entry("b", "agg2", "100"),
    entry("c", "agg3", "200"),
    entry("d", "d1"),
    entry("e", "e1"),
  ];
  assert.deepEqual(
    names(takeKeyOrderedBatch(buffered, { maxRecords: 500, maxBytes: 1_000 }).batch),
    ["agg1", "agg3", "d1", "e1"],
  );
  const byCount = takeKeyOrderedBatch(buffered, { maxRecords: 2, maxBytes: 1_000 });
  assert.deepEqual(names(byCount.batch), ["agg1", "agg3"]);
  assert.deepEqual(names(byCount.left), ["agg2", "d1", "e1"]);
  const byBytes = takeKeyOrderedBatch(buffered, { maxRecords: 500, maxBytes: 9 });
  assert.deepEqual(names(byBytes.batch), ["agg1"]);
  assert.deepEqual(names(byBytes.left), ["agg2", "agg3", "d1", "e1"]);
});

interface PutInput {
  Records: { Data: Uint8Array; PartitionKey: string }[];
}

/** A client that fails each entry with probability `failure`, and logs what it wrote, in order. */
function flakyClient(random: () => number, failure: number) {
  const written: string[] = [];
  const client = {
    send(command: { input: PutInput }) {
      const results = command.input.Records.map((record) => {
        if (random() < failure) {
          return { ErrorCode: "InternalFailure", ErrorMessage: "injected" };
        }
        written.push(Buffer.from(record.Data).toString());
        return { SequenceNumber: String(written.length), ShardId: "shardId-0" };
      });
      return Promise.resolve({ Records: results });
    },
  };
  return { client: client as unknown as KinesisClient, written };
}

for (const keyOrdered of [true, false]) {
  test(`seeded random partial failures: per-key write order ${keyOrdered ? "holds in ordered mode" : "breaks without the rule (the check can fail)"}`, async () => {
    let violations = 0;
    for (let seed = 1; seed <= 8; seed++) {
      const random = seededRandom(seed);
      const { client, written } = flakyClient(random, 0.1);
      const sink = createPutBatcher({
        client,
        stream: "out",
        maxBatchRecords: 1 + Math.floor(random() * 50),
        maxBatchBytes: 1_000_000,
        lingerMs: 0,
        maxInFlightBatches: 1,
        observer: { written: () => undefined, failed: () => undefined },
        keyOrdered,
      });
      const tracker = createShardTracker("shardId-0");
      const keys = 1 + Math.floor(random() * 8);
      for (let index = 0; index < 120; index++) {
        const key = `k${Math.floor(random() * keys)}`;
        await sink.add({
          data: Buffer.from(`${key}:${index}`),
          partitionKey: key,
          receipt: tracker.track(String(index)),
        });
      }
      await sink.flush();
      assert.equal(written.length, 120, `seed ${seed}: every record written once`);
      const last = new Map<string, number>();
      for (const record of written) {
        const [key = "", index = ""] = record.split(":");
        if (Number(index) < (last.get(key) ?? -1)) violations++;
        last.set(key, Number(index));
      }
    }
    if (keyOrdered) assert.equal(violations, 0);
    else assert.ok(violations > 0, "the plain batcher reorders under partial failures");
  });
}
