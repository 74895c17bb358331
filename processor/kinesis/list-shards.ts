// Every shard of a stream, following ListShards pages.
import { ListShardsCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import { streamParameter } from "./client.ts";
import { parseHashKeyRange } from "./kpl/hash-key.ts";
import type { ShardInfo } from "./shard-lineage.ts";

const hashKeyRangeOf = (range: { StartingHashKey?: string; EndingHashKey?: string } | undefined) =>
  range?.StartingHashKey === undefined || range.EndingHashKey === undefined
    ? undefined
    : parseHashKeyRange({
        StartingHashKey: range.StartingHashKey,
        EndingHashKey: range.EndingHashKey,
      });

export async function listShards(
  client: KinesisClient,
  stream: string,
  signal?: AbortSignal,
): Promise<ShardInfo[]> {
  const shards: ShardInfo[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListShardsCommand(
        nextToken === undefined ? streamParameter(stream) : { NextToken: nextToken },
      ),
      { abortSignal: signal },
    );
    for (const shard of page.Shards ?? []) {
      if (shard.ShardId === undefined) continue;
      shards.push({
        shardId: shard.ShardId,
        parentShardId: shard.ParentShardId,
        adjacentParentShardId: shard.AdjacentParentShardId,
        hashKeyRange: hashKeyRangeOf(shard.HashKeyRange),
        closed: shard.SequenceNumberRange?.EndingSequenceNumber !== undefined,
      });
    }
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  return shards;
}
