// Which shard a record belongs to: Kinesis maps each record to a 128-bit hash key, its explicit hash
// key if the producer set one, else the MD5 of its partition key read as a big-endian unsigned
// integer, and a shard owns a closed range of those keys.
import { createHash } from "node:crypto";

export interface HashKeyRange {
  readonly startingHashKey: bigint;
  readonly endingHashKey: bigint;
}

export interface HashKeyed {
  readonly partitionKey: string;
  /** A decimal 128-bit number, as Kinesis takes it. */
  readonly explicitHashKey: string | undefined;
}

const maxHashKey = (1n << 128n) - 1n;

/** A shard's range as ListShards returns it (decimal strings). */
export function parseHashKeyRange(range: {
  StartingHashKey: string;
  EndingHashKey: string;
}): HashKeyRange {
  return {
    startingHashKey: BigInt(range.StartingHashKey),
    endingHashKey: BigInt(range.EndingHashKey),
  };
}

/** Whether text is a hash key Kinesis would accept: a decimal number from 0 to 2^128 - 1. */
export function isHashKey(text: string): boolean {
  return /^(0|[1-9][0-9]{0,38})$/.test(text) && BigInt(text) <= maxHashKey;
}

export function partitionKeyHash(partitionKey: string): bigint {
  return BigInt(`0x${createHash("md5").update(partitionKey, "utf8").digest("hex")}`);
}

export function effectiveHashKey(record: HashKeyed): bigint {
  return record.explicitHashKey === undefined
    ? partitionKeyHash(record.partitionKey)
    : BigInt(record.explicitHashKey);
}

export function inHashKeyRange(record: HashKeyed, range: HashKeyRange): boolean {
  const key = effectiveHashKey(record);
  return key >= range.startingHashKey && key <= range.endingHashKey;
}

/**
 * KCL's rule after resharding, for the user records of one Kinesis record: if any user record of
 * an aggregate falls outside the shard's range, the whole aggregate is skipped. The KPL packs an
 * aggregate for the one shard its (possibly stale) shard map predicts, and when the aggregate lands
 * elsewhere it sends every user record of it again, so the misplaced aggregate is a duplicate.
 * A plain record is never skipped: Kinesis put it on this shard itself.
 */
export function withinShard<T extends HashKeyed & { readonly aggregated: boolean }>(
  userRecords: readonly T[],
  range: HashKeyRange,
): readonly T[] {
  const misplaced = userRecords.some(
    (record) => record.aggregated && !inHashKeyRange(record, range),
  );
  return misplaced ? [] : userRecords;
}
