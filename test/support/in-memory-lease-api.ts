// One Lease held in memory and served as the API server serves it (checked against
// kube-apiserver v1.33): every write bumps the resourceVersion; a replace carrying another
// resourceVersion is refused with 409 Conflict and one carrying none with 422; creating an
// existing Lease is 409 AlreadyExists; replacing a missing one creates it. Each replica gets its own
// connection, whose faults a test switches: calls that fail at once, or that never answer (a
// partition, a hung request), whatever signal the caller gave.
import type { V1Lease } from "@kubernetes/client-node";
import type { LeaseApi } from "../../operator/leader/lease-api.ts";

export type Fault = "none" | "refuse" | "hang";

export interface Connection extends LeaseApi {
  fault: Fault;
  /** Fails only the next call (a transient error), then answers again. */
  refuseNextCall(): void;
}

export class StatusError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export interface InMemoryLeaseServer {
  connect(): Connection;
  /** The stored Lease, as a read would return it. */
  current(): V1Lease | undefined;
  /** Stores a Lease as if another client wrote it. */
  put(lease: V1Lease): void;
}

export function createInMemoryLeaseServer(): InMemoryLeaseServer {
  let stored: V1Lease | undefined;
  let version = 0;
  const copy = (lease: V1Lease | undefined): V1Lease | undefined =>
    lease === undefined ? undefined : structuredClone(lease);
  const write = (lease: V1Lease): V1Lease => {
    const next = structuredClone(lease);
    next.metadata = next.metadata ?? {};
    next.metadata.resourceVersion = String(++version);
    stored = next;
    return structuredClone(next);
  };
  const handlers = {
    read: (): V1Lease | undefined => copy(stored),
    create: (lease: V1Lease): V1Lease => {
      if (stored !== undefined) throw new StatusError(409, "leases already exists");
      return write(lease);
    },
    replace: (lease: V1Lease): V1Lease => {
      const version = lease.metadata?.resourceVersion;
      if (version === undefined)
        throw new StatusError(422, "metadata.resourceVersion: must be specified for an update");
      if (stored === undefined) return write(lease);
      if (version !== stored.metadata?.resourceVersion)
        throw new StatusError(
          409,
          "the object has been modified; apply your changes to the latest version",
        );
      return write(lease);
    },
  };

  return {
    connect() {
      let transient = false;
      const connection: Connection = {
        fault: "none",
        refuseNextCall() {
          transient = true;
        },
        read: () => serve(() => handlers.read()),
        create: (lease) => serve(() => handlers.create(lease)),
        replace: (lease) => serve(() => handlers.replace(lease)),
      };
      /** Answers on a later turn of the event loop, as a network round trip does. */
      const serve = <T>(handle: () => T): Promise<T> => {
        if (connection.fault === "hang") return new Promise<never>(() => undefined);
        const refused = connection.fault === "refuse" || transient;
        transient = false;
        return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
          if (refused) throw new Error("connect ECONNREFUSED 127.0.0.1:6443");
          return handle();
        });
      };
      return connection;
    },
    current: () => copy(stored),
    put: (lease) => {
      write(lease);
    },
  };
}
