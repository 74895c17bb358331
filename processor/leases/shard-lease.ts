// One shard's Lease, as the processors and the operator read it: who holds it and its checkpoint.
// Pure conversions between the Lease object and that view, so the rules stay testable without an
// API server. The checkpoint sits in an annotation: a Lease's spec has no room for it, and
// annotations are written with the same resourceVersion. Whether the holder is alive is its
// heartbeat's business (heartbeat-lease.ts), unless the holder runs the old protocol and renews
// the shard Lease itself.
import { V1MicroTime, type V1Lease, type V1OwnerReference } from "@kubernetes/client-node";
import { z } from "zod";
import { dnsSafe, parseJsonAnnotation } from "./lease-text.ts";

export const annotations = {
  shardId: "asyncenrichment.dev/shard-id",
  parents: "asyncenrichment.dev/parent-shards",
  checkpoint: "asyncenrichment.dev/checkpoint",
  /** The old protocol's per-shard figures; heartbeats carry them now. */
  progress: "asyncenrichment.dev/progress",
  /**
   * The holder when it renews a heartbeat instead of this Lease. A holder of the old protocol
   * that takes the Lease keeps the annotation of the one before, so it names someone else.
   */
  heartbeatHolder: "asyncenrichment.dev/heartbeat-holder",
  /** A processor below its fair share asks the holder to hand the shard over. */
  handoffTo: "asyncenrichment.dev/handoff-to",
} as const;

/**
 * What a holder of the old protocol reports about its shard at each write (rates over the time
 * since the last). Read during a rolling upgrade from that protocol.
 */
export const shardProgressSchema = z.object({
  worker: z.string(),
  recordsIn: z.number(),
  recordsOut: z.number(),
  inPerSecond: z.number(),
  outPerSecond: z.number(),
  /** Records whose call failed, per second, and the reason of the last one. */
  failedPerSecond: z.number(),
  lastFailure: z.string().optional(),
  millisBehindLatest: z.number().optional(),
  /** The last error reading the shard, cleared by the next successful read. */
  lastError: z.string().optional(),
  /** While the holder pauses calls through an endpoint outage: the last outage error. */
  endpointOutage: z.string().optional(),
  /** RFC 3339 time of the write. */
  at: z.string(),
});
export type ShardProgress = z.infer<typeof shardProgressSchema>;

/**
 * spec.leaseDurationSeconds of a shard Lease whose holder renews a heartbeat: ownership lasts as
 * long as the heartbeat. Processors of the old protocol judge a Lease by this field, so during a
 * rolling upgrade they do not take a shard from a live processor of the new one.
 */
export const HEARTBEAT_HELD_SECONDS = 3_600;

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
  /** True when the holder renews a heartbeat Lease rather than this one. */
  heartbeatHeld: boolean;
  leaseDurationSeconds: number;
  resourceVersion: string;
  transitions: number;
  object: V1Lease;
}

/** Lease name of a shard: DNS-safe (shard ids are like shardId-000000000001). */
export function leaseName(prefix: string, shardId: string): string {
  // Kinesis ids may end in "_" or "." (real ones end in digits).
  return `${prefix}-${dnsSafe(shardId)}`;
}

/** The view of a Lease, or undefined for a Lease that is not a shard lease of ours. */
export function toShardLease(lease: V1Lease): ShardLease | undefined {
  const meta = lease.metadata;
  const shardId = meta?.annotations?.[annotations.shardId];
  if (meta?.name === undefined || shardId === undefined) return undefined;
  const parents = meta.annotations?.[annotations.parents];
  const holder = lease.spec?.holderIdentity ?? "";
  return {
    name: meta.name,
    shardId,
    parents: parents === undefined || parents === "" ? [] : parents.split(","),
    holder,
    checkpoint: meta.annotations?.[annotations.checkpoint],
    progress: parseJsonAnnotation(shardProgressSchema, meta.annotations?.[annotations.progress]),
    handoffTo: meta.annotations?.[annotations.handoffTo] ?? "",
    heartbeatHeld: holder !== "" && meta.annotations?.[annotations.heartbeatHolder] === holder,
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
  /** Whether the holder after the change renews a heartbeat; undefined keeps what it says. */
  holderHeartbeat?: boolean;
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
  if (change.holderHeartbeat === true && holder !== "") {
    metaAnnotations[annotations.heartbeatHolder] = holder;
  }
  const dropped = new Set<string>();
  if (change.holderHeartbeat === false || holder === "") dropped.add(annotations.heartbeatHolder);
  // A request is settled once the shard is released or changes hands.
  if (holder === "" || taking) dropped.add(annotations.handoffTo);

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
      annotations: Object.fromEntries(
        Object.entries(metaAnnotations).filter(([key]) => !dropped.has(key)),
      ),
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
