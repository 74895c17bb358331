import assert from "node:assert/strict";
import { test } from "node:test";
import { newReading } from "../../../processor/pipeline/start-reading.ts";

test("a new reading has read nothing, shows reading, and resumes after the checkpoint given", () => {
  const reading = newReading("shard-0", "41");
  assert.equal(reading.tracker.shardId, "shard-0");
  assert.equal(reading.tracker.checkpointable, "41", "nothing acknowledged yet: the start");
  assert.equal(reading.tracker.pending, 0);
  assert.deepEqual(reading.status, {
    shardId: "shard-0",
    state: "reading",
    recordsRead: 0,
    pending: 0,
    millisBehindLatest: undefined,
    checkpoint: "41",
    lastError: undefined,
    failed: 0,
    lastFailure: undefined,
  });
  assert.equal(reading.aborter.signal.aborted, false);
});
