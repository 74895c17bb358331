// status.autoscaling: the operator's last sizing decision, the figures behind it, and the little
// history the next decision needs (a lag sample for the incoming-rate estimate, recommendations of
// the stabilization window). Kept in the status so an operator restart or a new leader goes on
// where the last one stopped.
import { z } from "zod";

export const limitedByValues = [
  "Lag",
  "Shards",
  "EndpointBudget",
  "RateLimit",
  "MaxParallelism",
  "MinParallelism",
  "IneffectiveScaleUp",
] as const;

const rate = (description: string) => z.number().min(0).describe(description);

export const autoscalingStatusSchema = z
  .strictObject({
    current: z
      .number()
      .int()
      .min(0)
      .describe("Parallelism the operator set last: spec.parallelism while autoscaling is on."),
    recommended: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        "Parallelism the latest figures call for; a smaller one waits for the stabilization window.",
      ),
    limitedBy: z
      .enum(limitedByValues)
      .optional()
      .describe(
        "What sets the recommendation: Lag (the load itself), or the bound that cut it: Shards, EndpointBudget, RateLimit, MaxParallelism, MinParallelism, or IneffectiveScaleUp (the last scale-up did not raise what the job can process: no further scale-up until it does).",
      ),
    lastScaleTime: z.string().optional().describe("When the operator last changed parallelism."),
    scalingFrom: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        "spec.parallelism before the operator's scale write that is not seen yet. The decision is written here first: a spec.parallelism of this value is that write still pending (it is sent again), any other value is a change by hand (set back, with a Warning).",
      ),
    lastScaleUp: z
      .strictObject({
        from: z.number().int().min(0).describe("Parallelism before it."),
        to: z.number().int().min(0).describe("Parallelism after it."),
        perSecondBefore: rate("What the job could process before it: per-pod rate x pods."),
        expectedPerSecond: rate("What the job should process after it, at the same per-pod rate."),
        endpointLatencyMillisBefore: rate("Mean endpoint latency before it.").optional(),
      })
      .optional()
      .describe(
        "The last scale-up, while the job runs its size: if what the job can process grew by less than a tenth of what was expected, further scale-ups wait (limitedBy IneffectiveScaleUp).",
      ),
    unsettledSince: z
      .string()
      .optional()
      .describe(
        "Since when not every processor of the current size has run and reported. The autoscaler waits for them, at most 120 s, then decides on the figures of those that report.",
      ),
    incomingPerSecond: rate(
      "Estimated records arriving per second: records processed per second plus the backlog's growth.",
    ).optional(),
    catchUpPerSecond: rate(
      "Backlog (incoming rate x lag) divided by spec.autoscaling.catchUpSeconds.",
    ).optional(),
    perPodPerSecond: rate(
      "Records one pod can process per second: the lower of capacity / endpoint latency (Little's law) and what saturated pods achieve.",
    ).optional(),
    endpointLatencyMillis: rate(
      "Mean latency of successful endpoint calls, over the pods that report it.",
    ).optional(),
    message: z.string().max(1024).optional().describe("The decision, in a sentence."),
    lagSample: z
      .strictObject({
        time: z.string().describe("When it was taken (RFC 3339)."),
        maxLagMillis: z.number().int().min(0).describe("The largest shard lag then."),
      })
      .optional()
      .describe("The lag at the last decision: its change estimates the incoming rate."),
    recommendations: z
      .array(
        z.strictObject({
          since: z.string().describe("From when (RFC 3339)."),
          parallelism: z.number().int().min(0).describe("The recommendation from then on."),
        }),
      )
      .max(32)
      .optional()
      .describe("Recommendations over the stabilization window, one entry per change."),
  })
  .describe("The autoscaler's decision and the figures behind it (with spec.autoscaling).");

export type AutoscalingStatus = z.output<typeof autoscalingStatusSchema>;
export type LimitedBy = (typeof limitedByValues)[number];
