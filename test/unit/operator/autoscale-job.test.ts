import assert from "node:assert/strict";
import { test } from "node:test";
import type { V1Deployment } from "@kubernetes/client-node";
import { autoscaleJob } from "../../../operator/reconcile/autoscale-job.ts";
import type { ShardProgressSummary } from "../../../operator/reconcile/shard-progress.ts";
import { jobWith } from "./job-fixture.ts";

const now = new Date("2026-11-30T12:00:00Z");
const autoscaling = { maxParallelism: 6, targetUtilization: 0.8, catchUpSeconds: 60 };

const running = (replicas: number): V1Deployment => ({
  spec: { replicas, selector: {}, template: {} },
  status: { replicas, readyReplicas: replicas, updatedReplicas: replicas },
});

/** n pods of capacity 10 at 50 ms, each reading `rate` records/s, lagging `lag` ms. */
const shards = (n: number, rate: number, lag: number): ShardProgressSummary => ({
  shards: 8,
  owned: 8,
  unowned: [],
  // The 8 shards spread evenly over the n pods.
  processors: Array.from({ length: n }, (_, index) => ({
    pod: `pod-${String(index)}`,
    shards: Math.floor(8 / n) + (index < 8 % n ? 1 : 0),
  })),
  readable: 8,
  loads: Array.from({ length: n }, () => ({
    inPerSecond: rate,
    outPerSecond: rate,
    maxLagMillis: lag,
    concurrencyLimit: 10,
    inFlight: 10,
    endpointLatencyMillis: 50,
  })),
  concurrencyLimit: 10 * n,
  maxLagMillis: lag,
  recordsInPerSecond: rate * n,
  recordsPerSecond: rate * n,
  failedPerSecond: 0,
  failure: undefined,
  readError: undefined,
  endpointOutage: undefined,
});

test("without spec.autoscaling, or while suspended, the autoscaler stays out", () => {
  assert.equal(autoscaleJob(jobWith({}), undefined, running(1), shards(1, 10, 0), now), undefined);
  const suspended = jobWith({ autoscaling, suspend: true });
  assert.equal(autoscaleJob(suspended, undefined, running(1), shards(1, 10, 0), now), undefined);
});

test("a saturated job with a backlog scales up at once, with an Event giving the figures", () => {
  const decided = autoscaleJob(
    jobWith({ autoscaling }),
    undefined,
    running(1),
    shards(1, 200, 60_000),
    now,
  );
  // 200 records/s incoming + 200 x 60 s / 60 s catch-up over 200 x 0.8 per pod: 2.5, so 3 pods.
  assert.equal(decided?.parallelism, 3);
  assert.equal(decided.events.length, 1);
  assert.equal(decided.events[0]?.reason, "ScaledUp");
  assert.match(
    decided.events[0].message,
    /^Parallelism 1 -> 3\. 3 pods recommended \(set by the load\): 200 records\/s incoming/,
  );
});

test("kubectl scale by hand is set back to the autoscaler's size, with a Warning saying why", () => {
  const previous = { current: 2, lagSample: { time: now.toISOString(), maxLagMillis: 0 } };
  const decided = autoscaleJob(
    jobWith({ autoscaling, parallelism: 5 }),
    previous,
    running(2),
    shards(2, 100, 0),
    now,
  );
  assert.equal(decided?.parallelism, 2);
  assert.deepEqual(
    decided.events.map((event) => [event.type, event.reason]),
    [["Warning", "AutoscalingOwnsParallelism"]],
  );
  assert.match(decided.events[0]?.message ?? "", /set to 5 by hand, but spec.autoscaling is on/);
});

test("the decision to rescale carries the spec value it replaces, until the scale write is seen", () => {
  const job = jobWith({ autoscaling, parallelism: 1 });
  const decided = autoscaleJob(job, undefined, running(1), shards(1, 200, 60_000), now);
  assert.equal(decided?.parallelism, 3);
  assert.equal(decided.status.scalingFrom, 1, "written to the status before spec.parallelism");

  const later = new Date(now.getTime() + 20_000);
  const pending = autoscaleJob(job, decided.status, running(3), shards(3, 100, 0), later);
  assert.equal(pending?.parallelism, 3, "the write not seen yet is sent again");
  assert.deepEqual(
    pending.events.filter((event) => event.type === "Warning"),
    [],
    "the operator's own pending write is no change by hand",
  );
  assert.equal(pending.status.scalingFrom, 1);

  const landed = autoscaleJob(
    jobWith({ autoscaling, parallelism: 3 }),
    pending.status,
    running(3),
    shards(3, 70, 0),
    new Date(later.getTime() + 20_000),
  );
  assert.equal(landed?.status.scalingFrom, undefined, "seen: nothing pending");
  assert.deepEqual(landed?.events, []);
});

test("figures taken while the workload rolls, before every pod reports, while shards move or before every pod counts arrivals decide nothing", () => {
  const previous = {
    current: 2,
    lagSample: { time: new Date(now.getTime() - 60_000).toISOString(), maxLagMillis: 0 },
  };
  const job = jobWith({ autoscaling, parallelism: 2 });
  const moving = shards(2, 200, 60_000);
  const unbalanced = {
    ...moving,
    processors: [
      { pod: "pod-0", shards: 7 },
      { pod: "pod-1", shards: 1 },
    ],
  };
  const oneHolder = { ...moving, processors: [{ pod: "pod-0", shards: 8 }] };
  const unowned = { ...moving, unowned: ["shardId-000000000007"] };
  // One pod has just taken its shards: it counts their arrivals from its next heartbeat.
  const arrivalsUnknown: ShardProgressSummary = {
    ...moving,
    loads: moving.loads.map((load, index) =>
      index === 0 ? { ...load, arrivedPerSecond: 100 } : load,
    ),
  };
  // Both pods have just taken shards: neither knows its arrivals yet, and both say so.
  const arrivalsPending: ShardProgressSummary = {
    ...moving,
    loads: moving.loads.map((load) => ({ ...load, arrivalsPending: 2 })),
  };
  for (const [deployment, summary] of [
    [running(1), shards(2, 200, 60_000)],
    [running(2), shards(1, 200, 60_000)],
    [running(2), unbalanced],
    [running(2), oneHolder],
    [running(2), unowned],
    [running(2), arrivalsUnknown],
    [running(2), arrivalsPending],
  ] as const) {
    const decided = autoscaleJob(job, previous, deployment, summary, now);
    assert.equal(decided?.parallelism, 2);
    assert.equal(decided.events.length, 0);
    assert.match(decided.status.message ?? "", /Waiting for every processor/);
  }
});

test("a scale-up that brought no more throughput holds the job, with one Warning saying why", () => {
  const job = jobWith({ autoscaling, parallelism: 1 });
  const up = autoscaleJob(job, undefined, running(1), shards(1, 200, 60_000), now);
  assert.equal(up?.parallelism, 3);
  assert.deepEqual(up.status.lastScaleUp, {
    from: 1,
    to: 3,
    perSecondBefore: 200,
    expectedPerSecond: 600,
    endpointLatencyMillisBefore: 50,
  });

  // At 3 pods the endpoint answers in 150 ms: each pod does a third of what one did alone.
  const slower = (summary: ShardProgressSummary): ShardProgressSummary => ({
    ...summary,
    loads: summary.loads.map((load) => ({ ...load, endpointLatencyMillis: 150 })),
  });
  const landed = { ...up.status, scalingFrom: undefined };
  const later = (seconds: number): Date => new Date(now.getTime() + seconds * 1000);
  const held = autoscaleJob(
    jobWith({ autoscaling, parallelism: 3 }),
    landed,
    running(3),
    slower(shards(3, 66.7, 60_000)),
    later(20),
  );
  assert.equal(held?.parallelism, 3);
  assert.equal(held.status.limitedBy, "IneffectiveScaleUp");
  assert.deepEqual(
    held.events.map((event) => [event.type, event.reason]),
    [["Warning", "IneffectiveScaleUp"]],
  );
  assert.match(held.events[0]?.message ?? "", /1 -> 3 pods.*from 200 to 200 records\/s/);

  const still = autoscaleJob(
    jobWith({ autoscaling, parallelism: 3 }),
    held.status,
    running(3),
    slower(shards(3, 66.7, 60_000)),
    later(40),
  );
  assert.equal(still?.status.limitedBy, "IneffectiveScaleUp");
  assert.deepEqual(still.events, [], "one Warning per block, not one per decision");
});
