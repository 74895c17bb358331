// What one GetRecords answer holds for the engine: its user records. A KPL aggregate becomes its
// user records (de-aggregated always, as the KCL does), an aggregate that a stale shard map put on
// the wrong shard is skipped (KCL's hash-key-range rule after resharding; the KPL sends its
// records again), and the user records of a partly done aggregate up to the checkpoint are skipped
// on resume. Each user record checkpoints as the extended sequence number after it.
import type { _Record } from "@aws-sdk/client-kinesis";
import { deaggregate, type RejectionReason, type UserRecord } from "./kpl/deaggregate.ts";
import { startsWithKplMagic } from "./kpl/envelope.ts";
import {
  checkpointAfter,
  formatCheckpoint,
  isAfterCheckpoint,
  type ExtendedSequenceNumber,
} from "./kpl/extended-sequence-number.ts";
import { withinShard, type HashKeyRange } from "./kpl/hash-key.ts";

export interface ReadUserRecord extends UserRecord {
  readonly arrivedAt: Date | undefined;
  /** The checkpoint once this user record and every earlier one is acknowledged. */
  readonly checkpoint: string;
}

export interface UserRecordsOfKinesisRecord {
  /** The Kinesis record's own position: once all of it is handed over, reading resumes after it. */
  readonly position: ExtendedSequenceNumber;
  readonly records: readonly ReadUserRecord[];
}

export interface ExtractStats {
  aggregates: number;
  rejected: RejectionReason[];
  /** User records of aggregates outside the shard's hash key range. */
  outOfRange: number;
}

const plainUserRecord = (
  record: _Record,
  data: Uint8Array,
  sequenceNumber: string,
): ReadUserRecord => ({
  data,
  partitionKey: record.PartitionKey ?? "",
  explicitHashKey: undefined,
  sequenceNumber,
  subSequenceNumber: undefined,
  subRecordCount: 1,
  aggregated: false,
  arrivedAt: record.ApproximateArrivalTimestamp,
  checkpoint: sequenceNumber,
});

export function userRecordsOf(
  records: readonly _Record[],
  hashKeyRange: HashKeyRange | undefined,
  resumeAfter: ExtendedSequenceNumber | undefined,
): { batches: UserRecordsOfKinesisRecord[]; userRecords: number; stats: ExtractStats } {
  const stats: ExtractStats = { aggregates: 0, rejected: [], outOfRange: 0 };
  const batches: UserRecordsOfKinesisRecord[] = [];
  let userRecords = 0;
  for (const record of records) {
    const sequenceNumber = record.SequenceNumber ?? "";
    const data = record.Data ?? new Uint8Array();
    const position = { sequenceNumber, subSequenceNumber: undefined };
    if (!startsWithKplMagic(data)) {
      // The common case, on the hot path: a plain record is its own user record.
      batches.push({ position, records: [plainUserRecord(record, data, sequenceNumber)] });
      userRecords++;
      continue;
    }
    const { records: all, rejected } = deaggregate({
      data,
      partitionKey: record.PartitionKey ?? "",
      sequenceNumber,
    });
    if (rejected !== undefined) stats.rejected.push(rejected);
    if (all[0]?.aggregated === true) stats.aggregates++;
    const inRange = hashKeyRange === undefined ? all : withinShard(all, hashKeyRange);
    stats.outOfRange += all.length - inRange.length;
    const resuming = resumeAfter?.sequenceNumber === sequenceNumber ? resumeAfter : undefined;
    const kept = inRange
      .filter((user) => resuming === undefined || isAfterCheckpoint(user, resuming))
      .map((user) => ({
        ...user,
        arrivedAt: record.ApproximateArrivalTimestamp,
        checkpoint: formatCheckpoint(checkpointAfter(user)),
      }));
    userRecords += kept.length;
    batches.push({ position, records: kept });
  }
  return { batches, userRecords, stats };
}
