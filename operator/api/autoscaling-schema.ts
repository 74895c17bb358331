// spec.autoscaling: the bounds and targets within which the operator sizes a job's parallelism
// from its lag and its endpoint's latency (operator/reconcile/autoscale-decision.ts). Off when
// absent; while present, the operator owns spec.parallelism.
import { z } from "zod";

export const autoscalingSchema = z
  .strictObject({
    minParallelism: z
      .number()
      .int()
      .min(1)
      .max(1_000)
      .default(1)
      .describe("Fewest processor pods the operator runs."),
    maxParallelism: z
      .number()
      .int()
      .min(1)
      .max(1_000)
      .describe(
        "Most processor pods the operator runs. Pods beyond the source stream's open shards would idle, so the shard count bounds it too.",
      ),
    targetUtilization: z
      .number()
      .gt(0)
      .max(1)
      .default(0.7)
      .describe(
        "Share of each pod's processing rate the job should need at the chosen size, in (0, 1]: lower leaves headroom for bursts, as the Flink Kubernetes Operator's target utilization.",
      ),
    catchUpSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(300)
      .describe(
        "Time in which a backlog should be read: the job is sized for the incoming rate plus backlog / catchUpSeconds.",
      ),
    scaleDownStabilizationSeconds: z
      .number()
      .int()
      .min(0)
      .max(86_400)
      .default(300)
      .describe(
        "A scale-down waits until every recommendation of this window is at or below the new size, and at least this long after the last rescale: at most one scale-down per window. Scale-up is immediate.",
      ),
    maxEndpointConcurrency: z
      .number()
      .int()
      .min(1)
      .max(10_000_000)
      .optional()
      .describe(
        "Endpoint budget: calls in flight the endpoint's owners allow from the whole job. parallelism x capacity stays within it. spec.endpoint.rateLimit, when set, bounds the size too.",
      ),
  })
  .refine((spec) => spec.minParallelism <= spec.maxParallelism, {
    message: "minParallelism must be at most maxParallelism",
    path: ["minParallelism"],
  })
  .describe(
    "Sizes parallelism from lag and Little's law, within the endpoint's budget. While set, the operator owns spec.parallelism; kubectl scale is overridden (with an Event).",
  );

export type AutoscalingSpec = z.output<typeof autoscalingSchema>;
