// Producing to and reading back whole streams, for the demo's check that every record arrived and
// for the tests. Reading a whole stream is for small test streams only.
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  PutRecordsCommand,
  type KinesisClient,
} from "@aws-sdk/client-kinesis";
import { listShards } from "../processor/kinesis/list-shards.ts";

export interface ProducedRecord {
  data: Uint8Array;
  partitionKey: string;
}

export interface StoredRecord extends ProducedRecord {
  shardId: string;
  sequenceNumber: string;
}

/** Writes records in PutRecords batches of 500, retrying failed entries until all are in. */
export async function produceRecords(
  client: KinesisClient,
  stream: string,
  records: readonly ProducedRecord[],
  onProgress?: (written: number) => void,
): Promise<void> {
  let written = 0;
  for (let start = 0; start < records.length; start += 500) {
    let batch = records.slice(start, start + 500);
    for (let attempt = 0; batch.length > 0; attempt++) {
      if (attempt > 50) throw new Error(`PutRecords to ${stream} keeps failing`);
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
      const response = await client.send(
        new PutRecordsCommand({
          StreamName: stream,
          Records: batch.map((record) => ({
            Data: record.data,
            PartitionKey: record.partitionKey,
          })),
        }),
      );
      const results = response.Records ?? [];
      const failed = batch.filter((_, index) => results[index]?.ErrorCode !== undefined);
      written += batch.length - failed.length;
      batch = failed;
    }
    onProgress?.(written);
  }
}

/** Reads every record of every shard, oldest first, until each shard is caught up. */
export async function readAllRecords(
  client: KinesisClient,
  stream: string,
): Promise<StoredRecord[]> {
  const all: StoredRecord[] = [];
  for (const { shardId } of await listShards(client, stream)) {
    let iterator = (
      await client.send(
        new GetShardIteratorCommand({
          StreamName: stream,
          ShardId: shardId,
          ShardIteratorType: "TRIM_HORIZON",
        }),
      )
    ).ShardIterator;
    while (iterator !== undefined) {
      const response = await client.send(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }),
      );
      for (const record of response.Records ?? []) {
        all.push({
          shardId,
          sequenceNumber: record.SequenceNumber ?? "",
          partitionKey: record.PartitionKey ?? "",
          data: record.Data ?? new Uint8Array(),
        });
      }
      if ((response.Records ?? []).length === 0) break;
      iterator = response.NextShardIterator;
    }
  }
  return all;
}
