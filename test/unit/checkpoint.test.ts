// Checkpoints move only past records whose every predecessor is acknowledged.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createCheckpointer } from "../../processor/checkpoint/checkpointer.ts";
import {
  createMemoryCheckpointStore,
  SHARD_END,
  type CheckpointStore,
} from "../../processor/checkpoint/store.ts";
import { acknowledge, createShardTracker } from "../../processor/checkpoint/tracker.ts";

test("the checkpoint advances only past contiguously acknowledged records", () => {
  const tracker = createShardTracker("shard-0", "10");
  const [r11, r12, r13] = ["11", "12", "13"].map((sequence) => tracker.track(sequence));
  assert.equal(tracker.checkpointable, "10", "the start position until something is acknowledged");
  acknowledge(r13 as NonNullable<typeof r13>);
  acknowledge(r12 as NonNullable<typeof r12>);
  assert.equal(tracker.checkpointable, "10", "12 and 13 wait for 11");
  acknowledge(r11 as NonNullable<typeof r11>);
  assert.equal(tracker.checkpointable, "13");
  acknowledge(r11 as NonNullable<typeof r11>);
  assert.equal(tracker.pending, 0, "acknowledging twice is harmless");
});

test("a shard is finished only once it ended and everything is acknowledged", () => {
  const tracker = createShardTracker("shard-0");
  const receipt = tracker.track("1");
  tracker.markEnded();
  assert.equal(tracker.finished, false);
  acknowledge(receipt);
  assert.equal(tracker.finished, true);
});

test("the checkpointer writes only moved checkpoints, SHARD_END for finished shards, and retries failed writes", async () => {
  const store = createMemoryCheckpointStore();
  let failNext = true;
  const flaky: CheckpointStore = {
    get: (shardId) => store.get(shardId),
    put: (shardId, checkpoint) => {
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error("lost the lease"));
      }
      return store.put(shardId, checkpoint);
    },
  };
  const errors: string[] = [];
  const checkpointer = createCheckpointer(flaky, (shardId, error) =>
    errors.push(`${shardId}: ${(error as Error).message}`),
  );
  const tracker = createShardTracker("shard-0");
  acknowledge(tracker.track("5"));
  await checkpointer.flush([tracker]);
  assert.deepEqual(errors, ["shard-0: lost the lease"]);
  await checkpointer.flush([tracker]);
  assert.equal(store.checkpoints.get("shard-0"), "5");
  await checkpointer.flush([tracker]);
  assert.equal(store.writes, 1, "an unchanged checkpoint is not written again");
  tracker.markEnded();
  await checkpointer.flush([tracker]);
  assert.equal(store.checkpoints.get("shard-0"), SHARD_END);
});
