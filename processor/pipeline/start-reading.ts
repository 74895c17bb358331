// Starts reading a shard, as the KCL's ShardConsumer initializes: a fresh tracker resuming after
// the given checkpoint, a reading with zeroed figures in the readings map, and a reader whose end
// is reported back (read to the shard's end, or stopped: by its own abort, the processor's, or a
// fatal error of the engine).
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { Logger } from "pino";
import { createShardTracker } from "../checkpoint/tracker.ts";
import type { ProcessorConfig } from "../config/schema.ts";
import { describeError } from "../kinesis/errors.ts";
import { readShard, type ShardReaderObserver, type SourceRecord } from "../kinesis/shard-reader.ts";
import type { ShardInfo } from "../kinesis/shard-lineage.ts";
import type { FixedStartPosition } from "../kinesis/start-position.ts";
import type { Reading, ShardReadings } from "./shard-readings.ts";

/** A reading of the shard not started yet: nothing read, resuming after `startAfter`. */
export function newReading(shardId: string, startAfter: string | undefined): Reading {
  return {
    tracker: createShardTracker(shardId, startAfter),
    status: {
      shardId,
      state: "reading",
      recordsRead: 0,
      pending: 0,
      millisBehindLatest: undefined,
      checkpoint: startAfter,
      lastError: undefined,
      failed: 0,
      lastFailure: undefined,
    },
    aborter: new AbortController(),
    done: Promise.resolve(),
    taken: 0,
  };
}

export interface StartReadingOptions {
  client: KinesisClient;
  source: ProcessorConfig["source"];
  startPosition: FixedStartPosition;
  maxPendingRecords: number;
  readings: ShardReadings;
  submit: (record: SourceRecord) => Promise<void> | undefined;
  observer: ShardReaderObserver;
  /** Stops every reader: the processor stops. */
  signal: AbortSignal;
  logger: Logger;
  /** The reader reached the end of the closed shard. */
  onReadToEnd(reading: Reading): Promise<void>;
  /** The reader stopped without reaching the end; an error is on the reading's status. */
  onStopped(reading: Reading): void;
}

/** Reads the shard after `startAfter` (or from the start position); the reading is in the map. */
export function startReading(
  options: StartReadingOptions,
  shard: ShardInfo,
  startAfter: string | undefined,
): Reading {
  const { source } = options;
  const reading = newReading(shard.shardId, startAfter);
  options.readings.set(shard.shardId, reading);
  options.logger.info(
    { shardId: shard.shardId, startAfter: startAfter ?? options.startPosition },
    "reading shard",
  );
  reading.done = readShard({
    client: options.client,
    stream: source.stream,
    tracker: reading.tracker,
    startAfter,
    hashKeyRange: shard.hashKeyRange,
    startPosition: options.startPosition,
    maxRecordsPerFetch: source.maxRecordsPerFetch,
    maxPendingRecords: options.maxPendingRecords,
    idleTimeBetweenReadsMs: source.idleTimeBetweenReadsMs,
    submit: options.submit,
    observer: options.observer,
    signal: AbortSignal.any([options.signal, reading.aborter.signal]),
  }).then(
    async (ending) => {
      if (ending === "ended") await options.onReadToEnd(reading);
      else options.onStopped(reading);
    },
    (error: unknown) => {
      // The engine refused a record: it stopped on a fatal error the processor is handling.
      options.onStopped(reading);
      reading.status.lastError = describeError(error);
    },
  );
  return reading;
}
