// Keeps a reader running for every shard this processor owns: lists shards periodically, asks the
// coordinator which it owns (a child only after its parents ended, SHARD_END), resumes each from
// its checkpoint, and stops reading a shard the moment its ownership is lost. As the KCL's
// Scheduler drives its ShardConsumers, this file only composes the parts and runs a sync's steps:
// each shard's state (shard-states.ts, by the table of shard-lifecycle.ts), what is left of
// dropped readings (retired-readings.ts), the listing (shard-listing.ts), the rate-limit share
// (shard-shares.ts), the loop (sync-loop.ts), and what happens to a shard: start-reading.ts,
// finish-shard.ts, hand-over-shard.ts.
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { Logger } from "pino";
import type { Checkpointer } from "../checkpoint/checkpointer.ts";
import type { ShardCoordinator } from "../checkpoint/coordinator.ts";
import { SHARD_END } from "../checkpoint/store.ts";
import type { ShardTracker } from "../checkpoint/tracker.ts";
import type { ProcessorConfig } from "../config/schema.ts";
import { laterCheckpoint } from "../kinesis/kpl/extended-sequence-number.ts";
import { listShards } from "../kinesis/list-shards.ts";
import type { SourceRecord } from "../kinesis/shard-reader.ts";
import type { ShardInfo } from "../kinesis/shard-lineage.ts";
import type { FixedStartPosition } from "../kinesis/start-position.ts";
import type { ProcessorMetrics } from "../metrics/processor-metrics.ts";
import { finishShard } from "./finish-shard.ts";
import { handOverShard } from "./hand-over-shard.ts";
import { readerObserver } from "./reader-observer.ts";
import { createRetiredReadings } from "./retired-readings.ts";
import { createShardListing } from "./shard-listing.ts";
import type { Reading, ShardReadings, ShardStatus } from "./shard-readings.ts";
import { createShardShares } from "./shard-shares.ts";
import { createShardStates } from "./shard-states.ts";
import { startReading, type StartReadingOptions } from "./start-reading.ts";
import { createSyncLoop } from "./sync-loop.ts";

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

/** The parts, each owning its own state, and the two ways a shard stops being read here. */
function createParts(options: ShardSupervisorOptions, signal: AbortSignal) {
  const { readings, checkpointer, metrics, logger } = options;
  const states = createShardStates(readings);
  const retired = createRetiredReadings();
  const shares = createShardShares({
    readings,
    stateOf: states.stateOf,
    onShares: (held, open) => {
      options.onShares?.(held, open);
    },
  });
  const listing = createShardListing({
    list: (listSignal) => listShards(options.client, options.source.stream, listSignal),
    intervalMs: options.source.shardDiscoveryIntervalMs,
  });
  const loop = createSyncLoop({
    syncIntervalMs: options.coordinator.syncIntervalMs,
    signal,
    onFailure: (err) => {
      logger.warn(
        { err, stream: options.source.stream },
        "listing shards or syncing shard leases failed; will retry",
      );
    },
  });
  /** Forgets a shard no longer read here: its reading, its checkpoint's books, its gauge. */
  const release = (shardId: string): void => {
    readings.delete(shardId);
    checkpointer.forget(shardId);
    metrics.millisBehindLatest.remove(shardId);
  };
  /**
   * Stops a reading for good: what was read is still processed, but never checkpointed here; its
   * tracker is kept to resume after what it wrote if the shard comes back.
   */
  const retire = (shardId: string, reading: Reading): void => {
    reading.aborter.abort();
    release(shardId);
    shares.report();
    retired.keep(shardId, reading);
  };
  /** Stops reading a shard now, when its state allows the loss. */
  const drop = (shardId: string, event: "lost" | "disowned", reason: string): void => {
    const reading = readings.get(shardId);
    if (reading === undefined || !states.fire(shardId, event)) return;
    retire(shardId, reading);
    logger.info({ shardId, reason }, "stopped reading shard");
  };
  return { states, retired, shares, listing, loop, release, retire, drop };
}

type Parts = ReturnType<typeof createParts>;

/**
 * One sync: list the shards (when due), ask the coordinator which are ours, stop reading those
 * that are not, and read those that are and are not read yet.
 */
async function syncShards(
  options: ShardSupervisorOptions,
  parts: Parts,
  signal: AbortSignal,
  read: (shard: ShardInfo, startAfter: string | undefined) => void,
): Promise<void> {
  const { readings, coordinator } = options;
  const { states, retired } = parts;
  const { shards: listed, fresh } = await parts.listing.current(signal);
  if (fresh) {
    const listedIds = new Set(listed.map((shard) => shard.shardId));
    for (const shardId of states.known()) {
      if (!listedIds.has(shardId)) states.fire(shardId, "unlisted");
    }
    retired.keepListed(listedIds);
  }
  const { checkpoints, owned } = await coordinator.sync(listed);
  for (const [shardId, reading] of readings) {
    // A shard read to its end and fully acknowledged released its Lease with SHARD_END (a
    // checkpoint flush may write it before finishShard does): it is finishing, not lost.
    if (!owned.has(shardId) && !reading.tracker.finished) {
      parts.drop(shardId, "disowned", "no longer owned");
    }
  }
  for (const shard of listed) {
    const { shardId } = shard;
    if (!owned.has(shardId) || checkpoints.get(shardId) === SHARD_END) continue;
    // Records the last reader here had in flight are still being written: resume after them
    // once they settle, not before them, which would process them twice.
    const settling = retired.settling(shardId, signal);
    if (settling !== undefined) {
      void settling.then(() => {
        parts.loop.wake();
      });
      continue;
    }
    if (states.fire(shardId, "owned")) {
      read(shard, laterCheckpoint(checkpoints.get(shardId), retired.takeWritten(shardId)));
    }
  }
  parts.shares.synced(listed, checkpoints);
}

/** What is done to one shard: read it, finish it at its end, hand it over when asked. */
function shardTasks(options: ShardSupervisorOptions, parts: Parts, signal: AbortSignal) {
  const { readings, logger } = options;
  const { states, loop } = parts;
  const tasks = {
    readings,
    states,
    checkpointer: options.checkpointer,
    coordinator: options.coordinator,
    handoverDrainMs: options.handoverDrainMs,
    signal,
    release: parts.release,
    retire: parts.retire,
    reportShares: parts.shares.report,
    onFinished: () => {
      loop.wake();
    },
    logger,
  };
  const reader: StartReadingOptions = {
    client: options.client,
    source: options.source,
    startPosition: options.startPosition,
    maxPendingRecords: options.maxPendingRecords,
    readings,
    submit: (record) => options.submit(record),
    observer: readerObserver(readings, options.metrics, logger),
    signal,
    logger,
    onReadToEnd: (reading) => finishShard(tasks, reading),
    onStopped: (reading) => {
      const { shardId } = reading.tracker;
      if (readings.get(shardId) === reading) states.fire(shardId, "readerStopped");
    },
  };
  return {
    read: (shard: ShardInfo, startAfter: string | undefined): void => {
      startReading(reader, shard, startAfter);
    },
    handOver: (shardId: string): Promise<void> => handOverShard(tasks, shardId),
  };
}

export function createShardSupervisor(options: ShardSupervisorOptions) {
  const { coordinator, checkpointer, readings } = options;
  const aborter = new AbortController();
  const { signal } = aborter;
  const parts = createParts(options, signal);
  const { loop } = parts;
  const { read, handOver } = shardTasks(options, parts, signal);
  coordinator.onLost((shardId, reason) => {
    parts.drop(shardId, "lost", reason);
  });
  coordinator.onHandoffRequested((shardId) => {
    void handOver(shardId);
  });
  let running: Promise<void> = Promise.resolve();

  return {
    start(): void {
      running = loop.run(() => syncShards(options, parts, signal, read));
    },
    /** Stops reading; records already submitted stay in the engine to be drained. */
    async stop(): Promise<void> {
      aborter.abort();
      loop.wake();
      await running;
      await Promise.all([...readings.values()].map((reading) => reading.done));
      await parts.retired.woundDown();
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
        ...loop.health(),
        shards: [...readings.values()].map((reading) => ({ ...reading.status })),
      };
    },
  };
}

export type ShardSupervisor = ReturnType<typeof createShardSupervisor>;
