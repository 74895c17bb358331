// The sink: buffers records into PutRecords calls (up to 500 entries and the request byte limit,
// after a short linger), retries only the entries that failed, paces itself down when the stream
// throttles (AIMD), and acknowledges each record once Kinesis has it. It never drops a record: a
// dead stream slows the job down instead, and `add` pushes back once the buffer is full. With
// aggregation on, records are packed into KPL aggregates first (sink-packing.ts): an entry then
// carries many records, all acknowledged when it is written and all retried when it is not.
import { PutRecordsCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import { acknowledge } from "../checkpoint/tracker.ts";
import { Fifo } from "../engine/fifo.ts";
import { backoffCeiling, equalJitter } from "../util/backoff.ts";
import { aborted, pause } from "../util/pause.ts";
import { onThrottled, onWritten, sendTimeMs, type SendRate } from "./aimd.ts";
import { streamParameter } from "./client.ts";
import { isThrottling } from "./errors.ts";
import { takeKeyOrderedBatch } from "./key-ordered-batch.ts";
import {
  aggregatingPacker,
  plainPacker,
  type EntryPacker,
  type PutEntry,
  type SinkEntry,
} from "./sink-packing.ts";

export type { SinkEntry } from "./sink-packing.ts";

export interface RecordSink {
  /** Buffers a record. Returns a promise when the buffer is full: await it before adding more. */
  add(entry: SinkEntry): Promise<void> | undefined;
  /** Sends everything buffered and resolves once all of it is acknowledged. */
  flush(): Promise<void>;
  /** Gives up on retries (shutdown past its grace): unwritten records stay unacknowledged. */
  abort(): void;
  /** Records added and not yet acknowledged. */
  readonly unacknowledged: number;
}

export interface SinkObserver {
  written(records: number, seconds: number): void;
  /** A whole call failed, or some entries of it; `entries` were not written. */
  failed(entries: number, reason: string, throttled: boolean): void;
  /** With aggregation: ListShards of the stream failed, so records are packed per hash key. */
  shardMapFailed?(reason: string): void;
}

export interface SinkAggregation {
  /** Largest aggregate, data plus partition key. */
  maxBytes: number;
  maxRecords: number;
  /** How often the stream's shard map is listed again (default one minute). */
  shardMapRefreshMs?: number | undefined;
}

export interface PutBatcherOptions {
  client: KinesisClient;
  stream: string;
  maxBatchRecords: number;
  maxBatchBytes: number;
  lingerMs: number;
  maxInFlightBatches: number;
  observer: SinkObserver;
  /** KPL aggregation on write; off when absent. */
  aggregation?: SinkAggregation | undefined;
  /** Ordered mode: one entry per key in a call, so a retried entry is never overtaken by its key. */
  keyOrdered?: boolean;
}

/** What a record weighs in the buffer's byte bound (partition keys counted in UTF-16 units). */
const recordWeight = (record: SinkEntry): number => record.data.length + record.partitionKey.length;

/** Between PutRecords attempts of a batch; the AIMD rate paces the stream besides. */
const writeBackoff = { baseMs: 100, maxMs: 5_000 };

const requestEntry = (entry: PutEntry) => ({
  Data: entry.data,
  PartitionKey: entry.partitionKey,
  ...(entry.explicitHashKey === undefined ? {} : { ExplicitHashKey: entry.explicitHashKey }),
});

export function createPutBatcher(options: PutBatcherOptions): RecordSink {
  const { client, stream, maxBatchRecords, maxBatchBytes, observer } = options;
  // One batch in each flight slot and one more filling, counted in entries and in record bytes.
  const entryHighWater = maxBatchRecords * (options.maxInFlightBatches + 1);
  const byteHighWater = maxBatchBytes * (options.maxInFlightBatches + 1);
  const aborter = new AbortController();
  const packer: EntryPacker =
    options.aggregation === undefined
      ? plainPacker()
      : aggregatingPacker({
          client,
          stream,
          maxBytes: options.aggregation.maxBytes,
          maxRecords: options.aggregation.maxRecords,
          refreshIntervalMs: options.aggregation.shardMapRefreshMs,
          signal: aborter.signal,
          onShardMapError: (reason) => observer.shardMapFailed?.(reason),
        });
  const buffer = new Fifo<PutEntry>();
  let bufferedBytes = 0;
  /** Entries buffered or in flight. */
  let entries = 0;
  let unacknowledged = 0;
  let unacknowledgedWeight = 0;
  let batchesInFlight = 0;
  let lingerTimer: NodeJS.Timeout | undefined;
  let lingerExpired = false;
  let rate: SendRate = { recordsPerSecond: undefined };
  let lastSendAt = 0;
  const spaceWaiters: (() => void)[] = [];
  const idleWaiters: (() => void)[] = [];

  const hasRoom = (): boolean => entries < entryHighWater && unacknowledgedWeight < byteHighWater;

  const enqueue = (completed: readonly PutEntry[]): void => {
    for (const entry of completed) {
      buffer.push(entry);
      bufferedBytes += entry.bytes;
      entries++;
    }
  };

  const takeKeyOrdered = (): PutEntry[] => {
    const { batch, bytes, left } = takeKeyOrderedBatch(buffer.drain(), {
      maxRecords: maxBatchRecords,
      maxBytes: maxBatchBytes,
    });
    for (const entry of left) buffer.push(entry);
    bufferedBytes -= bytes;
    return batch;
  };

  const takeBatch = (): PutEntry[] => {
    if (options.keyOrdered === true) return takeKeyOrdered();
    const batch: PutEntry[] = [];
    let bytes = 0;
    for (let next = buffer.peek(); next !== undefined; next = buffer.peek()) {
      if (
        batch.length === maxBatchRecords ||
        (batch.length > 0 && bytes + next.bytes > maxBatchBytes)
      ) {
        break;
      }
      buffer.shift();
      bytes += next.bytes;
      batch.push(next);
    }
    bufferedBytes -= bytes;
    return batch;
  };

  const fullBatchBuffered = (): boolean =>
    buffer.size >= maxBatchRecords || bufferedBytes >= maxBatchBytes;

  // Every record is in a sent batch within lingerMs of its add, unless all flight slots are busy:
  // the timer runs while an aggregate is open, or while entries wait for a fuller batch.
  const armLinger = (): void => {
    if (lingerTimer !== undefined) return;
    if (packer.pendingRecords > 0 || (buffer.size > 0 && !lingerExpired)) {
      lingerTimer = setTimeout(() => {
        lingerTimer = undefined;
        lingerExpired = true;
        enqueue(packer.flush());
        dispatch();
      }, options.lingerMs);
    }
  };

  const dispatch = (): void => {
    while (
      batchesInFlight < options.maxInFlightBatches &&
      buffer.size > 0 &&
      (lingerExpired || fullBatchBuffered())
    ) {
      const batch = takeBatch();
      batchesInFlight++;
      void send(batch).finally(() => {
        batchesInFlight--;
        entries -= batch.length;
        for (const entry of batch) {
          unacknowledged -= entry.records.length;
          for (const record of entry.records) unacknowledgedWeight -= recordWeight(record);
        }
        while (spaceWaiters.length > 0 && hasRoom()) spaceWaiters.shift()?.();
        if (buffer.size === 0) lingerExpired = false;
        dispatch();
        if (unacknowledged === 0) for (const resolve of idleWaiters.splice(0)) resolve();
      });
    }
    armLinger();
  };

  const send = async (batch: readonly PutEntry[]): Promise<void> => {
    let remaining = batch;
    for (let attempt = 1; remaining.length > 0 && !aborter.signal.aborted; attempt++) {
      await pause(
        sendTimeMs(rate, remaining.length) - (performance.now() - lastSendAt),
        aborter.signal,
      );
      lastSendAt = performance.now();
      const started = performance.now();
      const again: PutEntry[] = [];
      let failed = 0;
      let misplaced = 0;
      let throttled = false;
      let reason = "";
      try {
        const response = await client.send(
          new PutRecordsCommand({
            ...streamParameter(stream),
            Records: remaining.map(requestEntry),
          }),
          { abortSignal: aborter.signal },
        );
        const results = response.Records ?? [];
        let written = 0;
        remaining.forEach((entry, index) => {
          const result = results[index];
          if (result === undefined || result.ErrorCode !== undefined) {
            again.push(entry);
            failed++;
            throttled ||= result?.ErrorCode === "ProvisionedThroughputExceededException";
            reason = `${result?.ErrorCode ?? "MissingResult"}: ${result?.ErrorMessage ?? ""}`;
            return;
          }
          const repacked = packer.misplaced(entry, result.ShardId);
          if (repacked !== undefined) {
            again.push(...repacked);
            misplaced++;
            return;
          }
          for (const record of entry.records) acknowledge(record.receipt);
          written += entry.records.length;
        });
        observer.written(written, (performance.now() - started) / 1000);
      } catch (error) {
        if (aborted(aborter.signal)) return;
        again.push(...remaining);
        failed = remaining.length;
        throttled = isThrottling(error);
        reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
      const seconds = (performance.now() - started) / 1000;
      rate = throttled
        ? onThrottled(rate, remaining.length / Math.max(seconds, 0.001))
        : onWritten(rate);
      if (misplaced > 0) {
        observer.failed(misplaced, "WrongShard: aggregate written to another shard", false);
      }
      remaining = again;
      if (failed === 0) continue; // nothing failed, or only misplaced aggregates: resend now
      observer.failed(failed, reason, throttled);
      await pause(equalJitter(backoffCeiling(writeBackoff, attempt)), aborter.signal);
    }
  };

  return {
    add(entry) {
      unacknowledged++;
      unacknowledgedWeight += recordWeight(entry);
      const completed = packer.add(entry);
      if (completed.length > 0) enqueue(completed);
      if (fullBatchBuffered() || lingerExpired || lingerTimer === undefined) dispatch();
      if (hasRoom()) return undefined;
      return new Promise<void>((resolve) => spaceWaiters.push(resolve));
    },
    flush() {
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
      lingerExpired = true;
      enqueue(packer.flush());
      dispatch();
      if (unacknowledged === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idleWaiters.push(resolve));
    },
    abort() {
      aborter.abort();
      clearTimeout(lingerTimer);
      for (const resolve of [...spaceWaiters.splice(0), ...idleWaiters.splice(0)]) resolve();
    },
    get unacknowledged() {
      return unacknowledged;
    },
  };
}
