// The judgement of whether a shard's holder is gone, on the observer's monotonic clock: the
// holder's heartbeat Lease unchanged (or missing) for its duration; renewTime is never read.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Lease } from "@kubernetes/client-node";
import {
  newHeartbeatLease,
  renewedHeartbeat,
  toHeartbeat,
  type Heartbeat,
} from "../../../processor/leases/heartbeat-lease.ts";
import { createHolderLiveness } from "../../../processor/leases/holder-liveness.ts";
import {
  HEARTBEAT_HELD_SECONDS,
  changedLease,
  newShardLease,
  toShardLease,
  type ShardLease,
} from "../../../processor/leases/shard-lease.ts";

let clock = 1_000_000;
let version = 0;
/** The Lease as the API server stores it: with a new resourceVersion. */
const stored = (lease: V1Lease): V1Lease => {
  const copy = structuredClone(lease);
  copy.metadata ??= {};
  copy.metadata.resourceVersion = String(++version);
  return copy;
};
const shardOf = (holder: string, heartbeat: boolean): ShardLease => {
  const free = toShardLease(
    stored(
      newShardLease({
        namespace: "shop",
        prefix: "orders",
        shardId: "shardId-000000000000",
        parents: [],
        labels: {},
        owner: undefined,
        leaseDurationSeconds: 40,
      }),
    ),
  );
  assert.ok(free !== undefined);
  const held = toShardLease(
    stored(
      changedLease(
        free,
        { holder, holderHeartbeat: heartbeat },
        heartbeat ? HEARTBEAT_HELD_SECONDS : 40,
        new Date(),
      ),
    ),
  );
  assert.ok(held !== undefined);
  return held;
};
/** pod-b's heartbeat, renewed with this wall-clock renewTime. */
const beat = (renewTime: Date): Heartbeat => {
  const created = toHeartbeat(
    newHeartbeatLease(
      {
        namespace: "shop",
        prefix: "orders",
        processor: "pod-b",
        labels: {},
        owner: undefined,
        leaseDurationSeconds: 5,
      },
      renewTime,
    ),
  );
  assert.ok(created !== undefined);
  const renewed = toHeartbeat(stored(renewedHeartbeat(created, 5, undefined, renewTime)));
  assert.ok(renewed !== undefined);
  return renewed;
};
const judge = () =>
  createHolderLiveness({ prefix: "orders", defaultDurationMs: 5_000, now: () => clock });

/** A list sent now and answered at once. */
const list = (
  liveness: ReturnType<typeof judge>,
  shards: ShardLease[],
  beats: Heartbeat[],
): void => {
  liveness.observe(shards, beats, clock);
};

test("a heartbeat that stops changing is gone after its duration, though its renewTime is a day ahead", () => {
  const liveness = judge();
  const shard = shardOf("pod-b", true);
  const stuck = beat(new Date(Date.now() + 86_400_000));
  list(liveness, [shard], [stuck]);
  clock += 4_999;
  list(liveness, [shard], [stuck]);
  assert.equal(liveness.gone(shard, "pod-a"), false);
  clock += 1;
  list(liveness, [shard], [stuck]);
  assert.equal(liveness.gone(shard, "pod-a"), true);
  assert.equal(liveness.gone(shard, "pod-b"), false, "never gone to itself");
});

test("a heartbeat that keeps changing is never gone, though its renewTime is a day behind", () => {
  const liveness = judge();
  const shard = shardOf("pod-b", true);
  for (let step = 0; step < 30; step++) {
    list(liveness, [shard], [beat(new Date(Date.now() - 86_400_000))]);
    clock += 2_000;
    assert.equal(liveness.gone(shard, "pod-a"), false);
  }
});

test("a slow list: the version it shows counts as current only when the list was sent", () => {
  const liveness = judge();
  const shard = shardOf("pod-b", true);
  const v1 = beat(new Date());
  clock += 60_000;
  list(liveness, [shard], [v1]);
  // Sent 4 s later, answered 3 s after that with v1 still: the holder may have renewed after
  // the API server took the snapshot, so 7 s on this clock are not 5 s of the heartbeat unchanged.
  const sentAt = clock + 4_000;
  clock += 7_000;
  liveness.observe([shard], [v1], sentAt);
  assert.equal(liveness.gone(shard, "pod-a"), false);
  liveness.observe([shard], [v1], clock);
  assert.equal(liveness.gone(shard, "pod-a"), true);
});

test("a heartbeat that disappears is gone a duration after it was first missed", () => {
  const liveness = judge();
  const shard = shardOf("pod-b", true);
  clock += 60_000;
  list(liveness, [shard], [beat(new Date())]);
  clock += 2_000;
  list(liveness, [shard], []);
  clock += 4_999;
  list(liveness, [shard], []);
  assert.equal(liveness.gone(shard, "pod-a"), false);
  clock += 1;
  list(liveness, [shard], []);
  assert.equal(liveness.gone(shard, "pod-a"), true);
});

test("nothing is gone before the observer has watched for a full duration", () => {
  const liveness = judge();
  const shard = shardOf("pod-b", true);
  clock += 4_000;
  list(liveness, [shard], []);
  assert.equal(liveness.gone(shard, "pod-a"), false);
  clock += 1_000;
  list(liveness, [shard], []);
  assert.equal(liveness.gone(shard, "pod-a"), true);
});

test("a holder of the old protocol is judged by its shard Lease and that Lease's own duration", () => {
  const liveness = judge();
  const shard = shardOf("pod-old", false);
  assert.equal(shard.heartbeatHeld, false);
  list(liveness, [shard], []);
  clock += 39_999;
  list(liveness, [shard], []);
  assert.equal(liveness.gone(shard, "pod-a"), false);
  const renewed = { ...shard, resourceVersion: String(++version) };
  list(liveness, [renewed], []);
  clock += 39_999;
  list(liveness, [renewed], []);
  assert.equal(liveness.gone(renewed, "pod-a"), false);
  clock += 1;
  list(liveness, [renewed], []);
  assert.equal(liveness.gone(renewed, "pod-a"), true);
});
