// The checkpointer: writes moved checkpoints to the store, SHARD_END for finished shards, and
// retries a failed write at the next flush.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createCheckpointer } from "../../../processor/checkpoint/checkpointer.ts";
import {
  createMemoryCheckpointStore,
  SHARD_END,
  type CheckpointStore,
} from "../../../processor/checkpoint/store.ts";
import { acknowledge, createShardTracker } from "../../../processor/checkpoint/tracker.ts";

/** A memory store whose put fails while `failing` holds the shard id. */
function flakyStore() {
  const memory = createMemoryCheckpointStore();
  const failing = new Set<string>();
  let attempts = 0;
  const store: CheckpointStore = {
    get: (shardId) => memory.get(shardId),
    put: (shardId, checkpoint) => {
      attempts++;
      if (failing.has(shardId)) return Promise.reject(new Error(`lost the lease of ${shardId}`));
      return memory.put(shardId, checkpoint);
    },
  };
  return {
    store,
    memory,
    failing,
    get attempts() {
      return attempts;
    },
  };
}

const noErrors = (shardId: string, error: unknown): void => {
  assert.fail(`unexpected store error for ${shardId}: ${String(error)}`);
};

describe("checkpointer", () => {
  test("a flush writes a tracker's checkpoint once it has moved", async () => {
    const store = createMemoryCheckpointStore();
    const checkpointer = createCheckpointer(store, noErrors);
    const tracker = createShardTracker("shard-0");
    const [first, second] = [tracker.track("1"), tracker.track("2")];
    acknowledge(first);
    acknowledge(second);
    await checkpointer.flush([tracker]);
    assert.equal(store.checkpoints.get("shard-0"), "2");
    assert.equal(store.writes, 1, "one write for the latest checkpoint, not one per record");
    assert.equal(checkpointer.lastWritten("shard-0"), "2");
  });

  test("an unmoved checkpoint is not written again", async () => {
    const store = createMemoryCheckpointStore();
    let written = 0;
    const checkpointer = createCheckpointer(store, noErrors, () => written++);
    const tracker = createShardTracker("shard-0");
    acknowledge(tracker.track("1"));
    await checkpointer.flush([tracker]);
    await checkpointer.flush([tracker]);
    tracker.track("2");
    await checkpointer.flush([tracker]);
    assert.equal(store.writes, 1, "record 2 is not acknowledged, so the checkpoint did not move");
    assert.equal(written, 1, "onWritten is called per write");
  });

  test("only the trackers whose checkpoint moved are written", async () => {
    const store = createMemoryCheckpointStore();
    const checkpointer = createCheckpointer(store, noErrors);
    const [first, second, empty] = ["shard-0", "shard-1", "shard-2"].map((id) =>
      createShardTracker(id),
    );
    assert.ok(first && second && empty);
    acknowledge(first.track("1"));
    acknowledge(second.track("1"));
    await checkpointer.flush([first, second, empty]);
    assert.deepEqual(
      Object.fromEntries(store.checkpoints),
      { "shard-0": "1", "shard-1": "1" },
      "a tracker with nothing checkpointable is skipped",
    );
    acknowledge(first.track("2"));
    await checkpointer.flush([first, second, empty]);
    assert.equal(store.writes, 3, "the second flush wrote only shard-0");
    assert.equal(store.checkpoints.get("shard-0"), "2");
  });

  test("write skips a checkpoint equal to the last one it wrote for the shard", async () => {
    const store = createMemoryCheckpointStore();
    const checkpointer = createCheckpointer(store, noErrors);
    await checkpointer.write("shard-0", "50");
    await checkpointer.write("shard-0", "50");
    await checkpointer.write("shard-1", "50");
    assert.equal(store.writes, 2);
  });

  test("a finished tracker is written as SHARD_END, once", async () => {
    const store = createMemoryCheckpointStore();
    const checkpointer = createCheckpointer(store, noErrors);
    const tracker = createShardTracker("shard-0");
    acknowledge(tracker.track("9"));
    tracker.markEnded();
    await checkpointer.flush([tracker]);
    await checkpointer.flush([tracker]);
    assert.equal(store.checkpoints.get("shard-0"), SHARD_END);
    assert.equal(store.writes, 1);
  });

  test("an ended shard is not written as SHARD_END while a record is unacknowledged", async () => {
    const store = createMemoryCheckpointStore();
    const checkpointer = createCheckpointer(store, noErrors);
    const tracker = createShardTracker("shard-0");
    acknowledge(tracker.track("1"));
    const last = tracker.track("2");
    tracker.markEnded();
    await checkpointer.flush([tracker]);
    assert.equal(store.checkpoints.get("shard-0"), "1");
    acknowledge(last);
    await checkpointer.flush([tracker]);
    assert.equal(store.checkpoints.get("shard-0"), SHARD_END);
  });

  test("a failing store.put calls onError with the shard, other shards are still written, and the next flush retries", async () => {
    const flaky = flakyStore();
    const errors: string[] = [];
    const checkpointer = createCheckpointer(flaky.store, (shardId, error) => {
      errors.push(`${shardId}: ${(error as Error).message}`);
    });
    const [failing, healthy] = [createShardTracker("shard-0"), createShardTracker("shard-1")];
    acknowledge(failing.track("5"));
    acknowledge(healthy.track("7"));
    flaky.failing.add("shard-0");

    await checkpointer.flush([failing, healthy]);
    assert.deepEqual(errors, ["shard-0: lost the lease of shard-0"]);
    assert.equal(flaky.memory.checkpoints.get("shard-1"), "7");
    assert.equal(checkpointer.lastWritten("shard-0"), undefined, "a failed write is not recorded");

    flaky.failing.delete("shard-0");
    await checkpointer.flush([failing, healthy]);
    assert.equal(flaky.memory.checkpoints.get("shard-0"), "5", "retried at the next flush");
    assert.equal(flaky.attempts, 3, "shard-1 was not rewritten");
    assert.equal(errors.length, 1);
  });

  test("write rejects when the store does, and the checkpoint is not recorded", async () => {
    const flaky = flakyStore();
    flaky.failing.add("shard-0");
    const checkpointer = createCheckpointer(flaky.store, noErrors);
    await assert.rejects(checkpointer.write("shard-0", "1"), /lost the lease of shard-0/);
    assert.equal(checkpointer.lastWritten("shard-0"), undefined);
  });
});
