// What is left of the readings of shards dropped while read here (a Lease not renewed in time,
// taken, released): their readers winding down, awaited at stop, and their trackers, which go on
// counting what was in flight as it is written. If the shard comes back, reading resumes after the
// later of its Lease's checkpoint and what this processor had written since, instead of replaying
// that from an old checkpoint it could not write meanwhile; and only once those records settled,
// not before them, which would process them twice.
import type { ShardTracker } from "../checkpoint/tracker.ts";
import type { Reading } from "./shard-readings.ts";

export type RetiredReadings = ReturnType<typeof createRetiredReadings>;

export function createRetiredReadings() {
  const trackers = new Map<string, ShardTracker>();
  const windingDown = new Set<Promise<void>>();
  return {
    /** Keeps a stopped reading's tracker, and its reader until it has wound down. */
    keep(shardId: string, reading: Reading): void {
      trackers.set(shardId, reading.tracker);
      windingDown.add(reading.done);
      void reading.done.finally(() => windingDown.delete(reading.done));
    },
    /**
     * Resolves once the last reading of the shard has nothing in flight (or the signal aborts);
     * undefined when it has nothing in flight already, or there was none.
     */
    settling(shardId: string, signal: AbortSignal): Promise<void> | undefined {
      return trackers.get(shardId)?.whenPendingBelow(1, signal);
    },
    /** What the last reading of the shard wrote, forgetting it: a new reading takes over. */
    takeWritten(shardId: string): string | undefined {
      const written = trackers.get(shardId)?.checkpointable;
      trackers.delete(shardId);
      return written;
    },
    /** Forgets the shards that left the stream's listing. */
    keepListed(listed: ReadonlySet<string>): void {
      for (const shardId of trackers.keys()) if (!listed.has(shardId)) trackers.delete(shardId);
    },
    /** Resolves once every reader kept has wound down. */
    async woundDown(): Promise<void> {
      await Promise.all(windingDown);
    },
  };
}
