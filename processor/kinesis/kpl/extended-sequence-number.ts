// A checkpoint inside an aggregate, as KCL's ExtendedSequenceNumber: the Kinesis sequence number
// plus the sub-sequence number of the last user record done. Written as "<sequence>/<sub>" only
// while an aggregate is partly done; a plain record, or an aggregate whose last user record is done,
// checkpoints as the bare sequence number, the format processors before aggregation support read.
// A processor of the previous version handed "<sequence>/<sub>" passes it to GetShardIterator,
// which Kinesis rejects: it retries with the error on the Lease, and skips or repeats nothing.

export interface ExtendedSequenceNumber {
  readonly sequenceNumber: string;
  /** The last user record done; undefined when the whole Kinesis record is done. */
  readonly subSequenceNumber: number | undefined;
}

export interface SubRecordPosition {
  readonly sequenceNumber: string;
  readonly subSequenceNumber: number | undefined;
  readonly subRecordCount: number;
}

/** The checkpoint once this user record, and every one before it, is done. */
export function checkpointAfter(record: SubRecordPosition): ExtendedSequenceNumber {
  const whole =
    record.subSequenceNumber === undefined || record.subSequenceNumber >= record.subRecordCount - 1;
  return {
    sequenceNumber: record.sequenceNumber,
    subSequenceNumber: whole ? undefined : record.subSequenceNumber,
  };
}

export function formatCheckpoint(position: ExtendedSequenceNumber): string {
  return position.subSequenceNumber === undefined
    ? position.sequenceNumber
    : `${position.sequenceNumber}/${position.subSequenceNumber}`;
}

/** The position a checkpoint names, or undefined if it names none (SHARD_END, garbage). */
export function parseCheckpoint(text: string): ExtendedSequenceNumber | undefined {
  const match = /^(0|[1-9][0-9]*)(?:\/(0|[1-9][0-9]{0,9}))?$/.exec(text);
  if (match === null) return undefined;
  const [, sequenceNumber = "", sub] = match;
  return { sequenceNumber, subSequenceNumber: sub === undefined ? undefined : Number(sub) };
}

/** Orders positions; a whole record comes after every user record of it. */
export function compareExtendedSequenceNumbers(
  a: ExtendedSequenceNumber,
  b: ExtendedSequenceNumber,
): number {
  // Sequence numbers are decimal numbers of up to 128 bits, not fixed-width strings.
  const bySequence = BigInt(a.sequenceNumber) - BigInt(b.sequenceNumber);
  if (bySequence !== 0n) return bySequence < 0n ? -1 : 1;
  const subA = a.subSequenceNumber ?? Infinity;
  const subB = b.subSequenceNumber ?? Infinity;
  return subA === subB ? 0 : subA < subB ? -1 : 1;
}

/** Whether a record read after resuming is past the checkpoint, that is, not yet done. */
export function isAfterCheckpoint(
  record: ExtendedSequenceNumber,
  checkpoint: ExtendedSequenceNumber,
): boolean {
  return compareExtendedSequenceNumbers(record, checkpoint) > 0;
}

export interface ResumePosition {
  readonly ShardIteratorType: "AFTER_SEQUENCE_NUMBER" | "AT_SEQUENCE_NUMBER";
  readonly StartingSequenceNumber: string;
}

/**
 * Where GetShardIterator resumes: after a whole record, or at a partly done aggregate, whose user
 * records up to the checkpoint the reader then skips (isAfterCheckpoint).
 */
export function resumePosition(checkpoint: ExtendedSequenceNumber): ResumePosition {
  return {
    ShardIteratorType:
      checkpoint.subSequenceNumber === undefined ? "AFTER_SEQUENCE_NUMBER" : "AT_SEQUENCE_NUMBER",
    StartingSequenceNumber: checkpoint.sequenceNumber,
  };
}

/**
 * The later of two checkpoints (either may be missing). A checkpoint that names no position
 * (SHARD_END) wins: nothing of the shard is left.
 */
export function laterCheckpoint(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined || b === undefined) return a ?? b;
  const positionA = parseCheckpoint(a);
  const positionB = parseCheckpoint(b);
  if (positionA === undefined) return a;
  if (positionB === undefined) return b;
  return compareExtendedSequenceNumbers(positionA, positionB) >= 0 ? a : b;
}
