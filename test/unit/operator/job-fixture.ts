// A job as the reconciler sees it, for builder tests: a valid minimal spec plus what a test sets.
import { jobSpecSchema, type JobSpecInput } from "../../../operator/api/job-schema.ts";
import type { Job } from "../../../operator/reconcile/job.ts";

/** The fewest fields a valid spec needs, as a user writes them (before defaults). */
export const minimalSpec = {
  aws: { region: "eu-west-1" },
  source: { stream: "orders" },
  sink: { stream: "orders-enriched" },
  endpoint: { url: "http://scoring.shop.svc:8080/score" },
  failurePolicy: "drop",
} satisfies JobSpecInput;

export function jobWith(spec: Partial<JobSpecInput>, more: Partial<Omit<Job, "spec">> = {}): Job {
  return {
    namespace: "shop",
    name: "orders",
    uid: "0d5f1f1e-5c7a-4a43-9d2e-6b1f6f3c2a11",
    generation: 1,
    ...more,
    spec: jobSpecSchema.parse({ ...minimalSpec, ...spec }),
  };
}
