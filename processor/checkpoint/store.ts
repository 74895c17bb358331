// Where a single processor keeps its checkpoints (the demo, tests), behind the single-worker
// coordinator; processors of a Kubernetes job keep them on their shard Leases instead
// (leases/lease-coordinator.ts), with ownership and fencing.

/** Written when a shard was read to its end and everything in it acknowledged (KCL's SHARD_END). */
export const SHARD_END = "SHARD_END";

export interface CheckpointStore {
  /** The last checkpoint of a shard: a sequence number, SHARD_END, or undefined if none. */
  get(shardId: string): Promise<string | undefined>;
  /** Stores a checkpoint. Rejects if this worker may no longer write it (lost ownership). */
  put(shardId: string, checkpoint: string): Promise<void>;
}

export function createMemoryCheckpointStore(initial?: Map<string, string>): CheckpointStore & {
  readonly checkpoints: ReadonlyMap<string, string>;
  readonly writes: number;
} {
  const checkpoints = new Map(initial);
  let writes = 0;
  return {
    get: (shardId) => Promise.resolve(checkpoints.get(shardId)),
    put: (shardId, checkpoint) => {
      checkpoints.set(shardId, checkpoint);
      writes++;
      return Promise.resolve();
    },
    checkpoints,
    get writes() {
      return writes;
    },
  };
}
