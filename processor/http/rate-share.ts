// A pod's share of the job-wide rate limit: the limit times its share of the job's open shards.
// The shares of all pods sum to at most the limit as long as no shard is counted by two pods;
// the shard supervisor counts a shard from when its Lease is confirmed held until the moment it
// is lost, handed over or finished, so a shard changing hands is counted by neither for a while
// rather than by both (docs/processor.md, "Rate limit", tells the bound).
import type { EndpointConfig } from "../config/schema.ts";

export type RateLimit = NonNullable<EndpointConfig["rateLimit"]>;

export interface RateShare {
  requestsPerSecond: number;
  /** Bucket depth: the burst divided the same way, at least one token so a request can pass. */
  burst: number;
}

/** The share of a pod holding `held` of `open` open shards; none while it holds none. */
export function rateShare(limit: RateLimit, held: number, open: number): RateShare {
  if (held <= 0 || open <= 0) return { requestsPerSecond: 0, burst: 0 };
  // A pod that listed the stream before a reshard may count more held than open shards.
  const fraction = Math.min(1, held / open);
  return {
    requestsPerSecond: limit.requestsPerSecond * fraction,
    burst: Math.max(1, limit.burst * fraction),
  };
}
