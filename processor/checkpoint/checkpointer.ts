// Writes each shard's checkpoint to the store when it has moved: every interval (all shards at
// once), when a shard ends, and at shutdown. Unchanged checkpoints are not rewritten, to keep
// store writes modest.
import type { ShardCoordinator } from "./coordinator.ts";
import { SHARD_END } from "./store.ts";
import type { ShardTracker } from "./tracker.ts";

export interface Checkpointer {
  /** Writes every tracker's checkpoint that moved since the last write. */
  flush(trackers: Iterable<ShardTracker>): Promise<void>;
  write(shardId: string, checkpoint: string): Promise<void>;
  lastWritten(shardId: string): string | undefined;
  /** Forgets a shard this processor no longer reads. */
  forget(shardId: string): void;
}

export function createCheckpointer(
  store: Pick<ShardCoordinator, "put">,
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
      await Promise.all(
        [...trackers].map(async (tracker) => {
          const checkpoint = tracker.finished ? SHARD_END : tracker.checkpointable;
          if (checkpoint === undefined) return;
          try {
            await write(tracker.shardId, checkpoint);
          } catch (error) {
            onError(tracker.shardId, error);
          }
        }),
      );
    },
    write,
    lastWritten: (shardId) => written.get(shardId),
    forget: (shardId) => {
      written.delete(shardId);
    },
  };
}
