// When the operator last saw each of its Leases change, timed on its own monotonic clock. The
// status judges a heartbeat (or an old-protocol shard Lease) expired once it has not changed for
// its duration, as the processors judge each other (processor/leases/holder-liveness.ts) and as
// client-go's leader election does: no processor's wall clock (renewTime) is read, so a node whose
// clock is off does not make its pods look dead or alive. A Lease is timed from when the
// operator started watching at the earliest: nothing looks expired before it watched a full
// duration.
import type { V1Lease } from "@kubernetes/client-node";

/** How long a Lease has gone unchanged. */
export interface LeaseAges {
  unchangedForMs(lease: V1Lease): number;
}

const keyOf = (lease: V1Lease): string =>
  `${lease.metadata?.namespace ?? ""}/${lease.metadata?.name ?? ""}`;

export function createLeaseRenewals(now: () => number = () => performance.now()) {
  /** Per Lease: the version last seen, and since when (monotonic ms). */
  const seen = new Map<string, { resourceVersion: string; since: number }>();

  const see = (lease: V1Lease, at: number): number => {
    const key = keyOf(lease);
    const resourceVersion = lease.metadata?.resourceVersion ?? "";
    const entry = seen.get(key);
    if (entry?.resourceVersion === resourceVersion) return entry.since;
    seen.set(key, { resourceVersion, since: at });
    return at;
  };

  return {
    /** An informer's event for the Lease; `present` is false once it is gone from the cache. */
    observe(lease: V1Lease, present: boolean): void {
      if (present) see(lease, now());
      else seen.delete(keyOf(lease));
    },
    /**
     * How long the Lease, as the cache has it, has gone unchanged. A version not observed yet (the
     * cache read between the informer's update and its event) counts as changed now.
     */
    unchangedForMs(lease: V1Lease): number {
      const at = now();
      return at - see(lease, at);
    },
  } satisfies LeaseAges & { observe(lease: V1Lease, present: boolean): void };
}
