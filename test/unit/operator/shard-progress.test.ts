// What the operator reads from a job's shard Leases: a pure function of the Leases and the time.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Lease } from "@kubernetes/client-node";
import { summarizeShards } from "../../../operator/reconcile/shard-progress.ts";
import { SHARD_END } from "../../../processor/checkpoint/store.ts";
import {
  changedLease,
  newShardLease,
  toShardLease,
  type ShardProgress,
} from "../../../processor/leases/shard-lease.ts";

const now = new Date("2026-11-25T04:00:00Z");
const secondsAgo = (seconds: number) => new Date(now.getTime() - seconds * 1000);

function figures(worker: string, more: Partial<ShardProgress> = {}): ShardProgress {
  return {
    worker,
    recordsIn: 100,
    recordsOut: 100,
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

/** A shard's Lease as a holder left it `renewed` seconds ago (40 s leases). */
function lease(
  shard: number,
  options: {
    holder?: string;
    renewed?: number;
    checkpoint?: string;
    progress?: ShardProgress;
    parents?: number[];
  } = {},
): V1Lease {
  const id = (n: number) => `shardId-${String(n).padStart(12, "0")}`;
  const fresh = toShardLease(
    newShardLease({
      namespace: "shop",
      prefix: "orders",
      shardId: id(shard),
      parents: (options.parents ?? []).map(id),
      labels: {},
      owner: undefined,
      leaseDurationSeconds: 40,
    }),
  );
  assert.ok(fresh !== undefined);
  return changedLease(
    fresh,
    {
      holder: options.holder ?? "",
      ...(options.checkpoint === undefined ? {} : { checkpoint: options.checkpoint }),
      ...(options.progress === undefined ? {} : { progress: options.progress }),
    },
    40,
    secondsAgo(options.renewed ?? 1),
  );
}

test("counts shards left to read, who holds them, and sums the holders' figures", () => {
  const summary = summarizeShards(
    [
      lease(0, { holder: "pod-a", progress: figures("pod-a", { millisBehindLatest: 2_000 }) }),
      lease(1, { holder: "pod-a", progress: figures("pod-a") }),
      lease(2, { holder: "pod-b", progress: figures("pod-b") }),
      lease(3, { checkpoint: SHARD_END }),
    ],
    now,
  );
  assert.equal(summary.shards, 3, "a finished shard is not counted");
  assert.equal(summary.owned, 3);
  assert.deepEqual(summary.unowned, []);
  assert.deepEqual(summary.processors, [
    { pod: "pod-a", shards: 2 },
    { pod: "pod-b", shards: 1 },
  ]);
  assert.equal(summary.maxLagMillis, 2_000);
  assert.equal(summary.recordsInPerSecond, 30);
  assert.equal(summary.recordsPerSecond, 27);
});

test("a Lease not renewed within its duration is unowned and its figures are ignored", () => {
  const summary = summarizeShards(
    [
      lease(0, { holder: "pod-a", progress: figures("pod-a") }),
      lease(1, {
        holder: "pod-gone",
        renewed: 41,
        progress: figures("pod-gone", { outPerSecond: 1_000 }),
      }),
    ],
    now,
  );
  assert.equal(summary.owned, 1);
  assert.deepEqual(summary.unowned, ["shardId-000000000001"]);
  assert.equal(summary.recordsPerSecond, 9);
});

test("figures left by a previous holder do not count for the new one", () => {
  const summary = summarizeShards([lease(0, { holder: "pod-b", progress: figures("pod-a") })], now);
  assert.equal(summary.recordsPerSecond, 0);
  assert.equal(summary.maxLagMillis, undefined);
});

test("a child waiting for an unfinished parent is not unowned; one whose parents finished is", () => {
  const waiting = summarizeShards([lease(0, { holder: "pod-a" }), lease(1, { parents: [0] })], now);
  assert.deepEqual(waiting.unowned, []);
  const ready = summarizeShards(
    [lease(0, { checkpoint: SHARD_END }), lease(1, { parents: [0] })],
    now,
  );
  assert.deepEqual(ready.unowned, ["shardId-000000000001"]);
});

test("read errors and failing records are reported with their shard", () => {
  const summary = summarizeShards(
    [
      lease(0, {
        holder: "pod-a",
        progress: figures("pod-a", { failedPerSecond: 4, lastFailure: "HTTP 503" }),
      }),
      lease(1, {
        holder: "pod-a",
        progress: figures("pod-a", { lastError: "ResourceNotFoundException" }),
      }),
    ],
    now,
  );
  assert.equal(summary.failedPerSecond, 4);
  assert.deepEqual(summary.failure, { shardId: "shardId-000000000000", reason: "HTTP 503" });
  assert.deepEqual(summary.readError, {
    shardId: "shardId-000000000001",
    error: "ResourceNotFoundException",
  });
});
