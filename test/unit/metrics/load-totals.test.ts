import assert from "node:assert/strict";
import { test } from "node:test";
import type { CallObserver } from "../../../processor/http/caller.ts";
import { createLoadTracker, loadFigures } from "../../../processor/metrics/load-totals.ts";

test("the means between two readings: latency of successful attempts, calls in flight", () => {
  const before = { successes: 10, successSeconds: 0.5, inFlightSum: 20, inFlightSamples: 10 };
  const after = { successes: 30, successSeconds: 1.5, inFlightSum: 60, inFlightSamples: 20 };
  assert.deepEqual(loadFigures(before, after), { endpointLatencyMillis: 50, inFlight: 4 });
  assert.deepEqual(loadFigures(undefined, before), { endpointLatencyMillis: 50, inFlight: 2 });
  assert.deepEqual(loadFigures(after, after), {}, "nothing to average over: no figure, not 0");
});

test("the tracker counts successful attempts only, passes every one on, and samples in-flight calls", async () => {
  const seen: string[] = [];
  const inner: CallObserver = {
    attempt: (_seconds, result) => seen.push(result),
    retry: () => seen.push("retry"),
  };
  const tracker = createLoadTracker();
  tracker.sampleInFlight(() => 3, 5);
  const observer = tracker.observing(inner);
  observer.attempt(0.04, "success");
  observer.attempt(0.06, "success");
  observer.attempt(2, "timeout");
  observer.retry();
  assert.deepEqual(seen, ["success", "success", "timeout", "retry"]);
  await new Promise((resolve) => setTimeout(resolve, 60));
  tracker.stop();
  const totals = tracker.totals();
  assert.equal(totals.successes, 2);
  assert.ok(Math.abs(totals.successSeconds - 0.1) < 1e-9);
  assert.ok(totals.inFlightSamples >= 2, `${String(totals.inFlightSamples)} samples`);
  assert.equal(totals.inFlightSum, 3 * totals.inFlightSamples);
  const stopped = tracker.totals().inFlightSamples;
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(tracker.totals().inFlightSamples, stopped, "stop ends the sampling");
});
