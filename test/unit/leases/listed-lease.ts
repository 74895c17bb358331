// A shard's Lease as a processor lists it, for the lease suites' pure decisions: made with the
// processors' own conversions, then given the holder, request or version a case needs.
import assert from "node:assert/strict";
import {
  newShardLease,
  toShardLease,
  type ShardLease,
} from "../../../processor/leases/shard-lease.ts";

export const shardId = (shard: number): string => `shardId-${String(shard).padStart(12, "0")}`;

export function listedLease(shard: number, more: Partial<ShardLease> = {}): ShardLease {
  const view = toShardLease(
    newShardLease({
      namespace: "shop",
      prefix: "orders",
      shardId: shardId(shard),
      parents: [],
      labels: {},
      owner: undefined,
      leaseDurationSeconds: 40,
    }),
  );
  assert.ok(view !== undefined);
  return { ...view, ...more };
}
