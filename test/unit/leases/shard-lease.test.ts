// A shard's Lease as processors and operator read and write it: pure conversions between the
// Lease object and the ShardLease view.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { V1Lease, V1OwnerReference } from "@kubernetes/client-node";
import {
  annotations,
  changedLease,
  leaseName,
  newShardLease,
  toShardLease,
  type LeaseChange,
  type NewLease,
  type ShardLease,
  type ShardProgress,
} from "../../../processor/leases/shard-lease.ts";

/** An RFC 1123 subdomain, what the API server accepts as a Lease name. */
const dnsSubdomain = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const owner: V1OwnerReference = {
  apiVersion: "asyncenrichment.dev/v1alpha1",
  kind: "AsyncEnrichmentJob",
  name: "orders",
  uid: "0b8f2c1e-3d4a-4f5b-9c6d-7e8f9a0b1c2d",
  controller: true,
};
const labels = { "asyncenrichment.dev/job": "orders", "app.kubernetes.io/part-of": "x" };

const spec = (more: Partial<NewLease> = {}): NewLease => ({
  namespace: "shop",
  prefix: "orders",
  shardId: "shardId-000000000007",
  parents: ["shardId-000000000001", undefined, "shardId-000000000002"],
  labels,
  owner,
  leaseDurationSeconds: 40,
  ...more,
});

const view = (lease: V1Lease): ShardLease => {
  const read = toShardLease(lease);
  assert.ok(read !== undefined, "a shard Lease");
  return read;
};

/** The Lease as the API server stores it: with a resourceVersion, maybe transitions already. */
const stored = (resourceVersion = "41", transitions = 0): ShardLease => {
  const copy = structuredClone(newShardLease(spec()));
  assert.ok(copy.metadata !== undefined && copy.spec !== undefined);
  copy.metadata.resourceVersion = resourceVersion;
  copy.spec.leaseTransitions = transitions;
  return view(copy);
};

const t0 = new Date("2026-11-25T04:00:00.123Z");
const at = (seconds: number): Date => new Date(t0.getTime() + seconds * 1000);
const change = (lease: ShardLease, what: LeaseChange, when = t0): ShardLease =>
  view(changedLease(lease, what, 40, when));

const progress: ShardProgress = {
  worker: "pod-a",
  recordsIn: 1000,
  recordsOut: 990,
  inPerSecond: 50,
  outPerSecond: 49,
  failedPerSecond: 1,
  lastFailure: "HTTP 503",
  millisBehindLatest: 1200,
  lastError: "ProvisionedThroughputExceededException",
  at: "2026-11-25T04:00:00.000Z",
};

describe("leaseName", () => {
  test("is the prefix, a dash and the shard id in lower case", () => {
    assert.equal(leaseName("orders", "shardId-000000000007"), "orders-shardid-000000000007");
    assert.equal(leaseName("orders", "SHARDID-000000000007"), "orders-shardid-000000000007");
  });

  test("is DNS-safe: characters a Lease name may not hold become dashes", () => {
    for (const shardId of [
      "shardId-000000000000",
      "shardId-999999999999",
      "Shard_1",
      "shard.1",
      "shard 1/2",
      "Ünïcode-shard",
    ]) {
      const name = leaseName("my-job.orders", shardId);
      assert.match(name, dnsSubdomain, `${shardId} -> ${name}`);
      assert.equal(name, name.toLowerCase());
      assert.ok(name.length <= 253);
    }
    assert.equal(leaseName("orders", "Shard_1"), "orders-shard-1");
  });

  test("is a valid name even when the shard id ends with a character that is replaced", () => {
    assert.match(leaseName("orders", "shard_"), dnsSubdomain);
  });
});

describe("newShardLease and toShardLease", () => {
  test("round trip: name, namespace, shard id, parents without undefined, labels, owner", () => {
    const created = newShardLease(spec());
    assert.equal(created.apiVersion, "coordination.k8s.io/v1");
    assert.equal(created.kind, "Lease");
    assert.equal(created.metadata?.name, "orders-shardid-000000000007");
    assert.equal(created.metadata.namespace, "shop");
    assert.deepEqual(created.metadata.labels, labels);
    assert.deepEqual(created.metadata.ownerReferences, [owner]);
    assert.equal(created.spec?.leaseDurationSeconds, 40);
    assert.equal(created.spec.holderIdentity, undefined, "a new Lease is free");

    const read = view(created);
    assert.equal(read.name, "orders-shardid-000000000007");
    assert.equal(read.shardId, "shardId-000000000007", "the shard id keeps its case");
    assert.deepEqual(read.parents, ["shardId-000000000001", "shardId-000000000002"]);
    assert.equal(read.holder, "");
    assert.equal(read.handoffTo, "");
    assert.equal(read.checkpoint, undefined);
    assert.equal(read.progress, undefined);
    assert.equal(read.leaseDurationSeconds, 40);
    assert.equal(read.transitions, 0);
    assert.equal(read.resourceVersion, "", "none until the API server stores it");
    assert.equal(read.object, created);
  });

  test("no parents, or only undefined ones, read back as an empty list", () => {
    assert.deepEqual(view(newShardLease(spec({ parents: [] }))).parents, []);
    assert.deepEqual(view(newShardLease(spec({ parents: [undefined, undefined] }))).parents, []);
    assert.deepEqual(view(newShardLease(spec({ parents: [undefined, "shardId-1"] }))).parents, [
      "shardId-1",
    ]);
  });

  test("an owner reference only when one is given", () => {
    const unowned = newShardLease(spec({ owner: undefined }));
    assert.equal(unowned.metadata?.ownerReferences, undefined);
    assert.ok(!Object.hasOwn(unowned.metadata ?? {}, "ownerReferences"));
  });

  test("a Lease without the shard-id annotation, or without a name, is not a shard Lease", () => {
    assert.equal(toShardLease({ metadata: { name: "kube-scheduler" } }), undefined);
    assert.equal(toShardLease({}), undefined);
    const nameless = structuredClone(newShardLease(spec()));
    delete nameless.metadata?.name;
    assert.equal(toShardLease(nameless), undefined);
    const other = structuredClone(newShardLease(spec()));
    delete other.metadata?.annotations?.[annotations.shardId];
    assert.equal(toShardLease(other), undefined);
  });

  test("a malformed progress annotation reads as undefined rather than throwing", () => {
    for (const text of ["{not json", "", "{", "undefined"]) {
      const lease = structuredClone(newShardLease(spec()));
      assert.ok(lease.metadata?.annotations !== undefined);
      lease.metadata.annotations[annotations.progress] = text;
      let read: ShardLease | undefined;
      assert.doesNotThrow(() => (read = toShardLease(lease)), JSON.stringify(text));
      assert.equal(read?.progress, undefined, JSON.stringify(text));
      assert.equal(read?.shardId, "shardId-000000000007", "the rest of the Lease still reads");
    }
  });

  test("a progress annotation that is JSON but not an object reads as undefined", () => {
    for (const text of ["null", "42", "[]", '"text"']) {
      const lease = structuredClone(newShardLease(spec()));
      assert.ok(lease.metadata?.annotations !== undefined);
      lease.metadata.annotations[annotations.progress] = text;
      assert.equal(view(lease).progress, undefined, text);
    }
  });
});

describe("changedLease", () => {
  test("keeps name, namespace, resourceVersion, labels, owner references and the shard annotations", () => {
    const before = stored("41");
    const after = changedLease(before, { holder: "pod-a" }, 40, t0);
    assert.equal(after.metadata?.name, "orders-shardid-000000000007");
    assert.equal(after.metadata.namespace, "shop");
    assert.equal(after.metadata.resourceVersion, "41", "fencing: the update names what was read");
    assert.deepEqual(after.metadata.labels, labels);
    assert.deepEqual(after.metadata.ownerReferences, [owner]);
    const read = view(after);
    assert.equal(read.shardId, before.shardId);
    assert.deepEqual(read.parents, before.parents);
  });

  test("does not modify the Lease it was given", () => {
    const before = stored("41", 2);
    const snapshot = structuredClone(before.object);
    changedLease(before, { holder: "pod-a", checkpoint: "49", progress }, 40, t0);
    changedLease(before, { holder: "" }, 40, t0);
    assert.deepEqual(before.object, snapshot);
  });

  test("taking a free Lease sets holder, acquire and renew times, and counts one transition", () => {
    const taken = changedLease(stored("41", 3), { holder: "pod-a" }, 40, t0);
    assert.equal(taken.spec?.holderIdentity, "pod-a");
    assert.equal(taken.spec.acquireTime?.getTime(), t0.getTime());
    assert.equal(taken.spec.renewTime?.getTime(), t0.getTime());
    assert.equal(taken.spec.leaseTransitions, 4);
    assert.equal(taken.spec.leaseDurationSeconds, 40);
  });

  test("taking a Lease from another holder counts one transition and a new acquire time", () => {
    const held = change(stored("41", 1), { holder: "pod-a" }, t0);
    assert.equal(held.transitions, 2);
    const handed = changedLease(held, { holder: "pod-b" }, 40, at(30));
    assert.equal(handed.spec?.holderIdentity, "pod-b");
    assert.equal(handed.spec.leaseTransitions, 3);
    assert.equal(handed.spec.acquireTime?.getTime(), at(30).getTime());
    assert.equal(handed.spec.renewTime?.getTime(), at(30).getTime());
  });

  test("renewing keeps the holder and its acquire time, moves the renew time, counts no transition", () => {
    const held = change(stored("41", 1), { holder: "pod-a" }, t0);
    for (const renewal of [{}, { holder: "pod-a" }, { checkpoint: "49" }]) {
      const renewed = changedLease(held, renewal, 40, at(10));
      assert.equal(renewed.spec?.holderIdentity, "pod-a");
      assert.equal(renewed.spec.leaseTransitions, 2, JSON.stringify(renewal));
      assert.equal(renewed.spec.acquireTime?.getTime(), t0.getTime());
      assert.equal(renewed.spec.renewTime?.getTime(), at(10).getTime());
    }
  });

  test("a new lease duration is written with the change", () => {
    const renewed = changedLease(stored(), { holder: "pod-a" }, 15, t0);
    assert.equal(renewed.spec?.leaseDurationSeconds, 15);
    assert.equal(view(renewed).leaseDurationSeconds, 15);
  });

  test('holder "" releases: no holderIdentity, renewTime or acquireTime, no transition', () => {
    const held = change(stored("41", 1), { holder: "pod-a", checkpoint: "49" }, t0);
    const released = changedLease(held, { holder: "" }, 40, at(5));
    assert.equal(released.spec?.holderIdentity, undefined);
    assert.equal(released.spec?.renewTime, undefined);
    assert.equal(released.spec?.acquireTime, undefined);
    assert.equal(released.spec?.leaseTransitions, 2);
    const read = view(released);
    assert.equal(read.holder, "");
    assert.equal(read.checkpoint, "49", "the checkpoint stays for the next holder");
  });

  test("releasing a free Lease counts no transition", () => {
    const released = changedLease(stored("41", 5), { holder: "" }, 40, t0);
    assert.equal(released.spec?.leaseTransitions, 5);
    assert.equal(released.spec.holderIdentity, undefined);
  });

  test("checkpoint and progress are written to annotations and read back", () => {
    const held = change(stored(), { holder: "pod-a" });
    const written = changedLease(
      held,
      { checkpoint: "49590338271490256608559692538361571095921575989136588898", progress },
      40,
      at(5),
    );
    assert.equal(
      written.metadata?.annotations?.[annotations.checkpoint],
      "49590338271490256608559692538361571095921575989136588898",
    );
    assert.equal(written.metadata.annotations[annotations.progress], JSON.stringify(progress));
    const read = view(written);
    assert.equal(read.checkpoint, "49590338271490256608559692538361571095921575989136588898");
    assert.deepEqual(read.progress, progress);
  });

  test("progress fields without a value read back as undefined", () => {
    const quiet: ShardProgress = {
      ...progress,
      lastFailure: undefined,
      lastError: undefined,
      millisBehindLatest: undefined,
    };
    const read = change(change(stored(), { holder: "pod-a" }), { progress: quiet });
    assert.equal(read.progress?.worker, "pod-a");
    assert.equal(read.progress.lastFailure, undefined);
    assert.equal(read.progress.lastError, undefined);
    assert.equal(read.progress.millisBehindLatest, undefined);
    assert.equal(read.progress.inPerSecond, 50);
  });

  test("a change without checkpoint or progress keeps the ones written before", () => {
    const written = change(change(stored(), { holder: "pod-a" }), { checkpoint: "49", progress });
    const renewed = change(written, {}, at(10));
    assert.equal(renewed.checkpoint, "49");
    assert.deepEqual(renewed.progress, progress);
    const taken = change(renewed, { holder: "pod-b" }, at(20));
    assert.equal(taken.checkpoint, "49", "a new holder starts from the checkpoint");
  });

  test("a hand-over request is kept by renewals and settled by taking or releasing", () => {
    const asked = change(change(stored(), { holder: "pod-a" }), { handoffTo: "pod-b" });
    assert.equal(asked.holder, "pod-a");
    assert.equal(asked.handoffTo, "pod-b");
    assert.equal(asked.transitions, 1, "asking is no transition");
    assert.equal(change(asked, {}, at(5)).handoffTo, "pod-b");
    assert.equal(change(asked, { holder: "pod-b" }, at(5)).handoffTo, "");
    assert.equal(change(asked, { holder: "" }, at(5)).handoffTo, "");
    const released = changedLease(asked, { holder: "" }, 40, at(5));
    assert.equal(
      released.metadata?.annotations?.[annotations.handoffTo],
      undefined,
      "the annotation is removed, not left empty",
    );
  });
});
