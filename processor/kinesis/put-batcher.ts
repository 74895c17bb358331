// The sink: buffers records into PutRecords calls (up to 500 records and the request byte limit,
// after a short linger), retries only the entries that failed, paces itself down when the stream
// throttles (AIMD), and acknowledges each record once Kinesis has it. It never drops a record: a
// dead stream slows the job down instead, and `add` pushes back once the buffer is full.
import { PutRecordsCommand, type KinesisClient } from "@aws-sdk/client-kinesis";
import { acknowledge, type Receipt } from "../checkpoint/tracker.ts";
import { Fifo } from "../engine/fifo.ts";
import { aborted, pause } from "../util/pause.ts";
import { onThrottled, onWritten, sendTimeMs, type SendRate } from "./aimd.ts";
import { streamParameter } from "./client.ts";
import { isThrottling } from "./errors.ts";

export interface SinkEntry {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly receipt: Receipt;
}

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
}

export interface PutBatcherOptions {
  client: KinesisClient;
  stream: string;
  maxBatchRecords: number;
  maxBatchBytes: number;
  lingerMs: number;
  maxInFlightBatches: number;
  observer: SinkObserver;
}

const entryBytes = (entry: SinkEntry): number =>
  entry.data.length + Buffer.byteLength(entry.partitionKey);

export function createPutBatcher(options: PutBatcherOptions): RecordSink {
  const { client, stream, maxBatchRecords, maxBatchBytes, observer } = options;
  const highWater = maxBatchRecords * (options.maxInFlightBatches + 1);
  const aborter = new AbortController();
  const buffer = new Fifo<SinkEntry>();
  let bufferedBytes = 0;
  let unacknowledged = 0;
  let batchesInFlight = 0;
  let lingerTimer: NodeJS.Timeout | undefined;
  let lingerExpired = false;
  let rate: SendRate = { recordsPerSecond: undefined };
  let lastSendAt = 0;
  const spaceWaiters: (() => void)[] = [];
  const idleWaiters: (() => void)[] = [];

  const takeBatch = (): SinkEntry[] => {
    const batch: SinkEntry[] = [];
    let bytes = 0;
    for (let next = buffer.peek(); next !== undefined; next = buffer.peek()) {
      const size = entryBytes(next);
      if (batch.length === maxBatchRecords || (batch.length > 0 && bytes + size > maxBatchBytes)) {
        break;
      }
      buffer.shift();
      bytes += size;
      batch.push(next);
    }
    bufferedBytes -= bytes;
    return batch;
  };

  const fullBatchBuffered = (): boolean =>
    buffer.size >= maxBatchRecords || bufferedBytes >= maxBatchBytes;

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
        unacknowledged -= batch.length;
        while (spaceWaiters.length > 0 && unacknowledged < highWater) spaceWaiters.shift()?.();
        if (buffer.size === 0) lingerExpired = false;
        dispatch();
        if (unacknowledged === 0) for (const resolve of idleWaiters.splice(0)) resolve();
      });
    }
    if (buffer.size > 0 && lingerTimer === undefined && !lingerExpired) {
      lingerTimer = setTimeout(() => {
        lingerTimer = undefined;
        lingerExpired = true;
        dispatch();
      }, options.lingerMs);
    }
  };

  const send = async (batch: SinkEntry[]): Promise<void> => {
    let remaining = batch;
    for (let attempt = 1; remaining.length > 0 && !aborter.signal.aborted; attempt++) {
      await pause(
        sendTimeMs(rate, remaining.length) - (performance.now() - lastSendAt),
        aborter.signal,
      );
      lastSendAt = performance.now();
      const started = performance.now();
      let failed: SinkEntry[];
      let throttled: boolean;
      let reason: string;
      try {
        const response = await client.send(
          new PutRecordsCommand({
            ...streamParameter(stream),
            Records: remaining.map((entry) => ({
              Data: entry.data,
              PartitionKey: entry.partitionKey,
            })),
          }),
          { abortSignal: aborter.signal },
        );
        failed = [];
        throttled = false;
        reason = "";
        const results = response.Records ?? [];
        remaining.forEach((entry, index) => {
          const result = results[index];
          if (result === undefined || result.ErrorCode !== undefined) {
            failed.push(entry);
            throttled ||= result?.ErrorCode === "ProvisionedThroughputExceededException";
            reason = `${result?.ErrorCode ?? "MissingResult"}: ${result?.ErrorMessage ?? ""}`;
          } else {
            acknowledge(entry.receipt);
          }
        });
        observer.written(remaining.length - failed.length, (performance.now() - started) / 1000);
      } catch (error) {
        if (aborted(aborter.signal)) return;
        failed = remaining;
        throttled = isThrottling(error);
        reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      }
      const seconds = (performance.now() - started) / 1000;
      rate = throttled
        ? onThrottled(rate, remaining.length / Math.max(seconds, 0.001))
        : onWritten(rate);
      if (failed.length === 0) return;
      observer.failed(failed.length, reason, throttled);
      remaining = failed;
      const ceiling = Math.min(5_000, 100 * 2 ** Math.min(attempt - 1, 10));
      await pause(ceiling / 2 + (Math.random() * ceiling) / 2, aborter.signal);
    }
  };

  return {
    add(entry) {
      buffer.push(entry);
      bufferedBytes += entryBytes(entry);
      unacknowledged++;
      if (fullBatchBuffered() || lingerExpired || lingerTimer === undefined) dispatch();
      if (unacknowledged < highWater) return undefined;
      return new Promise<void>((resolve) => spaceWaiters.push(resolve));
    },
    flush() {
      clearTimeout(lingerTimer);
      lingerTimer = undefined;
      lingerExpired = true;
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
