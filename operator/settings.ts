// The operator's own settings, from its environment (the Helm chart sets them), validated like
// every config of the project: a bad value stops the operator at start, naming the variable.
import { hostname } from "node:os";
import { z } from "zod";
import { describeIssues } from "../processor/contract.ts";

const settingsSchema = z.strictObject({
  WATCH_NAMESPACES: z
    .string()
    .default("")
    .transform((value) =>
      value
        .split(",")
        .map((name) => name.trim())
        .filter(Boolean),
    )
    .describe("Comma-separated namespaces to watch; empty watches all."),
  PROCESSOR_IMAGE: z.string().min(1).describe("Processor image for jobs that name none."),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
  METRICS_PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  METRICS_HOST: z.string().default("0.0.0.0"),
  POD_NAME: z
    .string()
    .min(1)
    .default(hostname())
    .describe("This replica's identity in leader election."),
  POD_NAMESPACE: z
    .string()
    .min(1)
    .default("default")
    .describe("Where the leader election Lease lives."),
  LEADER_ELECTION_ID: z.string().min(1).default("async-enrichment-operator"),
});

export type OperatorSettings = z.output<typeof settingsSchema>;

export function loadSettings(env: NodeJS.ProcessEnv): OperatorSettings {
  const known = Object.fromEntries(
    Object.keys(settingsSchema.shape).flatMap((key) =>
      env[key] === undefined ? [] : [[key, env[key]]],
    ),
  );
  const result = settingsSchema.safeParse(known);
  if (!result.success)
    throw new Error(
      `invalid operator settings:\n  - ${describeIssues(result.error.issues).join("\n  - ")}`,
    );
  return result.data;
}
