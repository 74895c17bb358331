// The token bucket on a virtual clock: over any window it admits at most rate x window + depth,
// also while its rate and depth change and while several buckets share one limit the way pods
// share the job's (seeded random arrivals and share moves).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { rateShare } from "../../../processor/http/rate-share.ts";
import { createTokenBucket } from "../../../processor/http/token-bucket.ts";
import { seededRandom } from "../seeded-random.ts";

/** The most admissions in any window of `windowMs` (a window starting at an admission is tightest). */
function maxInWindow(times: readonly number[], windowMs: number): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while ((times[end] as number) - (times[start] as number) >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}

/** Every window [t_i, t_j]: admissions in it against rate x (t_j - t_i) + depth. */
function worstExcess(times: readonly number[], rate: number, depth: number): number {
  let worst = -Infinity;
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length; j++) {
      const allowed = (rate * ((times[j] as number) - (times[i] as number))) / 1000 + depth;
      worst = Math.max(worst, j - i + 1 - allowed);
    }
  }
  return worst;
}

describe("one bucket", () => {
  test("over any window it admits at most rate x window + depth, whatever the arrivals (seeded)", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = seededRandom(seed);
      const rate = 5 + random() * 200;
      const depth = 1 + Math.floor(random() * 20);
      let clock = 0;
      const bucket = createTokenBucket(() => clock);
      bucket.set(rate, depth);
      const admitted: number[] = [];
      for (let i = 0; i < 1_500; i++) {
        // Bursts of arrivals at one moment, and quiet spells that fill the bucket.
        clock += random() < 0.1 ? random() * 2_000 : random() < 0.5 ? 0 : random() * 20;
        if (bucket.tryTake()) admitted.push(clock);
      }
      assert.ok(admitted.length > 100, `seed ${seed}: too few admissions to tell`);
      const excess = worstExcess(admitted, rate, depth);
      assert.ok(excess <= 1e-9, `seed ${seed}: ${excess} above rate x window + depth`);
    }
  });

  test("a demand above the rate gets the rate: no token is lost while records wait", () => {
    let clock = 0;
    const bucket = createTokenBucket(() => clock);
    bucket.set(100, 5);
    let admitted = 0;
    // Each waiter comes back exactly when the bucket says a token is there.
    while (clock < 60_000) {
      if (bucket.tryTake()) admitted++;
      else clock += bucket.msUntilToken();
    }
    assert.ok(admitted >= 5_999 && admitted <= 6_001, `admitted ${admitted} in 60 s at 100/s`);
  });

  test("a new bucket starts empty, and a raised depth fills at the rate, not at once", () => {
    let clock = 0;
    const bucket = createTokenBucket(() => clock);
    bucket.set(10, 10);
    assert.equal(bucket.tryTake(), false);
    assert.equal(bucket.msUntilToken(), 100);
    clock = 10_000;
    bucket.set(10, 100);
    let taken = 0;
    while (bucket.tryTake()) taken++;
    assert.equal(taken, 10, "the tokens of the old depth, none added by raising it");
  });

  test("a lowered depth drops the tokens above it at once", () => {
    let clock = 0;
    const bucket = createTokenBucket(() => clock);
    bucket.set(10, 50);
    clock = 60_000;
    bucket.set(10, 3);
    let taken = 0;
    while (bucket.tryTake()) taken++;
    assert.equal(taken, 3);
  });

  test("at rate 0, or with a depth below one token, no token ever comes", () => {
    let clock = 0;
    const bucket = createTokenBucket(() => clock);
    assert.equal(bucket.msUntilToken(), Infinity);
    bucket.set(10, 0.5);
    clock = 60_000;
    assert.equal(bucket.tryTake(), false);
    assert.equal(bucket.msUntilToken(), Infinity);
    assert.throws(() => {
      bucket.set(-1, 1);
    }, /rate and depth of at least 0/);
  });

  test("while the rate and depth change, admissions stay within the rate's integral + the depth at the window's start (seeded)", () => {
    for (const seed of [11, 12, 13]) {
      const random = seededRandom(seed);
      let clock = 0;
      const bucket = createTokenBucket(() => clock);
      // The rate integral up to each moment, and the depth at each moment, to judge windows.
      const marks: { at: number; integral: number; depth: number }[] = [];
      let integral = 0;
      let rate = 0;
      const admitted: { at: number; integral: number }[] = [];
      for (let i = 0; i < 3_000; i++) {
        const step = random() * 30;
        integral += (rate * step) / 1000;
        clock += step;
        if (random() < 0.02) {
          rate = random() * 300;
          const depth = random() * 30;
          bucket.set(rate, depth);
          marks.push({ at: clock, integral, depth });
        }
        if (bucket.tryTake()) admitted.push({ at: clock, integral });
      }
      assert.ok(admitted.length > 200, `seed ${seed}: too few admissions to tell`);
      const depthAt = (at: number): number =>
        marks.filter((mark) => mark.at <= at).at(-1)?.depth ?? 0;
      for (let i = 0; i < admitted.length; i += 7) {
        const first = admitted[i] as { at: number; integral: number };
        const startDepth = depthAt(first.at);
        for (let j = i; j < admitted.length; j++) {
          const last = admitted[j] as { at: number; integral: number };
          // The first admission used a token present at its moment: at most the depth then.
          assert.ok(
            j - i + 1 <= last.integral - first.integral + startDepth + 1e-9,
            `seed ${seed}: ${j - i + 1} admitted from ${first.at} to ${last.at}`,
          );
        }
      }
    }
  });
});

describe("buckets of pods sharing one limit", () => {
  test("shares moved the way the supervisor moves them (off the loser first, onto the taker after) keep the job within limit x window + burst (seeded)", () => {
    const limit = { requestsPerSecond: 200, burst: 20 };
    const shards = 10;
    for (const seed of [21, 22, 23]) {
      const random = seededRandom(seed);
      let clock = 0;
      const pods = Array.from({ length: 4 }, () => ({
        bucket: createTokenBucket(() => clock),
        held: 0,
      }));
      /** Each shard's holder, or -1 while it changes hands (counted by nobody). */
      const holder: number[] = Array.from({ length: shards }, (_, shard) => shard % pods.length);
      const apply = (pod: (typeof pods)[number], held: number): void => {
        pod.held = held;
        const share = rateShare(limit, held, shards);
        pod.bucket.set(share.requestsPerSecond, share.burst);
      };
      pods.forEach((pod, index) => {
        apply(pod, holder.filter((owner) => owner === index).length);
      });
      const admitted: number[] = [];
      for (let i = 0; i < 40_000; i++) {
        clock += random() * 2;
        if (random() < 0.002) {
          const shard = Math.floor(random() * shards);
          const from = holder[shard] as number;
          if (from >= 0) {
            // Lost, handed over or released: the holder counts it out at once.
            holder[shard] = -1;
            apply(pods[from] as (typeof pods)[number], (pods[from]?.held ?? 0) - 1);
          } else {
            // Taken: counted only once the Lease is confirmed.
            const to = Math.floor(random() * pods.length);
            holder[shard] = to;
            apply(pods[to] as (typeof pods)[number], (pods[to]?.held ?? 0) + 1);
          }
        }
        // Every pod has more demand than its share.
        for (const pod of pods) if (pod.bucket.tryTake()) admitted.push(clock);
      }
      assert.ok(admitted.length > 2_000, `seed ${seed}: too few admissions to tell`);
      for (const windowMs of [100, 1_000, 5_000]) {
        const most = maxInWindow(admitted, windowMs);
        const bound = (limit.requestsPerSecond * windowMs) / 1000 + limit.burst;
        assert.ok(most <= bound, `seed ${seed}: ${most} in ${windowMs} ms, bound ${bound}`);
      }
    }
  });
});
