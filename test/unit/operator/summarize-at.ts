// The shard summary at a moment, for tests that build Leases as renewed some time before it: each
// Lease's age is taken from its renewTime, as if the operator had seen it change then.
import type { V1Lease } from "@kubernetes/client-node";
import type { LeaseAges } from "../../../operator/reconcile/lease-renewals.ts";
import {
  summarizeShards,
  type ShardProgressSummary,
} from "../../../operator/reconcile/shard-progress.ts";

export const agesAt = (now: Date): LeaseAges => ({
  unchangedForMs: (lease) => {
    const renewed = lease.spec?.renewTime;
    return renewed === undefined
      ? Number.POSITIVE_INFINITY
      : now.getTime() - new Date(renewed).getTime();
  },
});

export const summarizeAt = (leases: readonly V1Lease[], now: Date): ShardProgressSummary =>
  summarizeShards(leases, agesAt(now));
