import assert from "node:assert/strict";
import { test } from "node:test";
import { autoscalingSchema } from "../../../operator/api/autoscaling-schema.ts";
import type { AutoscalingStatus } from "../../../operator/api/autoscaling-status-schema.ts";
import {
  decideAutoscale,
  decisionIntervalMs,
  type AutoscaleInput,
  type PodLoad,
} from "../../../operator/reconcile/autoscale-decision.ts";
import {
  ineffectiveScaleUp,
  nextScaleUp,
  scaleUp,
} from "../../../operator/reconcile/scale-up-effectiveness.ts";
import { seededRandom } from "../seeded-random.ts";

const spec = autoscalingSchema.parse({
  minParallelism: 1,
  maxParallelism: 16,
  targetUtilization: 0.8,
  catchUpSeconds: 300,
  scaleDownStabilizationSeconds: 120,
});
const t0 = Date.parse("2026-11-30T12:00:00Z");

/**
 * An endpoint that serves at most `servesPerSecond` calls a second and otherwise answers in
 * `baseLatencyMillis`: with N calls in flight its latency is max(base, N / serves) (Little's law at
 * the endpoint). Pods of capacity `capacity`, fed more than the endpoint serves, keep their slots
 * full and their shards lagging.
 */
interface Endpoint {
  servesPerSecond: number;
  baseLatencyMillis: number;
}

function saturatedPods(pods: number, capacity: number, endpoint: Endpoint, arriving: number) {
  const latencyMillis = Math.max(
    endpoint.baseLatencyMillis,
    ((pods * capacity) / endpoint.servesPerSecond) * 1000,
  );
  const out = (capacity * 1000) / latencyMillis;
  return Array.from({ length: pods }, (): PodLoad => ({
    inPerSecond: out,
    outPerSecond: out,
    maxLagMillis: 60_000,
    concurrencyLimit: capacity,
    inFlight: capacity,
    endpointLatencyMillis: latencyMillis,
    arrivedPerSecond: arriving / pods,
  }));
}

/** One decision every interval on the figures of the size decided last; the sizes it ran. */
function run(options: {
  endpoint: (step: number) => Endpoint;
  arriving: number;
  capacity: number;
  steps: number;
  /** Forgets the last scale-up before each decision: the autoscaler without the check. */
  forget?: boolean;
}): { sizes: number[]; last: AutoscalingStatus } {
  let previous: AutoscalingStatus | undefined;
  let current = 1;
  const sizes: number[] = [];
  for (let step = 0; step < options.steps; step++) {
    const pods = saturatedPods(current, options.capacity, options.endpoint(step), options.arriving);
    const input: AutoscaleInput = {
      spec,
      capacity: options.capacity,
      rateLimitPerSecond: undefined,
      current,
      settled: true,
      readableShards: 32,
      pods,
      maxLagMillis: 60_000,
      previous:
        options.forget === true && previous !== undefined
          ? { ...previous, lastScaleUp: undefined }
          : previous,
      now: new Date(t0 + step * decisionIntervalMs),
    };
    previous = decideAutoscale(input);
    current = previous.current;
    sizes.push(current);
  }
  if (previous === undefined) throw new Error("no steps");
  return { sizes, last: previous };
}

test("a scale-up is recorded with the job's rate before it and the rate it should bring", () => {
  assert.deepEqual(scaleUp(2, 5, 40, 2, 50), {
    from: 2,
    to: 5,
    perSecondBefore: 80,
    expectedPerSecond: 200,
    endpointLatencyMillisBefore: 50,
  });
  const record = scaleUp(1, 2, 40, 1, undefined);
  assert.equal(
    nextScaleUp(record, 2, 2, () => scaleUp(2, 3, 1, 1, 1)),
    record,
    "size holds",
  );
  assert.equal(
    nextScaleUp(record, 2, 1, () => scaleUp(2, 3, 1, 1, 1)),
    undefined,
    "scaled down",
  );
  assert.equal(nextScaleUp(record, 2, 3, () => scaleUp(2, 3, 40, 2, 50))?.to, 3, "scaled up");
});

test("a scale-up pays when the job's rate grew by a tenth of what was expected or more", () => {
  const last = scaleUp(2, 4, 100, 2, 50); // 200 -> 400 expected
  assert.equal(ineffectiveScaleUp(last, 4, 400, 50), undefined, "all of it");
  assert.equal(ineffectiveScaleUp(last, 4, 220, 55), undefined, "exactly a tenth");
  const verdict = ineffectiveScaleUp(last, 4, 219, 180);
  assert.match(verdict ?? "", /2 -> 4 pods.*from 200 to 219 records\/s where 400 were expected/);
  assert.match(verdict ?? "", /endpoint latency 50 -> 180 ms/);
  assert.ok(ineffectiveScaleUp(last, 4, 150, 200), "the rate fell");
  assert.equal(ineffectiveScaleUp(last, 5, 150, 200), undefined, "another size: nothing to judge");
  assert.equal(ineffectiveScaleUp(undefined, 4, 150, 200), undefined, "no scale-up yet");
});

test("an endpoint at its limit: one scale-up past it, then the job holds, says why, and grows again when the endpoint does", () => {
  const saturated = { servesPerSecond: 200, baseLatencyMillis: 50 };
  const held = run({ endpoint: () => saturated, arriving: 1_000, capacity: 10, steps: 12 });
  // 1 pod: 10 calls in flight, 50 ms, 200 records/s; 1,000 records/s arrive and the backlog adds
  // 200 (60 s of lag over 300 s): 1,200 / (200 x 0.8) calls for 8 pods. At 8 the endpoint answers
  // in 400 ms, so a pod does 25 records/s and the figures call for 60, capped at 16.
  assert.ok(
    held.sizes.every((size) => size === 8),
    held.sizes.join(","),
  );
  assert.equal(held.last.limitedBy, "IneffectiveScaleUp");
  assert.equal(held.last.recommended, 8);
  assert.match(held.last.message ?? "", /held where the figures call for 16/);
  assert.match(held.last.message ?? "", /1 -> 8 pods.*from 200 to 200 records\/s where 1600/);

  // Without the check, each lower Little's bound calls for more pods, up to maxParallelism.
  const unchecked = run({
    endpoint: () => saturated,
    arriving: 1_000,
    capacity: 10,
    steps: 12,
    forget: true,
  });
  assert.equal(unchecked.sizes.at(-1), 16, unchecked.sizes.join(","));

  // The endpoint's owners raise its limit to 1,000 calls/s at step 5: at 8 pods it answers in
  // 80 ms, the job's rate grows to 1,000, the block lifts, and 12 pods are called for; at 12 the
  // endpoint is at its limit again, so the job holds there.
  const raised = run({
    endpoint: (step) => (step < 5 ? saturated : { servesPerSecond: 1_000, baseLatencyMillis: 50 }),
    arriving: 1_000,
    capacity: 10,
    steps: 12,
  });
  assert.deepEqual(raised.sizes, [8, 8, 8, 8, 8, 12, 12, 12, 12, 12, 12, 12]);
  assert.equal(raised.last.limitedBy, "IneffectiveScaleUp");
  assert.match(raised.last.message ?? "", /8 -> 12 pods.*from 1000 to 1000 records\/s/);
});

test("an endpoint with room: every scale-up pays and nothing is held", () => {
  const roomy = { servesPerSecond: 10_000, baseLatencyMillis: 50 };
  const { sizes, last } = run({ endpoint: () => roomy, arriving: 1_000, capacity: 10, steps: 8 });
  assert.ok(
    sizes.every((size) => size === sizes[0]),
    sizes.join(","),
  );
  assert.equal(last.limitedBy, "Lag");
  assert.equal(last.lastScaleUp?.to, sizes[0]);
});

test("seeded random endpoints: past the endpoint's limit at most one scale-up, then no change", () => {
  const random = seededRandom(15);
  for (let run_ = 0; run_ < 200; run_++) {
    const capacity = 1 + Math.floor(random() * 20);
    const endpoint = {
      servesPerSecond: 20 + random() * 2_000,
      baseLatencyMillis: 5 + random() * 200,
    };
    const arriving = endpoint.servesPerSecond * (1 + random() * 5);
    const { sizes } = run({ endpoint: () => endpoint, arriving, capacity, steps: 20 });
    const context = JSON.stringify({ capacity, endpoint, arriving, sizes });
    // The size at which the pods' calls in flight reach what the endpoint serves at its base latency.
    const saturatedAt = Math.ceil(
      (endpoint.servesPerSecond * endpoint.baseLatencyMillis) / 1000 / capacity,
    );
    const firstPast = sizes.findIndex((size) => size >= saturatedAt);
    const sizesPast = new Set(sizes.slice(Math.max(firstPast, 0)));
    assert.ok(sizesPast.size <= 2, `more than one scale-up past the limit: ${context}`);
    assert.ok(
      sizes.slice(-10).every((size) => size === sizes.at(-1)),
      `still moving at the end: ${context}`,
    );
  }
});
