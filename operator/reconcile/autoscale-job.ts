// spec.autoscaling applied to one job, as a pure function of the job, its last autoscaling status,
// its workload and what its Leases report: the parallelism to run, the status to write and the
// Events to record. While autoscaling is on the operator owns spec.parallelism: a value set by
// hand (kubectl scale, an HPA) is set back, with an Event that says why. The decision is written to
// the status before spec.parallelism (status.autoscaling.scalingFrom), so a scale write that failed
// or is not seen yet is told from a change by hand, and a failed status write changes nothing.
import type { V1Deployment } from "@kubernetes/client-node";
import type { AutoscalingStatus } from "../api/autoscaling-status-schema.ts";
import { decideAutoscale } from "./autoscale-decision.ts";
import type { Job } from "./job.ts";
import type { ShardProgressSummary } from "./shard-progress.ts";

export interface AutoscaleEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface Autoscaled {
  parallelism: number;
  status: AutoscalingStatus;
  events: AutoscaleEvent[];
}

/**
 * The shards have found their holders: every readable shard is held, by as many pods as can hold
 * one, evenly (at most one shard apart). While shards move, a shard between holders is read by
 * no one and its lag grows, which is the hand-over's and not the load's.
 */
function balanced(current: number, shards: ShardProgressSummary): boolean {
  const counts = shards.processors.map((processor) => processor.shards);
  return (
    shards.unowned.length === 0 &&
    counts.length === Math.min(current, shards.readable) &&
    Math.max(...counts) - Math.min(...counts) <= 1
  );
}

/**
 * Every pod has measured its shards' arrivals, or none counts them (processors of a version before
 * the count). A pod that has just taken a shard measures its arrivals once it has handed on 5 s of
 * them; deciding before that would take the incoming rate from the lag's slope, which a hand-over
 * distorts.
 */
const arrivalsKnown = (shards: ShardProgressSummary): boolean =>
  shards.loads.every((load) => (load.arrivalsPending ?? 0) === 0) &&
  (shards.loads.every((load) => load.arrivedPerSecond !== undefined) ||
    shards.loads.every((load) => load.arrivedPerSecond === undefined));

/**
 * Every pod of the current size runs the current spec, is ready, reports on its heartbeat, holds
 * its share of the shards, and knows its arrivals.
 */
function settled(
  current: number,
  deployment: V1Deployment | undefined,
  shards: ShardProgressSummary,
): boolean {
  const status = deployment?.status;
  return (
    deployment?.spec?.replicas === current &&
    status?.replicas === current &&
    status.readyReplicas === current &&
    status.updatedReplicas === current &&
    shards.loads.length >= current &&
    balanced(current, shards) &&
    arrivalsKnown(shards)
  );
}

/**
 * spec.parallelism differs from the last decision, and not because the operator's own write of
 * that decision is still to come (status.autoscaling.scalingFrom).
 */
const changedByHand = (parallelism: number, previous: AutoscalingStatus | undefined): boolean =>
  previous !== undefined &&
  parallelism !== previous.current &&
  parallelism !== previous.scalingFrom;

/** Undefined without spec.autoscaling, or while the job is suspended (nothing runs to measure). */
export function autoscaleJob(
  job: Job,
  previous: AutoscalingStatus | undefined,
  deployment: V1Deployment | undefined,
  shards: ShardProgressSummary,
  now: Date,
): Autoscaled | undefined {
  const { autoscaling } = job.spec;
  if (autoscaling === undefined || job.spec.suspend) return undefined;
  const current = previous?.current ?? job.spec.parallelism;
  const status = decideAutoscale({
    spec: autoscaling,
    capacity: job.spec.capacity,
    rateLimitPerSecond: job.spec.endpoint.rateLimit?.requestsPerSecond,
    current,
    settled: settled(current, deployment, shards),
    readableShards: shards.readable,
    pods: shards.loads,
    maxLagMillis: shards.maxLagMillis,
    previous,
    now,
  });
  const events: AutoscaleEvent[] = [];
  if (changedByHand(job.spec.parallelism, previous)) {
    events.push({
      type: "Warning",
      reason: "AutoscalingOwnsParallelism",
      message: `spec.parallelism was set to ${String(job.spec.parallelism)} by hand, but spec.autoscaling is on and owns it: set back to ${String(status.current)}. Change spec.autoscaling's minParallelism or maxParallelism, or remove spec.autoscaling to size the job by hand.`,
    });
  }
  if (status.limitedBy === "IneffectiveScaleUp" && previous?.limitedBy !== status.limitedBy) {
    events.push({
      type: "Warning",
      reason: "IneffectiveScaleUp",
      message: `${status.message ?? ""} If the endpoint's owners raise its limit, the job grows again by itself; to size the job by hand, remove spec.autoscaling.`,
    });
  }
  if (status.current !== current) {
    events.push({
      type: "Normal",
      reason: status.current > current ? "ScaledUp" : "ScaledDown",
      message: `Parallelism ${String(current)} -> ${String(status.current)}. ${status.message ?? ""}`,
    });
  }
  const { scalingFrom: _, ...decided } = status;
  return {
    parallelism: status.current,
    status:
      status.current === job.spec.parallelism
        ? decided
        : { ...decided, scalingFrom: job.spec.parallelism },
    events,
  };
}
