// The state of every shard this processor knows, kept by the table of shard-lifecycle.ts: the one
// place events are fired, so a state only ever changes by an accepted transition, and the state a
// shard's status shows follows it.
import { next, shownState, type ShardEvent, type ShardState } from "./shard-lifecycle.ts";
import type { ShardReadings } from "./shard-readings.ts";

export type ShardStates = ReturnType<typeof createShardStates>;

export function createShardStates(readings: ShardReadings) {
  /** A shard not in it is idle. */
  const states = new Map<string, ShardState>();
  const stateOf = (shardId: string): ShardState => states.get(shardId) ?? "idle";
  return {
    stateOf,
    /** Applies an event to a shard's state; false, changing nothing, when the state refuses it. */
    fire(shardId: string, event: ShardEvent): boolean {
      const to = next(stateOf(shardId), event);
      if (to === undefined) return false;
      if (to === "idle") states.delete(shardId);
      else states.set(shardId, to);
      const reading = readings.get(shardId);
      if (reading !== undefined) reading.status.state = shownState(to);
      return true;
    },
    /** The shards not idle. */
    known(): string[] {
      return [...states.keys()];
    },
  };
}
