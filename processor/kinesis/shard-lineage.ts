// Which shards may be read now. After a split or a merge, a child's records continue its
// parents' partition keys, so a child waits until its parents are read to the end and
// checkpointed (SHARD_END), as the KCL does. A parent no longer listed has expired: its records
// are gone, so it blocks nothing.
import type { HashKeyRange } from "./kpl/hash-key.ts";

export interface ShardInfo {
  shardId: string;
  parentShardId?: string | undefined;
  adjacentParentShardId?: string | undefined;
  /** The shard's hash keys, when the listing gave them. */
  hashKeyRange?: HashKeyRange | undefined;
  /** Closed by a split or a merge: it has an ending sequence number and takes no more writes. */
  closed?: boolean;
}

export function readableShards(
  shards: readonly ShardInfo[],
  isFinished: (shardId: string) => boolean,
): ShardInfo[] {
  const listed = new Set(shards.map((shard) => shard.shardId));
  const parentDone = (parent: string | undefined): boolean =>
    parent === undefined || !listed.has(parent) || isFinished(parent);
  return shards.filter(
    (shard) =>
      !isFinished(shard.shardId) &&
      parentDone(shard.parentShardId) &&
      parentDone(shard.adjacentParentShardId),
  );
}
