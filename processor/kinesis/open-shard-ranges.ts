// The hash key ranges of a stream's open shards, which PutRecords writes to: the shard map that
// aggregation on write packs records by.
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { ShardHashKeyRange } from "./kpl/aggregator.ts";
import { listShards } from "./list-shards.ts";

export async function listOpenShardRanges(
  client: KinesisClient,
  stream: string,
  signal?: AbortSignal,
): Promise<ShardHashKeyRange[]> {
  const ranges: ShardHashKeyRange[] = [];
  for (const shard of await listShards(client, stream, signal)) {
    // A closed shard takes no more writes.
    if (shard.closed === true || shard.hashKeyRange === undefined) continue;
    ranges.push({ shardId: shard.shardId, ...shard.hashKeyRange });
  }
  return ranges;
}

/** Whether two maps name the same shards with the same ranges. */
export function sameShardMap(
  a: readonly ShardHashKeyRange[],
  b: readonly ShardHashKeyRange[],
): boolean {
  const key = (ranges: readonly ShardHashKeyRange[]): string =>
    ranges
      .map((range) => `${range.shardId}:${range.startingHashKey}-${range.endingHashKey}`)
      .sort()
      .join(",");
  return a.length === b.length && key(a) === key(b);
}
