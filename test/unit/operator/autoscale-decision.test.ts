import assert from "node:assert/strict";
import { test } from "node:test";
import { autoscalingSchema } from "../../../operator/api/autoscaling-schema.ts";
import type { AutoscalingStatus } from "../../../operator/api/autoscaling-status-schema.ts";
import {
  bounded,
  decideAutoscale,
  decisionIntervalMs,
  incomingRate,
  perPodRate,
  arrivalRate,
  recorded,
  settleDeadlineMs,
  stabilized,
  usableConcurrency,
  type AutoscaleInput,
  type PodLoad,
} from "../../../operator/reconcile/autoscale-decision.ts";
import { seededRandom } from "../seeded-random.ts";

const spec = autoscalingSchema.parse({
  minParallelism: 1,
  maxParallelism: 8,
  targetUtilization: 0.8,
  catchUpSeconds: 60,
  scaleDownStabilizationSeconds: 120,
});
const t0 = Date.parse("2026-11-30T12:00:00Z");
const at = (seconds: number): Date => new Date(t0 + seconds * 1000);

/** A pod of capacity 10 calling a 50 ms endpoint: Little's bound is 200 records/s. */
const pod = (inPerSecond: number, more: Partial<PodLoad> = {}): PodLoad => ({
  inPerSecond,
  outPerSecond: inPerSecond,
  maxLagMillis: 500,
  concurrencyLimit: 10,
  inFlight: inPerSecond * 0.05,
  endpointLatencyMillis: 50,
  ...more,
});

const input = (more: Partial<AutoscaleInput>): AutoscaleInput => ({
  spec,
  capacity: 10,
  rateLimitPerSecond: undefined,
  current: 1,
  settled: true,
  readableShards: 8,
  pods: [pod(100)],
  maxLagMillis: 500,
  previous: undefined,
  now: at(0),
  ...more,
});

test("the incoming rate is the read rate when the lag holds still, more while it grows, less while it shrinks", () => {
  const sample = { time: at(0).toISOString(), maxLagMillis: 1_000 };
  const cases: [lag: number, expected: number][] = [
    [1_000, 100],
    [6_000, 200], // lag grows 0.5 s/s: half of what arrives is read
    [0, 100 / 1.1], // lag shrinks 0.1 s/s: reading faster than records arrive
    [60_000, 200], // capped at 0.5 s/s: twice what is processed
  ];
  for (const [lag, expected] of cases) {
    assert.ok(Math.abs(incomingRate(100, lag, sample, at(10)) - expected) < 1e-9, `lag ${lag}`);
  }
  assert.equal(incomingRate(100, 9_000, undefined, at(10)), 100, "no sample: no slope");
  const caughtUp = { time: at(0).toISOString(), maxLagMillis: 120_000 };
  assert.ok(
    Math.abs(incomingRate(300, 0, caughtUp, at(10)) - 200) < 1e-9,
    "a lag falling 12 s/s counts as 0.5 s/s: two thirds of what is processed, not a thirteenth",
  );
  const garbled = { time: "not a time", maxLagMillis: 1_000 };
  assert.equal(incomingRate(100, 9_000, garbled, at(10)), 100, "an unreadable sample: no slope");
});

test("when every pod counts its records' arrivals, the incoming rate is their sum", () => {
  const counting = (arrivedPerSecond: number): PodLoad =>
    pod(arrivedPerSecond * 3, { outPerSecond: 35, arrivedPerSecond, maxLagMillis: 30_000 });
  assert.equal(arrivalRate([counting(60), counting(40)]), 100, "read three times as fast");
  assert.equal(arrivalRate([counting(60), pod(40)]), undefined, "one pod does not say");
  assert.equal(arrivalRate([]), undefined);

  // The lag grew 0.5 s/s, which alone would say twice what is processed: the arrivals say better.
  const sample = { time: at(0).toISOString(), maxLagMillis: 20_000 };
  const decided = decideAutoscale(
    input({
      current: 2,
      pods: [counting(60), counting(40)],
      maxLagMillis: 25_000,
      previous: { current: 2, lagSample: sample },
      now: at(10),
    }),
  );
  assert.equal(decided.incomingPerSecond, 100);
});

test("a pod's rate is the lower of Little's bound and what saturated pods achieve", () => {
  const cases: [name: string, pods: PodLoad[], expected: number | undefined][] = [
    ["I/O bound, not saturated: Little's bound", [pod(50)], 200],
    [
      "saturated below Little's bound (CPU-bound): measured",
      [
        pod(120, { inFlight: 10, maxLagMillis: 30_000 }),
        pod(80, { inFlight: 9.5, maxLagMillis: 30_000 }),
      ],
      100,
    ],
    [
      "full slots without a backlog are not a ceiling: slots wait on the sink too",
      [pod(8, { inFlight: 10 }), pod(7, { inFlight: 9.5 })],
      200,
    ],
    [
      "latency weighted by records written",
      [pod(300, { endpointLatencyMillis: 100 }), pod(100, { endpointLatencyMillis: 20 })],
      (10 * 1000) / 80,
    ],
    [
      "no latency reported: a pod with backlog counts as saturated",
      [
        pod(40, { endpointLatencyMillis: undefined, inFlight: undefined, maxLagMillis: 30_000 }),
        pod(5, { endpointLatencyMillis: undefined, inFlight: undefined, maxLagMillis: 200 }),
      ],
      40,
    ],
    [
      "an adaptive limit that binds (slots full): Little's bound at the limit",
      [
        pod(80, { concurrencyLimit: 4, inFlight: 4 }),
        pod(80, { concurrencyLimit: 6, inFlight: 6 }),
      ],
      (5 * 1000) / 50,
    ],
    [
      "an adaptive limit that does not bind (underfed pod): Little's bound at capacity",
      [pod(20, { concurrencyLimit: 4, inFlight: 1 })],
      200,
    ],
    [
      "nothing known",
      [pod(0, { endpointLatencyMillis: undefined, inFlight: undefined, maxLagMillis: 0 })],
      undefined,
    ],
  ];
  for (const [name, pods, expected] of cases) assert.equal(perPodRate(pods, 10), expected, name);
});

test("a pod can use its capacity unless an adaptive limit below it binds", () => {
  const cases: [load: Partial<PodLoad>, expected: number][] = [
    [{ concurrencyLimit: 10, inFlight: 10 }, 10],
    [{ concurrencyLimit: 4, inFlight: 3.6 }, 4],
    [{ concurrencyLimit: 4, inFlight: 3.5 }, 10],
    [{ concurrencyLimit: 4, inFlight: undefined }, 10],
    [{ concurrencyLimit: undefined, inFlight: 2 }, 10],
  ];
  for (const [load, expected] of cases)
    assert.equal(usableConcurrency(pod(50, load), 10), expected, JSON.stringify(load));
});

test("bounds cut the needed pods and name what cut them; the endpoint budget has the last word", () => {
  const base = { spec, capacity: 10, rateLimitPerSecond: undefined, readableShards: 8 };
  const cases: [name: string, needed: number, more: object, expected: [number, string]][] = [
    ["the load decides", 3, {}, [3, "Lag"]],
    ["no more pods than readable shards", 12, { readableShards: 6 }, [6, "Shards"]],
    ["maxParallelism", 12, { readableShards: 16 }, [8, "MaxParallelism"]],
    ["minParallelism raises", 0, { spec: { ...spec, minParallelism: 2 } }, [2, "MinParallelism"]],
    [
      "budget: parallelism x capacity <= maxEndpointConcurrency",
      6,
      { spec: { ...spec, maxEndpointConcurrency: 35 } },
      [3, "EndpointBudget"],
    ],
    [
      "budget below minParallelism still wins",
      0,
      { spec: { ...spec, minParallelism: 4, maxEndpointConcurrency: 30 } },
      [3, "EndpointBudget"],
    ],
    [
      "a rate limit: pods past limit / per-pod rate add nothing",
      7,
      { rateLimitPerSecond: 500 },
      [3, "RateLimit"],
    ],
  ];
  for (const [name, needed, more, [parallelism, limitedBy]] of cases) {
    assert.deepEqual(bounded(needed, { ...base, ...more }, 200), { parallelism, limitedBy }, name);
  }
});

test("the history keeps one entry per change, back to the start of the window", () => {
  let history = recorded([], 4, at(0), 60);
  history = recorded(history, 4, at(10), 60);
  history = recorded(history, 2, at(20), 60);
  history = recorded(history, 3, at(90), 60);
  assert.deepEqual(history, [
    { since: at(20).toISOString(), parallelism: 2 },
    { since: at(90).toISOString(), parallelism: 3 },
  ]);
  let long = recorded([], 1, at(0), 10_000);
  for (let step = 1; step <= 40; step++) long = recorded(long, (step % 5) + 1, at(step), 10_000);
  assert.equal(long.length, 32);
  assert.equal(long[0]?.since, at(0).toISOString(), "merging keeps the window's start");
});

test("scale-up is immediate; scale-down waits for a covered window of smaller recommendations", () => {
  const history = [
    { since: at(0).toISOString(), parallelism: 5 },
    { since: at(50).toISOString(), parallelism: 3 },
  ];
  assert.equal(stabilized(6, 4, history, undefined, 60, at(70)), 6, "up at once");
  assert.equal(stabilized(3, 5, history, undefined, 60, at(70)), 5, "5 still in the window");
  assert.equal(stabilized(3, 5, history, undefined, 60, at(111)), 3, "window all at 3");
  assert.equal(stabilized(3, 5, history, at(60).toISOString(), 60, at(111)), 5, "rescaled lately");
  assert.equal(stabilized(3, 5, history.slice(1), undefined, 60, at(100)), 5, "window not covered");
});

test("the decision scales up at once for lag and names the figures behind it", () => {
  const decision = decideAutoscale(
    input({
      pods: [pod(190, { inFlight: 9.6, maxLagMillis: 20_000 })],
      maxLagMillis: 20_000,
      previous: {
        current: 1,
        lagSample: { time: at(-10).toISOString(), maxLagMillis: 15_000 },
      },
    }),
  );
  // Lag grows 0.5 s/s: 380 records/s arrive; backlog 380 x 20 s over 60 s is 126.7 records/s.
  assert.equal(decision.incomingPerSecond, 380);
  assert.equal(decision.catchUpPerSecond, 126.7);
  assert.equal(decision.perPodPerSecond, 190);
  assert.equal(decision.endpointLatencyMillis, 50);
  assert.equal(decision.recommended, 4); // 506.7 / (190 x 0.8) = 3.33
  assert.equal(decision.current, 4);
  assert.equal(decision.limitedBy, "Lag");
  assert.equal(decision.lastScaleTime, at(0).toISOString());
  assert.match(decision.message ?? "", /380 records\/s incoming/);
});

test("the decision holds while pods roll, while figures are missing, and between decisions", () => {
  const previous: AutoscalingStatus = {
    current: 3,
    recommended: 3,
    lagSample: { time: at(-3).toISOString(), maxLagMillis: 0 },
  };
  const recent = decideAutoscale(input({ current: 3, previous, pods: [pod(900)] }));
  assert.deepEqual(recent, previous, "a decision less than the interval ago stands");
  const later = at(decisionIntervalMs / 1000);
  const rolling = decideAutoscale(input({ current: 3, previous, settled: false, now: later }));
  assert.equal(rolling.current, 3);
  assert.match(rolling.message ?? "", /Waiting for every processor/);
  const blind = decideAutoscale(
    input({
      current: 3,
      previous,
      now: later,
      pods: [pod(10, { endpointLatencyMillis: undefined, inFlight: 1 })],
    }),
  );
  assert.equal(blind.current, 3);
  assert.match(blind.message ?? "", /Waiting for figures/);
  const remembered = decideAutoscale(
    input({
      current: 3,
      previous: { ...previous, perPodPerSecond: 40 },
      now: later,
      pods: [pod(150, { endpointLatencyMillis: undefined, inFlight: 1 })],
    }),
  );
  assert.equal(remembered.perPodPerSecond, 40, "the per-pod rate last measured stands");
  assert.equal(remembered.recommended, 5);
});

test("a pod that never runs or reports holds sizing only up to the settle deadline", () => {
  const previous: AutoscalingStatus = {
    current: 2,
    lagSample: { time: at(-10).toISOString(), maxLagMillis: 0 },
  };
  const starved = { current: 2, settled: false, pods: [pod(200, { maxLagMillis: 60_000 })] };
  const first = decideAutoscale(input({ ...starved, previous }));
  assert.equal(first.current, 2);
  assert.equal(first.unsettledSince, at(0).toISOString(), "the wait starts");
  assert.equal(first.lagSample, undefined, "no lag sample across a hand-over");
  assert.match(first.message ?? "", /Waiting for every processor/);

  const before = at(settleDeadlineMs / 1000 - 10);
  const waiting = decideAutoscale(input({ ...starved, previous: first, now: before }));
  assert.equal(waiting.current, 2, "still within the deadline");
  assert.equal(waiting.unsettledSince, first.unsettledSince, "the wait keeps its start");

  const after = at(settleDeadlineMs / 1000);
  const decided = decideAutoscale(
    input({ ...starved, maxLagMillis: 60_000, previous: waiting, now: after }),
  );
  assert.ok(decided.current > 2, "sized on the pod that reports");
  assert.match(
    decided.message ?? "",
    /Not every processor has run, reported and taken its shards for 120 s: decided on the 1 of 2 that report/,
  );
  assert.equal(decided.unsettledSince, undefined, "a rescale restarts the wait");

  // The new size's pods get their own time: no decision 10 s later, mid hand-over.
  const resized = decideAutoscale(
    input({
      ...starved,
      current: decided.current,
      maxLagMillis: 60_000,
      previous: decided,
      now: at(settleDeadlineMs / 1000 + 10),
    }),
  );
  assert.equal(resized.current, decided.current);
  assert.equal(resized.unsettledSince, at(settleDeadlineMs / 1000 + 10).toISOString());
  assert.match(resized.message ?? "", /Waiting for every processor/);

  const settled = decideAutoscale(
    input({ current: decided.current, previous: resized, now: at(settleDeadlineMs / 1000 + 20) }),
  );
  assert.equal(settled.unsettledSince, undefined, "all report again: the wait is over");
  assert.doesNotMatch(settled.message ?? "", /Not every processor/);
});

test("a budget caps the job and the status says EndpointBudget", () => {
  const decision = decideAutoscale(
    input({
      spec: { ...spec, maxEndpointConcurrency: 30 },
      pods: [pod(200, { inFlight: 10, maxLagMillis: 120_000 })],
      maxLagMillis: 120_000,
    }),
  );
  assert.equal(decision.current, 3);
  assert.equal(decision.limitedBy, "EndpointBudget");
});

test("turning autoscaling on clamps parallelism into the bounds at once", () => {
  const decision = decideAutoscale(input({ current: 20, pods: [pod(10)] }));
  assert.equal(decision.current, 8, "maxParallelism, even though the load wants fewer");
});

test("seeded random loads: never past shards, budget or max, never below min, one scale-down per window", () => {
  let ups = 0;
  let downs = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const random = seededRandom(seed);
    const shards = 1 + Math.floor(random() * 12);
    const capacity = 1 + Math.floor(random() * 20);
    const minParallelism = 1 + Math.floor(random() * 3);
    const settings = autoscalingSchema.parse({
      minParallelism,
      maxParallelism: minParallelism + Math.floor(random() * 10),
      targetUtilization: 0.3 + random() * 0.7,
      catchUpSeconds: 10 + Math.floor(random() * 300),
      scaleDownStabilizationSeconds: Math.floor(random() * 300),
      ...(random() < 0.5
        ? { maxEndpointConcurrency: capacity * (minParallelism + Math.floor(random() * 6)) }
        : {}),
    });
    const budget = Math.floor((settings.maxEndpointConcurrency ?? Infinity) / capacity);
    let previous: AutoscalingStatus | undefined;
    let current = settings.minParallelism;
    let clock = 0;
    let busy = false;
    const scaleDowns: number[] = [];
    const seen: { time: number; recommended: number }[] = [];
    for (let step = 0; step < 200; step++) {
      clock += 1 + random() * 30;
      // Load comes in phases of 20 steps, busy or quiet, so that it scales both ways.
      if (step % 20 === 0) busy = random() < 0.5;
      const latency = 5 + random() * 200;
      const load = (busy ? 2_000 : 50) * (0.5 + random());
      const pods = Array.from({ length: current }, () =>
        pod(load / current, {
          endpointLatencyMillis: random() < 0.8 ? latency : undefined,
          inFlight: random() * capacity,
          concurrencyLimit: capacity,
          maxLagMillis: random() * (busy ? 60_000 : 2_000),
        }),
      );
      const decision = decideAutoscale({
        spec: settings,
        capacity,
        rateLimitPerSecond: random() < 0.2 ? 1 + random() * 1_000 : undefined,
        current,
        settled: random() < 0.9,
        readableShards: shards,
        pods,
        maxLagMillis: Math.max(0, ...pods.map((each) => each.maxLagMillis ?? 0)),
        previous,
        now: at(clock),
      });
      const context = `seed ${seed} step ${step}: ${JSON.stringify(decision)}`;
      assert.ok(decision.current <= settings.maxParallelism, context);
      assert.ok(decision.current <= budget, context);
      assert.ok(decision.current >= Math.min(settings.minParallelism, budget), context);
      if (decision.current > current) {
        assert.ok(decision.current <= Math.max(shards, settings.minParallelism), context);
      }
      if (decision.recommended !== undefined && decision !== previous) {
        seen.push({ time: clock, recommended: decision.recommended });
      }
      if (decision.current < current) {
        const window = settings.scaleDownStabilizationSeconds;
        const last = scaleDowns.at(-1);
        assert.ok(last === undefined || clock - last >= window, `two scale-downs in ${context}`);
        const inWindow = seen.filter((entry) => entry.time > clock - window);
        assert.ok(
          inWindow.every((entry) => entry.recommended <= decision.current),
          `a scale-down below a recommendation of the window: ${context}`,
        );
        scaleDowns.push(clock);
        downs++;
      }
      if (decision.current > current) ups++;
      current = decision.current;
      previous = decision;
    }
  }
  assert.ok(ups > 20 && downs > 10, `the loads exercise both ways: ${ups} up, ${downs} down`);
});
