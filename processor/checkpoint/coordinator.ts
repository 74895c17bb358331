// Who reads which shard, and where its checkpoint lives. A single processor reads every shard
// (the demo, tests); processors of a Kubernetes job share them through Leases. The shard
// supervisor asks at every sync which shards it owns, and hears at once when it loses one.
import type { ShardInfo } from "../kinesis/shard-lineage.ts";
import type { Taken } from "../metrics/arrival-rate.ts";
import type { LoadTotals } from "../metrics/load-totals.ts";

export interface Assignment {
  /** The checkpoint of every listed shard whose checkpoint is known (SHARD_END when finished). */
  checkpoints: ReadonlyMap<string, string | undefined>;
  /** Shards this processor should read now: owned, not finished, parents finished. */
  owned: ReadonlySet<string>;
}

/** What a processor reports about a shard it reads, written with its checkpoint. */
export interface ShardCounters {
  recordsIn: number;
  recordsOut: number;
  millisBehindLatest: number | undefined;
  lastError: string | undefined;
  failed: number;
  lastFailure: string | undefined;
  /** While calls are paused through an endpoint outage: the last outage error. */
  endpointOutage?: string | undefined;
  /** The reader is at the tip and has handed on all it read (processing-lag.ts idleAtTip). */
  idleAtTip?: boolean;
  /** The records handed to the engine in this reading, for the arrival rate. */
  taken?: Taken;
  /** The pod's figures (the same on each of its shards): records it admits now. */
  concurrencyLimit?: number;
  /** With a rate limit: the pod's share of it, in requests per second. */
  rateLimitShare?: number;
  /** The pod's load totals (the same on each of its shards), for the autoscaler's figures. */
  load?: LoadTotals;
}

export interface ShardCoordinator {
  /** How often `sync` runs. */
  readonly syncIntervalMs: number;
  sync(listed: readonly ShardInfo[]): Promise<Assignment>;
  /** Stores a checkpoint; rejects with LeaseLostError if this processor no longer owns the shard. */
  put(shardId: string, checkpoint: string): Promise<void>;
  /**
   * Gives up every shard after the final checkpoint, so others take them without waiting. Until
   * then ownership lasts (a heartbeat renews itself), also while the processor drains.
   */
  release(): Promise<void>;
  onLost(listener: (shardId: string, reason: string) => void): void;
  /** Another processor asked for a held shard: drain it, checkpoint, then `handOver`. */
  onHandoffRequested(listener: (shardId: string) => void): void;
  /** Releases one drained shard to the processor that asked for it. */
  handOver(shardId: string): Promise<void>;
}

/** Raised by a checkpoint write that ownership no longer allows (fencing). */
export class LeaseLostError extends Error {
  readonly shardId: string;
  constructor(shardId: string, reason: string) {
    super(`lease of shard ${shardId} lost: ${reason}`);
    this.name = "LeaseLostError";
    this.shardId = shardId;
  }
}
