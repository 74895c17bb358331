// Reads one shard with GetRecords and submits each user record (KPL aggregates de-aggregated) to
// the engine in order, awaiting a free slot when the engine is full (backpressure), within the
// per-shard limit of 5 calls a second.
// Reading also pauses while the shard has `maxPendingRecords` records not yet acknowledged, so a
// record stuck ahead of the checkpoint bounds memory and the replay after a crash.
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetRecordsCommandOutput,
  type KinesisClient,
  type ShardIteratorType,
} from "@aws-sdk/client-kinesis";
import type { Receipt, ShardTracker } from "../checkpoint/tracker.ts";
import { backoffCeiling, equalJitter } from "../util/backoff.ts";
import { aborted, pause } from "../util/pause.ts";
import { streamParameter } from "./client.ts";
import { isExpiredIterator, isThrottling } from "./errors.ts";
import {
  parseCheckpoint,
  resumePosition,
  type ExtendedSequenceNumber,
} from "./kpl/extended-sequence-number.ts";
import type { HashKeyRange } from "./kpl/hash-key.ts";
import type { FixedStartPosition } from "./start-position.ts";
import { userRecordsOf, type ExtractStats } from "./user-records.ts";

export interface SourceRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** The user record's index in its KPL aggregate; undefined for a plain record. */
  readonly subSequenceNumber?: number | undefined;
  readonly partitionKey: string;
  readonly data: Uint8Array;
  readonly arrivedAt: Date | undefined;
  readonly receipt: Receipt;
}

export interface ShardReaderObserver {
  /** `records` counts user records (an aggregate counts its user records). */
  fetched(shardId: string, records: number, millisBehindLatest: number | undefined): void;
  /** KPL aggregates read, those passed on whole, and user records skipped as misplaced. */
  deaggregated(shardId: string, stats: ExtractStats): void;
  failed(shardId: string, error: unknown, attempt: number): void;
}

export interface ShardReaderOptions {
  client: KinesisClient;
  stream: string;
  tracker: ShardTracker;
  /** The checkpoint to resume after, if the shard has one (plain, or inside an aggregate). */
  startAfter: string | undefined;
  /** The shard's hash key range: aggregates a stale producer put outside it are skipped. */
  hashKeyRange: HashKeyRange | undefined;
  /** Where to start without a checkpoint (LATEST already fixed to a moment). */
  startPosition: FixedStartPosition;
  maxRecordsPerFetch: number;
  /** Reading pauses while this many of the shard's records are not acknowledged. */
  maxPendingRecords: number;
  idleTimeBetweenReadsMs: number;
  /** Errors it throws end the reader (the engine has stopped); they are not read errors. */
  submit(record: SourceRecord): Promise<void> | undefined;
  observer: ShardReaderObserver;
  signal: AbortSignal;
}

/** GetRecords allows 5 calls a second per shard. */
const minMsBetweenCalls = 200;
const maxBackoffMs = 10_000;

type IteratorPosition = {
  ShardIteratorType: ShardIteratorType;
  StartingSequenceNumber?: string;
  Timestamp?: Date;
};

/** Right after the last record read (at it, inside an aggregate), or at the fixed start. */
export function iteratorPosition(
  lastRead: ExtendedSequenceNumber | undefined,
  start: FixedStartPosition,
): IteratorPosition {
  if (lastRead !== undefined) return resumePosition(lastRead);
  return start.type === "AT_TIMESTAMP"
    ? { ShardIteratorType: "AT_TIMESTAMP", Timestamp: new Date(start.timestamp) }
    : { ShardIteratorType: start.type };
}

/** Resolves "ended" when the shard is closed and fully read, "stopped" when the signal aborted. */
export async function readShard(options: ShardReaderOptions): Promise<"ended" | "stopped"> {
  const { client, stream, tracker, signal, observer } = options;
  const shardId = tracker.shardId;
  // A checkpoint that is no position at all is passed on as it is: Kinesis refuses it, and the
  // error shows on the shard's status instead of the shard silently starting over.
  let lastRead: ExtendedSequenceNumber | undefined =
    options.startAfter === undefined
      ? undefined
      : (parseCheckpoint(options.startAfter) ?? {
          sequenceNumber: options.startAfter,
          subSequenceNumber: undefined,
        });
  let failures = 0;

  const openIterator = async (): Promise<string | undefined> => {
    const position = iteratorPosition(lastRead, options.startPosition);
    const response = await client.send(
      new GetShardIteratorCommand({ ...streamParameter(stream), ShardId: shardId, ...position }),
      { abortSignal: signal },
    );
    return response.ShardIterator;
  };

  const backOff = async (error: unknown): Promise<void> => {
    failures++;
    observer.failed(shardId, error, failures);
    const baseMs = isThrottling(error) ? 500 : 250;
    await pause(equalJitter(backoffCeiling({ baseMs, maxMs: maxBackoffMs }, failures)), signal);
  };

  /** Hands the user records to the engine in order; false if the reader was stopped meanwhile. */
  const submitAll = async (
    batches: ReturnType<typeof userRecordsOf>["batches"],
  ): Promise<boolean> => {
    for (const batch of batches) {
      for (const user of batch.records) {
        const full = tracker.whenPendingBelow(options.maxPendingRecords, signal);
        if (full !== undefined) await full;
        if (aborted(signal)) return false;
        const waiting = options.submit({
          shardId,
          sequenceNumber: user.sequenceNumber,
          subSequenceNumber: user.subSequenceNumber,
          partitionKey: user.partitionKey,
          data: user.data,
          arrivedAt: user.arrivedAt,
          receipt: tracker.track(user.checkpoint),
        });
        if (waiting !== undefined) await waiting;
        if (aborted(signal)) return false;
      }
      lastRead = batch.position;
    }
    return true;
  };

  let iterator: string | undefined;
  while (!signal.aborted) {
    const callStarted = performance.now();
    let response: GetRecordsCommandOutput;
    try {
      iterator ??= await openIterator();
      if (iterator === undefined) break;
      response = await client.send(
        new GetRecordsCommand({
          ShardIterator: iterator,
          Limit: options.maxRecordsPerFetch,
          ...(stream.startsWith("arn:") ? { StreamARN: stream } : {}),
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      if (aborted(signal)) break;
      // Only an expired iterator is re-opened (right after the last record handed to the engine,
      // or at the fixed start): GetRecords with the same iterator returns the same records, so a
      // throttle or a network error retries it and skips nothing.
      if (isExpiredIterator(error)) iterator = undefined;
      else await backOff(error);
      continue;
    }
    failures = 0;
    const records = response.Records ?? [];
    const read = userRecordsOf(records, options.hashKeyRange, lastRead);
    observer.fetched(shardId, read.userRecords, response.MillisBehindLatest);
    if (read.stats.aggregates > 0 || read.stats.rejected.length > 0) {
      observer.deaggregated(shardId, read.stats);
    }
    if (!(await submitAll(read.batches))) break;
    iterator = response.NextShardIterator;
    if (iterator === undefined) break;
    const caughtUp =
      records.length === 0 ||
      (response.MillisBehindLatest === 0 && records.length < options.maxRecordsPerFetch);
    const wait = caughtUp
      ? options.idleTimeBetweenReadsMs
      : minMsBetweenCalls - (performance.now() - callStarted);
    await pause(wait, signal);
  }
  if (aborted(signal)) return "stopped";
  tracker.markEnded();
  return "ended";
}
