// A processor's heartbeat: one Lease per processor, renewed on its own schedule, as a node Lease
// is per kubelet. A shard Lease names its holder; the holder lives as long as its heartbeat is
// renewed. The heartbeat also carries the processor's figures for the operator's job status (one
// write per processor instead of one per shard). Pure conversions between the Lease object and
// that view; the annotations are parsed with zod, here and in the operator.
import { V1MicroTime, type V1Lease, type V1OwnerReference } from "@kubernetes/client-node";
import { z } from "zod";
import { dnsSafe, parseJsonAnnotation } from "./lease-text.ts";

export const heartbeatAnnotations = {
  /** The processor whose heartbeat this is (its Lease name is derived from it, lower-cased). */
  processor: "asyncenrichment.dev/processor",
  progress: "asyncenrichment.dev/progress",
} as const;

/** What a processor reports at each heartbeat: its totals, and the lag of each shard it reads. */
export const processorProgressSchema = z.object({
  worker: z.string(),
  /** Records read, written and failed per second over the time since the last heartbeat. */
  inPerSecond: z.number(),
  outPerSecond: z.number(),
  failedPerSecond: z.number(),
  /** The shard and reason of a recent failed call, while calls fail. */
  lastFailure: z.object({ shardId: z.string(), reason: z.string() }).optional(),
  /** A source error reading a shard, cleared by the next successful read. */
  readError: z.object({ shardId: z.string(), error: z.string() }).optional(),
  /** While the processor pauses calls through an endpoint outage: the last outage error. */
  endpointOutage: z.string().optional(),
  /** Records the processor admits now: its adaptive concurrency limit, or capacity when off. */
  concurrencyLimit: z.number().optional(),
  /** With a rate limit: the processor's share of it, in requests per second. */
  rateLimitShare: z.number().optional(),
  /** Mean latency of successful endpoint calls since the last heartbeat, in milliseconds. */
  endpointLatencyMillis: z.number().optional(),
  /** Mean calls in flight since the last heartbeat (the operator's autoscaler reads both). */
  inFlight: z.number().optional(),
  /**
   * Records that arrived per second in the shards it holds, counted by their arrival times (the
   * rate at which the records it processes now arrived), when known for every shard.
   */
  arrivedPerSecond: z.number().optional(),
  /**
   * Shards it holds whose arrivals are not measured yet (just taken): the autoscaler waits for
   * them rather than estimate the incoming rate another way. Absent from processors that do not
   * count arrivals at all.
   */
  arrivalsPending: z.number().optional(),
  /**
   * Each shard's lag: millisBehindLatest, or the age of the record handed on last while records
   * wait in the pod (processing-lag.ts).
   */
  lagMillis: z.record(z.string(), z.number()),
  /** RFC 3339 time of the heartbeat. */
  at: z.string(),
});
export type ProcessorProgress = z.infer<typeof processorProgressSchema>;

export interface Heartbeat {
  name: string;
  processor: string;
  /** Empty once released. */
  holder: string;
  leaseDurationSeconds: number;
  renewTime: Date | undefined;
  progress: ProcessorProgress | undefined;
  resourceVersion: string;
  object: V1Lease;
}

/** A DNS-safe Lease name for a processor's heartbeat (pod names already are). */
export function heartbeatLeaseName(prefix: string, processor: string): string {
  return `${prefix}-heartbeat-${dnsSafe(processor)}`.slice(0, 253);
}

/** The view of a Lease, or undefined for a Lease that is not a processor heartbeat. */
export function toHeartbeat(lease: V1Lease): Heartbeat | undefined {
  const meta = lease.metadata;
  const processor = meta?.annotations?.[heartbeatAnnotations.processor];
  if (meta?.name === undefined || processor === undefined) return undefined;
  const renewed = lease.spec?.renewTime;
  return {
    name: meta.name,
    processor,
    holder: lease.spec?.holderIdentity ?? "",
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? 0,
    renewTime: renewed === undefined ? undefined : new Date(renewed),
    progress: parseJsonAnnotation(
      processorProgressSchema,
      meta.annotations?.[heartbeatAnnotations.progress],
    ),
    resourceVersion: meta.resourceVersion ?? "",
    object: lease,
  };
}

export interface NewHeartbeat {
  namespace: string;
  prefix: string;
  processor: string;
  labels: Record<string, string>;
  owner: V1OwnerReference | undefined;
  leaseDurationSeconds: number;
}

/** The heartbeat a processor creates when it starts. */
export function newHeartbeatLease(spec: NewHeartbeat, now: Date): V1Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: heartbeatLeaseName(spec.prefix, spec.processor),
      namespace: spec.namespace,
      labels: spec.labels,
      annotations: { [heartbeatAnnotations.processor]: spec.processor },
      ...(spec.owner === undefined ? {} : { ownerReferences: [spec.owner] }),
    },
    spec: {
      holderIdentity: spec.processor,
      leaseDurationSeconds: spec.leaseDurationSeconds,
      acquireTime: new V1MicroTime(now),
      renewTime: new V1MicroTime(now),
      leaseTransitions: 0,
    },
  };
}

/** The heartbeat renewed, keeping its resourceVersion (a fenced write). */
export function renewedHeartbeat(
  heartbeat: Heartbeat,
  leaseDurationSeconds: number,
  progress: ProcessorProgress | undefined,
  now: Date,
): V1Lease {
  const meta = heartbeat.object.metadata;
  const spec = heartbeat.object.spec;
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: meta?.name,
      namespace: meta?.namespace,
      resourceVersion: meta?.resourceVersion,
      labels: meta?.labels,
      annotations: {
        ...meta?.annotations,
        ...(progress === undefined
          ? {}
          : { [heartbeatAnnotations.progress]: JSON.stringify(progress) }),
      },
      ownerReferences: meta?.ownerReferences,
    },
    spec: {
      holderIdentity: heartbeat.processor,
      leaseDurationSeconds,
      acquireTime: new V1MicroTime(spec?.acquireTime ?? now),
      renewTime: new V1MicroTime(now),
      leaseTransitions: spec?.leaseTransitions ?? 0,
    },
  };
}
