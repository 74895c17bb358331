// The processor's configuration: the contract between the operator (which writes it) and the
// processor pod (which validates it at start). Types are inferred from this schema, never restated,
// and docs/processor-config.md is generated from it (npm run docs).
import { z } from "zod";

const KiB = 1024;
const MiB = 1024 * KiB;

/** Lets a rule across fields run even when another field has the wrong type (zod skips it otherwise). */
const isObjectPayload = (payload: { value: unknown }): boolean =>
  typeof payload.value === "object" && payload.value !== null;

const httpUrl = /^https?:\/\/[^\s/]+/;

/**
 * A URL a client can call: a prefix check alone lets "http://svc 8080/x" through. Placeholders
 * stand in for a value here; one in the host is refused by the request mapper, naming it.
 */
const isCallableUrl = (text: string): boolean => {
  try {
    return new URL(text.replace(/\{[^{}]*\}/g, "0")).hostname !== "";
  } catch {
    return false;
  }
};

/** A Kinesis stream by name or by ARN (an ARN lets a job use another account's stream). */
export const streamIdSchema = z
  .string()
  .regex(
    /^(arn:aws[a-z-]*:kinesis:[a-z0-9-]+:\d{12}:stream\/[a-zA-Z0-9_.-]{1,128}|[a-zA-Z0-9_.-]{1,128})$/,
    "expected a stream name (1-128 of a-z A-Z 0-9 _ . -) or a Kinesis stream ARN",
  )
  .describe("Stream name, or stream ARN.");

const milliseconds = (min: number, max: number) => z.number().int().min(min).max(max);

export const startPositionSchema = z
  .discriminatedUnion("type", [
    z.strictObject({ type: z.literal("TRIM_HORIZON") }),
    z.strictObject({ type: z.literal("LATEST") }),
    z.strictObject({
      type: z.literal("AT_TIMESTAMP"),
      timestamp: z.iso.datetime({ offset: true }).describe("ISO 8601 time to start from."),
    }),
  ])
  .prefault({ type: "TRIM_HORIZON" })
  .describe(
    "Where a shard without a checkpoint starts: TRIM_HORIZON (oldest record), LATEST, or AT_TIMESTAMP.",
  );

export const headerNameSchema = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "expected an HTTP header name")
  .describe("Header name.");

export const headerSchema = z
  .strictObject({
    name: headerNameSchema,
    value: z.string().optional().describe("A literal value. Never put a credential here."),
    fromEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name")
      .optional()
      .describe("Environment variable holding the value; the pod fills it from a Secret."),
  })
  .refine((header) => (header.value === undefined) !== (header.fromEnv === undefined), {
    message: "set exactly one of value or fromEnv",
  });

export const retrySchema = z
  .strictObject({
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(3)
      .describe("Attempts per record, the first included. 1 disables retries."),
    initialBackoffMs: milliseconds(1, 60_000)
      .default(100)
      .describe("Backoff ceiling after the first failure; doubles each attempt (full jitter)."),
    maxBackoffMs: milliseconds(1, 300_000)
      .default(10_000)
      .describe("Largest backoff ceiling. A longer Retry-After is still honoured."),
  })
  .refine((retry) => retry.maxBackoffMs >= retry.initialBackoffMs, {
    message: "maxBackoffMs must be at least initialBackoffMs",
    path: ["maxBackoffMs"],
  })
  .prefault({})
  .describe(
    "Retries on network errors, timeouts, 429 and 5xx, with exponential backoff; other 4xx are not retried.",
  );

export const responseSchema = z
  .discriminatedUnion("mode", [
    z.strictObject({ mode: z.literal("replace") }),
    z.strictObject({
      mode: z.literal("merge"),
      field: z
        .string()
        .min(1)
        .default("enrichment")
        .describe("Field of the input JSON that receives the response JSON."),
    }),
  ])
  .prefault({ mode: "replace" })
  .describe(
    "replace: the output record is the response body. merge: the input JSON object gains the response JSON under field.",
  );

export const outageSchema = z
  .strictObject({
    policy: z
      .enum(["pause", "failurePolicy"])
      .default("pause")
      .describe(
        "pause: while the endpoint is down (connection errors, timeouts, 429, 5xx and no answer at all), stop taking records, probe, and resume when it answers; records wait in the stream and none goes to the failure policy for the outage. failurePolicy: such records follow failurePolicy like any failed record.",
      ),
    failuresToOpen: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(5)
      .describe("Attempts in a row failing that way which pause the calls."),
    probeIntervalMs: milliseconds(100, 600_000)
      .default(5_000)
      .describe("Wait before one call probes the endpoint; doubles while probes fail."),
    maxProbeIntervalMs: milliseconds(100, 3_600_000)
      .default(15_000)
      .describe(
        "Longest wait between probes: after the endpoint is back, calls resume within it. A probe is one call per pod.",
      ),
  })
  .refine((outage) => outage.maxProbeIntervalMs >= outage.probeIntervalMs, {
    message: "maxProbeIntervalMs must be at least probeIntervalMs",
    path: ["maxProbeIntervalMs"],
  })
  .prefault({})
  .describe("What an endpoint outage does to the job.");

/** The TLS name the endpoint's certificate must carry (and SNI): a DNS name. */
export const tlsServerNameSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$/,
    "expected a DNS name",
  )
  .max(253)
  .describe(
    "Name sent as SNI and verified against the endpoint's certificate instead of the URL's host (e.g. when the URL holds an IP or a Service alias).",
  );

export const includePublicRootsSchema = z
  .boolean()
  .default(false)
  .describe(
    "With ca: trust the public root CAs (Node's bundled Mozilla list) too. Off by default: the named CA is then the whole trust, as curl --cacert and Go's RootCAs, so no public CA can vouch for a private endpoint.",
  );

/** HTTP version and connections; shared with the AsyncEnrichmentJob API. */
export const endpointHttpSchema = z
  .strictObject({
    version: z
      .enum(["1.1", "2"])
      .default("1.1")
      .describe(
        '"1.1": one connection per slot (capacity connections), which a Kubernetes Service spreads over the endpoint\'s pods. "2": HTTP/2 (ALPN h2 on https, prior-knowledge h2c on http), the capacity multiplexed on maxConnections connections.',
      ),
    maxConnections: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .optional()
      .describe(
        "With version 2: most connections to the endpoint, each carrying up to capacity / maxConnections streams (fewer if the server's SETTINGS_MAX_CONCURRENT_STREAMS says so; calls beyond wait). Default: capacity / 100, rounded up.",
      ),
  })
  .prefault({})
  .describe("How requests travel: HTTP/1.1 (default) or HTTP/2.");

/** TLS to the endpoint, as files (the operator mounts them from ConfigMaps and Secrets). */
export const endpointTlsSchema = z
  .strictObject({
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM file of the CA certificates that verify the endpoint's certificate. Default: the public root CAs.",
      ),
    includePublicRoots: includePublicRootsSchema,
    certFile: z
      .string()
      .min(1)
      .optional()
      .describe("PEM client certificate (chain) for mutual TLS; needs keyFile."),
    keyFile: z.string().min(1).optional().describe("PEM private key of certFile."),
    serverName: tlsServerNameSchema.optional(),
    reloadIntervalMs: milliseconds(100, 600_000)
      .default(10_000)
      .describe(
        "How often the files are read again; a change (a Secret or ConfigMap updated in place) builds new connections with them, without a restart.",
      ),
  })
  .refine((tls) => (tls.certFile === undefined) === (tls.keyFile === undefined), {
    message: "certFile and keyFile go together",
    path: ["keyFile"],
  })
  .describe("TLS to an https endpoint: private CA, client certificate, server name.");
export const rateLimitSchema = z
  .strictObject({
    // Above 0 rather than a fractional minimum: the API server let 0 through "minimum: 0.01"
    // (test/e2e/crd.test.ts); an exclusive minimum of 0 refuses it.
    requestsPerSecond: z
      .number()
      .positive()
      .max(1_000_000)
      .describe(
        "Requests per second the endpoint sees from the whole job (every attempt, retries included), summed over all pods. Each pod takes the share of its shards.",
      ),
    burst: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .describe(
        "Requests the job may send at once above the rate after a quiet spell (token bucket depth), divided among pods like the rate; a pod's share is at least one request, so below parallelism the job may burst up to parallelism.",
      ),
  })
  .describe(
    "A job-wide limit on requests per second to the endpoint; records wait for a token holding their in-flight slot. Off when absent.",
  );

/** How the endpoint is called; shared with the AsyncEnrichmentJob API so bounds cannot drift. */
export const endpointFields = {
  url: z
    .string()
    .regex(httpUrl, "expected an http:// or https:// URL")
    .refine(isCallableUrl, "expected a valid URL (no spaces; host, then path)")
    .max(2048)
    .describe(
      "Endpoint URL. {field} placeholders in the path or query are filled from the record's JSON fields (URL-encoded; a.b for nested fields).",
    ),
  method: z.enum(["GET", "POST", "PUT", "PATCH"]).default("POST").describe("HTTP method."),
  body: z
    .enum(["record", "none"])
    .default("record")
    .describe("record: send the record's data as the body. none: no body (GET lookups)."),
  contentType: z.string().default("application/json").describe("Content-Type of the request body."),
  timeoutMs: milliseconds(1, 300_000).default(5_000).describe("Timeout of each attempt."),
  deadlineMs: milliseconds(1, 3_600_000)
    .default(30_000)
    .describe("Time for one record across all attempts and backoffs; then it has failed."),
  maxResponseBytes: z
    .number()
    .int()
    .min(1)
    .max(10 * MiB)
    .default(1 * MiB)
    .describe("Larger responses fail the record (not retried)."),
  retry: retrySchema,
  response: responseSchema,
  outage: outageSchema,
  http: endpointHttpSchema,
  rateLimit: rateLimitSchema.optional(),
};

/** The rules across endpoint fields, which JSON Schema cannot state (the CRD restates them in CEL). */
export function withEndpointRules<
  T extends z.ZodType<{
    url: string;
    deadlineMs: number;
    timeoutMs: number;
    method: string;
    body: string;
    tls?: unknown;
    http: { version: string; maxConnections?: number | undefined };
  }>,
>(schema: T) {
  return schema
    .refine((endpoint) => endpoint.tls === undefined || endpoint.url.startsWith("https://"), {
      message: "tls applies only to an https:// URL",
      path: ["tls"],
      when: isObjectPayload,
    })
    .refine(
      (endpoint) => endpoint.http.maxConnections === undefined || endpoint.http.version === "2",
      {
        message: 'maxConnections applies only to version "2" (HTTP/1.1 opens capacity connections)',
        path: ["http", "maxConnections"],
        // Only once the fields themselves are sound: http may not even be an object otherwise.
        when: (payload) => payload.issues.length === 0,
      },
    )
    .refine((endpoint) => endpoint.deadlineMs >= endpoint.timeoutMs, {
      message: "deadlineMs must be at least timeoutMs",
      path: ["deadlineMs"],
      when: isObjectPayload,
    })
    .refine((endpoint) => !(endpoint.method === "GET" && endpoint.body === "record"), {
      message: 'a GET request carries no body: set body to "none"',
      path: ["body"],
      when: isObjectPayload,
    });
}

export const endpointSchema = withEndpointRules(
  z.strictObject({
    ...endpointFields,
    headers: z.array(headerSchema).default([]).describe("Extra request headers."),
    tls: endpointTlsSchema.optional(),
  }),
).describe("The HTTP service called once per record.");

/**
 * KPL aggregation on write, with the KPL's own names in mind (AggregationEnabled,
 * AggregationMaxSize, AggregationMaxCount); shared with the AsyncEnrichmentJob API.
 */
export const aggregationSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "Pack output records into KPL aggregated records, which consumers that de-aggregate (KCL, Flink, Lambda, this processor) read as the separate records. Needs kinesis:ListShards on the stream for a real saving (records are packed per shard).",
      ),
    maxBytes: z
      .number()
      .int()
      .min(64)
      .max(1 * MiB)
      .default(50 * KiB)
      .describe(
        "Largest aggregate, data plus partition key (the KPL's AggregationMaxSize, same default: two 25 KiB PUT payload units). A record too large to share one is sent alone.",
      ),
    maxRecords: z
      .number()
      .int()
      .min(1)
      .max(4_294_967_295)
      .default(1_000)
      .describe(
        "Most records in one aggregate (the KPL's AggregationMaxCount). Binds only for records under about 50 bytes; bounds what one retried aggregate sends again.",
      ),
  })
  .prefault({})
  .describe("KPL aggregation of written records: off by default.");

export const sinkSchema = z
  .strictObject({
    stream: streamIdSchema,
    partitionKey: z
      .union([
        z.enum(["source", "random"]),
        z.strictObject({ field: z.string().min(1).describe("Output JSON field holding the key.") }),
      ])
      .default("source")
      .describe(
        'source: keep the input record\'s key. random: a new UUID. {"field": name}: a field of the output JSON.',
      ),
    maxBatchRecords: z
      .number()
      .int()
      .min(1)
      .max(500)
      .default(500)
      .describe("Records per PutRecords call (the service allows 500)."),
    maxBatchBytes: z
      .number()
      .int()
      .min(1 * KiB)
      .max(10 * MiB)
      .default(10 * MiB)
      .describe("Bytes per PutRecords call, data and partition keys (the service allows 10 MiB)."),
    maxRecordBytes: z
      .number()
      .int()
      .min(1 * KiB)
      .max(10 * MiB)
      .default(1 * MiB)
      .describe(
        "Largest record, data plus partition key: the stream's MaxRecordSize (1 MiB unless raised). A larger output goes to the failure policy.",
      ),
    lingerMs: milliseconds(0, 10_000)
      .default(50)
      .describe("How long a partial batch waits for more records."),
    maxInFlightBatches: z
      .number()
      .int()
      .min(1)
      .max(64)
      .optional()
      .describe(
        "PutRecords calls in flight. Default: 1 when ordering is ordered (keeps write order), 4 when unordered.",
      ),
    aggregation: aggregationSchema,
  })
  .refine((sink) => !sink.aggregation.enabled || sink.aggregation.maxBytes <= sink.maxRecordBytes, {
    message: "aggregation.maxBytes must be at most maxRecordBytes (an aggregate is one record)",
    path: ["aggregation", "maxBytes"],
    // Only once the fields themselves are sound: a maxBytes out of bounds is named once.
    when: (payload) => payload.issues.length === 0,
  })
  .describe("A Kinesis stream written with PutRecords.");

/** Adaptive concurrency (opt-in): the in-flight limit follows the endpoint's latency. */
export const adaptiveConcurrencySchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(false)
      .describe(
        "Let the in-flight limit follow the endpoint's latency, at most capacity: it shrinks while latency is above latencyTolerance times the measured no-load latency and grows back when it recovers (as Netflix's concurrency-limits and Envoy's adaptive concurrency filter).",
      ),
    minLimit: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(5)
      .describe(
        "Lowest limit (capped at capacity), where it starts, and the calls in flight at or below which latency counts as no-load latency.",
      ),
    latencyTolerance: z
      .number()
      .min(1)
      .max(10)
      .default(1.1)
      .describe(
        "Latency up to this multiple of the no-load latency lets the limit grow; above it, the limit shrinks in proportion to the excess.",
      ),
  })
  .prefault({})
  .describe(
    "Adaptive concurrency: off by default, when capacity alone bounds the calls in flight.",
  );

/** How records are processed; shared with the AsyncEnrichmentJob API so bounds cannot drift. */
export const processingFields = {
  capacity: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(10)
    .describe("Most requests in flight in this processor (Flink's capacity)."),
  ordering: z
    .enum(["ordered", "unordered"])
    .default("ordered")
    .describe(
      "ordered: results leave in each shard's input order (orderedWait). unordered: as they complete (unorderedWait).",
    ),
  failurePolicy: z
    .enum(["deadLetter", "drop", "fail"])
    .default("deadLetter")
    .describe(
      "What happens to a record whose call failed: deadLetter stream, drop (metric and log line), or fail the job.",
    ),
  maxPendingRecordsPerShard: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .optional()
    .describe(
      "Records of one shard read and not yet acknowledged (the checkpoint cannot pass them) at which reading that shard pauses. Bounds the memory a stuck record holds and the records read again after a crash. Default: the larger of 10,000 and twice capacity.",
    ),
  checkpointIntervalMs: milliseconds(100, 3_600_000)
    .default(10_000)
    .describe(
      "How often moved checkpoints are written. Bounds the records read again after a crash; each write is one store (Lease) update per shard.",
    ),
  adaptiveConcurrency: adaptiveConcurrencySchema,
};

const kubernetesName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "expected a Kubernetes object name")
  .max(253);

/** How long a processor's heartbeat lives and how often it is renewed; shared with the job API. */
export const leaseTimingFields = {
  leaseDurationSeconds: z
    .number()
    .int()
    .min(2)
    .max(3_600)
    .default(5)
    .describe(
      "A processor whose heartbeat Lease has not changed for this long is gone: others take its shards (it stops reading them a tenth of this earlier). Failover takes up to this plus two renewIntervalMs.",
    ),
  renewIntervalMs: milliseconds(200, 600_000)
    .default(2_000)
    .describe(
      "How often each processor renews its heartbeat Lease and looks for shards to take. Shard Leases are written only when their holder or checkpoint changes.",
    ),
};

/** The rule between the two, which the CRD restates in CEL. */
export const leaseTimingRule = {
  check: (lease: { renewIntervalMs: number; leaseDurationSeconds: number }): boolean =>
    lease.renewIntervalMs < lease.leaseDurationSeconds * 1000,
  message: "renewIntervalMs must be shorter than leaseDurationSeconds",
};

/** How processors of one job share its shards and keep checkpoints. */
export const coordinationSchema = z
  .discriminatedUnion("type", [
    z
      .strictObject({ type: z.literal("memory") })
      .describe(
        "One processor reads every shard; checkpoints live in its memory (the demo, tests).",
      ),
    z
      .strictObject({
        type: z.literal("kubernetes"),
        namespace: kubernetesName.describe("Namespace of the shard Leases."),
        leasePrefix: kubernetesName
          .max(200)
          .describe("Lease names are <leasePrefix>-<shard id in lower case>."),
        labels: z
          .record(z.string(), z.string())
          .default({})
          .describe("Labels on every shard Lease (the operator selects them by these)."),
        owner: z
          .strictObject({
            apiVersion: z.string().min(1),
            kind: z.string().min(1),
            name: z.string().min(1),
            uid: z.string().min(1),
          })
          .optional()
          .describe(
            "Owner reference on the Leases, so deleting the owner deletes the checkpoints.",
          ),
        ...leaseTimingFields,
        maxStealsPerRenewal: z
          .number()
          .int()
          .min(0)
          .max(10_000)
          .default(100)
          .describe(
            "Shards asked per renewal from processors above the fair share. The holder drains and hands them over (a plain steal if it has not within a lease duration).",
          ),
      })
      .refine(leaseTimingRule.check, {
        message: leaseTimingRule.message,
        path: ["renewIntervalMs"],
        when: isObjectPayload,
      })
      .describe(
        "Processors share the shards through one coordination.k8s.io Lease per shard, which also holds its checkpoint.",
      ),
  ])
  .prefault({ type: "memory" })
  .describe("Where shard ownership and checkpoints live.");

export const processorConfigSchema = z
  .strictObject({
    jobName: z.string().min(1).default("local").describe("Job name, on every log line and metric."),
    workerId: z
      .string()
      .min(1)
      .optional()
      .describe("This processor's identity (lease holder); defaults to the host (pod) name."),
    aws: z
      .strictObject({
        region: z.string().min(1).default("us-east-1").describe("AWS region of the streams."),
        endpoint: z
          .string()
          .regex(httpUrl, "expected an http:// or https:// URL")
          .optional()
          .describe("Kinesis endpoint override, for LocalStack or the local emulator."),
      })
      .prefault({})
      .describe(
        "Where Kinesis is. Credentials come from the pod's identity or environment, never from here.",
      ),
    source: z
      .strictObject({
        stream: streamIdSchema,
        startPosition: startPositionSchema,
        latestFrom: z.iso
          .datetime({ offset: true })
          .optional()
          .describe(
            "With startPosition LATEST: the moment LATEST is fixed to (the operator writes the job's creation time), so shards without a checkpoint, children of a split or merge included, start there after any restart. Default: the processor's start.",
          ),
        maxRecordsPerFetch: z
          .number()
          .int()
          .min(1)
          .max(10_000)
          .default(10_000)
          .describe("Records per GetRecords call (the service allows 10,000)."),
        idleTimeBetweenReadsMs: milliseconds(200, 60_000)
          .default(1_000)
          .describe("Wait between GetRecords calls once a shard is caught up."),
        shardDiscoveryIntervalMs: milliseconds(1_000, 3_600_000)
          .default(10_000)
          .describe("How often ListShards looks for new shards (resharding)."),
      })
      .describe("The Kinesis stream read."),
    sink: sinkSchema,
    deadLetter: sinkSchema
      .optional()
      .describe("Where failed records go (failurePolicy deadLetter)."),
    endpoint: endpointSchema,
    ...processingFields,
    coordination: coordinationSchema,
    shutdownGraceMs: milliseconds(0, 3_600_000)
      .default(25_000)
      .describe("Time to drain on SIGTERM; keep it below the pod's terminationGracePeriodSeconds."),
    metrics: z
      .strictObject({
        host: z
          .string()
          .default("0.0.0.0")
          .describe("Address of /metrics, /healthz, /readyz, /status."),
        port: z.number().int().min(0).max(65_535).default(9400).describe("Port of the same."),
      })
      .prefault({})
      .describe("The pod's HTTP server."),
    logLevel: z
      .enum(["fatal", "error", "warn", "info", "debug", "trace"])
      .default("info")
      .describe("pino log level."),
  })
  .refine((config) => config.failurePolicy !== "deadLetter" || config.deadLetter !== undefined, {
    message: 'failurePolicy "deadLetter" needs a deadLetter stream',
    path: ["deadLetter"],
    when: isObjectPayload,
  });

/** The config as written (defaults optional), which the operator produces. */
export type ProcessorConfigInput = z.input<typeof processorConfigSchema>;
/** The config after validation, with every default filled in. */
export type ProcessorConfig = z.output<typeof processorConfigSchema>;
export type EndpointConfig = ProcessorConfig["endpoint"];
/** endpoint.tls as written, which the operator produces. */
export type EndpointTlsConfig = z.input<typeof endpointTlsSchema>;
export type SinkConfig = ProcessorConfig["sink"];
export type StartPosition = ProcessorConfig["source"]["startPosition"];

/** The larger of 10,000 and twice capacity: room for a shard's full share of calls and batches. */
export const maxPendingRecordsPerShard = (
  config: Pick<ProcessorConfig, "maxPendingRecordsPerShard" | "capacity">,
): number => config.maxPendingRecordsPerShard ?? Math.max(10_000, 2 * config.capacity);
export type CoordinationConfig = ProcessorConfig["coordination"];
export type LeaseCoordinationConfig = Extract<CoordinationConfig, { type: "kubernetes" }>;
