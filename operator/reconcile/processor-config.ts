// The processor config a job's pods run with: a pure function of the job. It is the contract
// between operator and processor, typed by the processor's own schema. Header values that come
// from Secrets are named here only by environment variable; the values never enter the config.
import type { ProcessorConfigInput } from "../../processor/contract.ts";
import { apiVersion, kind, type JobSpec } from "../api/job-schema.ts";
import { endpointTlsConfig } from "./endpoint-tls-volumes.ts";
import { commonLabels, type Job } from "./job.ts";
import { labelKeys } from "./labels.ts";

export const metricsPort = 9400;

/** Environment variable that carries the value of header `index` from its Secret. */
export const headerVariable = (index: number): string => `AEJ_HEADER_${index}`;

function partitionKey(choice: string): "source" | "random" | { field: string } {
  if (choice === "source" || choice === "random") return choice;
  return { field: choice.slice("field:".length) };
}

/** Labels of a job's shard Leases: the operator finds them by these to report the job's progress. */
export const leaseLabels = (job: Job): Record<string, string> => ({
  ...commonLabels(job),
  [labelKeys.component]: "shard-lease",
});

export function processorConfig(job: Job): ProcessorConfigInput {
  const { namespace, name, spec } = job;
  const sink = (target: JobSpec["sink"]) => ({
    stream: target.stream,
    partitionKey: partitionKey(target.partitionKey),
    maxBatchRecords: spec.batching.maxRecords,
    lingerMs: spec.batching.lingerMs,
    // Only when on: jobs that leave it off keep their config, so an operator upgrade rolls no pods.
    ...(target.aggregation.enabled ? { aggregation: target.aggregation } : {}),
  });
  return {
    jobName: `${namespace}/${name}`,
    aws: {
      region: spec.aws.region,
      ...(spec.aws.endpoint === undefined ? {} : { endpoint: spec.aws.endpoint }),
    },
    source: {
      stream: spec.source.stream,
      startPosition: spec.source.startPosition,
      // Every processor, at every start, fixes LATEST to the same moment: nothing is skipped.
      ...(spec.source.startPosition.type === "LATEST" && job.createdAt !== undefined
        ? { latestFrom: job.createdAt }
        : {}),
    },
    sink: sink(spec.sink),
    ...(spec.deadLetter === undefined ? {} : { deadLetter: sink(spec.deadLetter) }),
    endpoint: {
      url: spec.endpoint.url,
      method: spec.endpoint.method,
      body: spec.endpoint.body,
      contentType: spec.endpoint.contentType,
      headers: spec.endpoint.headers.map((header, index) =>
        header.value === undefined
          ? { name: header.name, fromEnv: headerVariable(index) }
          : { name: header.name, value: header.value },
      ),
      timeoutMs: spec.endpoint.timeoutMs,
      deadlineMs: spec.endpoint.deadlineMs,
      maxResponseBytes: spec.endpoint.maxResponseBytes,
      retry: spec.endpoint.retry,
      response: spec.endpoint.response,
      outage: spec.endpoint.outage,
      // Only when set, as sink aggregation: jobs without them keep their config and pods.
      ...(spec.endpoint.http.version === "1.1" ? {} : { http: spec.endpoint.http }),
      ...(spec.endpoint.tls === undefined ? {} : { tls: endpointTlsConfig(spec.endpoint.tls) }),
      ...(spec.endpoint.rateLimit === undefined ? {} : { rateLimit: spec.endpoint.rateLimit }),
    },
    capacity: spec.capacity,
    ordering: spec.ordering,
    failurePolicy: spec.failurePolicy,
    checkpointIntervalMs: spec.checkpointIntervalMs,
    ...(spec.maxPendingRecordsPerShard === undefined
      ? {}
      : { maxPendingRecordsPerShard: spec.maxPendingRecordsPerShard }),
    // Only when on, as sink aggregation: jobs that leave it off keep their config and pods.
    ...(spec.adaptiveConcurrency.enabled ? { adaptiveConcurrency: spec.adaptiveConcurrency } : {}),
    coordination: {
      type: "kubernetes",
      namespace,
      leasePrefix: name,
      labels: leaseLabels(job),
      // Without blockOwnerDeletion: setting it needs rights on the job that processors lack.
      ...(spec.leases.retainOnDelete ? {} : { owner: { apiVersion, kind, name, uid: job.uid } }),
      leaseDurationSeconds: spec.leases.leaseDurationSeconds,
      renewIntervalMs: spec.leases.renewIntervalMs,
    },
    metrics: { port: metricsPort },
  };
}
