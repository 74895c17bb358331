// The hash key ranges of a stream's open shards, which PutRecords writes to: the shard map that
// aggregation on write packs records by.
import { ListShardsCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import type { ShardHashKeyRange } from "./kpl/aggregator.ts";
import { parseHashKeyRange } from "./kpl/hash-key.ts";
import { streamParameter } from "./client.ts";

export async function listOpenShardRanges(
  client: KinesisClient,
  stream: string,
  signal?: AbortSignal,
): Promise<ShardHashKeyRange[]> {
  const ranges: ShardHashKeyRange[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListShardsCommand(
        nextToken === undefined ? streamParameter(stream) : { NextToken: nextToken },
      ),
      { abortSignal: signal },
    );
    for (const shard of page.Shards ?? []) {
      // A closed shard (one with an ending sequence number) takes no more writes.
      if (shard.ShardId === undefined || shard.HashKeyRange === undefined) continue;
      if (shard.SequenceNumberRange?.EndingSequenceNumber !== undefined) continue;
      const { StartingHashKey, EndingHashKey } = shard.HashKeyRange;
      if (StartingHashKey === undefined || EndingHashKey === undefined) continue;
      ranges.push({
        shardId: shard.ShardId,
        ...parseHashKeyRange({ StartingHashKey, EndingHashKey }),
      });
    }
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
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
