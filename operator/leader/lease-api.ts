// The three calls leader election makes on its Lease, each cancelled by a signal. An interface so
// that scenario tests can run the election against an in-memory Lease API with injected faults.
import {
  Observable,
  type CoordinationV1Api,
  type RequestContext,
  type ResponseContext,
  type V1Lease,
} from "@kubernetes/client-node";
import { unlessNotFound } from "../../processor/contract.ts";

export interface LeaseApi {
  /** The Lease, or undefined if there is none. */
  read(signal: AbortSignal): Promise<V1Lease | undefined>;
  /** Creates the Lease with this spec; fails with code 409 if it exists. */
  create(lease: V1Lease, signal: AbortSignal): Promise<V1Lease>;
  /** Fails with code 409 unless `lease.metadata.resourceVersion` is the current one. */
  replace(lease: V1Lease, signal: AbortSignal): Promise<V1Lease>;
}

/** client-node sets no timeout on a request; this middleware hands fetch the caller's signal. */
const cancelledBy = (signal: AbortSignal) => ({
  middleware: [
    {
      pre: (request: RequestContext) => {
        request.setSignal(signal);
        return new Observable(Promise.resolve(request));
      },
      post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
    },
  ],
  middlewareMergeStrategy: "append" as const,
});

export function coordinationLeaseApi(
  api: CoordinationV1Api,
  namespace: string,
  name: string,
): LeaseApi {
  return {
    read: (signal) =>
      unlessNotFound(api.readNamespacedLease({ name, namespace }, cancelledBy(signal))),
    create: (lease, signal) =>
      api.createNamespacedLease(
        { namespace, body: { metadata: { name, namespace }, spec: lease.spec } },
        cancelledBy(signal),
      ),
    replace: (lease, signal) =>
      api.replaceNamespacedLease({ name, namespace, body: lease }, cancelledBy(signal)),
  };
}
