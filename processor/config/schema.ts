// The processor's configuration: the contract between the operator (which writes it) and the
// processor pod (which validates it at start). Types are inferred from this schema, never restated.
import { z } from "zod";

const KiB = 1024;
const MiB = 1024 * KiB;

/** A Kinesis stream by name or by ARN (ARNs let a job read another account's stream). */
export const streamIdSchema = z
  .string()
  .regex(
    /^(arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[a-zA-Z0-9_.-]{1,128}|[a-zA-Z0-9_.-]{1,128})$/,
    "expected a stream name (1-128 of a-z A-Z 0-9 _ . -) or a Kinesis stream ARN",
  )
  .describe("Kinesis stream name or ARN.");

const durationMs = (min: number, max: number) => z.number().int().min(min).max(max);

export const startPositionSchema = z
  .discriminatedUnion("type", [
    z.strictObject({ type: z.literal("TRIM_HORIZON") }),
    z.strictObject({ type: z.literal("LATEST") }),
    z.strictObject({
      type: z.literal("AT_TIMESTAMP"),
      timestamp: z.iso.datetime({ offset: true }),
    }),
  ])
  .describe("Where a shard without a checkpoint starts.");

export const headerSchema = z
  .object({
    name: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "expected an HTTP header name"),
    value: z.string().optional().describe("A literal value; never a credential."),
    fromEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional()
      .describe("Name of an environment variable holding the value (filled from a Secret)."),
  })
  .refine((header) => (header.value === undefined) !== (header.fromEnv === undefined), {
    message: "set exactly one of value or fromEnv",
  });

export const retrySchema = z
  .object({
    maxAttempts: z.number().int().min(1).max(100).default(3),
    initialBackoffMs: durationMs(1, 60_000).default(100),
    maxBackoffMs: durationMs(1, 300_000).default(10_000),
  })
  .refine((retry) => retry.maxBackoffMs >= retry.initialBackoffMs, {
    message: "maxBackoffMs must be at least initialBackoffMs",
    path: ["maxBackoffMs"],
  });

export const endpointSchema = z
  .object({
    url: z
      .string()
      .regex(/^https?:\/\/[^\s/]+/, "expected an http:// or https:// URL")
      .describe(
        "Endpoint URL. {field} placeholders are filled from the record's JSON fields (URL-encoded).",
      ),
    method: z.enum(["GET", "POST", "PUT", "PATCH"]).default("POST"),
    body: z
      .enum(["record", "none"])
      .default("record")
      .describe("record: send the record's data as the body; none: no body (GET lookups)."),
    contentType: z.string().default("application/json"),
    headers: z.array(headerSchema).default([]),
    timeoutMs: durationMs(1, 300_000).default(5_000).describe("Per-attempt timeout."),
    deadlineMs: durationMs(1, 3_600_000)
      .default(30_000)
      .describe("Overall time for one record across all attempts and backoffs."),
    maxResponseBytes: z
      .number()
      .int()
      .min(1)
      .max(10 * MiB)
      .default(1 * MiB),
    retry: retrySchema.default({ maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 10_000 }),
    response: z
      .discriminatedUnion("mode", [
        z.strictObject({ mode: z.literal("replace") }),
        z.strictObject({
          mode: z.literal("merge"),
          field: z.string().min(1).default("enrichment"),
        }),
      ])
      .default({ mode: "replace" })
      .describe(
        "replace: the output record is the response body; merge: the input JSON gains the response JSON under field.",
      ),
  })
  .refine((endpoint) => endpoint.deadlineMs >= endpoint.timeoutMs, {
    message: "deadlineMs must be at least timeoutMs",
    path: ["deadlineMs"],
  })
  .refine((endpoint) => !(endpoint.method === "GET" && endpoint.body === "record"), {
    message: 'a GET request carries no body: set body to "none"',
    path: ["body"],
  });

export const sinkSchema = z.strictObject({
  stream: streamIdSchema,
  partitionKey: z
    .union([z.enum(["source", "random"]), z.strictObject({ field: z.string().min(1) })])
    .default("source")
    .describe("source: keep the input's key; random; or a field of the output JSON."),
  maxBatchRecords: z.number().int().min(1).max(500).default(500),
  maxBatchBytes: z
    .number()
    .int()
    .min(1 * KiB)
    .max(10 * MiB)
    .default(10 * MiB),
  maxRecordBytes: z
    .number()
    .int()
    .min(1 * KiB)
    .max(10 * MiB)
    .default(1 * MiB)
    .describe("Largest record (data plus partition key); the stream's MaxRecordSize."),
  lingerMs: durationMs(0, 10_000).default(50),
  maxInFlightBatches: z.number().int().min(1).max(64).default(1),
});

export const processorConfigSchema = z
  .object({
    jobName: z.string().min(1).default("local"),
    workerId: z.string().min(1).optional().describe("Defaults to the host (pod) name."),
    aws: z
      .object({
        region: z.string().min(1).default("us-east-1"),
        endpoint: z
          .string()
          .regex(/^https?:\/\/[^\s/]+/, "expected an http:// or https:// URL")
          .optional()
          .describe("Override for LocalStack or the local emulator."),
      })
      .default({ region: "us-east-1" }),
    source: z.strictObject({
      stream: streamIdSchema,
      startPosition: startPositionSchema.default({ type: "TRIM_HORIZON" }),
      maxRecordsPerFetch: z.number().int().min(1).max(10_000).default(10_000),
      idleTimeBetweenReadsMs: durationMs(200, 60_000).default(1_000),
      shardDiscoveryIntervalMs: durationMs(1_000, 3_600_000).default(10_000),
    }),
    sink: sinkSchema,
    deadLetter: sinkSchema.optional(),
    endpoint: endpointSchema,
    capacity: z.number().int().min(1).max(10_000).default(10),
    ordering: z.enum(["ordered", "unordered"]).default("ordered"),
    failurePolicy: z.enum(["deadLetter", "drop", "fail"]).default("deadLetter"),
    checkpointIntervalMs: durationMs(100, 3_600_000).default(5_000),
    shutdownGraceMs: durationMs(0, 3_600_000).default(25_000),
    metrics: z
      .object({
        host: z.string().default("0.0.0.0"),
        port: z.number().int().min(0).max(65_535).default(9400),
      })
      .default({ host: "0.0.0.0", port: 9400 }),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace"]).default("info"),
  })
  .refine((config) => config.failurePolicy !== "deadLetter" || config.deadLetter !== undefined, {
    message: 'failurePolicy "deadLetter" needs a deadLetter stream',
    path: ["deadLetter"],
  });

/** The config as written (defaults optional), which the operator produces. */
export type ProcessorConfigInput = z.input<typeof processorConfigSchema>;
/** The config after validation, with every default filled in. */
export type ProcessorConfig = z.output<typeof processorConfigSchema>;
export type EndpointConfig = ProcessorConfig["endpoint"];
export type SinkConfig = ProcessorConfig["sink"];
export type StartPosition = ProcessorConfig["source"]["startPosition"];
