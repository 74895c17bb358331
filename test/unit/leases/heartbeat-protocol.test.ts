// The shard Lease protocol with heartbeats, run by several processors' lease coordinators against
// an in-memory Lease API on simulated time (mocked timers; each processor has its own monotonic
// clock offset and its own skewed wall clock). Seeded random runs with pauses (calls held and
// applied late), hung calls, slow lists and crashes check the two properties the protocol exists for: a shard
// is read by at most one processor at any moment, and its checkpoint never goes back. Then the
// expiry judgement itself: a holder's skewed renewTime does not matter, only whether its
// heartbeat changes.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";
import { pino } from "pino";
import type { LeaseCoordinationConfig } from "../../../processor/config/schema.ts";
import { createLeaseCoordinator } from "../../../processor/leases/lease-coordinator.ts";
import type { ShardCoordinator } from "../../../processor/checkpoint/coordinator.ts";
import { toShardLease } from "../../../processor/leases/shard-lease.ts";
import { createLegacyLeaseCoordinator } from "../../support/legacy-leases/lease-coordinator.ts";
import {
  createInMemoryLeaseStore,
  type LeaseConnection,
} from "../../support/in-memory-lease-store.ts";
import { seededRandom } from "../seeded-random.ts";

/** The defaults: heartbeats of 5 s renewed every 2 s. */
const config: LeaseCoordinationConfig = {
  type: "kubernetes",
  namespace: "shop",
  leasePrefix: "orders",
  labels: {},
  owner: undefined,
  leaseDurationSeconds: 5,
  renewIntervalMs: 2_000,
  maxStealsPerRenewal: 100,
};
const stepMs = 100;
const shardIds = Array.from({ length: 8 }, (_, n) => `shardId-${String(n).padStart(12, "0")}`);
const listed = shardIds.map((shardId) => ({ shardId }));
const position = (checkpoint: string | undefined): number =>
  checkpoint === undefined ? 0 : Number(checkpoint);

interface Processor {
  name: string;
  connection: LeaseConnection;
  coordinator: ShardCoordinator & { held(): string[] };
  /** Where this processor has read each shard it reads to. */
  reading: Map<string, number>;
  state: "running" | "paused" | "crashed";
  phaseMs: number;
}

/** A few turns of the real event loop: in-memory API answers take one each. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 30; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/** `slowLists`: each processor's lists answered up to 3 s after the API server took them. */
function simulation(random: () => number, wallSkews: number[] = [], slowLists = false) {
  const store = createInMemoryLeaseStore();
  let simMs = 0;
  const processors: Processor[] = [];

  /** Starts a processor; `legacy` runs the previous release's protocol at its defaults. */
  const start = (name: string, legacy = false): Processor => {
    const connection = store.connect();
    // Monotonic clocks start anywhere; wall clocks are off by up to an hour either way.
    const monotonicOffset = random() * 1e6;
    const wallSkewMs = wallSkews[processors.length] ?? (random() - 0.5) * 7_200_000;
    const options = {
      api: connection.api,
      config: legacy ? { ...config, leaseDurationSeconds: 40, renewIntervalMs: 10_000 } : config,
      workerId: name,
      counters: () => undefined,
      logger: pino({ level: "silent" }),
      now: () => simMs + monotonicOffset,
      wallClock: () => new Date(Date.UTC(2026, 10, 30) + simMs + wallSkewMs),
    };
    const coordinator = legacy
      ? createLegacyLeaseCoordinator(options)
      : createLeaseCoordinator(options);
    if (slowLists) connection.listDelayMs = Math.floor(random() * 30) * stepMs;
    const processor: Processor = {
      name,
      connection,
      coordinator,
      reading: new Map(),
      state: "running",
      phaseMs: Math.floor(random() * 20) * stepMs,
    };
    coordinator.onLost((shardId) => processor.reading.delete(shardId));
    coordinator.onHandoffRequested((shardId) => {
      // As the shard supervisor: stop reading, checkpoint what was read, hand over.
      const at = processor.reading.get(shardId);
      processor.reading.delete(shardId);
      void (at === undefined ? Promise.resolve() : coordinator.put(shardId, String(at)))
        .then(() => coordinator.handOver(shardId))
        .catch(() => undefined);
    });
    processors.push(processor);
    return processor;
  };

  const sync = (processor: Processor): void => {
    void processor.coordinator.sync(listed).then(
      ({ checkpoints, owned }) => {
        for (const shardId of owned) {
          if (!processor.reading.has(shardId)) {
            processor.reading.set(shardId, position(checkpoints.get(shardId)));
          }
        }
        for (const shardId of processor.reading.keys()) {
          if (!owned.has(shardId)) processor.reading.delete(shardId);
        }
      },
      () => undefined,
    );
  };

  /** One step of simulated time: timers fire, running processors read, sync and checkpoint. */
  const step = async (): Promise<void> => {
    simMs += stepMs;
    mock.timers.tick(stepMs);
    for (const processor of processors) {
      if (processor.state !== "running") continue;
      const due = (everyMs: number): boolean => (simMs + processor.phaseMs) % everyMs === 0;
      for (const [shardId, at] of processor.reading) {
        processor.reading.set(shardId, at + 1 + Math.floor(random() * 5));
      }
      if (due(processor.coordinator.syncIntervalMs)) sync(processor);
      if (due(1_000)) {
        for (const [shardId, at] of processor.reading) {
          void processor.coordinator.put(shardId, String(at)).catch(() => undefined);
        }
      }
    }
    await settle();
  };

  /** Who reads each shard now: a processor reads what its coordinator says it may. */
  const readers = (): Map<string, string[]> => {
    const byShard = new Map<string, string[]>();
    for (const processor of processors) {
      if (processor.state === "crashed") continue;
      for (const shardId of processor.coordinator.held()) {
        byShard.set(shardId, [...(byShard.get(shardId) ?? []), processor.name]);
      }
    }
    return byShard;
  };

  const checkpoints = (): Map<string, number> =>
    new Map(
      [...store.leases.values()]
        .map(toShardLease)
        .filter((lease) => lease !== undefined)
        .map((lease) => [lease.shardId, position(lease.checkpoint)]),
    );

  return { store, start, step, readers, checkpoints, processors, now: () => simMs };
}

describe("heartbeat protocol", () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
  });
  afterEach(() => {
    mock.timers.reset();
  });

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    test(`seed ${String(seed)}: with pauses, hung calls, slow lists and crashes, each shard has at most one reader and its checkpoint never goes back`, async () => {
      const random = seededRandom(seed);
      const sim = simulation(random, [], true);
      let next = 0;
      for (let n = 0; n < 3; n++) sim.start(`pod-${String(next++)}`);
      const highest = new Map<string, number>();
      const faults: { processor: Processor; until: number }[] = [];
      let events = 0;
      for (let round = 0; round < 1_500; round++) {
        await sim.step();
        // Faults end; new ones start (not in the last 40 s, which checks everything settles).
        for (const fault of faults.splice(0)) {
          if (sim.now() < fault.until) faults.push(fault);
          else if (fault.processor.state === "paused") {
            fault.processor.state = "running";
            fault.processor.connection.thaw();
          } else fault.processor.connection.fault = "none";
        }
        const running = sim.processors.filter(
          (p) => p.state === "running" && p.connection.fault === "none",
        );
        if (round < 1_100 && running.length > 0 && random() < 0.01) {
          const processor = running[Math.floor(random() * running.length)] as Processor;
          const kind = random();
          const until = sim.now() + 1_000 + random() * 11_000;
          events++;
          if (kind < 0.4) {
            processor.state = "paused";
            processor.connection.fault = "freeze";
            faults.push({ processor, until });
          } else if (kind < 0.7) {
            processor.connection.fault = "hang";
            faults.push({ processor, until });
          } else {
            processor.state = "crashed";
            processor.connection.fault = "hang";
            sim.start(`pod-${String(next++)}`);
          }
        }
        for (const [shardId, names] of sim.readers()) {
          assert.ok(
            names.length <= 1,
            `at ${String(sim.now())} ms ${shardId} is read by ${names.join(" and ")}`,
          );
        }
        for (const [shardId, checkpoint] of sim.checkpoints()) {
          const before = highest.get(shardId) ?? 0;
          assert.ok(
            checkpoint >= before,
            `${shardId}'s checkpoint went back from ${String(before)} to ${String(checkpoint)}`,
          );
          highest.set(shardId, checkpoint);
        }
      }
      assert.ok(events > 5, `faults injected: ${String(events)}`);
      const read = sim.readers();
      assert.deepEqual(
        [...read.keys()].sort(),
        shardIds,
        "every shard is read again once faults end",
      );
      for (const processor of sim.processors) {
        processor.connection.fault = "refuse";
        mock.timers.tick(10_000);
        await processor.coordinator.release();
      }
    });
  }

  test("expiry is judged by the heartbeat changing, not by its renewTime: an hour of wall-clock skew either way changes nothing", async () => {
    // pod-0's wall clock is an hour behind (its renewTime looks long expired), pod-1's an hour
    // ahead (its renewTime looks valid for an hour after it stops).
    const sim = simulation(seededRandom(7), [-3_600_000, 3_600_000, 0]);
    const [behind, ahead] = [sim.start("pod-0"), sim.start("pod-1")] as [Processor, Processor];
    const holders = (): Map<string, string> =>
      new Map([...sim.readers()].map(([shardId, names]) => [shardId, names.join(",")]));
    for (let round = 0; round < 300; round++) await sim.step();
    const balanced = holders();
    assert.equal(balanced.size, 8, "every shard read");
    assert.deepEqual(
      new Set(balanced.values()),
      new Set(["pod-0", "pod-1"]),
      "both processors read shards",
    );
    // A minute more: nobody takes a shard from a live holder whatever its renewTime says.
    for (let round = 0; round < 600; round++) await sim.step();
    assert.deepEqual(holders(), balanced, "no shard changed hands between live processors");

    // The processor whose renewTime looks an hour valid crashes: its shards move as soon as its
    // heartbeat has not changed for its duration, plus at most two syncs.
    const crashedAt = sim.now();
    ahead.state = "crashed";
    ahead.connection.fault = "hang";
    const bound = config.leaseDurationSeconds * 1000 + 2 * config.renewIntervalMs;
    const allMoved = (): boolean =>
      holders().size === 8 && [...holders().values()].every((name) => name === "pod-0");
    while (sim.now() - crashedAt <= bound + stepMs && !allMoved()) await sim.step();
    const movedAfter = sim.now() - crashedAt;
    assert.deepEqual(new Set(holders().values()), new Set(["pod-0"]), "pod-0 reads every shard");
    assert.equal(holders().size, 8);
    assert.ok(movedAfter <= bound + stepMs, `moved after ${String(movedAfter)} ms`);
    assert.ok(
      movedAfter >= config.leaseDurationSeconds * 1000,
      `not before the heartbeat duration: ${String(movedAfter)} ms`,
    );

    for (const processor of [behind, ahead]) {
      processor.connection.fault = "refuse";
      mock.timers.tick(10_000);
      await processor.coordinator.release();
    }
  });

  test("a rolling upgrade from the per-shard protocol, with a crash of an old pod midway: one reader per shard, checkpoints never go back, the new pods end up reading every shard", async () => {
    const sim = simulation(seededRandom(11));
    const highest = new Map<string, number>();
    const check = (): void => {
      for (const [shardId, names] of sim.readers()) {
        assert.ok(
          names.length <= 1,
          `at ${String(sim.now())} ms ${shardId} is read by ${names.join(" and ")}`,
        );
      }
      for (const [shardId, checkpoint] of sim.checkpoints()) {
        const before = highest.get(shardId) ?? 0;
        assert.ok(checkpoint >= before, `${shardId}'s checkpoint went back`);
        highest.set(shardId, checkpoint);
      }
    };
    const run = async (seconds: number): Promise<void> => {
      for (let round = 0; round < (seconds * 1000) / stepMs; round++) {
        await sim.step();
        check();
      }
    };
    const old = [sim.start("old-0", true), sim.start("old-1", true)] as [Processor, Processor];
    await run(60);
    assert.equal(sim.readers().size, 8, "the old pods read every shard");
    // The roll: a new pod starts, an old one stops gracefully (releases), another new pod starts,
    // and the last old pod crashes instead of stopping.
    const fresh = [sim.start("new-0")];
    await run(20);
    old[0].state = "crashed";
    await old[0].coordinator.release();
    fresh.push(sim.start("new-1"));
    await run(20);
    old[1].state = "crashed";
    old[1].connection.fault = "hang";
    await run(80);
    const read = sim.readers();
    assert.deepEqual([...read.keys()].sort(), shardIds, "every shard read");
    assert.ok(
      [...read.values()].every((names) => names.every((name) => name.startsWith("new-"))),
      "only by new pods",
    );
    for (const processor of [...old, ...fresh]) {
      processor.connection.fault = "refuse";
      mock.timers.tick(10_000);
      await processor.coordinator.release();
    }
  });
});
