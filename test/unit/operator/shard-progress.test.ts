// summarizeShards: what the operator reads from a job's shard Leases, as a pure function of the
// Leases and the time. The Leases are built with the processors' own conversions (newShardLease,
// changedLease) at controlled times.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import { summarizeAt } from "./summarize-at.ts";
import { SHARD_END } from "../../../processor/checkpoint/store.ts";
import {
  changedLease,
  newShardLease,
  toShardLease,
  type LeaseChange,
  type ShardLease,
  type ShardProgress,
} from "../../../processor/leases/shard-lease.ts";

const now = new Date("2026-11-25T04:00:00.000Z");
const ago = (millis: number): Date => new Date(now.getTime() - millis);
const id = (shard: number): string => `shardId-${String(shard).padStart(12, "0")}`;

function figures(worker: string, more: Partial<ShardProgress> = {}): ShardProgress {
  return {
    worker,
    recordsIn: 1000,
    recordsOut: 1000,
    inPerSecond: 10,
    outPerSecond: 9,
    failedPerSecond: 0,
    lastFailure: undefined,
    millisBehindLatest: 500,
    lastError: undefined,
    at: now.toISOString(),
    ...more,
  };
}

const view = (lease: V1Lease): ShardLease => {
  const read = toShardLease(lease);
  assert.ok(read !== undefined);
  return read;
};

/** A free Lease, as a processor creates it for a newly listed shard. */
const fresh = (shard: number, parents: number[] = [], durationSeconds = 40): V1Lease =>
  newShardLease({
    namespace: "shop",
    prefix: "orders",
    shardId: id(shard),
    parents: parents.map(id),
    labels: { "asyncenrichment.dev/job": "orders" },
    owner: undefined,
    leaseDurationSeconds: durationSeconds,
  });

/** Applies writes in order; each is [change, milliseconds before now it was written]. */
function written(
  lease: V1Lease,
  writes: [LeaseChange, number][],
  durationSeconds = lease.spec?.leaseDurationSeconds ?? 40,
): V1Lease {
  return writes.reduce(
    (current, [change, millisAgo]) =>
      changedLease(view(current), change, durationSeconds, ago(millisAgo)),
    lease,
  );
}

/** A shard held by `holder`, last renewed `millisAgo` ago with its own figures. */
const held = (
  shard: number,
  holder: string,
  options: { millisAgo?: number; progress?: ShardProgress; parents?: number[] } = {},
): V1Lease =>
  written(fresh(shard, options.parents), [
    [{ holder }, 60_000],
    [{ progress: options.progress ?? figures(holder) }, options.millisAgo ?? 1_000],
  ]);

/** A shard read to its end: SHARD_END written, released. */
const finished = (shard: number, parents: number[] = []): V1Lease =>
  written(fresh(shard, parents), [
    [{ holder: "pod-a" }, 60_000],
    [{ checkpoint: SHARD_END, holder: "", progress: figures("pod-a") }, 5_000],
  ]);

describe("what counts", () => {
  test("finished shards (SHARD_END) are not counted, held or not", () => {
    const finishedButHeld = written(fresh(3), [
      [{ holder: "pod-a" }, 60_000],
      [{ checkpoint: SHARD_END, progress: figures("pod-a", { outPerSecond: 1_000 }) }, 1_000],
    ]);
    const summary = summarizeAt(
      [held(0, "pod-a"), held(1, "pod-b"), finished(2), finishedButHeld],
      now,
    );
    assert.equal(summary.shards, 2);
    assert.equal(summary.owned, 2);
    assert.deepEqual(summary.unowned, []);
    assert.deepEqual(summary.processors, [
      { pod: "pod-a", shards: 1 },
      { pod: "pod-b", shards: 1 },
    ]);
    assert.equal(summary.recordsPerSecond, 18, "a finished shard's figures are not added");
  });

  test("Leases that are not shard Leases are ignored", () => {
    const leaderElection: V1Lease = {
      metadata: { name: "operator-leader", namespace: "shop" },
      spec: {
        holderIdentity: "operator-0",
        renewTime: new V1MicroTime(ago(1_000)),
        leaseDurationSeconds: 15,
      },
    };
    const summary = summarizeAt([held(0, "pod-a"), leaderElection], now);
    assert.equal(summary.shards, 1);
    assert.deepEqual(summary.processors, [{ pod: "pod-a", shards: 1 }]);
  });

  test("no Leases: nothing to read, nothing reported", () => {
    assert.deepEqual(summarizeAt([], now), {
      shards: 0,
      owned: 0,
      unowned: [],
      processors: [],
      readable: 0,
      loads: [],
      concurrencyLimit: undefined,
      maxLagMillis: undefined,
      recordsInPerSecond: 0,
      recordsPerSecond: 0,
      failedPerSecond: 0,
      failure: undefined,
      readError: undefined,
      endpointOutage: undefined,
    });
  });
});

describe("live and unowned", () => {
  test("a Lease renewed longer ago than its duration is unowned, and its figures are ignored", () => {
    const summary = summarizeAt(
      [
        held(0, "pod-a"),
        held(1, "pod-gone", {
          millisAgo: 40_001,
          progress: figures("pod-gone", {
            inPerSecond: 1_000,
            outPerSecond: 1_000,
            millisBehindLatest: 99_000,
            failedPerSecond: 7,
            lastFailure: "HTTP 500",
            lastError: "ExpiredIteratorException",
          }),
        }),
      ],
      now,
    );
    assert.equal(summary.shards, 2);
    assert.equal(summary.owned, 1);
    assert.deepEqual(summary.unowned, [id(1)]);
    assert.deepEqual(summary.processors, [{ pod: "pod-a", shards: 1 }]);
    assert.equal(summary.recordsInPerSecond, 10);
    assert.equal(summary.recordsPerSecond, 9);
    assert.equal(summary.maxLagMillis, 500);
    assert.equal(summary.failedPerSecond, 0);
    assert.equal(summary.failure, undefined);
    assert.equal(summary.readError, undefined);
  });

  test("a Lease renewed exactly one duration ago is still live", () => {
    const summary = summarizeAt([held(0, "pod-a", { millisAgo: 40_000 })], now);
    assert.equal(summary.owned, 1);
    assert.deepEqual(summary.unowned, []);
  });

  test("each Lease is judged by its own duration", () => {
    const short = written(fresh(0, [], 15), [
      [{ holder: "pod-a" }, 60_000],
      [{ progress: figures("pod-a") }, 20_000],
    ]);
    const long = written(fresh(1, [], 40), [
      [{ holder: "pod-b" }, 60_000],
      [{ progress: figures("pod-b") }, 20_000],
    ]);
    const summary = summarizeAt([short, long], now);
    assert.deepEqual(summary.unowned, [id(0)]);
    assert.deepEqual(summary.processors, [{ pod: "pod-b", shards: 1 }]);
  });

  test("a Lease never taken, or released, is unowned", () => {
    const released = written(fresh(1), [
      [{ holder: "pod-a" }, 60_000],
      [{ holder: "", checkpoint: "49", progress: figures("pod-a") }, 1_000],
    ]);
    const summary = summarizeAt([fresh(0), released, held(2, "pod-b")], now);
    assert.equal(summary.shards, 3);
    assert.equal(summary.owned, 1);
    assert.deepEqual(summary.unowned, [id(0), id(1)]);
    assert.equal(summary.recordsPerSecond, 9, "the released Lease's figures are not added");
  });

  test("unowned shards are listed sorted", () => {
    const summary = summarizeAt([fresh(5), fresh(2), fresh(9), fresh(0)], now);
    assert.deepEqual(summary.unowned, [id(0), id(2), id(5), id(9)]);
  });

  test("a child whose parent Lease exists and is not finished is not unowned", () => {
    // Parent held: the child waits.
    const waiting = summarizeAt([held(0, "pod-a"), fresh(1, [0])], now);
    assert.equal(waiting.shards, 2);
    assert.deepEqual(waiting.unowned, []);
    // Parent itself unowned: the parent is listed, not the child.
    const stalled = summarizeAt([fresh(0), fresh(1, [0])], now);
    assert.deepEqual(stalled.unowned, [id(0)]);
    // A merge: one parent finished, the other not: the child still waits.
    const merging = summarizeAt([finished(0), held(1, "pod-a"), fresh(2, [0, 1])], now);
    assert.deepEqual(merging.unowned, []);
  });

  test("a child whose parents finished, or have no Lease, is unowned until someone holds it", () => {
    const ready = summarizeAt([finished(0), finished(1), fresh(2, [0, 1])], now);
    assert.equal(ready.shards, 1);
    assert.deepEqual(ready.unowned, [id(2)]);
    // A parent without a Lease (never listed by the processors: it expired) blocks nothing.
    const orphan = summarizeAt([fresh(2, [0])], now);
    assert.deepEqual(orphan.unowned, [id(2)]);
  });

  test("a parent whose child was taken is done, finished or not: the processors take a child only once its parent left the stream", () => {
    const parentLeftBehind = written(fresh(0), [
      [{ holder: "pod-a" }, 3_600_000],
      [{ checkpoint: "49", holder: "" }, 3_500_000],
    ]);
    const summary = summarizeAt([parentLeftBehind, held(1, "pod-b", { parents: [0] })], now);
    assert.deepEqual(summary.unowned, []);
    assert.equal(summary.shards, 1, "the parent is not counted as a shard left to read");
    const childNeverTaken = summarizeAt([parentLeftBehind, fresh(1, [0])], now);
    assert.deepEqual(childNeverTaken.unowned, [id(0)], "until a child is taken, the parent is due");
  });
});

describe("figures", () => {
  test("rates are summed and the lag maxed over live Leases whose figures are the holder's", () => {
    const summary = summarizeAt(
      [
        held(0, "pod-a", {
          progress: figures("pod-a", {
            inPerSecond: 100,
            outPerSecond: 90,
            millisBehindLatest: 2_000,
          }),
        }),
        held(1, "pod-a", {
          progress: figures("pod-a", { inPerSecond: 50, outPerSecond: 45, millisBehindLatest: 0 }),
        }),
        held(2, "pod-b", {
          progress: figures("pod-b", { inPerSecond: 7, outPerSecond: 6, millisBehindLatest: 300 }),
        }),
        // Taken over by pod-c, which has not reported yet: the figures are pod-b's, left behind.
        written(fresh(3), [
          [{ holder: "pod-b" }, 60_000],
          [
            {
              progress: figures("pod-b", {
                inPerSecond: 1_000,
                outPerSecond: 1_000,
                millisBehindLatest: 90_000,
              }),
            },
            30_000,
          ],
          [{ holder: "pod-c" }, 1_000],
        ]),
        // Expired: its holder's figures no longer count.
        held(4, "pod-d", {
          millisAgo: 45_000,
          progress: figures("pod-d", {
            inPerSecond: 1_000,
            outPerSecond: 1_000,
            millisBehindLatest: 80_000,
          }),
        }),
      ],
      now,
    );
    assert.equal(summary.owned, 4);
    assert.equal(summary.recordsInPerSecond, 157);
    assert.equal(summary.recordsPerSecond, 141);
    assert.equal(summary.maxLagMillis, 2_000);
  });

  test("a live holder that has not reported yet adds nothing, and no lag is undefined, not 0", () => {
    const taken = written(fresh(0), [[{ holder: "pod-a" }, 1_000]]);
    const summary = summarizeAt([taken], now);
    assert.equal(summary.owned, 1);
    assert.equal(summary.recordsInPerSecond, 0);
    assert.equal(summary.recordsPerSecond, 0);
    assert.equal(summary.maxLagMillis, undefined);
  });

  test("a lag of 0 reported is 0, not undefined; a report without a lag is left out", () => {
    const caughtUp = summarizeAt(
      [
        held(0, "pod-a", { progress: figures("pod-a", { millisBehindLatest: 0 }) }),
        held(1, "pod-a", { progress: figures("pod-a", { millisBehindLatest: undefined }) }),
      ],
      now,
    );
    assert.equal(caughtUp.maxLagMillis, 0);
  });

  test("processors are listed per pod with their live Leases, sorted by pod name", () => {
    const summary = summarizeAt(
      [
        held(0, "orders-processor-c"),
        held(1, "orders-processor-a"),
        held(2, "orders-processor-c"),
        held(3, "orders-processor-b"),
        held(4, "orders-processor-c"),
        held(5, "orders-processor-a"),
        held(6, "orders-processor-z", { millisAgo: 50_000 }),
      ],
      now,
    );
    assert.deepEqual(summary.processors, [
      { pod: "orders-processor-a", shards: 2 },
      { pod: "orders-processor-b", shards: 1 },
      { pod: "orders-processor-c", shards: 3 },
    ]);
    assert.equal(summary.owned, 6);
  });

  test("readError is a lastError a live holder reports, with its shard", () => {
    const summary = summarizeAt(
      [
        held(0, "pod-a"),
        held(1, "pod-a", {
          progress: figures("pod-a", { lastError: "ResourceNotFoundException: stream orders" }),
        }),
      ],
      now,
    );
    assert.deepEqual(summary.readError, {
      shardId: id(1),
      error: "ResourceNotFoundException: stream orders",
    });
  });

  test("endpointOutage is an outage a live holder reports while its calls are paused, with the pod", () => {
    const summary = summarizeAt(
      [
        held(0, "pod-a"),
        held(1, "pod-b", {
          progress: figures("pod-b", { endpointOutage: "ECONNREFUSED: connect refused" }),
        }),
      ],
      now,
    );
    assert.deepEqual(summary.endpointOutage, {
      pod: "pod-b",
      reason: "ECONNREFUSED: connect refused",
    });
  });

  test("a lastError left by a previous holder or on an expired Lease is not a readError", () => {
    const previous = written(fresh(0), [
      [{ holder: "pod-a" }, 60_000],
      [{ progress: figures("pod-a", { lastError: "AccessDeniedException" }) }, 30_000],
      [{ holder: "pod-b" }, 1_000],
    ]);
    const expired = held(1, "pod-c", {
      millisAgo: 41_000,
      progress: figures("pod-c", { lastError: "AccessDeniedException" }),
    });
    assert.equal(summarizeAt([previous, expired], now).readError, undefined);
  });

  test("failing records: summed per second, with the reason a live holder reports", () => {
    const summary = summarizeAt(
      [
        held(0, "pod-a", {
          progress: figures("pod-a", { failedPerSecond: 3, lastFailure: undefined }),
        }),
        held(1, "pod-b", {
          progress: figures("pod-b", { failedPerSecond: 4, lastFailure: "HTTP 503" }),
        }),
        held(2, "pod-b", {
          progress: figures("pod-b", { failedPerSecond: 0, lastFailure: "HTTP 400, an hour ago" }),
        }),
      ],
      now,
    );
    assert.equal(summary.failedPerSecond, 7);
    assert.deepEqual(summary.failure, { shardId: id(1), reason: "HTTP 503" });
  });
});
