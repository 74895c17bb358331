// De-aggregation on read, as KCL does it: a Kinesis record that is a KPL aggregate (magic bytes, a
// readable protobuf body, a matching MD5) becomes its user records; anything else is passed on
// whole, and a record that has the magic bytes but is not a sound aggregate says why, for a metric.
import { openEnvelope, startsWithKplMagic } from "./envelope.ts";
import { isHashKey } from "./hash-key.ts";
import { decodeAggregatedRecord, type AggregatedRecordMessage } from "./messages.ts";

export interface KinesisRecordInput {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  /** GetRecords does not return it; a caller that knows it may pass it on. */
  readonly explicitHashKey?: string | undefined;
}

export interface UserRecord {
  /** For a user record, a view into the aggregate's bytes. */
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  /** The Kinesis record's sequence number, shared by all user records of an aggregate. */
  readonly sequenceNumber: string;
  /** Index within the aggregate; undefined for a plain record. */
  readonly subSequenceNumber: number | undefined;
  /** User records in the aggregate (1 for a plain record). */
  readonly subRecordCount: number;
  readonly aggregated: boolean;
}

/** Why a record that starts with the KPL magic bytes was passed on whole. */
export const rejectionReasons = [
  "truncated",
  "bad_checksum",
  "unreadable_body",
  "index_out_of_range",
  "bad_explicit_hash_key",
] as const;
export type RejectionReason = (typeof rejectionReasons)[number];

export interface Deaggregation {
  /** In aggregate order; empty for an aggregate that holds no user record. */
  readonly records: readonly UserRecord[];
  readonly rejected: RejectionReason | undefined;
}

function plain(record: KinesisRecordInput, rejected?: RejectionReason): Deaggregation {
  const user: UserRecord = {
    data: record.data,
    partitionKey: record.partitionKey,
    explicitHashKey: record.explicitHashKey,
    sequenceNumber: record.sequenceNumber,
    subSequenceNumber: undefined,
    subRecordCount: 1,
    aggregated: false,
  };
  return { records: [user], rejected };
}

function decode(body: Uint8Array): AggregatedRecordMessage | undefined {
  try {
    return decodeAggregatedRecord(body);
  } catch {
    return undefined;
  }
}

const tableEntry = (table: readonly string[], index: bigint): string | undefined =>
  index < BigInt(table.length) ? table[Number(index)] : undefined;

export function deaggregate(record: KinesisRecordInput): Deaggregation {
  if (!startsWithKplMagic(record.data)) return plain(record);
  const opened = openEnvelope(record.data);
  if (opened.problem !== undefined) return plain(record, opened.problem);
  const message = decode(opened.body);
  if (message === undefined) return plain(record, "unreadable_body");
  const subRecordCount = message.records.length;
  const records: UserRecord[] = [];
  for (const [subSequenceNumber, entry] of message.records.entries()) {
    const partitionKey = tableEntry(message.partitionKeyTable, entry.partitionKeyIndex);
    const explicitHashKey =
      entry.explicitHashKeyIndex === undefined
        ? undefined
        : tableEntry(message.explicitHashKeyTable, entry.explicitHashKeyIndex);
    if (
      partitionKey === undefined ||
      (entry.explicitHashKeyIndex !== undefined && explicitHashKey === undefined)
    ) {
      return plain(record, "index_out_of_range");
    }
    // The hash-key-range filter parses it; a bad one would throw there, far from its cause.
    if (explicitHashKey !== undefined && !isHashKey(explicitHashKey)) {
      return plain(record, "bad_explicit_hash_key");
    }
    records.push({
      data: entry.data,
      partitionKey,
      explicitHashKey,
      sequenceNumber: record.sequenceNumber,
      subSequenceNumber,
      subRecordCount,
      aggregated: true,
    });
  }
  return { records, rejected: undefined };
}
