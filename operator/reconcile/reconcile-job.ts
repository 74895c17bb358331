// The reconciler of one AsyncEnrichmentJob, as controller-runtime's: read the job, observe what
// runs, decide (autoscaling) and compute the desired objects with pure builders, apply those that
// differ, write the status if it changed. A rescale is the exception to that order: its decision
// is written to the status first, then spec.parallelism, then the objects, so a scale write that
// fails is retried from the status and a status write that fails leaves nothing half done.
// Level-based: running it twice in a row writes nothing.
import { isDeepStrictEqual } from "node:util";
import type {
  KubernetesObject,
  V1Deployment,
  V1Lease,
  V1Pod,
  V1Secret,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiErrorMessage, describeIssues } from "../../processor/contract.ts";
import { jobSpecSchema } from "../api/job-schema.ts";
import type { AutoscalingStatus } from "../api/autoscaling-status-schema.ts";
import type { JobStatus } from "../api/status-schema.ts";
import type { Cache } from "../controller/resilient-informer.ts";
import type { ReconcileResult } from "../controller/work-queue.ts";
import type { Applier } from "./apply.ts";
import { decisionIntervalMs } from "./autoscale-decision.ts";
import { autoscaleJob, type Autoscaled } from "./autoscale-job.ts";
import { setCondition } from "./conditions.ts";
import { desiredConfigMap } from "./desired-config.ts";
import { desiredNetworkPolicy } from "./desired-network-policy.ts";
import { desiredRole, desiredRoleBinding, desiredServiceAccount } from "./desired-rbac.ts";
import { desiredMetricsService } from "./desired-service.ts";
import { desiredDeployment, type WorkloadSettings } from "./desired-workload.ts";
import { jobStatus, type Observed } from "./job-status.ts";
import { processorName, selectorLabels, type Job } from "./job.ts";
import type { LeaseAges } from "./lease-renewals.ts";
import { summarizeShards, type ShardProgressSummary } from "./shard-progress.ts";
import { labelKeys } from "./labels.ts";

export interface JobObject extends KubernetesObject {
  spec?: unknown;
  status?: JobStatus;
}

export interface ReconcileContext {
  jobs: Cache<JobObject>;
  deployments: Cache<V1Deployment>;
  pods: Cache<V1Pod>;
  leases: Cache<V1Lease>;
  /** How long each Lease has gone unchanged, on the operator's clock (lease-renewals.ts). */
  leaseAges: LeaseAges;
  /** The objects a job owns besides its Deployment, by kind, from informers. */
  owned: Record<OwnedKind, Cache<KubernetesObject>>;
  applier: Applier;
  readSecret(namespace: string, name: string): Promise<V1Secret | undefined>;
  /** The job read from the API server, past the cache. */
  readJob(namespace: string, name: string): Promise<JobObject | undefined>;
  writeStatus(job: JobObject, status: JobStatus): Promise<void>;
  /** Sets spec.parallelism through the scale subresource (spec.autoscaling). */
  scaleJob(job: JobObject, parallelism: number): Promise<void>;
  /**
   * Sees each job's autoscaling status once a reconcile has recorded it (metrics); undefined when
   * off or gone.
   */
  onAutoscaled(key: string, status: AutoscalingStatus | undefined): void;
  recordEvent(
    job: JobObject,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): Promise<void>;
  settings: WorkloadSettings;
  logger: Logger;
  now(): Date;
}

const podProblemReasons = new Set([
  "CrashLoopBackOff",
  "ImagePullBackOff",
  "ErrImagePull",
  "CreateContainerConfigError",
]);

export type OwnedKind =
  "ServiceAccount" | "Role" | "RoleBinding" | "ConfigMap" | "Service" | "NetworkPolicy";

/** The live object as the informer last saw it; undefined if there is none. */
function cached(
  context: ReconcileContext,
  desired: KubernetesObject,
): KubernetesObject | undefined {
  const cache = context.owned[desired.kind as OwnedKind] as Cache<KubernetesObject> | undefined;
  if (cache === undefined) throw new Error(`no informer for owned kind ${desired.kind ?? ""}`);
  return cache.get(desired.metadata?.name ?? "", desired.metadata?.namespace ?? "");
}

async function missingSecrets(
  context: ReconcileContext,
  job: Job,
): Promise<Observed["missingSecrets"]> {
  const references: Observed["missingSecrets"] = [];
  job.spec.endpoint.headers.forEach((header, index) => {
    const ref = header.valueFrom?.secretKeyRef;
    if (ref !== undefined)
      references.push({
        secret: ref.name,
        key: ref.key,
        field: `spec.endpoint.headers[${index}].valueFrom`,
      });
  });
  const tls = job.spec.endpoint.tls;
  if (tls?.ca?.secretKeyRef !== undefined) {
    references.push({
      secret: tls.ca.secretKeyRef.name,
      key: tls.ca.secretKeyRef.key,
      field: "spec.endpoint.tls.ca.secretKeyRef",
    });
  }
  const client = tls?.clientCertificate;
  if (client !== undefined) {
    for (const key of [client.certificateKey, client.privateKeyKey]) {
      references.push({
        secret: client.secretName,
        key,
        field: "spec.endpoint.tls.clientCertificate",
      });
    }
  }
  const credentials = job.spec.aws.credentialsSecretRef;
  if (credentials !== undefined) {
    for (const key of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
      references.push({ secret: credentials.name, key, field: "spec.aws.credentialsSecretRef" });
    }
  }
  const missing: Observed["missingSecrets"] = [];
  for (const reference of references) {
    const secret = await context.readSecret(job.namespace, reference.secret);
    if (
      secret?.data?.[reference.key] === undefined &&
      secret?.stringData?.[reference.key] === undefined
    ) {
      missing.push(reference);
    }
  }
  return missing;
}

function observeShards(
  context: ReconcileContext,
  namespace: string,
  name: string,
): ShardProgressSummary {
  return summarizeShards(
    context.leases
      .list(namespace)
      .filter((lease) => lease.metadata?.labels?.[labelKeys.job] === name),
    context.leaseAges,
  );
}

function observe(
  context: ReconcileContext,
  job: Job,
  deployment: V1Deployment | undefined,
  missing: Observed["missingSecrets"],
  shards: ShardProgressSummary,
): Observed {
  const selector = selectorLabels(job);
  const pods = context.pods
    .list(job.namespace)
    .filter((pod) =>
      Object.entries(selector).every(([key, value]) => pod.metadata?.labels?.[key] === value),
    );
  const podProblems = pods.flatMap((pod) =>
    (pod.status?.containerStatuses ?? [])
      .map((container) => container.state?.waiting)
      .filter((waiting) => waiting?.reason !== undefined && podProblemReasons.has(waiting.reason))
      .map((waiting) => ({
        pod: pod.metadata?.name ?? "",
        reason: waiting?.reason ?? "",
        message: waiting?.message ?? "",
      })),
  );
  return {
    desiredReplicas: job.spec.suspend ? 0 : job.spec.parallelism,
    replicas: deployment?.status?.replicas ?? 0,
    readyReplicas: deployment?.status?.readyReplicas ?? 0,
    updatedReplicas: deployment?.status?.updatedReplicas ?? 0,
    selector: Object.entries(selector)
      .map(([key, value]) => `${key}=${value}`)
      .join(","),
    podProblems,
    missingSecrets: missing,
    shards,
  };
}

/** The job as the reconciler sees it, from the object and its parsed spec. */
const jobOf = (object: JobObject, spec: Job["spec"]): Job => ({
  namespace: object.metadata?.namespace ?? "",
  name: object.metadata?.name ?? "",
  uid: object.metadata?.uid ?? "",
  generation: object.metadata?.generation ?? 0,
  ...creationTime(object.metadata?.creationTimestamp),
  spec,
});

interface Decided {
  object: JobObject;
  /** The job to run: its parallelism the autoscaler's decision when on. */
  job: Job;
  /** spec.autoscaling applied; undefined when off (or suspended). */
  decided?: Autoscaled;
}

/**
 * The job to run and the autoscaler's decision. The job's informer may lag the operator's own
 * writes of the last reconcile (its status, its scale write), and lag the other informers: a
 * decision taken on the cached job could rescale twice, or, holding, write an older decision back
 * over the recorded one and set the Deployment back, which the next reconcile would take for a
 * change by hand. So while autoscaling is on, the decision is taken on the job as the API server
 * has it: one GET per reconcile, which the work queue spaces (an HPA reads its target's scale at
 * every sync too). Issues instead when the spec is invalid; undefined when the job is gone.
 */
async function decide(
  context: ReconcileContext,
  cachedJob: JobObject,
  shards: ShardProgressSummary,
): Promise<Decided | { object: JobObject; issues: string[] } | undefined> {
  let object = cachedJob;
  for (let fresh = false; ; fresh = true) {
    const parsed = jobSpecSchema.safeParse(object.spec);
    if (!parsed.success) return { object, issues: describeIssues(parsed.error.issues) };
    const job = jobOf(object, parsed.data);
    const deployment = context.deployments.get(processorName(job), job.namespace);
    const decided = autoscaleJob(
      job,
      object.status?.autoscaling,
      deployment,
      shards,
      context.now(),
    );
    if (decided === undefined) return { object, job };
    if (fresh)
      return {
        object,
        job: { ...job, spec: { ...job.spec, parallelism: decided.parallelism } },
        decided,
      };
    const latest = await context.readJob(job.namespace, job.name);
    // Deleted since the cache saw it: nothing to decide for.
    if (latest === undefined) return undefined;
    object = latest;
  }
}

/**
 * Writes the decided parallelism to spec.parallelism. A failure is reported, not thrown: the
 * Deployment follows the decision anyway, and the next reconcile sends the write again (the
 * status holds the decision); the error goes back to the work queue at the end.
 */
async function writeParallelism(
  context: ReconcileContext,
  object: JobObject,
  parallelism: number,
): Promise<Error | undefined> {
  try {
    await context.scaleJob(object, parallelism);
    return undefined;
  } catch (error) {
    await context.recordEvent(
      object,
      "Warning",
      "FailedUpdateScale",
      `Could not set spec.parallelism to ${String(parallelism)} through the scale subresource: ${apiErrorMessage(error)}. The processors run ${String(parallelism)} pods meanwhile and the write is retried; check that the operator may patch asyncenrichmentjobs/scale (the Helm chart's ClusterRole grants it) and that no admission policy refuses it.`,
    );
    return error instanceof Error ? error : new Error(String(error));
  }
}

// Deep equality regardless of key order: the API server returns keys in its own order.
const sameStatus = (a: JobStatus | undefined, b: JobStatus): boolean => isDeepStrictEqual(a, b);

/** The informer's objects carry it as a string, typed clients as a Date. */
const creationTime = (timestamp: Date | string | undefined): { createdAt?: string } =>
  timestamp === undefined ? {} : { createdAt: new Date(timestamp).toISOString() };

export async function reconcileJob(
  context: ReconcileContext,
  key: string,
): Promise<ReconcileResult> {
  const [namespace = "", name = ""] = key.split("/");
  const cachedJob = context.jobs.get(name, namespace);
  if (cachedJob === undefined) {
    context.onAutoscaled(key, undefined);
    return undefined; // Deleted: its objects go with it (ownerReferences).
  }
  const shards = observeShards(context, namespace, name);
  const taken = await decide(context, cachedJob, shards);
  if (taken === undefined) {
    context.onAutoscaled(key, undefined);
    return undefined;
  }
  const { object } = taken;
  if ("issues" in taken) {
    context.onAutoscaled(key, undefined);
    await refuseSpec(context, object, taken.issues);
    return undefined;
  }
  const { job, decided } = taken;

  const desired = desiredObjects(job);
  const deployment = desiredDeployment(job, context.settings);
  const liveDeployment = context.deployments.get(deployment.metadata?.name ?? "", namespace);
  const missing = await missingSecrets(context, job);
  const observed = observe(context, job, liveDeployment, missing, shards);
  const status: JobStatus = {
    ...jobStatus(job, object.status?.conditions ?? [], observed, context.now()),
    ...(decided === undefined ? {} : { autoscaling: decided.status }),
  };
  // A rescale (spec.parallelism to write: scalingFrom) is recorded before it is acted on; other
  // statuses are written once the objects are applied.
  const rescale = decided?.status.scalingFrom !== undefined;
  if (rescale) await writeStatus(context, object, status);
  const scaleError = rescale
    ? await writeParallelism(context, object, job.spec.parallelism)
    : undefined;
  for (const event of decided?.events ?? [])
    await context.recordEvent(object, event.type, event.reason, event.message);

  for (const item of desired) await context.applier.apply(item, cached(context, item));
  if (await context.applier.apply(deployment, liveDeployment)) {
    context.logger.info(
      { job: key, replicas: deployment.spec?.replicas },
      "applied the processor workload",
    );
  }
  if (!rescale) await writeStatus(context, object, status);
  // Metrics show a decision once it is recorded.
  context.onAutoscaled(key, decided?.status);
  if (scaleError !== undefined) throw scaleError;
  // Secrets are not watched (the operator reads only the ones named): look again while missing.
  if (missing.length > 0) return { requeueAfterMs: 10_000 };
  // A Lease that expires changes nothing in the API: look again to see it in the status.
  const leaseMs = job.spec.leases.leaseDurationSeconds * 1000;
  if (decided !== undefined) return { requeueAfterMs: Math.min(leaseMs, decisionIntervalMs) };
  return observed.shards.shards > 0 ? { requeueAfterMs: leaseMs } : undefined;
}

/** A spec the API server let through but the operator cannot run (an older CRD): Failed. */
async function refuseSpec(
  context: ReconcileContext,
  object: JobObject,
  issues: string[],
): Promise<void> {
  const generation = object.metadata?.generation ?? 0;
  const message = `spec is invalid: ${issues.join("; ")}. Fix it with kubectl edit.`;
  const conditions = setCondition(
    object.status?.conditions ?? [],
    { type: "Degraded", status: "True", reason: "InvalidSpec", message },
    generation,
    context.now(),
  );
  const status: JobStatus = {
    ...object.status,
    observedGeneration: generation,
    phase: "Failed",
    conditions,
  };
  if (!sameStatus(object.status, status)) await context.writeStatus(object, status);
}

/** The objects a job owns besides its Deployment. */
const desiredObjects = (job: Job): KubernetesObject[] =>
  [
    desiredServiceAccount(job),
    desiredRole(job),
    desiredRoleBinding(job),
    desiredConfigMap(job),
    desiredMetricsService(job),
    desiredNetworkPolicy(job),
  ].filter((item): item is NonNullable<typeof item> => item !== undefined);

/** Writes the status if it changed, with an Event when the Ready condition changes. */
async function writeStatus(
  context: ReconcileContext,
  object: JobObject,
  status: JobStatus,
): Promise<void> {
  if (!sameStatus(object.status, status)) {
    await context.writeStatus(object, status);
    const before = object.status?.conditions?.find((condition) => condition.type === "Ready");
    const after = status.conditions?.find((condition) => condition.type === "Ready");
    if (
      after !== undefined &&
      (before?.status !== after.status || before.reason !== after.reason)
    ) {
      await context.recordEvent(
        object,
        after.reason.endsWith("NotFound") || status.phase === "Degraded" ? "Warning" : "Normal",
        after.reason,
        after.message,
      );
    }
  }
}
