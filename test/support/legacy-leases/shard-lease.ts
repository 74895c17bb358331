// The previous release's version, kept with legacy-leases/lease-coordinator.ts.
// One shard's Lease, as the processors and the operator read it: who holds it, its checkpoint and
// the holder's latest figures. Pure conversions between the Lease object and that view, so the
// rules stay testable without an API server. The checkpoint and figures sit in annotations: a
// Lease's spec has no room for them, and annotations are written with the same resourceVersion.
import { V1MicroTime, type V1Lease, type V1OwnerReference } from "@kubernetes/client-node";

export const annotations = {
  shardId: "asyncenrichment.dev/shard-id",
  parents: "asyncenrichment.dev/parent-shards",
  checkpoint: "asyncenrichment.dev/checkpoint",
  progress: "asyncenrichment.dev/progress",
  /** A processor below its fair share asks the holder to hand the shard over. */
  handoffTo: "asyncenrichment.dev/handoff-to",
} as const;

/** What the holder reports about its shard at each write (rates over the time since the last). */
export interface ShardProgress {
  worker: string;
  recordsIn: number;
  recordsOut: number;
  inPerSecond: number;
  outPerSecond: number;
  /** Records whose call failed, per second, and the reason of the last one. */
  failedPerSecond: number;
  lastFailure: string | undefined;
  millisBehindLatest: number | undefined;
  /** The last error reading the shard, cleared by the next successful read. */
  lastError: string | undefined;
  /** While the holder pauses calls through an endpoint outage: the last outage error. */
  endpointOutage?: string | undefined;
  /** RFC 3339 time of the write. */
  at: string;
}

export interface ShardLease {
  name: string;
  shardId: string;
  parents: string[];
  /** Empty when free (never taken, released, or the shard finished). */
  holder: string;
  checkpoint: string | undefined;
  progress: ShardProgress | undefined;
  /** The processor that asked for the shard, or "". */
  handoffTo: string;
  leaseDurationSeconds: number;
  resourceVersion: string;
  transitions: number;
  object: V1Lease;
}

/** Lease name of a shard: DNS-safe (shard ids are like shardId-000000000001). */
export function leaseName(prefix: string, shardId: string): string {
  // A DNS name ends alphanumeric; Kinesis ids may end in "_" or "." (real ones end in digits).
  const safe = shardId.toLowerCase().replace(/[^a-z0-9-]/g, "-");
  return `${prefix}-${/[a-z0-9]$/.test(safe) ? safe : `${safe}0`}`;
}

function parseProgress(text: string | undefined): ShardProgress | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as ShardProgress)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The view of a Lease, or undefined for a Lease that is not a shard lease of ours. */
export function toShardLease(lease: V1Lease): ShardLease | undefined {
  const meta = lease.metadata;
  const shardId = meta?.annotations?.[annotations.shardId];
  if (meta?.name === undefined || shardId === undefined) return undefined;
  const parents = meta.annotations?.[annotations.parents];
  return {
    name: meta.name,
    shardId,
    parents: parents === undefined || parents === "" ? [] : parents.split(","),
    holder: lease.spec?.holderIdentity ?? "",
    checkpoint: meta.annotations?.[annotations.checkpoint],
    progress: parseProgress(meta.annotations?.[annotations.progress]),
    handoffTo: meta.annotations?.[annotations.handoffTo] ?? "",
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? 0,
    resourceVersion: meta.resourceVersion ?? "",
    transitions: lease.spec?.leaseTransitions ?? 0,
    object: lease,
  };
}

export interface NewLease {
  namespace: string;
  prefix: string;
  shardId: string;
  parents: (string | undefined)[];
  labels: Record<string, string>;
  owner: V1OwnerReference | undefined;
  leaseDurationSeconds: number;
}

/** A free Lease for a newly listed shard. */
export function newShardLease(spec: NewLease): V1Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: leaseName(spec.prefix, spec.shardId),
      namespace: spec.namespace,
      labels: spec.labels,
      annotations: {
        [annotations.shardId]: spec.shardId,
        [annotations.parents]: spec.parents.filter((parent) => parent !== undefined).join(","),
      },
      ...(spec.owner === undefined ? {} : { ownerReferences: [spec.owner] }),
    },
    spec: { leaseDurationSeconds: spec.leaseDurationSeconds, leaseTransitions: 0 },
  };
}

export interface LeaseChange {
  /** New holder; "" releases. Undefined keeps the holder and renews. */
  holder?: string;
  /** Asks the holder to hand the shard to this processor. */
  handoffTo?: string;
  checkpoint?: string;
  progress?: ShardProgress;
}

/**
 * The Lease after a change by `worker`, keeping its resourceVersion so the API server refuses the
 * update if anyone wrote the Lease since we read it.
 */
export function changedLease(
  lease: ShardLease,
  change: LeaseChange,
  leaseDurationSeconds: number,
  now: Date,
): V1Lease {
  const { object } = lease;
  const taking =
    change.holder !== undefined && change.holder !== "" && change.holder !== lease.holder;
  const holder = change.holder ?? lease.holder;
  const metaAnnotations = { ...object.metadata?.annotations };
  if (change.checkpoint !== undefined) metaAnnotations[annotations.checkpoint] = change.checkpoint;
  if (change.progress !== undefined) {
    metaAnnotations[annotations.progress] = JSON.stringify(change.progress);
  }
  if (change.handoffTo !== undefined) metaAnnotations[annotations.handoffTo] = change.handoffTo;

  const meta = object.metadata;
  const spec = object.spec;
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: meta?.name,
      namespace: meta?.namespace,
      resourceVersion: meta?.resourceVersion,
      labels: meta?.labels,
      // A request is settled once the shard is released or changes hands.
      annotations:
        holder === "" || taking
          ? Object.fromEntries(
              Object.entries(metaAnnotations).filter(([key]) => key !== annotations.handoffTo),
            )
          : metaAnnotations,
      ownerReferences: meta?.ownerReferences,
    },
    spec: {
      leaseDurationSeconds,
      leaseTransitions: lease.transitions + (taking ? 1 : 0),
      ...(holder === ""
        ? {}
        : {
            holderIdentity: holder,
            renewTime: new V1MicroTime(now),
            acquireTime:
              taking || spec?.acquireTime === undefined
                ? new V1MicroTime(now)
                : new V1MicroTime(spec.acquireTime),
          }),
    },
  };
}
