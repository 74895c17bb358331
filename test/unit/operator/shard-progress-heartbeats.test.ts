// summarizeShards with the heartbeat protocol: a shard is owned while its holder's heartbeat Lease
// is renewed within its duration, and the figures come from the heartbeats, one per processor.
// The Leases are built with the processors' own conversions at controlled times.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { V1Lease } from "@kubernetes/client-node";
import { summarizeAt } from "./summarize-at.ts";
import { SHARD_END } from "../../../processor/checkpoint/store.ts";
import {
  heartbeatAnnotations,
  newHeartbeatLease,
  renewedHeartbeat,
  toHeartbeat,
  type ProcessorProgress,
} from "../../../processor/leases/heartbeat-lease.ts";
import {
  HEARTBEAT_HELD_SECONDS,
  changedLease,
  newShardLease,
  toShardLease,
  type LeaseChange,
} from "../../../processor/leases/shard-lease.ts";

const now = new Date("2026-11-30T04:00:00.000Z");
const ago = (millis: number): Date => new Date(now.getTime() - millis);
const id = (shard: number): string => `shardId-${String(shard).padStart(12, "0")}`;
const labels = { "asyncenrichment.dev/job": "orders" };

function figures(worker: string, more: Partial<ProcessorProgress> = {}): ProcessorProgress {
  return {
    worker,
    inPerSecond: 10,
    outPerSecond: 9,
    failedPerSecond: 0,
    lagMillis: {},
    at: now.toISOString(),
    ...more,
  };
}

/** pod's heartbeat, last renewed `millisAgo` ago with these figures. */
function heartbeat(pod: string, millisAgo: number, progress: ProcessorProgress): V1Lease {
  const created = newHeartbeatLease(
    {
      namespace: "shop",
      prefix: "orders",
      processor: pod,
      labels,
      owner: undefined,
      leaseDurationSeconds: 5,
    },
    ago(60_000),
  );
  const view = toHeartbeat(created);
  assert.ok(view !== undefined);
  return renewedHeartbeat(view, 5, progress, ago(millisAgo));
}

/** A shard Lease after these writes of heartbeat-protocol processors. */
function shard(n: number, ...writes: LeaseChange[]): V1Lease {
  return writes.reduce(
    (lease, change) => {
      const view = toShardLease(lease);
      assert.ok(view !== undefined);
      // Two hours ago: longer than the shard Lease's own duration, which does not matter here.
      return changedLease(view, change, HEARTBEAT_HELD_SECONDS, ago(7_200_000));
    },
    newShardLease({
      namespace: "shop",
      prefix: "orders",
      shardId: id(n),
      parents: [],
      labels,
      owner: undefined,
      leaseDurationSeconds: HEARTBEAT_HELD_SECONDS,
    }),
  );
}
const takenBy = (pod: string): LeaseChange => ({ holder: pod, holderHeartbeat: true });

describe("ownership from heartbeats", () => {
  test("a shard is owned while its holder's heartbeat is renewed within its duration, however old the shard Lease's own write", () => {
    const summary = summarizeAt(
      [
        shard(0, takenBy("pod-a")),
        shard(1, takenBy("pod-b")),
        heartbeat("pod-a", 1_000, figures("pod-a")),
        heartbeat("pod-b", 5_001, figures("pod-b")),
      ],
      now,
    );
    assert.equal(summary.shards, 2);
    assert.equal(summary.owned, 1);
    assert.deepEqual(summary.unowned, [id(1)]);
    assert.deepEqual(summary.processors, [{ pod: "pod-a", shards: 1 }]);
    assert.equal(summary.recordsPerSecond, 9, "the stale heartbeat's figures are ignored");
  });

  test("a holder without a heartbeat Lease owns nothing", () => {
    const summary = summarizeAt([shard(0, takenBy("pod-a"))], now);
    assert.deepEqual(summary.unowned, [id(0)]);
  });

  test("heartbeats are not counted as shards", () => {
    const summary = summarizeAt([heartbeat("pod-a", 0, figures("pod-a"))], now);
    assert.equal(summary.shards, 0);
  });
});

describe("figures from heartbeats", () => {
  test("rates add up over processors, the lag is the largest of the open shards, failures name their shard", () => {
    const summary = summarizeAt(
      [
        shard(0, takenBy("pod-a")),
        shard(1, takenBy("pod-a")),
        shard(2, takenBy("pod-b")),
        shard(3, takenBy("pod-b"), { checkpoint: SHARD_END, holder: "" }),
        heartbeat(
          "pod-a",
          500,
          figures("pod-a", {
            inPerSecond: 50,
            outPerSecond: 45,
            lagMillis: { [id(0)]: 0, [id(1)]: 1_200 },
          }),
        ),
        heartbeat(
          "pod-b",
          500,
          figures("pod-b", {
            inPerSecond: 7,
            outPerSecond: 6,
            failedPerSecond: 2,
            lastFailure: { shardId: id(2), reason: "HTTP 503" },
            readError: { shardId: id(2), error: "ProvisionedThroughputExceededException" },
            endpointOutage: "connect ECONNREFUSED",
            lagMillis: { [id(2)]: 300, [id(3)]: 99_000 },
          }),
        ),
      ],
      now,
    );
    assert.equal(summary.recordsInPerSecond, 57);
    assert.equal(summary.recordsPerSecond, 51);
    assert.equal(summary.failedPerSecond, 2);
    assert.equal(summary.maxLagMillis, 1_200, "a finished shard's lag is not counted");
    assert.deepEqual(summary.failure, { shardId: id(2), reason: "HTTP 503" });
    assert.deepEqual(summary.readError, {
      shardId: id(2),
      error: "ProvisionedThroughputExceededException",
    });
    assert.deepEqual(summary.endpointOutage, { pod: "pod-b", reason: "connect ECONNREFUSED" });
  });

  test("a malformed progress annotation on a heartbeat reads as no figures, not an error", () => {
    const beat = heartbeat("pod-a", 0, figures("pod-a"));
    assert.ok(beat.metadata?.annotations !== undefined);
    beat.metadata.annotations[heartbeatAnnotations.progress] =
      '{"worker":"pod-a","inPerSecond":"x"}';
    const summary = summarizeAt([shard(0, takenBy("pod-a")), beat], now);
    assert.equal(summary.owned, 1, "the heartbeat still counts");
    assert.equal(summary.recordsPerSecond, 0);
  });

  test("during a rolling upgrade, shards of old-protocol holders keep their own figures", () => {
    const old = changedLease(
      (() => {
        const view = toShardLease(shard(1));
        assert.ok(view !== undefined);
        return view;
      })(),
      {
        holder: "pod-old",
        progress: {
          worker: "pod-old",
          recordsIn: 1,
          recordsOut: 1,
          inPerSecond: 4,
          outPerSecond: 3,
          failedPerSecond: 0,
          at: now.toISOString(),
        },
      },
      40,
      ago(1_000),
    );
    const summary = summarizeAt(
      [shard(0, takenBy("pod-a")), heartbeat("pod-a", 0, figures("pod-a")), old],
      now,
    );
    assert.equal(summary.owned, 2);
    assert.equal(summary.recordsPerSecond, 12);
    assert.deepEqual(summary.processors, [
      { pod: "pod-a", shards: 1 },
      { pod: "pod-old", shards: 1 },
    ]);
  });
});

describe("pod figures from heartbeats", () => {
  test("each pod's concurrency limit and rate share count once, not once per shard it holds", () => {
    const summary = summarizeAt(
      [
        heartbeat(
          "pod-a",
          1_000,
          figures("pod-a", { concurrencyLimit: 37, rateLimitShare: 66.666_666 }),
        ),
        heartbeat(
          "pod-b",
          1_000,
          figures("pod-b", { concurrencyLimit: 100, rateLimitShare: 33.333_333 }),
        ),
        // A heartbeat not renewed within its duration: its figures are stale, not counted.
        heartbeat("pod-c", 60_000, figures("pod-c", { concurrencyLimit: 50 })),
        shard(0, takenBy("pod-a")),
        shard(1, takenBy("pod-a")),
        shard(2, takenBy("pod-b")),
        shard(3, takenBy("pod-c")),
      ],
      now,
    );
    assert.equal(summary.concurrencyLimit, 137);
    assert.deepEqual(summary.processors, [
      { pod: "pod-a", shards: 2, concurrencyLimit: 37, rateLimitShare: 66.67 },
      { pod: "pod-b", shards: 1, concurrencyLimit: 100, rateLimitShare: 33.33 },
    ]);
  });

  test("processors that report no limit (an older version) leave the total undefined", () => {
    const summary = summarizeAt(
      [heartbeat("pod-a", 1_000, figures("pod-a")), shard(0, takenBy("pod-a"))],
      now,
    );
    assert.equal(summary.concurrencyLimit, undefined);
    assert.deepEqual(summary.processors, [{ pod: "pod-a", shards: 1 }]);
  });

  test("each live pod's load, for the autoscaler: rates, its shards' largest lag, in-flight calls, latency and the rate its records arrived", () => {
    const summary = summarizeAt(
      [
        heartbeat(
          "pod-a",
          1_000,
          figures("pod-a", {
            lagMillis: { [id(0)]: 4_000, [id(1)]: 9_000 },
            concurrencyLimit: 10,
            inFlight: 9.5,
            endpointLatencyMillis: 51.5,
            arrivedPerSecond: 12.5,
          }),
        ),
        heartbeat("pod-old", 1_000, figures("pod-old")),
        heartbeat("pod-new", 1_000, figures("pod-new", { arrivalsPending: 1 })),
        heartbeat("pod-gone", 60_000, figures("pod-gone", { inFlight: 3 })),
        shard(0, takenBy("pod-a")),
        shard(1, takenBy("pod-a")),
        shard(2, takenBy("pod-old")),
        shard(3, takenBy("pod-new")),
      ],
      now,
    );
    assert.deepEqual(summary.loads, [
      {
        inPerSecond: 10,
        outPerSecond: 9,
        maxLagMillis: 9_000,
        concurrencyLimit: 10,
        inFlight: 9.5,
        endpointLatencyMillis: 51.5,
        arrivedPerSecond: 12.5,
        arrivalsPending: undefined,
      },
      {
        inPerSecond: 10,
        outPerSecond: 9,
        maxLagMillis: undefined,
        concurrencyLimit: undefined,
        inFlight: undefined,
        endpointLatencyMillis: undefined,
        arrivedPerSecond: undefined,
        arrivalsPending: undefined,
      },
      {
        inPerSecond: 10,
        outPerSecond: 9,
        maxLagMillis: undefined,
        concurrencyLimit: undefined,
        inFlight: undefined,
        endpointLatencyMillis: undefined,
        arrivedPerSecond: undefined,
        arrivalsPending: 1,
      },
    ]);
    assert.equal(summary.readable, 4);
  });
});
