// The lease coordinator against an in-memory Lease API that enforces resourceVersions (fencing):
// here, what becomes of a hand-over request the holder does not honour.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import { pino } from "pino";
import type { LeaseCoordinationConfig } from "../../../processor/config/schema.ts";
import { createLeaseCoordinator } from "../../../processor/leases/lease-coordinator.ts";
import {
  changedLease,
  newShardLease,
  toShardLease,
} from "../../../processor/leases/shard-lease.ts";

/** Leases in memory; a replace naming another resourceVersion than the stored one is a 409. */
function memoryLeaseApi() {
  const leases = new Map<string, V1Lease>();
  let version = 0;
  const conflict = () => Object.assign(new Error("Conflict"), { code: 409 });
  const store = (body: V1Lease): V1Lease => {
    const copy = structuredClone(body);
    assert.ok(copy.metadata?.name !== undefined);
    copy.metadata.resourceVersion = String(++version);
    leases.set(copy.metadata.name, copy);
    return structuredClone(copy);
  };
  const api = {
    listNamespacedLease: () =>
      Promise.resolve({ items: [...leases.values()].map((lease) => structuredClone(lease)) }),
    readNamespacedLease: ({ name }: { name: string }) => {
      const lease = leases.get(name);
      return lease === undefined
        ? Promise.reject(Object.assign(new Error("NotFound"), { code: 404 }))
        : Promise.resolve(structuredClone(lease));
    },
    createNamespacedLease: ({ body }: { body: V1Lease }) =>
      leases.has(body.metadata?.name ?? "")
        ? Promise.reject(conflict())
        : Promise.resolve(store(body)),
    // Checked when the call is made, as the API server checks requests in the order they arrive.
    replaceNamespacedLease: ({ name, body }: { name: string; body: V1Lease }) =>
      leases.get(name)?.metadata?.resourceVersion === body.metadata?.resourceVersion
        ? Promise.resolve(store(body))
        : Promise.reject(conflict()),
  };
  return { api: api as unknown as CoordinationV1Api, leases, store };
}

const config: LeaseCoordinationConfig = {
  type: "kubernetes",
  namespace: "shop",
  leasePrefix: "orders",
  labels: {},
  owner: undefined,
  leaseDurationSeconds: 40,
  renewIntervalMs: 10_000,
  maxStealsPerRenewal: 100,
};

test("a hand-over request not honoured within a lease duration becomes a steal", async () => {
  const { api, leases, store } = memoryLeaseApi();
  let clock = 0;
  const shards = [0, 1, 2, 3].map((n) => ({ shardId: `shardId-${String(n).padStart(12, "0")}` }));
  const coordinator = createLeaseCoordinator({
    api,
    config,
    workerId: "pod-a",
    counters: () => undefined,
    logger: pino({ level: "silent" }),
    now: () => clock,
  });
  // The Leases exist and pod-b, an old processor, holds them all.
  for (const { shardId } of shards) {
    const free = toShardLease(
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
    assert.ok(free !== undefined);
    store(changedLease(free, { holder: "pod-b" }, 40, new Date()));
  }
  /** pod-b renews what it holds and ignores requests. */
  const wedgedRenewal = (): void => {
    for (const lease of [...leases.values()]) {
      const view = toShardLease(lease);
      assert.ok(view !== undefined);
      if (view.holder === "pod-b") store(changedLease(view, {}, 40, new Date()));
    }
  };
  // pod-a, below its share (0 of 2), asks pod-b for two shards.
  await coordinator.sync(shards);
  const asked = [...leases.values()].filter((lease) => toShardLease(lease)?.handoffTo === "pod-a");
  assert.equal(asked.length, 2, "pod-a asked for two shards");
  // pod-b keeps renewing for two minutes (three lease durations) and never hands over.
  for (let step = 0; step < 12; step++) {
    clock += 10_000;
    wedgedRenewal();
    await coordinator.sync(shards);
  }
  assert.equal(coordinator.held().length, 2, "the overdue requests became steals");
});

test("a processor whose API calls hang stops reading its shard before another processor could take the Lease", async () => {
  const { api } = memoryLeaseApi();
  const shortLeases: LeaseCoordinationConfig = {
    ...config,
    leaseDurationSeconds: 2,
    renewIntervalMs: 500,
  };
  let hanging = false;
  /** When the last write that the API server applied was sent: others time expiry from it on. */
  let lastAppliedSentAt = 0;
  const cutOff = new Proxy(api, {
    get(target, property, receiver) {
      const method = Reflect.get(target, property, receiver) as (
        request: unknown,
      ) => Promise<unknown>;
      return (request: unknown) => {
        if (hanging) return new Promise(() => undefined);
        const sentAt = performance.now();
        return method(request).then((answer) => {
          if (property === "replaceNamespacedLease") lastAppliedSentAt = sentAt;
          return answer;
        });
      };
    },
  });
  const coordinator = createLeaseCoordinator({
    api: cutOff,
    config: shortLeases,
    workerId: "pod-a",
    counters: () => undefined,
    logger: pino({ level: "silent" }),
  });
  let lostAt: number | undefined;
  coordinator.onLost(() => {
    lostAt ??= performance.now();
  });
  const shards = [{ shardId: "shardId-000000000000" }];
  await coordinator.sync(shards);
  assert.deepEqual(coordinator.held(), ["shardId-000000000000"]);
  // Syncing as the shard supervisor does, every renew interval, until the shard is dropped.
  const deadline = performance.now() + 10_000;
  for (let round = 0; lostAt === undefined && performance.now() < deadline; round++) {
    if (round === 2) hanging = true;
    await Promise.race([
      coordinator.sync(shards).catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, 500)),
    ]);
  }
  await coordinator.release();
  assert.ok(lostAt !== undefined, "the shard was dropped");
  const takeableAt = lastAppliedSentAt + shortLeases.leaseDurationSeconds * 1000;
  assert.ok(
    lostAt < takeableAt,
    `dropped ${(lostAt - takeableAt).toFixed(0)} ms after another processor could have taken it`,
  );
});
