// Pure Kinesis policies: which shards may be read, and how fast the sink may send.
import assert from "node:assert/strict";
import { test } from "node:test";
import { onThrottled, onWritten, sendTimeMs } from "../../processor/kinesis/aimd.ts";
import { readableShards } from "../../processor/kinesis/shard-lineage.ts";

test("children wait for their parents: both parents of a merge, the parent of a split", () => {
  const shards = [
    { shardId: "s0" },
    { shardId: "s1" },
    { shardId: "split-a", parentShardId: "s0" },
    { shardId: "merged", parentShardId: "s0", adjacentParentShardId: "s1" },
  ];
  const ids = (finished: string[]) =>
    readableShards(shards, (id) => finished.includes(id)).map((shard) => shard.shardId);
  assert.deepEqual(ids([]), ["s0", "s1"]);
  assert.deepEqual(ids(["s0"]), ["s1", "split-a"], "the merge still waits for s1");
  assert.deepEqual(ids(["s0", "s1"]), ["split-a", "merged"]);
});

test("a parent no longer listed has expired and blocks nothing", () => {
  assert.deepEqual(
    readableShards([{ shardId: "child", parentShardId: "gone" }], () => false).map(
      (shard) => shard.shardId,
    ),
    ["child"],
  );
});

test("the send rate is unlimited until throttled, halves on throttling and grows additively", () => {
  const unlimited = { recordsPerSecond: undefined };
  assert.equal(sendTimeMs(unlimited, 500), 0);
  assert.deepEqual(onWritten(unlimited), unlimited);
  const throttled = onThrottled(unlimited, 1_000);
  assert.equal(throttled.recordsPerSecond, 500);
  assert.equal(sendTimeMs(throttled, 500), 1_000);
  assert.equal(onWritten(throttled).recordsPerSecond, 550);
  assert.equal(
    onThrottled({ recordsPerSecond: 12 }, 12).recordsPerSecond,
    10,
    "never below the floor",
  );
});
