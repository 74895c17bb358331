// A job as the reconciler sees it: its identity and its validated spec. Builders take this, never
// a client, so desired state is a pure function of it.
import type { V1OwnerReference } from "@kubernetes/client-node";
import { apiVersion, kind, type JobSpec } from "../api/job-schema.ts";
import { labelKeys, managedByOperator } from "./labels.ts";

export interface Job {
  namespace: string;
  name: string;
  uid: string;
  generation: number;
  /** RFC 3339 creation time: LATEST means the records that arrive from then on. */
  createdAt?: string;
  spec: JobSpec;
}

/** Every object of a job is owned by it, so deleting the job deletes them (garbage collection). */
export function ownerReference(job: Job): V1OwnerReference {
  return {
    apiVersion,
    kind,
    name: job.name,
    uid: job.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export const processorName = (job: Job): string => `${job.name}-processor`;

/** Labels that select a job's processor pods. */
export function selectorLabels(job: Job): Record<string, string> {
  return { [labelKeys.job]: job.name, [labelKeys.component]: "processor" };
}

export function commonLabels(job: Job): Record<string, string> {
  return {
    ...selectorLabels(job),
    [labelKeys.name]: "async-enrichment",
    [labelKeys.instance]: job.name,
    [labelKeys.managedBy]: managedByOperator,
  };
}

export function objectMeta(job: Job, name: string) {
  return {
    name,
    namespace: job.namespace,
    labels: commonLabels(job),
    ownerReferences: [ownerReference(job)],
  };
}
