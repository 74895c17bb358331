// One processor reads every shard, with checkpoints in a plain store: the demo and the tests that
// need no Kubernetes. Ownership never changes, so nothing is ever lost.
import { readableShards } from "../kinesis/shard-lineage.ts";
import type { ShardCoordinator } from "./coordinator.ts";
import { SHARD_END, type CheckpointStore } from "./store.ts";

export function createSingleWorkerCoordinator(
  store: CheckpointStore,
  syncIntervalMs: number,
): ShardCoordinator {
  const checkpoints = new Map<string, string | undefined>();
  return {
    syncIntervalMs,
    async sync(listed) {
      for (const shard of listed) {
        if (!checkpoints.has(shard.shardId)) {
          checkpoints.set(shard.shardId, await store.get(shard.shardId));
        }
      }
      const readable = readableShards(listed, (shardId) => checkpoints.get(shardId) === SHARD_END);
      return { checkpoints, owned: new Set(readable.map((shard) => shard.shardId)) };
    },
    async put(shardId, checkpoint) {
      await store.put(shardId, checkpoint);
      checkpoints.set(shardId, checkpoint);
    },
    release: () => Promise.resolve(),
    onLost: () => undefined,
    onHandoffRequested: () => undefined,
    handOver: () => Promise.resolve(),
  };
}
