// The shards this processor reads or drains, each with its reader's figures. The supervisor fills
// it; the engine shares its capacity among them, and the coordinator writes their figures on the
// heartbeat. Made before all three, it lets the processor wire them in order, none reaching into
// another that is not built yet.
import type { ShardCounters } from "../checkpoint/coordinator.ts";
import type { ShardTracker } from "../checkpoint/tracker.ts";

export interface ShardStatus {
  shardId: string;
  state: "reading" | "draining" | "finished" | "stopped";
  recordsRead: number;
  /** Records read and not yet acknowledged (the checkpoint waits for the oldest). */
  pending: number;
  millisBehindLatest: number | undefined;
  checkpoint: string | undefined;
  lastError: string | undefined;
  /** Records whose call failed (sent to the failure policy). */
  failed: number;
  lastFailure: string | undefined;
}

export interface Reading {
  tracker: ShardTracker;
  status: ShardStatus;
  aborter: AbortController;
  done: Promise<void>;
  /** When the record handed to the engine last arrived in the stream: the processing lag's base. */
  lastTakenArrivedAt?: Date | undefined;
  /** Records handed to the engine: with their arrival times, the shard's arrival rate. */
  taken: number;
  /** When its last read (GetRecords) returned, on the monotonic clock (performance.now()). */
  lastReadAt?: number | undefined;
}

export type ShardReadings = Map<string, Reading>;

/** What the reader of a shard has done so far, for the heartbeat. */
export function shardCounters(readings: ShardReadings, shardId: string): ShardCounters | undefined {
  const reading = readings.get(shardId);
  if (reading === undefined) return undefined;
  return {
    recordsIn: reading.status.recordsRead,
    recordsOut: reading.tracker.acknowledged,
    millisBehindLatest: reading.status.millisBehindLatest,
    lastError: reading.status.lastError,
    failed: reading.status.failed,
    lastFailure: reading.status.lastFailure,
  };
}

/** Counts a record of the shard whose call failed, for the heartbeat and /status. */
export function noteFailure(readings: ShardReadings, shardId: string, reason: string): void {
  const reading = readings.get(shardId);
  if (reading === undefined) return;
  reading.status.failed++;
  reading.status.lastFailure = reason;
}
