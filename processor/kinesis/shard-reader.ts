// Reads one shard with GetRecords and submits each record to the engine in order, awaiting a free
// slot when the engine is full (backpressure), within the per-shard limit of 5 calls a second.
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type KinesisClient,
  type ShardIteratorType,
} from "@aws-sdk/client-kinesis";
import type { Receipt, ShardTracker } from "../checkpoint/tracker.ts";
import type { StartPosition } from "../config/schema.ts";
import { aborted, pause } from "../util/pause.ts";
import { streamParameter } from "./client.ts";
import { isExpiredIterator, isThrottling } from "./errors.ts";

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
  startPosition: StartPosition;
  maxRecordsPerFetch: number;
  idleTimeBetweenReadsMs: number;
  submit(record: SourceRecord): Promise<void> | undefined;
  observer: ShardReaderObserver;
  signal: AbortSignal;
}

/** GetRecords allows 5 calls a second per shard. */
const minMsBetweenCalls = 200;
const maxBackoffMs = 10_000;

/** Resolves "ended" when the shard is closed and fully read, "stopped" when the signal aborted. */
export async function readShard(options: ShardReaderOptions): Promise<"ended" | "stopped"> {
  const { client, stream, tracker, signal, observer } = options;
  const shardId = tracker.shardId;
  let lastRead = options.startAfter;
  let failures = 0;

  const newIterator = async (): Promise<string | undefined> => {
    const position: {
      ShardIteratorType: ShardIteratorType;
      StartingSequenceNumber?: string;
      Timestamp?: Date;
    } =
      lastRead !== undefined
        ? { ShardIteratorType: "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber: lastRead }
        : options.startPosition.type === "AT_TIMESTAMP"
          ? {
              ShardIteratorType: "AT_TIMESTAMP",
              Timestamp: new Date(options.startPosition.timestamp),
            }
          : { ShardIteratorType: options.startPosition.type };
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

  let iterator: string | undefined;
  while (!signal.aborted) {
    const callStarted = performance.now();
    try {
      iterator ??= await newIterator();
      if (iterator === undefined) break;
      const response = await client.send(
        new GetRecordsCommand({
          ShardIterator: iterator,
          Limit: options.maxRecordsPerFetch,
          ...(stream.startsWith("arn:") ? { StreamARN: stream } : {}),
        }),
        { abortSignal: signal },
      );
      failures = 0;
      const records = response.Records ?? [];
      observer.fetched(shardId, records.length, response.MillisBehindLatest);
      for (const record of records) {
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
        if (aborted(signal)) break;
      }
      if (aborted(signal)) break;
      iterator = response.NextShardIterator;
      if (iterator === undefined) break;
      const caughtUp =
        records.length === 0 ||
        (response.MillisBehindLatest === 0 && records.length < options.maxRecordsPerFetch);
      const wait = caughtUp
        ? options.idleTimeBetweenReadsMs
        : minMsBetweenCalls - (performance.now() - callStarted);
      await pause(wait, signal);
    } catch (error) {
      if (aborted(signal)) break;
      // An expired iterator resumes right after the last record handed to the engine: nothing is
      // skipped, and nothing already in flight is read twice.
      iterator = undefined;
      if (!isExpiredIterator(error)) await backOff(error);
    }
  }
  if (aborted(signal)) return "stopped";
  tracker.markEnded();
  return "ended";
}
