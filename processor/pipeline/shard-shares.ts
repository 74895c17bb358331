// This processor's share of the stream for the rate limit: how many open shards it counts as its
// own, and how many are open. A shard counts from the sync that confirms it held until the moment
// it is lost, handed over or finished, so a shard changing hands is never counted by two
// processors at once, bar a steal its holder has not noticed yet.
import { SHARD_END } from "../checkpoint/store.ts";
import { readableShards, type ShardInfo } from "../kinesis/shard-lineage.ts";
import type { ShardState } from "./shard-lifecycle.ts";
import type { ShardReadings } from "./shard-readings.ts";

/** The open shards: listed, not finished, their parents finished. */
export function openShards(
  listed: readonly ShardInfo[],
  checkpoints: ReadonlyMap<string, string | undefined>,
): Set<string> {
  const finished = (shardId: string): boolean => checkpoints.get(shardId) === SHARD_END;
  return new Set(readableShards(listed, finished).map((shard) => shard.shardId));
}

/** The open shards read here and not being handed over. */
export function heldShards(
  read: Iterable<string>,
  open: ReadonlySet<string>,
  stateOf: (shardId: string) => ShardState,
): number {
  let held = 0;
  for (const shardId of read) if (open.has(shardId) && stateOf(shardId) !== "handingOver") held++;
  return held;
}

export interface ShardSharesOptions {
  readings: ShardReadings;
  stateOf: (shardId: string) => ShardState;
  onShares: (held: number, open: number) => void;
}

export type ShardShares = ReturnType<typeof createShardShares>;

export function createShardShares(options: ShardSharesOptions) {
  /** Open shards at the last sync. */
  let open = new Set<string>();
  const report = (): void => {
    options.onShares(heldShards(options.readings.keys(), open, options.stateOf), open.size);
  };
  return {
    /** Tells the listener the share now: call whenever a shard starts or stops counting. */
    report,
    /** Takes the open shards from a sync's listing and checkpoints, and reports. */
    synced(
      listed: readonly ShardInfo[],
      checkpoints: ReadonlyMap<string, string | undefined>,
    ): void {
      open = openShards(listed, checkpoints);
      report();
    },
  };
}
