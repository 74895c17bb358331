// Leader election on a coordination.k8s.io Lease, as client-go's: the leader renews the Lease
// before it expires; a candidate takes it only once it has expired. Every write carries the
// resourceVersion it read, so two replicas can never both believe they lead (409 = lost the race).
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { pause } from "../../processor/util/pause.ts";

export interface LeaderElectionOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewIntervalMs: number;
  logger: Logger;
}

const statusCode = (error: unknown): number | undefined => (error as { code?: number }).code;

/** True if the lease may be taken by `identity` at `now`. */
export function mayAcquire(lease: V1Lease, identity: string, now: Date): boolean {
  const spec = lease.spec ?? {};
  if (
    spec.holderIdentity === undefined ||
    spec.holderIdentity === "" ||
    spec.holderIdentity === identity
  )
    return true;
  const renewed = spec.renewTime === undefined ? 0 : new Date(spec.renewTime).getTime();
  return renewed + (spec.leaseDurationSeconds ?? 15) * 1000 < now.getTime();
}

/**
 * Campaigns until elected, then calls `lead` with a signal that aborts when leadership is lost.
 * Resolves when `stop` aborts; on a clean stop the lease is released so a peer takes over at once.
 */
export async function runLeaderElection(
  options: LeaderElectionOptions,
  lead: (lost: AbortSignal) => Promise<void>,
  stop: AbortSignal,
): Promise<void> {
  const { api, namespace, name, identity, logger } = options;
  let leading: AbortController | undefined;
  let leadership: Promise<void> | undefined;

  const tryAcquireOrRenew = async (): Promise<boolean> => {
    const now = new Date();
    let lease: V1Lease | undefined;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
    }
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: options.leaseDurationSeconds,
      // MicroTime: the API server refuses a Date serialized with milliseconds only.
      renewTime: new V1MicroTime(now),
      acquireTime: new V1MicroTime(
        lease?.spec?.holderIdentity === identity ? (lease.spec.acquireTime ?? now) : now,
      ),
      leaseTransitions:
        (lease?.spec?.leaseTransitions ?? 0) + (lease?.spec?.holderIdentity === identity ? 0 : 1),
    };
    if (lease === undefined) {
      await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec } });
      return true;
    }
    if (!mayAcquire(lease, identity, now)) return false;
    // metadata carries the resourceVersion read above: a concurrent writer makes this a 409.
    await api.replaceNamespacedLease({ name, namespace, body: { metadata: lease.metadata, spec } });
    return true;
  };

  while (!stop.aborted) {
    let held: boolean;
    try {
      held = await tryAcquireOrRenew();
    } catch (error) {
      if (statusCode(error) !== 409)
        logger.warn({ err: String(error) }, "leader election: reading or writing the Lease failed");
      held = false;
    }
    if (held && leading === undefined) {
      logger.info({ lease: `${namespace}/${name}`, identity }, "became the leader");
      leading = new AbortController();
      leadership = lead(leading.signal);
    } else if (!held && leading !== undefined) {
      logger.warn({ lease: `${namespace}/${name}` }, "lost leadership; stopping work");
      leading.abort();
      await leadership;
      leading = undefined;
    }
    await pause(options.renewIntervalMs, stop);
  }
  if (leading !== undefined) {
    leading.abort();
    await leadership;
    try {
      const lease = await api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity === identity) {
        await api.replaceNamespacedLease({
          name,
          namespace,
          body: {
            metadata: lease.metadata,
            spec: { leaseDurationSeconds: lease.spec.leaseDurationSeconds, holderIdentity: "" },
          },
        });
      }
    } catch (error) {
      logger.warn(
        { err: String(error) },
        "releasing the leader Lease failed; a peer takes over once it expires",
      );
    }
  }
}
