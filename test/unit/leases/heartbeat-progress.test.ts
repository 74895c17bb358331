// The figures a processor writes on its heartbeat: rates since the previous renewal summed over
// its shards, the lag per shard, and the pod's own figures.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ShardCounters } from "../../../processor/checkpoint/coordinator.ts";
import { createHeartbeatProgress } from "../../../processor/leases/heartbeat-progress.ts";

const counters = (recordsIn: number, more: Partial<ShardCounters> = {}): ShardCounters => ({
  recordsIn,
  recordsOut: recordsIn,
  millisBehindLatest: undefined,
  lastError: undefined,
  failed: 0,
  lastFailure: undefined,
  ...more,
});

test("rates are measured from the previous renewal, summed over the held shards, rounded", () => {
  let clock = 0;
  let held = ["a", "b"];
  const figures = new Map<string, ShardCounters>([
    ["a", counters(100)],
    ["b", counters(50)],
  ]);
  const progress = createHeartbeatProgress({
    workerId: "pod-a",
    counters: (shardId) => figures.get(shardId),
    held: () => held,
    now: () => clock,
    wallClock: () => new Date("2026-11-30T12:00:00Z"),
  });
  const first = progress();
  assert.equal(first.inPerSecond, 0, "no rate before a second sample");
  assert.equal(first.worker, "pod-a");
  assert.equal(first.at, "2026-11-30T12:00:00.000Z");

  clock = 2_000;
  figures.set("a", counters(300, { millisBehindLatest: 1_500, concurrencyLimit: 40 }));
  figures.set("b", counters(51, { failed: 3, lastFailure: "HTTP 503" }));
  const second = progress();
  assert.equal(second.inPerSecond, Math.round(200 / 2 + 1 / 2));
  assert.equal(second.failedPerSecond, 2);
  assert.deepEqual(second.lastFailure, { shardId: "b", reason: "HTTP 503" });
  assert.deepEqual(second.lagMillis, { a: 1_500 });
  assert.equal(second.concurrencyLimit, 40);

  // b handed over and taken back: its rate starts again from a new sample, not the old one.
  held = ["a"];
  clock = 4_000;
  progress();
  held = ["a", "b"];
  clock = 6_000;
  figures.set("b", counters(1_051));
  assert.equal(progress().inPerSecond, 0, "a stood still; b has no previous sample");
});

test("the pod's arrivals are the sum of its shards', known only when every shard's is", () => {
  const t0 = Date.parse("2026-11-30T12:00:00Z");
  const reading = {};
  const taken = (records: number, arrivedSeconds: number, more: Partial<ShardCounters> = {}) =>
    counters(records, {
      taken: { records, lastArrivedAt: t0 + arrivedSeconds * 1000, reading },
      ...more,
    });
  const figures = new Map<string, ShardCounters>([
    ["a", taken(100, 0)],
    ["b", taken(10, 0)],
  ]);
  let held: string[] = ["a", "b"];
  const progress = createHeartbeatProgress({
    workerId: "pod-a",
    counters: (shardId) => figures.get(shardId),
    held: () => held,
    now: () => 0,
    wallClock: () => new Date("2026-11-30T12:00:00Z"),
  });
  assert.equal(progress().arrivedPerSecond, undefined, "one sample spans nothing");

  // a: a backlog read fast, 200 records that arrived over 20 s; b: 120 records over 12 s.
  figures.set("a", taken(300, 20));
  figures.set("b", taken(130, 12));
  assert.equal(progress().arrivedPerSecond, 10 + 10);

  held = ["a", "b", "c"];
  const withC = progress();
  assert.equal(withC.arrivedPerSecond, undefined, "c held but not read yet");
  assert.equal(withC.arrivalsPending, 1, "and said so");
  held = [];
  assert.equal(progress().arrivedPerSecond, 0, "no shard: nothing arrives here");
});

test("the pod's endpoint latency and calls in flight are means over the interval since the last renewal", () => {
  const load = (
    successes: number,
    successSeconds: number,
    inFlightSum: number,
    samples: number,
  ) => ({
    successes,
    successSeconds,
    inFlightSum,
    inFlightSamples: samples,
  });
  let current = counters(0, { load: load(10, 0.5, 100, 10) });
  const progress = createHeartbeatProgress({
    workerId: "pod-a",
    counters: () => current,
    held: () => ["a", "b"],
    now: () => 0,
    wallClock: () => new Date("2026-11-30T12:00:00Z"),
  });
  const first = progress();
  assert.equal(first.endpointLatencyMillis, 50, "since the start: 0.5 s over 10 calls");
  assert.equal(first.inFlight, 10);

  current = counters(0, { load: load(30, 2.5, 160, 20) });
  const second = progress();
  assert.equal(
    second.endpointLatencyMillis,
    100,
    "2 s over the 20 calls since: not the pod's life",
  );
  assert.equal(second.inFlight, 6, "60 over the 10 samples since");

  const idle = progress();
  assert.equal(idle.endpointLatencyMillis, undefined, "no call since: no latency, not 0");
  assert.equal(idle.inFlight, undefined);
});
