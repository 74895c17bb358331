// Writes this processor's heartbeat Lease: creates it, or adopts the one its previous container
// left (a create answered 409: read it), then renews it by updates fenced by the resourceVersion
// last written. Only this processor writes its heartbeat, so a conflict means either that one of
// its own renewals was applied after all though it got no answer in time (a slow API server:
// the stored renewTime is that renewal's), and the writer renews from what is stored at once, or
// that another client touched it, and so does a deletion: the writer forgets what it held and
// starts again from what is stored.
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import { bounded, statusCode } from "./api-deadline.ts";
import {
  heartbeatLeaseName,
  newHeartbeatLease,
  renewedHeartbeat,
  toHeartbeat,
  type Heartbeat,
  type NewHeartbeat,
  type ProcessorProgress,
} from "./heartbeat-lease.ts";

export interface HeartbeatWriterOptions {
  api: CoordinationV1Api;
  lease: NewHeartbeat;
  /** Every call's deadline. */
  deadlineMs: number;
  /** The figures written with each renewal. */
  progress: () => ProcessorProgress | undefined;
  /** The wall clock written as renewTime. */
  wallClock: () => Date;
}

export type HeartbeatWriter = ReturnType<typeof createHeartbeatWriter>;

/** A renewal's renewTime, as written and as read back (a Date or its string in microseconds). */
const renewTimeOf = (lease: V1Lease): string =>
  lease.spec?.renewTime === undefined ? "" : new Date(lease.spec.renewTime).toISOString();

export function createHeartbeatWriter(options: HeartbeatWriterOptions) {
  const { api, lease: spec, deadlineMs, wallClock } = options;
  const { namespace } = spec;
  const name = heartbeatLeaseName(spec.prefix, spec.processor);
  /** The heartbeat as last written or read; undefined until created or adopted. */
  let current: Heartbeat | undefined;
  /** The renewTimes of renewals with no answer since the last one acknowledged: they may land. */
  const unanswered = new Set<string>();
  const call = <T>(request: Promise<T>, what: string): Promise<T> =>
    bounded(request, deadlineMs, `${what} heartbeat Lease ${name}`);

  const adopt = async (conflict: unknown): Promise<Heartbeat> => {
    const found = toHeartbeat(await call(api.readNamespacedLease({ name, namespace }), "reading"));
    if (found === undefined)
      throw new Error(`Lease ${name} is not a heartbeat`, { cause: conflict });
    return found;
  };

  const renew = async (from: Heartbeat): Promise<V1Lease> => {
    const body = renewedHeartbeat(from, spec.leaseDurationSeconds, options.progress(), wallClock());
    try {
      return await call(api.replaceNamespacedLease({ name, namespace, body }), "renewing");
    } catch (error) {
      if (statusCode(error) === undefined) unanswered.add(renewTimeOf(body));
      throw error;
    }
  };

  const send = async (): Promise<V1Lease> => {
    if (current === undefined) {
      try {
        const body = newHeartbeatLease(spec, wallClock());
        return await call(api.createNamespacedLease({ namespace, body }), "creating");
      } catch (error) {
        if (statusCode(error) !== 409) throw error;
        // Ours from before a container restart: renew it from its current version.
        current = await adopt(error);
      }
    }
    try {
      return await renew(current);
    } catch (error) {
      if (statusCode(error) !== 409) throw error;
      const stored = await adopt(error);
      if (!unanswered.has(renewTimeOf(stored.object))) throw error;
      // Our own renewal moved the version on: no one else wrote, nothing to lapse for.
      current = stored;
      return await renew(stored);
    }
  };

  return {
    name,
    /**
     * Creates, adopts or renews the heartbeat, resolving once the API server acknowledged it. A
     * 409 (but for one of its own renewals landed late) or a 404 rejects as it came, and the next
     * write starts afresh.
     */
    async write(): Promise<void> {
      try {
        const written = toHeartbeat(await send());
        if (written === undefined) throw new Error(`Lease ${name} lost its heartbeat annotation`);
        current = written;
        unanswered.clear();
      } catch (error) {
        const code = statusCode(error);
        if (code === 409 || code === 404) current = undefined;
        throw error;
      }
    },
    /** Deletes the heartbeat; one already gone is fine. */
    async remove(): Promise<void> {
      try {
        await call(api.deleteNamespacedLease({ name, namespace }), "deleting");
      } catch (error) {
        if (statusCode(error) !== 404) throw error;
      }
    },
  };
}
