// Aggregation on write: packs output records into KPL-format aggregates, which consumers that
// de-aggregate (KCL, Flink, Lambda, this processor) read as the separate records, at a fraction of
// the PutRecords entries and billed payload units when records are small.
//
// An aggregate lands on one shard, the one its explicit hash key picks (that of its first record,
// as the KPL does), and KCL skips a whole aggregate holding a record whose hash key lies outside
// that shard's range. So records share an aggregate only when they hash to the same shard: by the
// shard map when one is given (as the KPL does; see Aggregate.shardId for a stale map), else only
// records of the same hash key. That keeps the order per partition key too: a key's records always
// go to the same open aggregate, in order, and its aggregates are emitted in order.
//
// An aggregate of one record is emitted as that plain record, as the KPL does: some 25 bytes
// smaller, and readable by consumers that do not de-aggregate.
import { envelopeBytes, sealEnvelope } from "./envelope.ts";
import { partitionKeyHash } from "./hash-key.ts";
import { encodeAggregatedRecord } from "./messages.ts";

/** Kinesis' limit on a record's data plus its partition key. */
export const maxKinesisRecordBytes = 1_048_576;

export interface OutputRecord {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  /** A decimal 128-bit number, to pick the shard instead of the partition key's MD5. */
  readonly explicitHashKey?: string | undefined;
}

export interface ShardHashKeyRange {
  readonly shardId: string;
  readonly startingHashKey: bigint;
  readonly endingHashKey: bigint;
}

/** One PutRecords entry: an aggregate, or a single record as it was. */
export interface Aggregate<T extends OutputRecord> {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  /** The records in it, in the order added. */
  readonly records: readonly T[];
  /** What Kinesis counts against its record limit: data plus partition key. */
  readonly bytes: number;
  /**
   * The shard it was packed for, when a shard map was given. If PutRecords answers with another
   * shard for an entry of several records, the map was stale: KCL consumers will skip it, so its
   * records must be sent again, packed with a fresh map (the KPL does the same).
   */
  readonly shardId: string | undefined;
}

export interface AggregatorOptions {
  /** Data plus partition key per entry, at most maxKinesisRecordBytes. */
  readonly maxBytes: number;
  readonly maxRecords: number;
  /** The stream's open shards, for packing per shard; without it, per hash key. */
  readonly shards?: readonly ShardHashKeyRange[] | undefined;
}

export interface Aggregator<T extends OutputRecord> {
  /** Adds a record; returns the entries it completed (usually none), in the order to send them. */
  add(record: T): readonly Aggregate<T>[];
  /** Completes every open aggregate, in the order of their first records. */
  flush(): readonly Aggregate<T>[];
  /** Records added and not yet returned in an entry. */
  readonly pendingRecords: number;
}

interface OpenAggregate<T extends OutputRecord> {
  readonly shardId: string | undefined;
  readonly hashKey: bigint;
  readonly records: T[];
  readonly partitionKeys: Map<string, number>;
  readonly explicitHashKeys: Map<string, number>;
  /** Bytes of the protobuf body so far. */
  bodyBytes: number;
}

const varintBytes = (value: number): number => {
  let bytes = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) bytes++;
  return bytes;
};

// Every field of the format has a field number below 16: its tag takes one byte.
const lengthDelimitedBytes = (length: number): number => 1 + varintBytes(length) + length;

/** Body bytes that adding the record to the open aggregate would add. */
function addedBodyBytes<T extends OutputRecord>(open: OpenAggregate<T>, record: T): number {
  const { partitionKey, explicitHashKey } = record;
  let added = 0;
  const partitionKeyIndex = open.partitionKeys.get(partitionKey);
  if (partitionKeyIndex === undefined) {
    added += lengthDelimitedBytes(Buffer.byteLength(partitionKey));
  }
  let inner = 1 + varintBytes(partitionKeyIndex ?? open.partitionKeys.size);
  if (explicitHashKey !== undefined) {
    const explicitHashKeyIndex = open.explicitHashKeys.get(explicitHashKey);
    if (explicitHashKeyIndex === undefined) {
      added += lengthDelimitedBytes(Buffer.byteLength(explicitHashKey));
    }
    inner += 1 + varintBytes(explicitHashKeyIndex ?? open.explicitHashKeys.size);
  }
  inner += lengthDelimitedBytes(record.data.length);
  return added + lengthDelimitedBytes(inner);
}

function append<T extends OutputRecord>(open: OpenAggregate<T>, record: T): void {
  open.bodyBytes += addedBodyBytes(open, record);
  const { partitionKeys, explicitHashKeys } = open;
  if (!partitionKeys.has(record.partitionKey)) {
    partitionKeys.set(record.partitionKey, partitionKeys.size);
  }
  if (record.explicitHashKey !== undefined && !explicitHashKeys.has(record.explicitHashKey)) {
    explicitHashKeys.set(record.explicitHashKey, explicitHashKeys.size);
  }
  open.records.push(record);
}

function entryBytes<T extends OutputRecord>(open: OpenAggregate<T>, bodyBytes: number): number {
  const first = open.records[0];
  return first === undefined
    ? 0
    : envelopeBytes + bodyBytes + Buffer.byteLength(first.partitionKey);
}

function complete<T extends OutputRecord>(open: OpenAggregate<T>): Aggregate<T> {
  const [first] = open.records;
  if (first === undefined) throw new Error("an open aggregate always holds a record");
  if (open.records.length === 1) {
    return {
      data: first.data,
      partitionKey: first.partitionKey,
      explicitHashKey: first.explicitHashKey,
      records: open.records,
      bytes: first.data.length + Buffer.byteLength(first.partitionKey),
      shardId: open.shardId,
    };
  }
  const body = encodeAggregatedRecord({
    partitionKeyTable: [...open.partitionKeys.keys()],
    explicitHashKeyTable: [...open.explicitHashKeys.keys()],
    records: open.records.map((record) => ({
      partitionKeyIndex: BigInt(open.partitionKeys.get(record.partitionKey) ?? 0),
      explicitHashKeyIndex:
        record.explicitHashKey === undefined
          ? undefined
          : BigInt(open.explicitHashKeys.get(record.explicitHashKey) ?? 0),
      data: record.data,
      tags: [],
    })),
  });
  return {
    data: sealEnvelope(body),
    partitionKey: first.partitionKey,
    // The aggregate goes where its first record would have gone.
    explicitHashKey: open.hashKey.toString(),
    records: open.records,
    bytes: entryBytes(open, body.length),
    shardId: open.shardId,
  };
}

/** The shard whose range holds the key, in ranges sorted by starting hash key. */
function shardOf(
  sorted: readonly ShardHashKeyRange[],
  hashKey: bigint,
): ShardHashKeyRange | undefined {
  let low = 0;
  let high = sorted.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    const shard = sorted[middle];
    if (shard === undefined) return undefined;
    if (hashKey < shard.startingHashKey) high = middle - 1;
    else if (hashKey > shard.endingHashKey) low = middle + 1;
    else return shard;
  }
  return undefined;
}

export function createAggregator<T extends OutputRecord>(
  options: AggregatorOptions,
): Aggregator<T> {
  const { maxBytes, maxRecords } = options;
  if (
    !Number.isInteger(maxBytes) ||
    maxBytes <= envelopeBytes ||
    maxBytes > maxKinesisRecordBytes
  ) {
    throw new RangeError(`maxBytes must be from ${envelopeBytes + 1} to ${maxKinesisRecordBytes}`);
  }
  if (!Number.isInteger(maxRecords) || maxRecords < 1) {
    throw new RangeError("maxRecords must be a positive integer");
  }
  const shards = [...(options.shards ?? [])].sort((a, b) =>
    a.startingHashKey < b.startingHashKey ? -1 : a.startingHashKey > b.startingHashKey ? 1 : 0,
  );
  // Keyed by shard id or hash key; a Map keeps them in the order their aggregates opened.
  const open = new Map<string, OpenAggregate<T>>();
  let pendingRecords = 0;

  const close = (group: string, aggregate: OpenAggregate<T>): Aggregate<T> => {
    open.delete(group);
    pendingRecords -= aggregate.records.length;
    return complete(aggregate);
  };

  return {
    add(record) {
      const hashKey =
        record.explicitHashKey === undefined
          ? partitionKeyHash(record.partitionKey)
          : BigInt(record.explicitHashKey);
      const shardId = shardOf(shards, hashKey)?.shardId;
      const group = shardId ?? hashKey.toString();
      const completed: Aggregate<T>[] = [];
      let current = open.get(group);
      if (current !== undefined) {
        const grown = entryBytes(current, current.bodyBytes + addedBodyBytes(current, record));
        if (grown > maxBytes) {
          completed.push(close(group, current));
          current = undefined;
        }
      }
      if (current === undefined) {
        current = {
          shardId,
          hashKey,
          records: [],
          partitionKeys: new Map(),
          explicitHashKeys: new Map(),
          bodyBytes: 0,
        };
        const alone =
          envelopeBytes + addedBodyBytes(current, record) + Buffer.byteLength(record.partitionKey);
        // Too large to aggregate at all: sent as it is, as it would be without aggregation.
        if (alone > maxBytes) {
          current.records.push(record);
          completed.push(complete(current));
          return completed;
        }
        open.set(group, current);
      }
      append(current, record);
      pendingRecords++;
      if (current.records.length >= maxRecords) completed.push(close(group, current));
      return completed;
    },
    flush() {
      return [...open].map(([group, aggregate]) => close(group, aggregate));
    },
    get pendingRecords() {
      return pendingRecords;
    },
  };
}
