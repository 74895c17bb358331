// Reads one shard with GetRecords and submits each record to the engine in order, awaiting a free
// slot when the engine is full (backpressure), within the per-shard limit of 5 calls a second.
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
import { aborted, pause } from "../util/pause.ts";
import { streamParameter } from "./client.ts";
import { isExpiredIterator, isThrottling } from "./errors.ts";
import type { FixedStartPosition } from "./start-position.ts";

export interface SourceRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Uint8Array;
  readonly arrivedAt: Date | undefined;
  readonly receipt: Receipt;
}

export interface ShardReaderObserver {
  fetched(shardId: string, records: number, millisBehindLatest: number | undefined): void;
  failed(shardId: string, error: unknown, attempt: number): void;
}

export interface ShardReaderOptions {
  client: KinesisClient;
  stream: string;
  tracker: ShardTracker;
  /** The checkpoint to resume after, if the shard has one. */
  startAfter: string | undefined;
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

/** Right after the last record read, or at the fixed start when none was read yet. */
export function iteratorPosition(
  lastRead: string | undefined,
  start: FixedStartPosition,
): IteratorPosition {
  if (lastRead !== undefined) {
    return { ShardIteratorType: "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber: lastRead };
  }
  return start.type === "AT_TIMESTAMP"
    ? { ShardIteratorType: "AT_TIMESTAMP", Timestamp: new Date(start.timestamp) }
    : { ShardIteratorType: start.type };
}

/** Resolves "ended" when the shard is closed and fully read, "stopped" when the signal aborted. */
export async function readShard(options: ShardReaderOptions): Promise<"ended" | "stopped"> {
  const { client, stream, tracker, signal, observer } = options;
  const shardId = tracker.shardId;
  let lastRead = options.startAfter;
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
    const ceiling = Math.min(maxBackoffMs, (isThrottling(error) ? 500 : 250) * 2 ** (failures - 1));
    await pause(ceiling / 2 + (Math.random() * ceiling) / 2, signal);
  };

  /** Hands the records to the engine in order; false if the reader was stopped meanwhile. */
  const submitAll = async (response: GetRecordsCommandOutput): Promise<boolean> => {
    for (const record of response.Records ?? []) {
      const full = tracker.whenPendingBelow(options.maxPendingRecords, signal);
      if (full !== undefined) await full;
      if (aborted(signal)) return false;
      const sequenceNumber = record.SequenceNumber ?? "";
      const waiting = options.submit({
        shardId,
        sequenceNumber,
        partitionKey: record.PartitionKey ?? "",
        data: record.Data ?? new Uint8Array(),
        arrivedAt: record.ApproximateArrivalTimestamp,
        receipt: tracker.track(sequenceNumber),
      });
      if (waiting !== undefined) await waiting;
      lastRead = sequenceNumber;
      if (aborted(signal)) return false;
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
    observer.fetched(shardId, records.length, response.MillisBehindLatest);
    if (!(await submitAll(response))) break;
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
