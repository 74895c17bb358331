// The shard tracker: which sequence number may be checkpointed, given what was acknowledged.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  acknowledge,
  createShardTracker,
  type Receipt,
  type ShardTracker,
} from "../../../processor/checkpoint/tracker.ts";

const trackAll = (tracker: ShardTracker, sequenceNumbers: string[]): Receipt[] =>
  sequenceNumbers.map((sequenceNumber) => tracker.track(sequenceNumber));

describe("shard tracker", () => {
  test("startAfter is the checkpointable sequence number until a record is acknowledged", () => {
    const tracker = createShardTracker("shard-0", "100");
    trackAll(tracker, ["101", "102"]);
    assert.equal(tracker.checkpointable, "100");
    assert.equal(
      createShardTracker("shard-1").checkpointable,
      undefined,
      "none without startAfter",
    );
  });

  test("the checkpoint advances only past contiguously acknowledged records", () => {
    const tracker = createShardTracker("shard-0", "10");
    const [r11, r12, r13, r14] = trackAll(tracker, ["11", "12", "13", "14"]);
    assert.ok(r11 && r12 && r13 && r14);
    acknowledge(r11);
    assert.equal(tracker.checkpointable, "11");
    acknowledge(r13);
    assert.equal(tracker.checkpointable, "11", "13 waits for 12");
    acknowledge(r12);
    assert.equal(tracker.checkpointable, "13", "12 releases 13 with it");
    assert.equal(tracker.pending, 1);
  });

  test("out-of-order acknowledgements move the checkpoint once the gap closes", () => {
    const tracker = createShardTracker("shard-0");
    const receipts = trackAll(tracker, ["1", "2", "3", "4", "5"]);
    const seen: (string | undefined)[] = [];
    for (const index of [4, 2, 3, 0, 1]) {
      const receipt = receipts[index];
      assert.ok(receipt);
      acknowledge(receipt);
      seen.push(tracker.checkpointable);
    }
    assert.deepEqual(seen, [undefined, undefined, undefined, "1", "5"]);
    assert.equal(tracker.pending, 0);
  });

  test("acknowledging a receipt twice is harmless", () => {
    const tracker = createShardTracker("shard-0");
    const [first, second] = trackAll(tracker, ["1", "2"]);
    assert.ok(first && second);
    acknowledge(first);
    acknowledge(first);
    assert.equal(tracker.checkpointable, "1");
    assert.equal(tracker.pending, 1, "the second record is still pending");
    assert.equal(second.acknowledged, false);
  });

  test("pending counts records tracked and not yet released", () => {
    const tracker = createShardTracker("shard-0");
    const [first, second] = trackAll(tracker, ["1", "2"]);
    assert.ok(first && second);
    assert.equal(tracker.pending, 2);
    acknowledge(second);
    assert.equal(tracker.pending, 2, "an acknowledged record behind a pending one still counts");
    acknowledge(first);
    assert.equal(tracker.pending, 0);
  });

  test("a shard is finished only after markEnded and once every record is acknowledged", () => {
    const tracker = createShardTracker("shard-0");
    const [first, second] = trackAll(tracker, ["1", "2"]);
    assert.ok(first && second);
    acknowledge(first);
    acknowledge(second);
    assert.equal(tracker.finished, false, "everything acknowledged, but the shard has not ended");
    tracker.markEnded();
    assert.equal(tracker.finished, true);

    const other = createShardTracker("shard-1");
    const receipt = other.track("1");
    other.markEnded();
    assert.equal(other.finished, false, "ended, but a record is unacknowledged");
    acknowledge(receipt);
    assert.equal(other.finished, true);
  });

  test("an ended shard without records is finished", () => {
    const tracker = createShardTracker("shard-0", "7");
    tracker.markEnded();
    assert.equal(tracker.finished, true);
    assert.equal(tracker.checkpointable, "7");
  });

  test("the checkpoint stays right over thousands of records acknowledged in waves", () => {
    const tracker = createShardTracker("shard-0");
    const receipts = trackAll(
      tracker,
      Array.from({ length: 5_000 }, (_, index) => String(index + 1)),
    );
    // Acknowledge every odd-indexed record first, then the even ones: the checkpoint must not
    // move until the first even one, and must end at the last.
    receipts.filter((_, index) => index % 2 === 1).forEach(acknowledge);
    assert.equal(tracker.checkpointable, undefined);
    receipts.filter((_, index) => index % 2 === 0).forEach(acknowledge);
    assert.equal(tracker.checkpointable, "5000");
    assert.equal(tracker.pending, 0);
  });
});
