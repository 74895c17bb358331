import assert from "node:assert/strict";
import { test } from "node:test";
import {
  atTipMillis,
  processingLagMillis,
  idleAtTip,
} from "../../../processor/pipeline/processing-lag.ts";

const now = Date.parse("2026-11-30T12:00:00Z");

test("while records read wait in the processor, the lag is the age of the record taken last", () => {
  const arrived = new Date(now - 42_000);
  assert.equal(processingLagMillis(0, arrived, 2, now), 42_000, "the last read said 0");
  assert.equal(processingLagMillis(90_000, arrived, 2, now), 90_000, "the stream lags more still");
});

test("with nothing pending, or nothing taken, the lag is millisBehindLatest", () => {
  assert.equal(processingLagMillis(1_500, undefined, 2, now), 1_500, "nothing taken yet");
  assert.equal(
    processingLagMillis(0, new Date(now - 600_000), 0, now),
    0,
    "an idle shard is not 10 minutes behind",
  );
  assert.equal(processingLagMillis(undefined, undefined, 0, now), undefined);
});

test("a reader is idle at the tip only at the tip, reading on, with all it read handed on", () => {
  const idle = 1_000;
  assert.equal(idleAtTip(0, 500, 0, idle), true);
  assert.equal(idleAtTip(atTipMillis, 2 * idle + atTipMillis, 0, idle), true);
  assert.equal(idleAtTip(atTipMillis + 1, 500, 0, idle), false, "behind the tip");
  assert.equal(
    idleAtTip(0, 2 * idle + atTipMillis + 1, 0, idle),
    false,
    "not reading on: its last read is stale",
  );
  assert.equal(idleAtTip(0, 500, 3, idle), false, "waiting for the engine to take what it read");
  assert.equal(idleAtTip(undefined, undefined, 0, idle), false, "not read yet");
});
