// The adaptive concurrency limit, driven by a simulated endpoint on a simulated clock: calls end in
// order of their end times, each latency a function of the endpoint's concurrency when it started,
// with seeded noise. No timers: a minute of traffic runs in milliseconds.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  createGradientLimit,
  type GradientLimit,
} from "../../../processor/engine/adaptive-limit.ts";
import { seededRandom } from "../seeded-random.ts";

interface Endpoint {
  /** Latency in ms of a call that starts with `concurrency` calls in flight (itself included). */
  latency(concurrency: number, nowMs: number): number;
  /** Whether the call is dropped (timed out, refused). */
  drops?(nowMs: number, random: () => number): boolean;
}

/** A queueing endpoint: `baseMs` up to `knee` calls in flight, then baseMs x inFlight / knee. */
const queueing =
  (baseMs: number, knee: number | ((nowMs: number) => number)) =>
  (concurrency: number, nowMs: number): number => {
    const at = typeof knee === "number" ? knee : knee(nowMs);
    return baseMs * Math.max(1, concurrency / at);
  };

interface Trace {
  /** [ms, limit] after every completed call. */
  limits: [number, number][];
  /** [ms, latency] of every completed call. */
  latencies: [number, number][];
}

/**
 * Offers as many calls as the limit admits (a backlog), or at most `offered` in flight, for
 * `durationMs` of simulated time. Latencies get ±`noise`/2 of uniform noise.
 */
function simulate(
  limiter: GradientLimit,
  endpoint: Endpoint,
  options: { durationMs: number; seed: number; noise?: number; offered?: number },
): Trace {
  const random = seededRandom(options.seed);
  const noise = options.noise ?? 0.1;
  const running: { endsAt: number; startedAt: number; inFlight: number; dropped: boolean }[] = [];
  const trace: Trace = { limits: [], latencies: [] };
  let now = 0;
  while (now < options.durationMs) {
    const admitted = Math.min(Math.floor(limiter.limit), options.offered ?? Infinity);
    while (running.length < admitted) {
      const inFlight = running.length + 1;
      const latency = endpoint.latency(inFlight, now) * (1 + noise * (random() - 0.5));
      running.push({
        endsAt: now + latency,
        startedAt: now,
        inFlight,
        dropped: endpoint.drops?.(now, random) ?? false,
      });
    }
    let next = 0;
    for (let index = 1; index < running.length; index++) {
      if ((running[index]?.endsAt ?? 0) < (running[next]?.endsAt ?? 0)) next = index;
    }
    const [call] = running.splice(next, 1);
    if (call === undefined) throw new Error("nothing in flight: the limit fell below 1");
    now = call.endsAt;
    limiter.onSample(now - call.startedAt, call.inFlight, call.dropped);
    trace.limits.push([now, limiter.limit]);
    trace.latencies.push([now, now - call.startedAt]);
  }
  return trace;
}

const limitOf = (limiter: GradientLimit): number => limiter.limit;
const between = (series: [number, number][], fromMs: number, toMs: number): number[] =>
  series.filter(([at]) => at >= fromMs && at < toMs).map(([, value]) => value);
const mean = (values: number[]): number =>
  values.reduce((sum, value) => sum + value, 0) / values.length;
const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};

describe("adaptive limit (gradient)", () => {
  test("seeded random samples: the limit stays within [min, max] and is a finite number", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = seededRandom(seed);
      const min = 1 + Math.floor(random() * 10);
      const max = min + Math.floor(random() * 200);
      const limiter = createGradientLimit({ min, max, probeEveryRounds: 20 });
      for (let sample = 0; sample < 3_000; sample++) {
        const rtt = random() < 0.02 ? [0, 1e9, Number.NaN][sample % 3] : random() * 500;
        const inFlight = 1 + Math.floor(random() * max * 1.5);
        limiter.onSample(rtt ?? 0, inFlight, random() < 0.05);
        assert.ok(
          Number.isFinite(limiter.limit) && limiter.limit >= min && limiter.limit <= max,
          `seed ${seed}: limit ${limiter.limit} outside [${min}, ${max}]`,
        );
      }
    }
  });

  test("it starts at min and measures the no-load latency in its first round", () => {
    const limiter = createGradientLimit({ min: 5, max: 100 });
    assert.equal(limiter.limit, 5);
    assert.equal(limiter.noLoadMs, undefined);
    assert.equal(limiter.probing, true);
    for (let sample = 0; sample < 10; sample++) limiter.onSample(50 + sample, 1 + (sample % 5));
    assert.equal(limiter.noLoadMs, 54.5, "the median of the round");
    assert.equal(limiter.probing, false);
  });

  test("against a queueing endpoint it settles near the knee: p99 within 1.5x no-load, full throughput, no wild swings", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const limiter = createGradientLimit({ min: 5, max: 200 });
      const trace = simulate(limiter, { latency: queueing(50, 40) }, { durationMs: 30_000, seed });
      const settled = between(trace.limits, 10_000, 30_000);
      const average = mean(settled);
      assert.ok(average >= 40 && average <= 52, `seed ${seed}: settled at ${average.toFixed(1)}`);
      const [low, high] = [Math.min(...settled), Math.max(...settled)];
      assert.ok(
        low >= average * 0.85 && high <= average * 1.15,
        `seed ${seed}: swings ${low.toFixed(1)}..${high.toFixed(1)} around ${average.toFixed(1)}`,
      );
      const latencies = between(trace.latencies, 10_000, 30_000);
      const p99 = quantile(latencies, 0.99);
      assert.ok(p99 <= 1.5 * 50, `seed ${seed}: p99 ${p99.toFixed(1)} ms against 50 ms no-load`);
      // The endpoint serves at most knee / base = 800 calls/s, whatever the concurrency.
      const throughput = latencies.length / 20;
      assert.ok(throughput >= 0.9 * 800, `seed ${seed}: ${throughput.toFixed(0)} calls/s`);
    }
  });

  test("it shrinks when the endpoint's latency rises under the same load, and grows back when it recovers", () => {
    const limiter = createGradientLimit({ min: 5, max: 200 });
    // The endpoint loses half its capacity from 15 s to 30 s: its knee falls from 40 to 20.
    const knee = (nowMs: number) => (nowMs >= 15_000 && nowMs < 30_000 ? 20 : 40);
    const trace = simulate(
      limiter,
      { latency: queueing(50, knee) },
      { durationMs: 45_000, seed: 3 },
    );
    const before = mean(between(trace.limits, 10_000, 15_000));
    const degraded = mean(between(trace.limits, 22_000, 30_000));
    const recovered = mean(between(trace.limits, 40_000, 45_000));
    assert.ok(before >= 40 && before <= 52, `before: ${before.toFixed(1)}`);
    assert.ok(degraded >= 18 && degraded <= 28, `degraded: ${degraded.toFixed(1)}`);
    assert.ok(recovered >= 40 && recovered <= 52, `recovered: ${recovered.toFixed(1)}`);
    const p99 = quantile(between(trace.latencies, 22_000, 30_000), 0.99);
    assert.ok(p99 <= 1.5 * 50, `degraded p99 ${p99.toFixed(1)} ms`);
  });

  test("an endpoint slower for good is measured again, and the limit returns to its knee", () => {
    const limiter = createGradientLimit({ min: 5, max: 200, probeEveryRounds: 200 });
    // From 10 s every call takes twice as long (a new version of the service); the knee stays.
    const base = (nowMs: number) => (nowMs < 10_000 ? 50 : 100);
    const trace = simulate(
      limiter,
      { latency: (concurrency, nowMs) => queueing(base(nowMs), 40)(concurrency, nowMs) },
      { durationMs: 80_000, seed: 5 },
    );
    assert.ok(
      limiter.noLoadMs !== undefined && Math.abs(limiter.noLoadMs - 100) < 10,
      `no-load ${limiter.noLoadMs}`,
    );
    const settled = mean(between(trace.limits, 65_000, 80_000));
    assert.ok(settled >= 40 && settled <= 52, `settled at ${settled.toFixed(1)}`);
  });

  test("an endpoint faster for good is measured again at the next probe", () => {
    const limiter = createGradientLimit({ min: 5, max: 200, probeEveryRounds: 100 });
    const base = (nowMs: number) => (nowMs < 10_000 ? 100 : 50);
    simulate(
      limiter,
      { latency: (concurrency, nowMs) => queueing(base(nowMs), 40)(concurrency, nowMs) },
      { durationMs: 40_000, seed: 6 },
    );
    assert.ok(
      limiter.noLoadMs !== undefined && Math.abs(limiter.noLoadMs - 50) < 5,
      `no-load ${limiter.noLoadMs}`,
    );
  });

  test("a probe holds the limit at min until a round of calls started at or below min ends, then resumes", () => {
    const limiter = createGradientLimit({ min: 4, max: 100, probeEveryRounds: 3 });
    for (let sample = 0; sample < 10; sample++) limiter.onSample(50, 1);
    let rounds = 0;
    while (!limiter.probing && rounds < 100) {
      const before = limiter.limit;
      for (let sample = 0; sample < Math.max(10, Math.ceil(before)); sample++) {
        limiter.onSample(50, Math.ceil(before));
      }
      rounds++;
    }
    assert.equal(rounds, 3);
    assert.equal(limiter.limit, 4);
    // Calls started before the probe, at a higher load, end first: they do not count.
    for (let sample = 0; sample < 50; sample++) limiter.onSample(500, 9);
    assert.equal(limiter.probing, true);
    for (let sample = 0; sample < 10; sample++) limiter.onSample(60, 4);
    assert.equal(limiter.probing, false);
    // Read afresh: the assertion above narrowed limiter.limit to 4 for the type checker.
    const resumed = limitOf(limiter);
    assert.ok(resumed > 4, `resumed at ${resumed}`);
    assert.equal(limiter.noLoadMs, 55, "half way from 50 to the probe's 60");
  });

  test("rounds with more than a tenth of their calls dropped shrink the limit; a few drops do not", () => {
    const run = (dropShare: number) => {
      const limiter = createGradientLimit({ min: 5, max: 200 });
      simulate(
        limiter,
        { latency: queueing(50, 100), drops: (_now, random) => random() < dropShare },
        { durationMs: 20_000, seed: 9 },
      );
      return limiter.limit;
    };
    assert.ok(run(0.01) >= 90, `1% dropped: ${run(0.01).toFixed(1)}`);
    assert.ok(run(0.3) <= 10, `30% dropped: ${run(0.3).toFixed(1)}`);
  });

  test("it does not grow while the load uses less than half of the limit (app-limited)", () => {
    const limiter = createGradientLimit({ min: 5, max: 1_000 });
    const trace = simulate(
      limiter,
      { latency: queueing(20, 10_000) },
      { durationMs: 20_000, seed: 4, offered: 30 },
    );
    const highest = Math.max(...trace.limits.map(([, limit]) => limit));
    assert.ok(highest <= 70, `grew to ${highest.toFixed(1)} with 30 calls offered`);
  });

  test("bad options are refused with a RangeError", () => {
    assert.throws(() => createGradientLimit({ min: 0, max: 10 }), RangeError);
    assert.throws(() => createGradientLimit({ min: 1, max: 10, tolerance: 0.9 }), RangeError);
    assert.throws(() => createGradientLimit({ min: 1, max: 10, smoothing: 0 }), RangeError);
    assert.equal(createGradientLimit({ min: 20, max: 10 }).limit, 10, "min is capped at max");
  });
});
