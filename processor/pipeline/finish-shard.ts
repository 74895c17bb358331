// A closed shard read to its end is finished as the KCL's ShutdownTask finishes one with reason
// SHARD_END: once its last record is acknowledged, SHARD_END is written, which frees its children
// for reading (here or elsewhere), and the shard is never read here again.
import type { Logger } from "pino";
import type { Checkpointer } from "../checkpoint/checkpointer.ts";
import { SHARD_END } from "../checkpoint/store.ts";
import { describeError } from "../kinesis/errors.ts";
import { pause } from "../util/pause.ts";
import type { Reading, ShardReadings } from "./shard-readings.ts";
import type { ShardStates } from "./shard-states.ts";

export interface FinishShardOptions {
  readings: ShardReadings;
  states: ShardStates;
  checkpointer: Checkpointer;
  /** Stops everything: the processor stops. */
  signal: AbortSignal;
  /** Forgets a shard no longer read here. */
  release(shardId: string): void;
  /** The shard stopped counting towards the rate-limit share. */
  reportShares(): void;
  /** SHARD_END was written: the next sync may read the shard's children. */
  onFinished(): void;
  logger: Logger;
}

/** After the last record of an ended shard is acknowledged, marks it SHARD_END for its children. */
export async function finishShard(options: FinishShardOptions, reading: Reading): Promise<void> {
  const { states, checkpointer } = options;
  const { tracker, status } = reading;
  const { shardId } = tracker;
  if (options.readings.get(shardId) !== reading || !states.fire(shardId, "readToEnd")) return;
  // A shard dropped meanwhile is no longer ours to mark finished, even if a later holding of
  // this same processor would accept the write.
  const given = AbortSignal.any([options.signal, reading.aborter.signal]);
  while (!tracker.finished && !given.aborted) await pause(100, given);
  if (!tracker.finished || given.aborted) return;
  try {
    await checkpointer.write(shardId, SHARD_END);
  } catch (error) {
    status.lastError = describeError(error);
    return;
  }
  // Only its state stays (a sync that listed before the SHARD_END write must not restart it).
  if (!states.fire(shardId, "endWritten")) return;
  status.checkpoint = SHARD_END;
  options.release(shardId);
  options.reportShares();
  options.logger.info({ shardId }, "shard read to its end and checkpointed");
  options.onFinished();
}
