// Keeps a reader running for every shard that may be read: lists shards periodically, resumes each
// from its checkpoint, and starts a child only after its parents have ended (SHARD_END).
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { Logger } from "pino";
import type { Checkpointer } from "../checkpoint/checkpointer.ts";
import { SHARD_END, type CheckpointStore } from "../checkpoint/store.ts";
import { createShardTracker, type ShardTracker } from "../checkpoint/tracker.ts";
import type { ProcessorConfig } from "../config/schema.ts";
import { describeError } from "../kinesis/errors.ts";
import { listShards } from "../kinesis/list-shards.ts";
import { readShard, type SourceRecord } from "../kinesis/shard-reader.ts";
import { readableShards } from "../kinesis/shard-lineage.ts";
import type { ProcessorMetrics } from "../metrics/processor-metrics.ts";
import { aborted, pause } from "../util/pause.ts";

export interface ShardStatus {
  shardId: string;
  state: "reading" | "draining" | "finished" | "stopped";
  recordsRead: number;
  millisBehindLatest: number | undefined;
  checkpoint: string | undefined;
  lastError: string | undefined;
}

export interface ShardSupervisorOptions {
  client: KinesisClient;
  source: ProcessorConfig["source"];
  store: CheckpointStore;
  checkpointer: Checkpointer;
  submit(record: SourceRecord): Promise<void> | undefined;
  metrics: ProcessorMetrics;
  logger: Logger;
}

interface Reading {
  tracker: ShardTracker;
  status: ShardStatus;
  done: Promise<void>;
}

export function createShardSupervisor(options: ShardSupervisorOptions) {
  const { client, source, store, checkpointer, metrics, logger } = options;
  const aborter = new AbortController();
  const readings = new Map<string, Reading>();
  const storedCheckpoints = new Map<string, string | undefined>();
  let discovered = false;
  let discoveryError: string | undefined;
  let wake: (() => void) | undefined;

  const isFinished = (shardId: string): boolean => storedCheckpoints.get(shardId) === SHARD_END;

  const observer = {
    fetched(shardId: string, records: number, millisBehindLatest: number | undefined) {
      const reading = readings.get(shardId);
      if (reading === undefined) return;
      reading.status.recordsRead += records;
      reading.status.millisBehindLatest = millisBehindLatest;
      reading.status.lastError = undefined;
      metrics.recordsIn.inc(records);
      if (millisBehindLatest !== undefined) {
        metrics.millisBehindLatest.labels(shardId).set(millisBehindLatest);
      }
    },
    failed(shardId: string, error: unknown, attempt: number) {
      const reading = readings.get(shardId);
      if (reading !== undefined) reading.status.lastError = describeError(error);
      metrics.sourceErrors.inc();
      logger[attempt > 3 ? "warn" : "debug"](
        { shardId, attempt, err: describeError(error) },
        "reading the shard failed; retrying with backoff",
      );
    },
  };

  /** After the last record of an ended shard is acknowledged, marks it SHARD_END for its children. */
  const finishShard = async (reading: Reading): Promise<void> => {
    const { tracker, status } = reading;
    status.state = "draining";
    while (!tracker.finished && !aborter.signal.aborted) await pause(100, aborter.signal);
    if (!tracker.finished) return;
    await checkpointer.write(tracker.shardId, SHARD_END);
    storedCheckpoints.set(tracker.shardId, SHARD_END);
    status.state = "finished";
    status.checkpoint = SHARD_END;
    logger.info({ shardId: tracker.shardId }, "shard read to its end and checkpointed");
    wake?.();
  };

  const startReading = (shardId: string): void => {
    const startAfter = storedCheckpoints.get(shardId);
    const tracker = createShardTracker(shardId, startAfter);
    const status: ShardStatus = {
      shardId,
      state: "reading",
      recordsRead: 0,
      millisBehindLatest: undefined,
      checkpoint: startAfter,
      lastError: undefined,
    };
    const reading: Reading = { tracker, status, done: Promise.resolve() };
    readings.set(shardId, reading);
    logger.info({ shardId, startAfter: startAfter ?? source.startPosition.type }, "reading shard");
    reading.done = readShard({
      client,
      stream: source.stream,
      tracker,
      startAfter,
      startPosition: source.startPosition,
      maxRecordsPerFetch: source.maxRecordsPerFetch,
      idleTimeBetweenReadsMs: source.idleTimeBetweenReadsMs,
      submit: (record) => options.submit(record),
      observer,
      signal: aborter.signal,
    }).then(async (ending) => {
      if (ending === "ended") await finishShard(reading);
      else status.state = "stopped";
    });
  };

  const discover = async (): Promise<void> => {
    const shards = await listShards(client, source.stream, aborter.signal);
    for (const shard of shards) {
      if (!storedCheckpoints.has(shard.shardId)) {
        storedCheckpoints.set(shard.shardId, await store.get(shard.shardId));
      }
    }
    for (const shard of readableShards(shards, isFinished)) {
      if (!readings.has(shard.shardId)) startReading(shard.shardId);
    }
    discovered = true;
  };

  const loop = async (): Promise<void> => {
    while (!aborter.signal.aborted) {
      try {
        await discover();
        discoveryError = undefined;
      } catch (error) {
        if (aborted(aborter.signal)) break;
        discoveryError = describeError(error);
        logger.warn(
          { err: discoveryError, stream: source.stream },
          "listing shards failed; will retry",
        );
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        void pause(discovered ? source.shardDiscoveryIntervalMs : 1_000, aborter.signal).then(
          resolve,
        );
      });
    }
  };

  let running: Promise<void> = Promise.resolve();

  return {
    start(): void {
      running = loop();
    },
    /** Stops reading; records already submitted stay in the engine to be drained. */
    async stop(): Promise<void> {
      aborter.abort();
      wake?.();
      await running;
      await Promise.all([...readings.values()].map((reading) => reading.done));
    },
    trackers(): ShardTracker[] {
      return [...readings.values()].map((reading) => reading.tracker);
    },
    status(): { discovered: boolean; discoveryError: string | undefined; shards: ShardStatus[] } {
      for (const reading of readings.values()) {
        reading.status.checkpoint =
          checkpointer.lastWritten(reading.status.shardId) ?? reading.status.checkpoint;
      }
      return {
        discovered,
        discoveryError,
        shards: [...readings.values()].map((reading) => ({ ...reading.status })),
      };
    },
  };
}

export type ShardSupervisor = ReturnType<typeof createShardSupervisor>;
