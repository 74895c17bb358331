// A shard's Lease as processors and operator read and write it: pure conversions.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Lease } from "@kubernetes/client-node";
import {
  annotations,
  changedLease,
  leaseName,
  newShardLease,
  toShardLease,
  type LeaseChange,
  type ShardLease,
  type ShardProgress,
} from "../../processor/leases/shard-lease.ts";

const owner = {
  apiVersion: "asyncenrichment.dev/v1alpha1",
  kind: "AsyncEnrichmentJob",
  name: "orders",
  uid: "u-1",
};
const created = newShardLease({
  namespace: "shop",
  prefix: "orders",
  shardId: "shardId-000000000007",
  parents: ["shardId-000000000001", undefined],
  labels: { "asyncenrichment.dev/job": "orders" },
  owner,
  leaseDurationSeconds: 40,
});
const view = (lease: V1Lease): ShardLease => {
  const read = toShardLease(lease);
  assert.ok(read !== undefined, "a shard Lease");
  return read;
};
/** The new Lease as the API server returns it, with a resourceVersion. */
const stored = (): ShardLease => {
  const copy = structuredClone(created);
  if (copy.metadata !== undefined) copy.metadata.resourceVersion = "41";
  return view(copy);
};
const now = new Date("2026-11-25T04:00:00.123Z");
const change = (lease: ShardLease, what: LeaseChange, at = now): ShardLease =>
  view(changedLease(lease, what, 40, at));
const progress: ShardProgress = {
  worker: "pod-a",
  recordsIn: 10,
  recordsOut: 9,
  inPerSecond: 5,
  outPerSecond: 4,
  failedPerSecond: 0,
  lastFailure: undefined,
  millisBehindLatest: 1200,
  lastError: undefined,
  at: "2026-11-25T04:00:00.000Z",
};

test("lease names are the prefix and the shard id, lower case and DNS-safe", () => {
  assert.equal(leaseName("orders", "shardId-000000000007"), "orders-shardid-000000000007");
  assert.equal(leaseName("orders", "Shard_1"), "orders-shard-1");
});

test("a new Lease is free, labelled, owned when asked, and names its shard and parents", () => {
  const lease = stored();
  assert.equal(lease.name, "orders-shardid-000000000007");
  assert.equal(lease.shardId, "shardId-000000000007");
  assert.deepEqual(lease.parents, ["shardId-000000000001"]);
  assert.equal(lease.holder, "");
  assert.equal(lease.checkpoint, undefined);
  assert.deepEqual(created.metadata?.ownerReferences, [owner]);
  assert.deepEqual(created.metadata.labels, { "asyncenrichment.dev/job": "orders" });
  const unowned = newShardLease({
    namespace: "shop",
    prefix: "orders",
    shardId: "shardId-000000000000",
    parents: [],
    labels: {},
    owner: undefined,
    leaseDurationSeconds: 40,
  });
  assert.equal(unowned.metadata?.ownerReferences, undefined);
});

test("taking a Lease sets holder, acquire and renew times and counts a transition; the resourceVersion stays for fencing", () => {
  const taken = changedLease(stored(), { holder: "pod-a" }, 40, now);
  assert.equal(taken.metadata?.resourceVersion, "41");
  assert.deepEqual(taken.metadata.ownerReferences, [owner]);
  assert.equal(taken.spec?.holderIdentity, "pod-a");
  assert.equal(taken.spec.leaseTransitions, 1);
  assert.equal(taken.spec.acquireTime?.getTime(), now.getTime());
  assert.equal(taken.spec.renewTime?.getTime(), now.getTime());
});

test("renewing keeps the holder and its acquire time, counts no transition, and carries checkpoint and figures", () => {
  const held = change(stored(), { holder: "pod-a" });
  const later = new Date(now.getTime() + 5_000);
  const renewed = changedLease(held, { checkpoint: "4968", progress }, 40, later);
  assert.equal(renewed.spec?.holderIdentity, "pod-a");
  assert.equal(renewed.spec.leaseTransitions, 1);
  assert.equal(renewed.spec.acquireTime?.getTime(), now.getTime());
  assert.equal(renewed.spec.renewTime?.getTime(), later.getTime());
  const read = view(renewed);
  assert.equal(read.checkpoint, "4968");
  // Figures travel as JSON: fields without a value are left out.
  assert.deepEqual(read.progress, JSON.parse(JSON.stringify(progress)));
});

test("asking changes no holder; releasing clears holder and times; taking or releasing settles the request", () => {
  const asked = change(change(stored(), { holder: "pod-a" }), { handoffTo: "pod-b" });
  assert.equal(asked.handoffTo, "pod-b");
  assert.equal(asked.holder, "pod-a");
  const released = changedLease(asked, { holder: "" }, 40, now);
  assert.equal(released.spec?.holderIdentity, undefined);
  assert.equal(released.spec?.renewTime, undefined);
  assert.equal(released.spec?.acquireTime, undefined);
  assert.equal(released.metadata?.annotations?.[annotations.handoffTo], undefined);
  const handed = change(asked, { holder: "pod-b" });
  assert.equal(handed.holder, "pod-b");
  assert.equal(handed.handoffTo, "");
  assert.equal(change(asked, {}).handoffTo, "pod-b", "a renewal keeps the request");
});

test("a Lease that is not a shard Lease, or whose figures do not parse, is read safely", () => {
  assert.equal(toShardLease({ metadata: { name: "other" } }), undefined);
  const copy = structuredClone(created);
  if (copy.metadata?.annotations !== undefined) {
    copy.metadata.annotations[annotations.progress] = "{not json";
  }
  assert.equal(view(copy).progress, undefined);
});
