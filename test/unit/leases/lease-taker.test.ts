// The taker's decisions, as pure functions of the listed Leases: what was taken from us, what
// names us and is ours to adopt, which shards are readable, and what the plan counts as ours.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ours, planSync, readableIds, takenFromUs } from "../../../processor/leases/lease-taker.ts";
import { type ShardLease } from "../../../processor/leases/shard-lease.ts";
import { listedLease, shardId as id } from "./listed-lease.ts";

const lease = (shard: number, holder = "", more: Partial<ShardLease> = {}): ShardLease =>
  listedLease(shard, { holder, resourceVersion: "1", ...more });

const byShard = (...leases: ShardLease[]): Map<string, ShardLease> =>
  new Map(leases.map((entry) => [entry.shardId, entry]));

test("a held shard is lost when its Lease is deleted or written by another; a request we did not see is not a loss", () => {
  const held: [string, ShardLease][] = [0, 1, 2, 3].map((shard) => [
    id(shard),
    lease(shard, "pod-a"),
  ]);
  const listed = byShard(
    lease(1, "pod-b", { resourceVersion: "2" }),
    lease(2, "", { resourceVersion: "2" }),
    // Still names us at a newer version: someone asked for it, it is not lost.
    lease(3, "pod-a", { resourceVersion: "2", handoffTo: "pod-b" }),
  );
  assert.deepEqual(takenFromUs(held, listed, "pod-a"), [
    { shardId: id(0), reason: "the Lease was deleted" },
    { shardId: id(1), reason: "taken over by pod-b" },
    { shardId: id(2), reason: "taken over by nobody (released)" },
  ]);
});

test("a held shard whose listed version is the one we hold is not lost, whatever the list says of its holder", () => {
  // A list taken before our own write answered: same version, so nobody else wrote it.
  const held: [string, ShardLease][] = [[id(0), lease(0, "pod-a")]];
  assert.deepEqual(takenFromUs(held, byShard(lease(0, "")), "pod-a"), []);
});

test("Leases naming us that we do not hold are ours to adopt, unless finished", () => {
  const listed = byShard(
    lease(0, "pod-a"),
    lease(1, "pod-a"),
    lease(2, "pod-a", { checkpoint: "SHARD_END" }),
    lease(3, "pod-b"),
  );
  const adopt = ours(listed, "pod-a", (shardId) => shardId === id(1));
  assert.deepEqual(
    adopt.map((entry) => entry.shardId),
    [id(0)],
  );
});

test("a child is readable only once every listed parent is finished", () => {
  const listed = [
    { shardId: id(0) },
    { shardId: id(1) },
    { shardId: id(2), parentShardId: id(0), adjacentParentShardId: id(1) },
  ];
  assert.deepEqual([...readableIds(listed, new Map([[id(0), "SHARD_END"]]))], [id(1)]);
  const both = new Map([
    [id(0), "SHARD_END"],
    [id(1), "SHARD_END"],
  ]);
  assert.deepEqual([...readableIds(listed, both)], [id(2)]);
});

test("a shard we asked for counts as ours in the plan: no more asks than the share", () => {
  // b holds 6, a asked for 3 already: share ceil(6/2) = 3, so nothing more to ask.
  const listed = byShard(...[0, 1, 2, 3, 4, 5].map((shard) => lease(shard, "pod-b")));
  const readable = new Set(listed.keys());
  const input = { me: "pod-a", readable, expired: () => false };
  assert.equal(planSync(listed, () => false, input, 100).steal.length, 3);
  const asked = new Set([id(0), id(1), id(2)]);
  assert.deepEqual(planSync(listed, (shardId) => asked.has(shardId), input, 100).steal, []);
});
