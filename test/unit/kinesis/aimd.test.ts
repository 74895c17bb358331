// The sink's send rate: unlimited until throttled, then additive increase and multiplicative
// decrease, never below a floor.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  defaultAimd,
  onThrottled,
  onWritten,
  sendTimeMs,
  type AimdPolicy,
  type SendRate,
} from "../../../processor/kinesis/aimd.ts";

const unlimited: SendRate = { recordsPerSecond: undefined };

describe("AIMD send rate", () => {
  test("the rate is unlimited until the first throttle, and writes do not limit it", () => {
    let rate: SendRate = unlimited;
    for (let batch = 0; batch < 10; batch++) rate = onWritten(rate);
    assert.equal(rate.recordsPerSecond, undefined);
    assert.equal(sendTimeMs(rate, 500), 0, "an unlimited batch goes at once");
  });

  test("the first throttle starts from the observed rate, halved", () => {
    assert.equal(onThrottled(unlimited, 1_000).recordsPerSecond, 500);
  });

  test("each throttle halves the rate", () => {
    let rate = onThrottled({ recordsPerSecond: 800 }, 5_000);
    assert.equal(rate.recordsPerSecond, 400, "the observed rate does not matter once limited");
    rate = onThrottled(rate, 5_000);
    assert.equal(rate.recordsPerSecond, 200);
  });

  test("each batch written without throttling adds increasePerBatch", () => {
    let rate: SendRate = { recordsPerSecond: 100 };
    for (let batch = 0; batch < 3; batch++) rate = onWritten(rate);
    assert.equal(rate.recordsPerSecond, 100 + 3 * defaultAimd.increasePerBatch);
  });

  test("the rate never falls below minRecordsPerSecond", () => {
    assert.equal(onThrottled({ recordsPerSecond: 12 }, 12).recordsPerSecond, 10);
    assert.equal(onThrottled({ recordsPerSecond: 10 }, 1).recordsPerSecond, 10);
    assert.equal(onThrottled(unlimited, 0).recordsPerSecond, 10, "observing nothing");
  });

  test("a custom policy sets the step, the factor and the floor", () => {
    const policy: AimdPolicy = {
      increasePerBatch: 5,
      decreaseFactor: 0.25,
      minRecordsPerSecond: 2,
    };
    assert.equal(onThrottled({ recordsPerSecond: 100 }, 0, policy).recordsPerSecond, 25);
    assert.equal(onWritten({ recordsPerSecond: 25 }, policy).recordsPerSecond, 30);
    assert.equal(onThrottled({ recordsPerSecond: 4 }, 0, policy).recordsPerSecond, 2);
  });

  test("sendTimeMs is how long a batch takes at the rate", () => {
    assert.equal(sendTimeMs({ recordsPerSecond: 500 }, 500), 1_000);
    assert.equal(sendTimeMs({ recordsPerSecond: 200 }, 50), 250);
    assert.equal(sendTimeMs({ recordsPerSecond: 200 }, 0), 0);
  });
});
