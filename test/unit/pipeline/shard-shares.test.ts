// The rate-limit share: which shards are open, and which of them count as this processor's own.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SHARD_END } from "../../../processor/checkpoint/store.ts";
import type { ShardInfo } from "../../../processor/kinesis/shard-lineage.ts";
import type { ShardState } from "../../../processor/pipeline/shard-lifecycle.ts";
import type { ShardReadings } from "../../../processor/pipeline/shard-readings.ts";
import {
  createShardShares,
  heldShards,
  openShards,
} from "../../../processor/pipeline/shard-shares.ts";
import { newReading } from "../../../processor/pipeline/start-reading.ts";

const shard = (shardId: string, parentShardId?: string): ShardInfo => ({
  shardId,
  parentShardId,
  adjacentParentShardId: undefined,
  hashKeyRange: undefined,
  closed: false,
});

// "parent" split into "left" and "right"; "other" never split.
const listed = [shard("parent"), shard("left", "parent"), shard("right", "parent"), shard("other")];

test("a split shard is open until its end is written, its children only after", () => {
  assert.deepEqual([...openShards(listed, new Map())], ["parent", "other"]);
  assert.deepEqual(
    [...openShards(listed, new Map([["parent", SHARD_END]]))],
    ["left", "right", "other"],
  );
});

test("a shard read here counts while open, and not while handed over", () => {
  const states = new Map<string, ShardState>([["b", "handingOver"]]);
  const stateOf = (shardId: string): ShardState => states.get(shardId) ?? "idle";
  const open = new Set(["a", "b", "c"]);
  assert.equal(heldShards(["a", "b", "d"], open, stateOf), 1, "b handed over, d not open");
  assert.equal(heldShards([], open, stateOf), 0);
});

test("the share is reported at each sync and whenever told, from the readings as they are then", () => {
  const readings: ShardReadings = new Map();
  const shares: [number, number][] = [];
  const tracked = createShardShares({
    readings,
    stateOf: () => "reading",
    onShares: (held, open) => shares.push([held, open]),
  });
  readings.set("parent", newReading("parent", undefined));
  readings.set("other", newReading("other", undefined));
  tracked.synced(listed, new Map());
  readings.delete("other");
  tracked.report();
  readings.delete("parent");
  tracked.synced(listed, new Map([["parent", SHARD_END]]));
  assert.deepEqual(shares, [
    [2, 2],
    [1, 2],
    [0, 3],
  ]);
});
