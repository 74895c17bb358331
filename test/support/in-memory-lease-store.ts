// A namespace of Leases in memory, served as the API server serves them to a CoordinationV1Api
// client: every write bumps a resourceVersion; a replace naming another resourceVersion is 409
// Conflict (checked when the request is applied, as the API server checks requests in the order
// they arrive); creating an existing Lease is 409; reading, replacing or deleting a missing one is
// 404. Each processor gets its own connection, whose faults a test switches: "hang" drops calls
// (never applied, never answered), "freeze" holds them and applies them when the fault is lifted
// (a paused process, or a network that delays its packets), "refuse" fails them at once.
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";

export type ConnectionFault = "none" | "hang" | "freeze" | "refuse";

const statusError = (code: number, message: string): Error =>
  Object.assign(new Error(message), { code });

export interface LeaseConnection {
  api: CoordinationV1Api;
  fault: ConnectionFault;
  /** A list's snapshot is taken when it arrives and answered this much later (a slow list). */
  listDelayMs: number;
  /** Applies and answers the calls held while frozen, in order, and lifts the fault. */
  thaw(): void;
}

export function createInMemoryLeaseStore() {
  const leases = new Map<string, V1Lease>();
  let version = 0;
  const store = (body: V1Lease): V1Lease => {
    const copy = structuredClone(body);
    const name = copy.metadata?.name;
    if (name === undefined) throw statusError(422, "metadata.name: Required value");
    copy.metadata ??= {};
    copy.metadata.resourceVersion = String(++version);
    leases.set(name, copy);
    return structuredClone(copy);
  };
  const missing = (name: string): Error => statusError(404, `leases "${name}" not found`);
  const handlers = {
    listNamespacedLease: () => ({ items: [...leases.values()].map((l) => structuredClone(l)) }),
    readNamespacedLease: ({ name }: { name: string }) => {
      const lease = leases.get(name);
      if (lease === undefined) throw missing(name);
      return structuredClone(lease);
    },
    createNamespacedLease: ({ body }: { body: V1Lease }) => {
      if (leases.has(body.metadata?.name ?? "")) throw statusError(409, "leases already exists");
      return store(body);
    },
    replaceNamespacedLease: ({ name, body }: { name: string; body: V1Lease }) => {
      const stored = leases.get(name);
      if (stored === undefined) throw missing(name);
      if (stored.metadata?.resourceVersion !== body.metadata?.resourceVersion) {
        throw statusError(409, "the object has been modified");
      }
      return store(body);
    },
    deleteNamespacedLease: ({ name }: { name: string }) => {
      if (!leases.delete(name)) throw missing(name);
      return {};
    },
  };
  type Method = keyof typeof handlers;

  return {
    leases,
    /** Stores a Lease as another client would write it. */
    put: store,
    connect(): LeaseConnection {
      const held: (() => void)[] = [];
      const connection: LeaseConnection = {
        api: undefined as unknown as CoordinationV1Api,
        fault: "none",
        listDelayMs: 0,
        thaw() {
          connection.fault = "none";
          for (const release of held.splice(0)) release();
        },
      };
      const serve = (method: Method, request: unknown): Promise<unknown> => {
        const handle = handlers[method] as (request: unknown) => unknown;
        if (connection.fault === "hang") return new Promise<never>(() => undefined);
        if (connection.fault === "refuse") {
          return Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:6443"));
        }
        // Answered on a later turn of the event loop, as a network round trip is.
        const answer = (): Promise<unknown> =>
          new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
            const result = handle(request);
            if (method !== "listNamespacedLease" || connection.listDelayMs === 0) return result;
            return new Promise((resolve) => setTimeout(resolve, connection.listDelayMs, result));
          });
        if (connection.fault === "freeze") {
          return new Promise((resolve, reject) => {
            held.push(() => {
              answer().then(resolve, reject);
            });
          });
        }
        return answer();
      };
      connection.api = Object.fromEntries(
        (Object.keys(handlers) as Method[]).map((method) => [
          method,
          (request: unknown) => serve(method, request),
        ]),
      ) as unknown as CoordinationV1Api;
      return connection;
    },
  };
}
