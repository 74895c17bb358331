// Backoff between attempts: full jitter under an exponential ceiling, never under Retry-After.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { backoffDelay, parseRetryAfter } from "../../../processor/http/backoff.ts";
import { backoffCeiling, equalJitter, fullJitter } from "../../../processor/util/backoff.ts";
import { seededRandom } from "../seeded-random.ts";

const policy = { initialBackoffMs: 100, maxBackoffMs: 1_000 };
const highest = () => 0.999_999;
const lowest = () => 0;

describe("the one backoff formula", () => {
  test("the ceiling is the base after the first failure, doubling up to the cap, for any failure count", () => {
    const backoff = { baseMs: 500, maxMs: 30_000 };
    assert.deepEqual(
      [0, 1, 2, 3, 6, 7, 1_000, Number.MAX_SAFE_INTEGER].map((failures) =>
        backoffCeiling(backoff, failures),
      ),
      [500, 500, 1_000, 2_000, 16_000, 30_000, 30_000, 30_000],
    );
  });

  test("full jitter lies in [0, ceiling), equal jitter in [ceiling / 2, ceiling)", () => {
    const random = seededRandom(7);
    for (let sample = 0; sample < 1_000; sample++) {
      const full = fullJitter(800, random);
      const equal = equalJitter(800, random);
      assert.ok(full >= 0 && full < 800, `full ${full}`);
      assert.ok(equal >= 400 && equal < 800, `equal ${equal}`);
    }
    assert.equal(fullJitter(800, lowest), 0);
    assert.equal(equalJitter(800, lowest), 400);
  });
});

describe("backoffDelay", () => {
  test("the delay after attempt n lies in [0, min(max, initial * 2^(n-1)))", () => {
    const random = seededRandom(1);
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
      for (let sample = 0; sample < 200; sample++) {
        const delay = backoffDelay(policy, attempt, undefined, random);
        assert.ok(
          Number.isInteger(delay) && delay >= 0 && delay < ceiling,
          `attempt ${attempt}: ${delay} outside [0, ${ceiling})`,
        );
      }
    }
  });

  test("the ceiling doubles each attempt until maxBackoffMs", () => {
    const ceilings = [1, 2, 3, 4, 5, 6].map((attempt) =>
      backoffDelay(policy, attempt, undefined, highest),
    );
    assert.deepEqual(ceilings, [99, 199, 399, 799, 999, 999]);
    assert.equal(
      backoffDelay(policy, 3, undefined, () => 0.5),
      200,
    );
  });

  test("full jitter: the delay can be zero", () => {
    assert.equal(backoffDelay(policy, 4, undefined, lowest), 0);
  });

  test("Retry-After raises the delay above the jittered one", () => {
    assert.equal(backoffDelay(policy, 1, 5_000, lowest), 5_000, "beyond maxBackoffMs too");
    assert.equal(backoffDelay(policy, 4, 10, highest), 799, "a shorter Retry-After lowers nothing");
    assert.equal(backoffDelay(policy, 1, 0, lowest), 0);
  });

  test("uses Math.random when no generator is given, staying in range", () => {
    for (let sample = 0; sample < 100; sample++) {
      const delay = backoffDelay(policy, 2, undefined);
      assert.ok(delay >= 0 && delay < 200, String(delay));
    }
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-06-01T12:00:00Z");

  test("delay-seconds become milliseconds", () => {
    assert.equal(parseRetryAfter("0", now), 0);
    assert.equal(parseRetryAfter("3", now), 3_000);
    assert.equal(parseRetryAfter(" 120 ", now), 120_000);
  });

  test("an HTTP-date becomes the time until then", () => {
    assert.equal(parseRetryAfter("Sun, 01 Jun 2025 12:00:30 GMT", now), 30_000);
  });

  test("an HTTP-date in the past means no wait", () => {
    assert.equal(parseRetryAfter("Sun, 01 Jun 2025 11:59:00 GMT", now), 0);
  });

  test("the first of several header values is used", () => {
    assert.equal(parseRetryAfter(["2", "9"], now), 2_000);
  });

  test("an absent, empty or unparsable header gives undefined", () => {
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter("", now), undefined);
    assert.equal(parseRetryAfter("   ", now), undefined);
    assert.equal(parseRetryAfter("soon", now), undefined);
    assert.equal(parseRetryAfter([], now), undefined);
  });
});
