// The AsyncEnrichmentJob status, written by the operator only (status subresource).
import { z } from "zod";
import { autoscalingStatusSchema } from "./autoscaling-status-schema.ts";

export const conditionSchema = z
  .strictObject({
    type: z.string().min(1).max(316).describe("Ready, Progressing or Degraded."),
    status: z.enum(["True", "False", "Unknown"]).describe("Whether the condition holds."),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("The spec generation it describes."),
    lastTransitionTime: z.string().describe("When status last changed (RFC 3339)."),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe("Machine-readable CamelCase reason."),
    message: z.string().max(32_768).describe("What happened and what to do about it."),
  })
  .describe("A Kubernetes-style condition.");

export const jobStatusSchema = z
  .strictObject({
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("The spec generation last reconciled."),
    phase: z
      .enum(["Pending", "Running", "Paused", "Degraded", "Failed"])
      .optional()
      .describe("A one-word summary for kubectl get; the conditions say why."),
    replicas: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Processor pods that exist (scale subresource)."),
    readyReplicas: z.number().int().min(0).optional().describe("Processor pods that are ready."),
    selector: z
      .string()
      .optional()
      .describe("Label selector of the processor pods (scale subresource, HPA)."),
    shards: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Shards of the source stream still to read (not finished), from their Leases."),
    ownedShards: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("Of those, shards a live processor holds."),
    processors: z
      .array(
        z.strictObject({
          pod: z.string().describe("Processor pod."),
          shards: z.number().int().min(0).describe("Shard Leases it holds."),
          concurrencyLimit: z
            .number()
            .int()
            .min(0)
            .optional()
            .describe(
              "Requests it admits in flight now: its adaptive limit, or capacity when off.",
            ),
          rateLimitShare: z
            .number()
            .min(0)
            .optional()
            .describe("With endpoint.rateLimit: its share, in requests per second."),
        }),
      )
      .optional()
      .describe("Shards held per processor pod, and its figures."),
    concurrencyLimit: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        "Requests the processors admit in flight now, summed over pods (adaptive limits, or capacity when off); at most maxConcurrency.",
      ),
    maxConcurrency: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        "parallelism x capacity: what concurrencyLimit would be with every limit at capacity.",
      ),
    maxLagMillis: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        "Largest lag over the shards: millisBehindLatest, or the age of the record a processor took last while records read wait in it.",
      ),
    recordsInPerSecond: z
      .number()
      .min(0)
      .optional()
      .describe("Records read per second, over all pods."),
    recordsPerSecond: z
      .number()
      .min(0)
      .optional()
      .describe("Records written (to the sink or dead letter) per second, over all pods."),
    failedPerSecond: z
      .number()
      .min(0)
      .optional()
      .describe("Records whose endpoint call failed, per second (sent to the failure policy)."),
    autoscaling: autoscalingStatusSchema.optional(),
    conditions: z.array(conditionSchema).optional().describe("Ready, Progressing and Degraded."),
  })
  .describe("What the operator and the processors report.");

export type Condition = z.output<typeof conditionSchema>;
export type JobStatus = z.output<typeof jobStatusSchema>;
