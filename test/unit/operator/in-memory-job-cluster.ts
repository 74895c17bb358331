// An API server and its informers in memory, for reconciler tests. Writes land as the API server
// makes them: every write bumps the object's resourceVersion, a change of the job's spec its
// generation, server-side apply keeps what others set (the status). The caches show what the
// informers last delivered, and a test says when each informer catches up. A write stores a copy
// and nothing stored changes in place, so readers share stored objects as an informer's cache
// does. The ReconcileContext over them logs every call in order, with what it sent (the
// reconciler builds its objects afresh for each call), and fails the writes a test names.
import type {
  KubernetesObject,
  KubernetesObjectApi,
  V1Deployment,
  V1Lease,
  V1Pod,
} from "@kubernetes/client-node";
import { isDeepStrictEqual } from "node:util";
import { pino } from "pino";
import {
  apiVersion,
  kind as jobKind,
  type JobSpecInput,
} from "../../../operator/api/job-schema.ts";
import type { AutoscalingStatus } from "../../../operator/api/autoscaling-status-schema.ts";
import type { JobStatus } from "../../../operator/api/status-schema.ts";
import type { Cache } from "../../../operator/controller/resilient-informer.ts";
import { createApplier } from "../../../operator/reconcile/apply.ts";
import { agesAt } from "./summarize-at.ts";
import type {
  JobObject,
  OwnedKind,
  ReconcileContext,
} from "../../../operator/reconcile/reconcile-job.ts";

export type Write = "writeStatus" | "scaleJob" | "apply";

export type Call =
  | { op: "readJob" }
  | { op: "readSecret"; name: string }
  | { op: "writeStatus"; status: JobStatus; failed: boolean }
  | { op: "scaleJob"; parallelism: number; failed: boolean }
  | { op: "apply"; object: KubernetesObject; failed: boolean }
  | { op: "recordEvent"; type: "Normal" | "Warning"; reason: string; message: string }
  | { op: "onAutoscaled"; status: AutoscalingStatus | undefined };

/** A refusal as client-node's ApiException carries it: the code, and the Status as JSON text. */
export const apiError = (code: number, message: string): Error =>
  Object.assign(new Error(`HTTP-Code: ${String(code)} Message: ${message}`), {
    code,
    body: JSON.stringify({ kind: "Status", code, message }),
  });

type Objects = Map<string, KubernetesObject>;

const keyOf = (kind: string, namespace: string, name: string): string =>
  `${kind}/${namespace}/${name}`;
const keyOfObject = (object: KubernetesObject): string =>
  keyOf(object.kind ?? "", object.metadata?.namespace ?? "", object.metadata?.name ?? "");

const ownedKinds: readonly OwnedKind[] = [
  "ServiceAccount",
  "Role",
  "RoleBinding",
  "ConfigMap",
  "Service",
  "NetworkPolicy",
];

function cacheOf<T extends KubernetesObject>(seen: Objects, kind: string): Cache<T> {
  const all = (): T[] => [...seen.values()].filter((object) => object.kind === kind) as T[];
  return {
    get: (name, namespace) => seen.get(keyOf(kind, namespace, name)) as T | undefined,
    list: (namespace) =>
      all().filter((object) => namespace === undefined || object.metadata?.namespace === namespace),
    start: () => Promise.resolve(),
    stop: () => Promise.resolve(),
  };
}

export const namespace = "shop";
export const name = "orders";
export const key = `${namespace}/${name}`;

/** What the API server holds and what the informers have delivered of it. */
function createStore() {
  const server: Objects = new Map();
  const seen: Objects = new Map();
  let version = 0;
  return {
    server,
    seen,
    /** A write as the API server lands it: a copy, with a new resourceVersion. */
    put: (object: KubernetesObject): void => {
      const stored = structuredClone(object);
      (stored.metadata ??= {}).resourceVersion = String(++version);
      server.set(keyOfObject(stored), stored);
    },
    /** The informers of these kinds (all when none is named) deliver what the server has. */
    sync: (...kinds: string[]): void => {
      const syncs = (object: KubernetesObject): boolean =>
        kinds.length === 0 || kinds.includes(object.kind ?? "");
      for (const [at, object] of seen) if (syncs(object) && !server.has(at)) seen.delete(at);
      for (const [at, object] of server) if (syncs(object)) seen.set(at, object);
    },
  };
}

type Store = ReturnType<typeof createStore>;

/** The job's own API: read it, change its spec (a new generation), as the API server does. */
function jobApi(store: Store) {
  const jobKey = keyOf(jobKind, namespace, name);
  /** The stored job: a write stores a copy, so it never changes under the reader. */
  const read = (): JobObject => {
    const stored = store.server.get(jobKey);
    if (stored === undefined) throw apiError(404, `asyncenrichmentjobs "${name}" not found`);
    return stored;
  };
  return {
    read,
    exists: (): boolean => store.server.has(jobKey),
    setSpec(changes: Partial<JobSpecInput>): void {
      const live = structuredClone(read());
      const spec = { ...(live.spec as JobSpecInput), ...changes };
      if (isDeepStrictEqual(live.spec, spec)) return;
      const metadata = (live.metadata ??= {});
      metadata.generation = (metadata.generation ?? 0) + 1;
      live.spec = spec;
      store.put(live);
    },
    setStatus(status: JobStatus): void {
      store.put({ ...read(), status } as JobObject);
    },
  };
}

type Attempt = Call extends infer C
  ? C extends { failed: boolean }
    ? Omit<C, "failed">
    : never
  : never;

interface Hooks {
  onCall(call: Call): void;
  fails(write: Write): Error | undefined;
}

/** The reconciler's view of the store: caches for reads, the API for writes, every call logged. */
function contextOver(store: Store, calls: Call[], hooks: Hooks, now: () => Date): ReconcileContext {
  const jobs = jobApi(store);
  const log = (call: Call): void => {
    calls.push(call);
    hooks.onCall(call);
  };
  /** A write a test fails is logged as failed and never lands. */
  const attempt = (write: Write, call: Attempt): void => {
    const error = hooks.fails(write);
    log({ ...call, failed: error !== undefined });
    if (error !== undefined) throw error;
  };
  // Only patch is called (createApplier): server-side apply, which keeps the status others set.
  const objectApi = {
    patch(desired: KubernetesObject): Promise<KubernetesObject> {
      attempt("apply", { op: "apply", object: desired });
      const live: V1Deployment | undefined = store.server.get(keyOfObject(desired));
      store.put({ ...desired, ...(live?.status === undefined ? {} : { status: live.status }) });
      return Promise.resolve(desired);
    },
  } as unknown as KubernetesObjectApi;
  const owned = Object.fromEntries(
    ownedKinds.map((kind) => [kind, cacheOf<KubernetesObject>(store.seen, kind)]),
  ) as Record<OwnedKind, Cache<KubernetesObject>>;
  return {
    jobs: cacheOf<JobObject>(store.seen, jobKind),
    deployments: cacheOf<V1Deployment>(store.seen, "Deployment"),
    pods: cacheOf<V1Pod>(store.seen, "Pod"),
    leases: cacheOf<V1Lease>(store.seen, "Lease"),
    // The processors write renewTime when they renew: seen changed then.
    leaseAges: { unchangedForMs: (lease) => agesAt(now()).unchangedForMs(lease) },
    owned,
    applier: createApplier(objectApi),
    readSecret(_namespace, secret) {
      log({ op: "readSecret", name: secret });
      return Promise.resolve(undefined);
    },
    readJob() {
      log({ op: "readJob" });
      return Promise.resolve(jobs.exists() ? structuredClone(jobs.read()) : undefined);
    },
    writeStatus(_job, status) {
      attempt("writeStatus", { op: "writeStatus", status });
      jobs.setStatus(status);
      return Promise.resolve();
    },
    scaleJob(_job, parallelism) {
      attempt("scaleJob", { op: "scaleJob", parallelism });
      jobs.setSpec({ parallelism });
      return Promise.resolve();
    },
    onAutoscaled(_key, status) {
      log({ op: "onAutoscaled", status });
    },
    recordEvent(_job, type, reason, message) {
      log({ op: "recordEvent", type, reason, message });
      return Promise.resolve();
    },
    settings: { defaultImage: "ghcr.io/async-enrichment/async-enrichment:0.1.0" },
    logger: pino({ level: "silent" }),
    now,
  };
}

/** A cluster holding one job, orders in shop, created at `start` with this spec. */
export function createInMemoryJobCluster(spec: JobSpecInput, start: Date) {
  const store = createStore();
  const jobs = jobApi(store);
  const calls: Call[] = [];
  let now = start;
  const deploymentKey = keyOf("Deployment", namespace, `${name}-processor`);
  const cluster = {
    calls,
    /** Sees each call as it arrives, before a write lands: for invariants of that moment. */
    onCall: (() => undefined) as (call: Call) => void,
    /** The error a write fails with, or undefined; asked once per write. */
    fails: (() => undefined) as (write: Write) => Error | undefined,
    now: (): Date => now,
    advance(millis: number): void {
      now = new Date(now.getTime() + millis);
    },
    job: jobs.read,
    deployment: (): V1Deployment | undefined => store.server.get(deploymentKey),
    sync: store.sync,
    /** Every informer has delivered every write. */
    caughtUp: (): boolean =>
      store.server.size === store.seen.size &&
      [...store.server].every(([at, object]) => store.seen.get(at) === object),
    /** kubectl delete of the job, not yet seen by its informer. */
    deleteJob(): void {
      store.server.delete(keyOf(jobKind, namespace, name));
    },
    /** kubectl scale by hand (or another writer of spec.parallelism). */
    scaleByHand(parallelism: number): void {
      jobs.setSpec({ parallelism });
    },
    /** The Deployment controller and the kubelet: every replica runs the current spec. */
    rollOut(): void {
      const deployment = structuredClone(cluster.deployment());
      const replicas = deployment?.spec?.replicas;
      if (deployment === undefined || replicas === undefined) return;
      deployment.status = { replicas, readyReplicas: replicas, updatedReplicas: replicas };
      store.put(deployment);
    },
    /** The processors' Leases in the namespace, as they have just written them. */
    setLeases(leases: readonly V1Lease[]): void {
      for (const [at, object] of store.server) if (object.kind === "Lease") store.server.delete(at);
      for (const lease of leases) store.put(lease);
    },
  };
  const hooks: Hooks = {
    onCall: (call) => {
      cluster.onCall(call);
    },
    fails: (write) => cluster.fails(write),
  };
  store.put({
    apiVersion,
    kind: jobKind,
    metadata: { name, namespace, uid: "0d5f1f1e-5c7a-4a43-9d2e-6b1f6f3c2a11", generation: 1 },
    spec,
  } as JobObject);
  store.sync();
  // Assigned onto it, so a test's fails and onCall reach the hooks.
  return Object.assign(cluster, { context: contextOver(store, calls, hooks, () => now) });
}

export type InMemoryJobCluster = ReturnType<typeof createInMemoryJobCluster>;
