// The lease coordinator against an in-memory Lease API that enforces resourceVersions (fencing):
// what becomes of a hand-over request an old-protocol holder does not honour, and when a processor
// whose calls hang stops reading.
import assert from "node:assert/strict";
import { mock, test } from "node:test";
import type { V1Lease } from "@kubernetes/client-node";
import { pino } from "pino";
import type { LeaseCoordinationConfig } from "../../../processor/config/schema.ts";
import { createLeaseCoordinator } from "../../../processor/leases/lease-coordinator.ts";
import {
  changedLease,
  newShardLease,
  toShardLease,
} from "../../../processor/leases/shard-lease.ts";
import { createInMemoryLeaseStore } from "../../support/in-memory-lease-store.ts";

function memoryLeaseApi() {
  const store = createInMemoryLeaseStore();
  return { api: store.connect().api, leases: store.leases, store: store.put };
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

test("a hand-over request an old-protocol holder does not honour within its lease duration becomes a steal", async () => {
  const { api, leases, store } = memoryLeaseApi();
  // Simulated time: pod-a's heartbeat renews itself on (mocked) timers as the clock moves.
  mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
  let clock = 0;
  const advance = async (ms: number): Promise<void> => {
    clock += ms;
    mock.timers.tick(ms);
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
  };
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
  /** pod-b renews what it holds (the old protocol: no heartbeat) and ignores requests. */
  const wedgedRenewal = (): void => {
    for (const lease of [...leases.values()]) {
      const view = toShardLease(lease);
      if (view?.holder === "pod-b") store(changedLease(view, {}, 40, new Date()));
    }
  };
  // pod-a, below its share (0 of 2), asks pod-b for two shards.
  await coordinator.sync(shards);
  const asked = [...leases.values()].filter((lease) => toShardLease(lease)?.handoffTo === "pod-a");
  assert.equal(asked.length, 2, "pod-a asked for two shards");
  // pod-b keeps renewing for two minutes (three lease durations) and never hands over.
  for (let step = 0; step < 12; step++) {
    for (let tick = 0; tick < 5; tick++) await advance(2_000);
    wedgedRenewal();
    await coordinator.sync(shards);
  }
  assert.equal(coordinator.held().length, 2, "the overdue requests became steals");
  const released = coordinator.release();
  await advance(10_000);
  await released;
  mock.timers.reset();
});

test("a processor whose API calls hang stops reading its shard before another processor could take the Lease", async () => {
  const { api } = memoryLeaseApi();
  const shortLeases: LeaseCoordinationConfig = {
    ...config,
    leaseDurationSeconds: 2,
    renewIntervalMs: 500,
  };
  let hanging = false;
  /** When the last heartbeat renewal the API server applied was sent: others time expiry from it. */
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
          const { name, body } = request as { name?: string; body?: V1Lease };
          const written = name ?? body?.metadata?.name ?? "";
          const writes = ["createNamespacedLease", "replaceNamespacedLease"];
          if (writes.includes(String(property)) && written.includes("-heartbeat-")) {
            lastAppliedSentAt = sentAt;
          }
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
