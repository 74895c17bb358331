// The job's status as a pure function of what the reconciler observed: the workload's status,
// problems of its pods, Secrets the spec references that do not exist, and the shard Leases the
// processors hold and report on. Conditions carry reasons a
// person can act on; the phase is their one-word summary for `kubectl get`.
import { isTlsFailureReason } from "../../processor/contract.ts";
import type { Condition, JobStatus } from "../api/status-schema.ts";
import { setCondition, type ConditionUpdate } from "./conditions.ts";
import type { Job } from "./job.ts";
import type { ShardProgressSummary } from "./shard-progress.ts";

export interface Observed {
  /** Desired replicas after suspend: what the workload should run. */
  desiredReplicas: number;
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
  /** Label selector of the processor pods, serialized (for the scale subresource). */
  selector: string;
  /** Pods that cannot run, with the kubelet's reason (CrashLoopBackOff, ImagePullBackOff, ...). */
  podProblems: { pod: string; reason: string; message: string }[];
  /** Secret keys the spec needs that do not exist, with the field that references each. */
  missingSecrets: { secret: string; key: string; field: string }[];
  shards: ShardProgressSummary;
}

/** Degraded when processors report that reading the source or calling the endpoint fails. */
function processorHealth(job: Job, shards: ShardProgressSummary): ConditionUpdate {
  if (shards.readError !== undefined) {
    return {
      type: "Degraded",
      status: "True",
      reason: "SourceReadFailing",
      message: `Reading shard ${shards.readError.shardId} of ${job.spec.source.stream} fails: ${shards.readError.error}. The processors retry; check spec.source.stream, spec.aws and the pods' AWS identity.`,
    };
  }
  if (shards.endpointOutage !== undefined) {
    const { pod, reason } = shards.endpointOutage;
    const tls = isTlsFailureReason(reason);
    return {
      type: "Degraded",
      status: "True",
      reason: "EndpointUnavailable",
      message: `${job.spec.endpoint.url} ${tls ? "fails the TLS handshake" : "is not answering"} (${pod}: ${reason}): the processors paused calling it and probe it every ${String(job.spec.endpoint.outage.probeIntervalMs)} ms or more; records wait in ${job.spec.source.stream} (the lag grows) and none goes to the failure policy for the outage. ${tls ? "Fix spec.endpoint.tls or the endpoint's certificate as the reason says; an updated Secret or ConfigMap reaches the pods without a restart." : "Check that the service is up and reachable from the processor pods."}`,
    };
  }
  if (shards.failure !== undefined) {
    const fate = {
      deadLetter: `go to the dead-letter stream ${job.spec.deadLetter?.stream ?? ""}`,
      drop: "are dropped (failurePolicy drop)",
      fail: "stop the processors (failurePolicy fail)",
    }[job.spec.failurePolicy];
    return {
      type: "Degraded",
      status: "True",
      reason: "RecordsFailing",
      message: `${String(shards.failedPerSecond)} records/s fail at the endpoint and ${fate}; last reason (shard ${shards.failure.shardId}): ${shards.failure.reason}. Check that ${job.spec.endpoint.url} is up and answers as expected.`,
    };
  }
  return { type: "Degraded", status: "False", reason: "AsExpected", message: "No problem found." };
}

/** Ready once every shard that may be read has a live holder. */
function shardReadiness(job: Job, observed: Observed): ConditionUpdate {
  const { shards } = observed;
  const processors = `${observed.readyReplicas} of ${observed.desiredReplicas} processors ready`;
  if (shards.shards === 0) {
    return {
      type: "Ready",
      status: "False",
      reason: "WaitingForShards",
      message: `${processors}; no shard Lease yet: processors list the stream's shards and take them within spec.leases.renewIntervalMs (${job.spec.leases.renewIntervalMs} ms).`,
    };
  }
  if (shards.unowned.length > 0) {
    return {
      type: "Ready",
      status: "False",
      reason: "ShardsUnowned",
      message: `${processors}; ${shards.unowned.length} of ${shards.shards} shards have no live holder (${shards.unowned.slice(0, 5).join(", ")}): a processor takes an expired Lease within spec.leases.leaseDurationSeconds (${job.spec.leases.leaseDurationSeconds} s). If it lasts, see kubectl logs -n ${job.namespace} -l asyncenrichment.dev/job=${job.name}.`,
    };
  }
  return {
    type: "Ready",
    status: "True",
    reason: "ProcessorsReady",
    message:
      shards.owned === shards.shards
        ? `${processors}, holding all ${shards.shards} shards.`
        : `${processors}, holding ${shards.owned} of ${shards.shards} shards; the others wait for their parent shards to be read to the end.`,
  };
}

function conditionsFor(
  job: Job,
  observed: Observed,
): { phase: NonNullable<JobStatus["phase"]>; updates: ConditionUpdate[] } {
  const paused = observed.desiredReplicas === 0;
  const secret = observed.missingSecrets[0];
  if (secret !== undefined) {
    const message = `Secret ${secret.secret} (key ${secret.key}), referenced by ${secret.field}, is missing in namespace ${job.namespace}: create it and the job resumes by itself.`;
    return {
      phase: "Degraded",
      updates: [
        { type: "Degraded", status: "True", reason: "SecretNotFound", message },
        { type: "Ready", status: "False", reason: "SecretNotFound", message },
        { type: "Progressing", status: "False", reason: "SecretNotFound", message },
      ],
    };
  }
  const problem = observed.podProblems[0];
  if (problem !== undefined) {
    const message = `${observed.podProblems.length} of ${observed.replicas} processor pods cannot run: ${problem.pod} is in ${problem.reason} (${problem.message}). See kubectl logs ${problem.pod} -n ${job.namespace}.`;
    return {
      phase: "Degraded",
      updates: [
        { type: "Degraded", status: "True", reason: `Processors${problem.reason}`, message },
        { type: "Ready", status: "False", reason: "ProcessorsNotReady", message },
        { type: "Progressing", status: "False", reason: `Processors${problem.reason}`, message },
      ],
    };
  }
  const { shards } = observed;
  const healthy = processorHealth(job, shards);
  if (paused) {
    const message = job.spec.suspend
      ? "spec.suspend is true: no processor runs and checkpoints are kept. Set it to false to resume."
      : "spec.parallelism is 0: no processor runs and checkpoints are kept. Scale up to resume.";
    const settled = observed.replicas === 0;
    return {
      phase: "Paused",
      updates: [
        healthy,
        { type: "Ready", status: "False", reason: "Paused", message },
        settled
          ? { type: "Progressing", status: "False", reason: "Paused", message }
          : {
              type: "Progressing",
              status: "True",
              reason: "Draining",
              message: `${observed.replicas} processors are draining.`,
            },
      ],
    };
  }
  const rolledOut =
    observed.updatedReplicas >= observed.desiredReplicas &&
    observed.readyReplicas >= observed.desiredReplicas &&
    observed.replicas === observed.desiredReplicas;
  if (rolledOut) {
    return {
      phase: healthy.status === "True" ? "Degraded" : "Running",
      updates: [
        healthy,
        shardReadiness(job, observed),
        {
          type: "Progressing",
          status: "False",
          reason: "RolloutComplete",
          message: "Every processor runs the current spec.",
        },
      ],
    };
  }
  const message = `${observed.readyReplicas} of ${observed.desiredReplicas} processors ready, ${observed.updatedReplicas} on the current spec.`;
  return {
    phase: observed.readyReplicas > 0 ? "Running" : "Pending",
    updates: [
      healthy,
      { type: "Ready", status: "False", reason: "ProcessorsNotReady", message },
      { type: "Progressing", status: "True", reason: "RollingOut", message },
    ],
  };
}

export function jobStatus(
  job: Job,
  previous: readonly Condition[],
  observed: Observed,
  now: Date,
): JobStatus {
  const { phase, updates } = conditionsFor(job, observed);
  const conditions = updates.reduce<Condition[]>(
    (current, update) => setCondition(current, update, job.generation, now),
    [...previous],
  );
  return {
    observedGeneration: job.generation,
    phase,
    replicas: observed.replicas,
    readyReplicas: observed.readyReplicas,
    selector: observed.selector,
    shards: observed.shards.shards,
    ownedShards: observed.shards.owned,
    processors: observed.shards.processors,
    ...(observed.shards.concurrencyLimit === undefined
      ? {}
      : { concurrencyLimit: Math.floor(observed.shards.concurrencyLimit) }),
    maxConcurrency: observed.desiredReplicas * job.spec.capacity,
    ...(observed.shards.maxLagMillis === undefined
      ? {}
      : { maxLagMillis: observed.shards.maxLagMillis }),
    recordsInPerSecond: observed.shards.recordsInPerSecond,
    recordsPerSecond: observed.shards.recordsPerSecond,
    failedPerSecond: observed.shards.failedPerSecond,
    conditions,
  };
}
