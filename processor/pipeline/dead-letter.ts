// The dead-letter record: the original record and why it failed, as JSON, so a person or a
// replay job can act on it. If the original does not fit the stream's record limit, its data is
// left out and the record points at it in the source stream (shard and sequence number).
import type { SourceRecord } from "../kinesis/shard-reader.ts";
import type { Failure } from "./enrich.ts";

export function deadLetterRecord(
  record: SourceRecord,
  failure: Failure,
  sourceStream: string,
  maxRecordBytes: number,
): Buffer {
  const envelope = {
    error: failure.reason,
    errorKind: failure.kind,
    ...(failure.status === undefined ? {} : { status: failure.status }),
    attempts: failure.attempts,
    firstAttemptAt: new Date(failure.startedAt).toISOString(),
    failedAt: new Date().toISOString(),
    source: {
      stream: sourceStream,
      shardId: record.shardId,
      sequenceNumber: record.sequenceNumber,
      // A user record of a KPL aggregate: its index in the Kinesis record above.
      ...(record.subSequenceNumber === undefined
        ? {}
        : { subSequenceNumber: record.subSequenceNumber }),
      partitionKey: record.partitionKey,
      approximateArrivalTimestamp: record.arrivedAt?.toISOString(),
    },
  };
  const full = Buffer.from(
    JSON.stringify({ ...envelope, data: Buffer.from(record.data).toString("base64") }),
  );
  if (full.length + Buffer.byteLength(record.partitionKey) <= maxRecordBytes) return full;
  return Buffer.from(
    JSON.stringify({
      ...envelope,
      dataOmitted: `the original record (${record.data.length} bytes) does not fit the dead-letter stream's record limit; read it from the source stream by shardId and sequenceNumber`,
    }),
  );
}
