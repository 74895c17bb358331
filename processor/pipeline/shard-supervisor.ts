// Keeps a reader running for every shard this processor owns: lists shards periodically, asks the
// coordinator which it owns (a child only after its parents ended, SHARD_END), resumes each from
// its checkpoint, and stops reading a shard the moment its ownership is lost.
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { Logger } from "pino";
import type { Checkpointer } from "../checkpoint/checkpointer.ts";
import type { ShardCoordinator } from "../checkpoint/coordinator.ts";
import { SHARD_END } from "../checkpoint/store.ts";
import { createShardTracker, type ShardTracker } from "../checkpoint/tracker.ts";
import type { ProcessorConfig } from "../config/schema.ts";
import { describeError } from "../kinesis/errors.ts";
import { listShards } from "../kinesis/list-shards.ts";
import { readShard, type SourceRecord } from "../kinesis/shard-reader.ts";
import { readableShards, type ShardInfo } from "../kinesis/shard-lineage.ts";
import { laterCheckpoint } from "../kinesis/kpl/extended-sequence-number.ts";
import type { FixedStartPosition } from "../kinesis/start-position.ts";
import type { ExtractStats } from "../kinesis/user-records.ts";
import type { ProcessorMetrics } from "../metrics/processor-metrics.ts";
import { aborted, pause } from "../util/pause.ts";
import { next, shownState, type ShardEvent, type ShardState } from "./shard-lifecycle.ts";
import type { Reading, ShardReadings, ShardStatus } from "./shard-readings.ts";

export interface ShardSupervisorOptions {
  client: KinesisClient;
  source: ProcessorConfig["source"];
  /** Where a shard without a checkpoint starts (LATEST fixed to a moment). */
  startPosition: FixedStartPosition;
  /** Reading a shard pauses while this many of its records are not acknowledged. */
  maxPendingRecords: number;
  coordinator: ShardCoordinator;
  checkpointer: Checkpointer;
  /** The shards read or drained here: the supervisor fills it, the processor reads figures off it. */
  readings: ShardReadings;
  submit(record: SourceRecord): Promise<void> | undefined;
  /** How long a shard handed to another processor may take to finish what was read. */
  handoverDrainMs: number;
  metrics: ProcessorMetrics;
  logger: Logger;
  /**
   * Hears how many open shards this processor counts as its own for the rate limit, and how many
   * are open, whenever either changes: a shard counts from the sync that confirms it held until
   * the moment it is lost, handed over or finished, so a shard changing hands is never counted by
   * two processors at once, bar a steal its holder has not noticed yet.
   */
  onShares?(held: number, open: number): void;
}

export function createShardSupervisor(options: ShardSupervisorOptions) {
  const { client, source, coordinator, checkpointer, metrics, logger } = options;
  const aborter = new AbortController();
  const { readings } = options;
  /** Each shard's state (shard-lifecycle.ts); a shard not in it is idle. */
  const states = new Map<string, ShardState>();
  /**
   * Trackers of shards dropped while read here (a Lease not renewed in time, taken, released):
   * they go on counting what was in flight as it is written. If the shard comes back, reading
   * resumes after the later of its Lease's checkpoint and what this processor had written since,
   * instead of replaying that from an old checkpoint it could not write meanwhile.
   */
  const dropped = new Map<string, ShardTracker>();
  /** Readers of shards given up, still winding down; awaited at stop. */
  const stopping = new Set<Promise<void>>();
  let listed: ShardInfo[] | undefined;
  let listedAt = 0;
  let discovered = false;
  let discoveryError: string | undefined;
  let wake: (() => void) | undefined;
  /** Open shards at the last sync: listed, not finished, their parents finished. */
  let open = new Set<string>();

  const stateOf = (shardId: string): ShardState => states.get(shardId) ?? "idle";
  /** Applies an event to a shard's state; false, changing nothing, when the state refuses it. */
  const fire = (shardId: string, event: ShardEvent): boolean => {
    const to = next(stateOf(shardId), event);
    if (to === undefined) return false;
    if (to === "idle") states.delete(shardId);
    else states.set(shardId, to);
    const reading = readings.get(shardId);
    if (reading !== undefined) reading.status.state = shownState(to);
    return true;
  };

  const reportShares = (): void => {
    if (options.onShares === undefined) return;
    let held = 0;
    for (const shardId of readings.keys()) {
      if (open.has(shardId) && stateOf(shardId) !== "handingOver") held++;
    }
    options.onShares(held, open.size);
  };

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
    deaggregated(shardId: string, stats: ExtractStats) {
      metrics.kplAggregates.inc(stats.aggregates);
      metrics.kplMisplaced.inc(stats.outOfRange);
      for (const reason of stats.rejected) {
        metrics.kplPassedWhole.labels(reason).inc();
        logger.warn(
          { shardId, reason },
          "a record with the KPL magic bytes is no sound aggregate; passed on whole",
        );
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
    if (readings.get(tracker.shardId) !== reading || !fire(tracker.shardId, "readToEnd")) return;
    // A shard dropped meanwhile is no longer ours to mark finished, even if a later holding of
    // this same processor would accept the write.
    const given = AbortSignal.any([aborter.signal, reading.aborter.signal]);
    while (!tracker.finished && !given.aborted) await pause(100, given);
    if (!tracker.finished || given.aborted) return;
    try {
      await checkpointer.write(tracker.shardId, SHARD_END);
    } catch (error) {
      status.lastError = describeError(error);
      return;
    }
    // Only its state stays (a sync that listed before the SHARD_END write must not restart it).
    if (!fire(tracker.shardId, "endWritten")) return;
    status.checkpoint = SHARD_END;
    readings.delete(tracker.shardId);
    reportShares();
    checkpointer.forget(tracker.shardId);
    metrics.millisBehindLatest.remove(tracker.shardId);
    logger.info({ shardId: tracker.shardId }, "shard read to its end and checkpointed");
    wake?.();
  };

  /**
   * Stops a reading for good: what was read is still processed, but never checkpointed here; its
   * tracker is kept to resume after what it wrote if the shard comes back.
   */
  const retire = (shardId: string, reading: Reading): void => {
    reading.aborter.abort();
    readings.delete(shardId);
    reportShares();
    dropped.set(shardId, reading.tracker);
    checkpointer.forget(shardId);
    metrics.millisBehindLatest.remove(shardId);
    stopping.add(reading.done);
    void reading.done.finally(() => stopping.delete(reading.done));
  };

  /** Stops reading a shard now, when its state allows the loss. */
  const drop = (shardId: string, event: "lost" | "disowned", reason: string): void => {
    const reading = readings.get(shardId);
    if (reading === undefined || !fire(shardId, event)) return;
    retire(shardId, reading);
    logger.info({ shardId, reason }, "stopped reading shard");
  };
  coordinator.onLost((shardId, reason) => {
    drop(shardId, "lost", reason);
  });

  /** Stops the reader and lets what it read finish, for at most `handoverDrainMs`. */
  const drain = async (reading: Reading): Promise<void> => {
    reading.aborter.abort();
    await reading.done;
    const deadline = performance.now() + options.handoverDrainMs;
    while (reading.tracker.pending > 0 && performance.now() < deadline && !aborter.signal.aborted) {
      await pause(50, aborter.signal);
    }
  };

  /**
   * Hands a shard to the processor that asked for it without replaying anything: stop reading,
   * let what was read finish (for at most half a lease duration), checkpoint, hand the Lease over.
   */
  const handOver = async (shardId: string): Promise<void> => {
    if (!fire(shardId, "asked")) return;
    reportShares();
    const reading = readings.get(shardId);
    const handingOver = (): boolean => stateOf(shardId) === "handingOver";
    try {
      if (reading !== undefined) {
        await drain(reading);
        const checkpoint = reading.tracker.checkpointable;
        if (checkpoint !== undefined && handingOver()) {
          await checkpointer.write(shardId, checkpoint);
        }
        if (handingOver()) {
          readings.delete(shardId);
          checkpointer.forget(shardId);
          metrics.millisBehindLatest.remove(shardId);
        }
      }
      // Lost meanwhile (dropping): nothing is ours to write.
      if (handingOver()) await coordinator.handOver(shardId);
    } catch (error) {
      logger.warn({ shardId, err: describeError(error) }, "handing the shard over failed");
      if (reading !== undefined && readings.get(shardId) === reading) retire(shardId, reading);
    } finally {
      fire(shardId, "handOverEnded");
    }
  };
  coordinator.onHandoffRequested((shardId) => {
    void handOver(shardId);
  });

  const startReading = (shard: ShardInfo, startAfter: string | undefined): void => {
    const { shardId } = shard;
    const tracker = createShardTracker(shardId, startAfter);
    const status: ShardStatus = {
      shardId,
      state: "reading",
      recordsRead: 0,
      pending: 0,
      millisBehindLatest: undefined,
      checkpoint: startAfter,
      lastError: undefined,
      failed: 0,
      lastFailure: undefined,
    };
    const reading: Reading = {
      tracker,
      status,
      aborter: new AbortController(),
      done: Promise.resolve(),
    };
    readings.set(shardId, reading);
    logger.info({ shardId, startAfter: startAfter ?? options.startPosition }, "reading shard");
    reading.done = readShard({
      client,
      stream: source.stream,
      tracker,
      startAfter,
      hashKeyRange: shard.hashKeyRange,
      startPosition: options.startPosition,
      maxRecordsPerFetch: source.maxRecordsPerFetch,
      maxPendingRecords: options.maxPendingRecords,
      idleTimeBetweenReadsMs: source.idleTimeBetweenReadsMs,
      submit: (record) => options.submit(record),
      observer,
      signal: AbortSignal.any([aborter.signal, reading.aborter.signal]),
    }).then(
      async (ending) => {
        if (ending === "ended") await finishShard(reading);
        else if (readings.get(shardId) === reading) fire(shardId, "readerStopped");
      },
      (error: unknown) => {
        // The engine refused a record: it stopped on a fatal error the processor is handling.
        if (readings.get(shardId) === reading) fire(shardId, "readerStopped");
        status.lastError = describeError(error);
      },
    );
  };

  const discover = async (): Promise<void> => {
    if (listed === undefined || performance.now() - listedAt >= source.shardDiscoveryIntervalMs) {
      listed = await listShards(client, source.stream, aborter.signal);
      listedAt = performance.now();
      const listedIds = new Set(listed.map((shard) => shard.shardId));
      for (const shardId of states.keys()) if (!listedIds.has(shardId)) fire(shardId, "unlisted");
      for (const shardId of dropped.keys()) if (!listedIds.has(shardId)) dropped.delete(shardId);
    }
    const { checkpoints, owned } = await coordinator.sync(listed);
    for (const [shardId, reading] of readings) {
      // A shard read to its end and fully acknowledged released its Lease with SHARD_END (a
      // checkpoint flush may write it before finishShard does): it is finishing, not lost.
      if (!owned.has(shardId) && !reading.tracker.finished) {
        drop(shardId, "disowned", "no longer owned");
      }
    }
    for (const shard of listed) {
      const { shardId } = shard;
      if (!owned.has(shardId) || checkpoints.get(shardId) === SHARD_END) continue;
      // Records the last reader here had in flight are still being written: resume after them
      // once they settle, not before them, which would process them twice.
      const settling = dropped.get(shardId)?.whenPendingBelow(1, aborter.signal);
      if (settling !== undefined) {
        void settling.then(() => wake?.());
        continue;
      }
      if (fire(shardId, "owned")) {
        const written = dropped.get(shardId)?.checkpointable;
        dropped.delete(shardId);
        startReading(shard, laterCheckpoint(checkpoints.get(shardId), written));
      }
    }
    open = new Set(
      readableShards(listed, (shardId) => checkpoints.get(shardId) === SHARD_END).map(
        (shard) => shard.shardId,
      ),
    );
    reportShares();
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
          "listing shards or syncing shard leases failed; will retry",
        );
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        void pause(
          discovered ? coordinator.syncIntervalMs : Math.min(1_000, coordinator.syncIntervalMs),
          aborter.signal,
        ).then(resolve);
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
      await Promise.all(stopping);
    },
    trackers(): ShardTracker[] {
      return [...readings.values()].map((reading) => reading.tracker);
    },
    status(): { discovered: boolean; discoveryError: string | undefined; shards: ShardStatus[] } {
      for (const reading of readings.values()) {
        reading.status.checkpoint =
          checkpointer.lastWritten(reading.status.shardId) ?? reading.status.checkpoint;
        reading.status.pending = reading.tracker.pending;
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
