// Writes each shard's checkpoint to the store when it has moved: every interval, when a shard
// ends, and at shutdown. Unchanged checkpoints are not rewritten, to keep store writes modest.
import { SHARD_END, type CheckpointStore } from "./store.ts";
import type { ShardTracker } from "./tracker.ts";

export interface Checkpointer {
  /** Writes every tracker's checkpoint that moved since the last write. */
  flush(trackers: Iterable<ShardTracker>): Promise<void>;
  write(shardId: string, checkpoint: string): Promise<void>;
  lastWritten(shardId: string): string | undefined;
}

export function createCheckpointer(
  store: CheckpointStore,
  onError: (shardId: string, error: unknown) => void,
  onWritten: () => void = () => undefined,
): Checkpointer {
  const written = new Map<string, string>();
  const write = async (shardId: string, checkpoint: string): Promise<void> => {
    if (written.get(shardId) === checkpoint) return;
    await store.put(shardId, checkpoint);
    written.set(shardId, checkpoint);
    onWritten();
  };
  return {
    async flush(trackers) {
      for (const tracker of trackers) {
        const checkpoint = tracker.finished ? SHARD_END : tracker.checkpointable;
        if (checkpoint === undefined) continue;
        try {
          await write(tracker.shardId, checkpoint);
        } catch (error) {
          onError(tracker.shardId, error);
        }
      }
    },
    write,
    lastWritten: (shardId) => written.get(shardId),
  };
}
