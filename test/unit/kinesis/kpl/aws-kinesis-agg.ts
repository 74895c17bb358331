// The awslabs aws-kinesis-agg module, the reference KPL-format writer and reader for JavaScript,
// behind the few typed calls the tests make. Its own typings import aws-sdk v2 and aws-lambda, which
// this project does not have, so it is loaded untyped and described here.
import { createRequire } from "node:module";

interface AwsEncodedRecord {
  partitionKey: string;
  data: Buffer;
  ExplicitHashKey?: string;
}

interface AwsUserRecord {
  partitionKey: string;
  explicitPartitionKey?: string;
  sequenceNumber: string;
  subSequenceNumber?: number;
  /** Base64. */
  data: string;
}

interface AwsKinesisAgg {
  RecordAggregator: new () => {
    aggregateRecords(
      records: { partitionKey: string; explicitHashKey?: string; data: Buffer }[],
      forceFlush: boolean,
      onReady: (error: Error | null, encoded?: AwsEncodedRecord) => void,
    ): void;
  };
  deaggregateSync(
    record: { partitionKey: string; sequenceNumber: string; data: string },
    computeChecksums: boolean,
    done: (error: Error | null | undefined, records?: AwsUserRecord[]) => void,
  ): void;
}

const agg = createRequire(import.meta.url)("aws-kinesis-agg") as AwsKinesisAgg;

export interface WrittenRecord {
  data: Uint8Array;
  partitionKey: string;
  explicitHashKey?: string | undefined;
}

/** Packs records as the reference writer does: into as few aggregates of up to 1 MiB as it can. */
export function awsAggregate(records: readonly WrittenRecord[]): WrittenRecord[] {
  const written: WrittenRecord[] = [];
  new agg.RecordAggregator().aggregateRecords(
    records.map((record) => ({
      partitionKey: record.partitionKey,
      data: Buffer.from(record.data),
      ...(record.explicitHashKey === undefined ? {} : { explicitHashKey: record.explicitHashKey }),
    })),
    true,
    (error, encoded) => {
      if (error !== null) throw error;
      if (encoded === undefined) throw new Error("aws-kinesis-agg produced no record");
      written.push({
        data: new Uint8Array(encoded.data),
        partitionKey: encoded.partitionKey,
        explicitHashKey: encoded.ExplicitHashKey,
      });
    },
  );
  return written;
}

export interface ReadRecord {
  data: Uint8Array;
  partitionKey: string;
  explicitHashKey: string | undefined;
  subSequenceNumber: number | undefined;
}

/** Reads a Kinesis record as the reference reader does, checksum verified. */
export function awsDeaggregate(record: {
  data: Uint8Array;
  partitionKey: string;
  sequenceNumber: string;
}): ReadRecord[] {
  let result: ReadRecord[] | undefined;
  agg.deaggregateSync(
    {
      partitionKey: record.partitionKey,
      sequenceNumber: record.sequenceNumber,
      data: Buffer.from(record.data).toString("base64"),
    },
    true,
    (error, records) => {
      if (error !== null && error !== undefined) throw error;
      result = (records ?? []).map((read) => ({
        data: new Uint8Array(Buffer.from(read.data, "base64")),
        partitionKey: read.partitionKey,
        explicitHashKey: read.explicitPartitionKey,
        subSequenceNumber: read.subSequenceNumber,
      }));
    },
  );
  if (result === undefined) throw new Error("aws-kinesis-agg did not call back");
  return result;
}
