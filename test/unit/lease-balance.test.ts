// The lease planner: what a processor takes, and asks for, at one renewal.
import assert from "node:assert/strict";
import { test } from "node:test";
import { planAcquisitions } from "../../processor/leases/balance.ts";
import {
  newShardLease,
  toShardLease,
  type ShardLease,
} from "../../processor/leases/shard-lease.ts";

function lease(shard: number, holder = "", handoffTo = ""): ShardLease {
  const shardId = `shardId-${String(shard).padStart(12, "0")}`;
  const view = toShardLease(
    newShardLease({
      namespace: "shop",
      prefix: "orders",
      shardId,
      parents: [],
      labels: {},
      owner: undefined,
      leaseDurationSeconds: 40,
    }),
  );
  assert.ok(view !== undefined);
  return { ...view, holder, handoffTo };
}

const all = (leases: ShardLease[]) => new Set(leases.map((entry) => entry.shardId));
const plan = (
  me: string,
  leases: ShardLease[],
  options: {
    expired?: (entry: ShardLease) => boolean;
    maxSteals?: number;
    readable?: Set<string>;
  } = {},
) =>
  planAcquisitions({
    me,
    leases,
    readable: options.readable ?? all(leases),
    expired: options.expired ?? (() => false),
    maxSteals: options.maxSteals ?? 100,
  });

test("alone with free leases, a processor takes every readable shard", () => {
  const leases = [0, 1, 2, 3].map((shard) => lease(shard));
  const result = plan("a", leases);
  assert.equal(result.take.length, 4);
  assert.equal(result.fairShare, 4);
  assert.equal(result.workers, 1);
});

test("a processor takes free leases up to its fair share, never more", () => {
  const leases = [lease(0, "b"), lease(1, "b"), lease(2), lease(3), lease(4), lease(5)];
  const result = plan("a", leases);
  assert.equal(result.workers, 2);
  assert.equal(result.fairShare, 3);
  assert.equal(result.take.length, 3);
  assert.deepEqual(result.steal, []);
});

test("released leases come before expired ones", () => {
  const leases = [lease(0, "dead"), lease(1, "dead"), lease(2), lease(3, "b")];
  const result = plan("a", leases, { expired: (entry) => entry.holder === "dead" });
  // live workers: a and b; share ceil(4/2) = 2; a takes the released one first, then an expired.
  assert.equal(result.take[0]?.holder, "");
  assert.equal(result.take.length, 2);
  assert.equal(result.take[1]?.holder, "dead");
});

test("a held lease that has not expired is never taken", () => {
  const leases = [lease(0, "b"), lease(1, "b")];
  const result = plan("a", leases, { maxSteals: 0 });
  assert.deepEqual(result.take, []);
  assert.deepEqual(result.steal, []);
});

test("with nothing free it asks those above the fair share for their surplus", () => {
  const leases = [
    ...[0, 1, 2, 3, 4].map((shard) => lease(shard, "b")),
    ...[5, 6, 7].map((shard) => lease(shard, "c")),
  ];
  // 3 workers, share ceil(8/3) = 3: b has 2 above it, c none; a wants 3.
  const result = plan("a", leases);
  assert.equal(result.fairShare, 3);
  assert.equal(result.steal.length, 2);
  assert.ok(result.steal.every((entry) => entry.holder === "b"));
});

test("asks are capped by maxSteals", () => {
  const leases = [0, 1, 2, 3, 4, 5].map((shard) => lease(shard, "b"));
  assert.equal(plan("a", leases, { maxSteals: 1 }).steal.length, 1);
  assert.equal(plan("a", leases, { maxSteals: 0 }).steal.length, 0);
});

test("nobody above the share: ask the busiest for one only if it holds two more (3/3/1 -> 3/2/2)", () => {
  const leases = [
    ...[0, 1, 2].map((shard) => lease(shard, "b")),
    ...[3, 4, 5].map((shard) => lease(shard, "c")),
    lease(6, "a"),
  ];
  const result = plan("a", leases);
  assert.equal(result.fairShare, 3);
  assert.equal(result.steal.length, 1);

  const settled = [
    ...[0, 1, 2].map((shard) => lease(shard, "b")),
    ...[3, 4].map((shard) => lease(shard, "c")),
    lease(5, "a"),
    lease(6, "a"),
  ];
  assert.deepEqual(plan("a", settled).steal, [], "3/2/2 stays");
});

test("a shard someone else asked for is left to them", () => {
  const leases = [lease(0, "b", "c"), lease(1, "b", "c"), lease(2, "b"), lease(3, "b")];
  const result = plan("a", leases);
  assert.ok(result.steal.length > 0);
  assert.ok(result.steal.every((entry) => entry.handoffTo === ""));
});

test("shards that may not be read yet are never taken", () => {
  const leases = [lease(0), lease(1), lease(2)];
  const result = plan("a", leases, { readable: new Set([leases[0]?.shardId ?? ""]) });
  assert.deepEqual(
    result.take.map((entry) => entry.shardId),
    [leases[0]?.shardId],
  );
});

test("two newcomers starting together try different free leases first", () => {
  const leases = [0, 1, 2, 3, 4, 5, 6, 7].map((shard) => lease(shard));
  const firsts = new Set(
    ["orders-processor-x7k2p", "orders-processor-m4q9z", "orders-processor-a1b2c"].map(
      (me) => plan(me, leases).take[0]?.shardId,
    ),
  );
  assert.ok(firsts.size > 1, "rotation by worker name");
});

test("a processor that asked for a shard counts as live, though it holds nothing yet", () => {
  const leases = [0, 1, 2, 3, 4, 5].map((shard) => lease(shard, "b", shard === 0 ? "c" : ""));
  // b, c (asking) and a: share ceil(6/3) = 2, so a asks for 2, not 3.
  const result = plan("a", leases);
  assert.equal(result.workers, 3);
  assert.equal(result.fairShare, 2);
  assert.equal(result.steal.length, 2);
});
