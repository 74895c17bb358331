import assert from "node:assert/strict";
import { test } from "node:test";
import { acknowledge, createShardTracker } from "../../../processor/checkpoint/tracker.ts";
import { processingLagMillis } from "../../../processor/pipeline/processing-lag.ts";

const now = Date.parse("2026-11-30T12:00:00Z");

test("while records read wait in the processor, the lag is the age of the record taken last", () => {
  const tracker = createShardTracker("shardId-000000000000");
  const receipt = tracker.track("1");
  tracker.track("2");
  const taken = { arrivedAt: new Date(now - 42_000), receipt };
  assert.equal(processingLagMillis(0, taken, now), 42_000, "the last read said 0");
  assert.equal(processingLagMillis(90_000, taken, now), 90_000, "the stream lags more still");
});

test("with nothing pending, or nothing taken, the lag is millisBehindLatest", () => {
  const tracker = createShardTracker("shardId-000000000000");
  const receipt = tracker.track("1");
  tracker.track("2");
  assert.equal(processingLagMillis(1_500, undefined, now), 1_500);
  assert.equal(
    processingLagMillis(1_500, { arrivedAt: undefined, receipt }, now),
    1_500,
    "no arrival time",
  );
  const idle = createShardTracker("shardId-000000000001");
  const done = { arrivedAt: new Date(now - 600_000), receipt: idle.track("7") };
  acknowledge(done.receipt);
  assert.equal(processingLagMillis(0, done, now), 0, "an idle shard is not 10 minutes behind");
});
