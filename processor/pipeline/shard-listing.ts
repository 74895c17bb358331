// The stream's shards as last listed: listed again once the discovery interval has passed, and in
// between reused, since every sync needs them but splits and merges are rare. A listing that fails
// keeps the last one and is tried again at the next call.
import type { ShardInfo } from "../kinesis/shard-lineage.ts";

export interface ShardListingOptions {
  list(signal: AbortSignal): Promise<ShardInfo[]>;
  intervalMs: number;
  /** Monotonic milliseconds; a test may replace it. */
  now?: () => number;
}

export type ShardListing = ReturnType<typeof createShardListing>;

export function createShardListing(options: ShardListingOptions) {
  const now = options.now ?? (() => performance.now());
  let listed: ShardInfo[] | undefined;
  let listedAt = 0;
  return {
    /** The shards, and whether they were listed just now rather than reused. */
    async current(signal: AbortSignal): Promise<{ shards: ShardInfo[]; fresh: boolean }> {
      if (listed !== undefined && now() - listedAt < options.intervalMs) {
        return { shards: listed, fresh: false };
      }
      listed = await options.list(signal);
      listedAt = now();
      return { shards: listed, fresh: true };
    },
  };
}
