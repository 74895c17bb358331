// Resharding: which shards may be read now, given which are finished (SHARD_END).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { readableShards, type ShardInfo } from "../../../processor/kinesis/shard-lineage.ts";

const readable = (shards: readonly ShardInfo[], finished: readonly string[]): string[] =>
  readableShards(shards, (shardId) => finished.includes(shardId)).map((shard) => shard.shardId);

describe("shard lineage", () => {
  test("shards without parents are readable at once", () => {
    assert.deepEqual(readable([{ shardId: "s0" }, { shardId: "s1" }], []), ["s0", "s1"]);
  });

  test("the children of a split wait for their parent to finish", () => {
    const shards = [
      { shardId: "parent" },
      { shardId: "left", parentShardId: "parent" },
      { shardId: "right", parentShardId: "parent" },
    ];
    assert.deepEqual(readable(shards, []), ["parent"]);
    assert.deepEqual(readable(shards, ["parent"]), ["left", "right"]);
  });

  test("the child of a merge waits for both its parents", () => {
    const shards = [
      { shardId: "a" },
      { shardId: "b" },
      { shardId: "merged", parentShardId: "a", adjacentParentShardId: "b" },
    ];
    assert.deepEqual(readable(shards, []), ["a", "b"]);
    assert.deepEqual(readable(shards, ["a"]), ["b"], "the adjacent parent still blocks");
    assert.deepEqual(readable(shards, ["b"]), ["a"], "the parent still blocks");
    assert.deepEqual(readable(shards, ["a", "b"]), ["merged"]);
  });

  test("expired parents, no longer listed, block nothing", () => {
    const shards = [
      { shardId: "child", parentShardId: "expired-0" },
      { shardId: "merged", parentShardId: "expired-1", adjacentParentShardId: "expired-2" },
    ];
    assert.deepEqual(readable(shards, []), ["child", "merged"]);
  });

  test("a merge with one listed and one expired parent waits only for the listed one", () => {
    const shards = [
      { shardId: "a" },
      { shardId: "merged", parentShardId: "a", adjacentParentShardId: "expired" },
    ];
    assert.deepEqual(readable(shards, []), ["a"]);
    assert.deepEqual(readable(shards, ["a"]), ["merged"]);
  });

  test("finished shards are not returned", () => {
    const shards = [{ shardId: "s0" }, { shardId: "s1" }];
    assert.deepEqual(readable(shards, ["s0"]), ["s1"]);
    assert.deepEqual(readable(shards, ["s0", "s1"]), []);
  });

  test("a grandchild waits for its parent, even once the grandparent finished", () => {
    const shards = [
      { shardId: "g" },
      { shardId: "p", parentShardId: "g" },
      { shardId: "c", parentShardId: "p" },
    ];
    assert.deepEqual(readable(shards, ["g"]), ["p"]);
    assert.deepEqual(readable(shards, ["g", "p"]), ["c"]);
  });

  test("the listing's order is kept", () => {
    const shards = [{ shardId: "z" }, { shardId: "a" }, { shardId: "m" }];
    assert.deepEqual(readable(shards, []), ["z", "a", "m"]);
  });
});
