// Gives a shard to the processor that asked for it without replaying anything: stop reading, let
// what was read finish (for at most half a lease duration), checkpoint, hand the Lease over. The
// coordinator's side of the protocol (who asks whom, the write of the asker as holder) is
// processor/leases/hand-over.ts; this is the reading's side.
import type { Logger } from "pino";
import type { Checkpointer } from "../checkpoint/checkpointer.ts";
import type { ShardCoordinator } from "../checkpoint/coordinator.ts";
import { describeError } from "../kinesis/errors.ts";
import { pause } from "../util/pause.ts";
import type { Reading, ShardReadings } from "./shard-readings.ts";
import type { ShardStates } from "./shard-states.ts";

export interface HandOverShardOptions {
  readings: ShardReadings;
  states: ShardStates;
  checkpointer: Checkpointer;
  coordinator: ShardCoordinator;
  /** How long what was read may take to finish. */
  handoverDrainMs: number;
  /** Stops everything: the processor stops. */
  signal: AbortSignal;
  /** Forgets a shard no longer read here. */
  release(shardId: string): void;
  /** Stops a reading for good, keeping its tracker in case the shard comes back. */
  retire(shardId: string, reading: Reading): void;
  /** The shard stopped counting towards the rate-limit share. */
  reportShares(): void;
  logger: Logger;
}

/** Stops the reader and lets what it read finish, for at most `drainMs`. */
async function drain(reading: Reading, drainMs: number, signal: AbortSignal): Promise<void> {
  reading.aborter.abort();
  await reading.done;
  const deadline = performance.now() + drainMs;
  while (reading.tracker.pending > 0 && performance.now() < deadline && !signal.aborted) {
    await pause(50, signal);
  }
}

export async function handOverShard(options: HandOverShardOptions, shardId: string): Promise<void> {
  const { states, checkpointer } = options;
  if (!states.fire(shardId, "asked")) return;
  options.reportShares();
  const reading = options.readings.get(shardId);
  const handingOver = (): boolean => states.stateOf(shardId) === "handingOver";
  try {
    if (reading !== undefined) {
      await drain(reading, options.handoverDrainMs, options.signal);
      const checkpoint = reading.tracker.checkpointable;
      if (checkpoint !== undefined && handingOver()) {
        await checkpointer.write(shardId, checkpoint);
      }
      if (handingOver()) options.release(shardId);
    }
    // Lost meanwhile (dropping): nothing is ours to write.
    if (handingOver()) await options.coordinator.handOver(shardId);
  } catch (error) {
    options.logger.warn({ shardId, err: describeError(error) }, "handing the shard over failed");
    if (reading !== undefined && options.readings.get(shardId) === reading) {
      options.retire(shardId, reading);
    }
  } finally {
    states.fire(shardId, "handOverEnded");
  }
}
