import assert from "node:assert/strict";
import { test } from "node:test";
import {
  atTipMillis,
  processingLagMillis,
  readsAtTip,
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

test("a reader takes records as they arrive only at the tip and reading on", () => {
  const idle = 1_000;
  assert.equal(readsAtTip(0, 500, idle), true);
  assert.equal(readsAtTip(atTipMillis, 2 * idle + atTipMillis, idle), true);
  assert.equal(readsAtTip(atTipMillis + 1, 500, idle), false, "behind: it reads faster");
  assert.equal(
    readsAtTip(0, 2 * idle + atTipMillis + 1, idle),
    false,
    "waiting for the engine or a full read-ahead: its last read is stale",
  );
  assert.equal(readsAtTip(undefined, undefined, idle), false, "not read yet");
});
