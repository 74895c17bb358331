// The AsyncEnrichmentJob API: one zod schema from which the TypeScript types, the CRD's OpenAPI
// schema (crds/) and its documentation (`kubectl explain`) are all generated. Bounds shared with
// the processor come from the processor's own schema, so the two cannot drift apart.
import { z } from "zod";
import { autoscalingSchema } from "./autoscaling-schema.ts";
import {
  aggregationSchema,
  endpointFields,
  headerNameSchema,
  includePublicRootsSchema,
  leaseTimingFields,
  leaseTimingRule,
  processingFields,
  startPositionSchema,
  streamIdSchema,
  tlsServerNameSchema,
  withEndpointRules,
} from "../../processor/contract.ts";

export const group = "asyncenrichment.dev";
export const version = "v1alpha1";
export const kind = "AsyncEnrichmentJob";
export const plural = "asyncenrichmentjobs";
export const apiVersion = `${group}/${version}`;

const dnsName = z
  .string()
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    "expected a DNS-1123 name",
  )
  .max(253);

export const secretKeySelectorSchema = z
  .strictObject({
    name: dnsName.describe("Name of a Secret in the job's namespace."),
    key: z.string().min(1).describe("Key within the Secret."),
  })
  .describe("A key of a Secret in the job's namespace.");

const dataKey = z
  .string()
  .regex(/^[-._a-zA-Z0-9]+$/, "expected a ConfigMap or Secret key (a-z A-Z 0-9 - _ .)")
  .max(253);

export const configMapKeySelectorSchema = z
  .strictObject({
    name: dnsName.describe("Name of a ConfigMap in the job's namespace."),
    key: dataKey.describe("Key within the ConfigMap."),
  })
  .describe("A key of a ConfigMap in the job's namespace.");

export const endpointTlsSpecSchema = z
  .strictObject({
    ca: z
      .strictObject({
        configMapKeyRef: configMapKeySelectorSchema.optional(),
        secretKeyRef: z
          .strictObject({
            name: dnsName.describe("Name of a Secret in the job's namespace."),
            key: dataKey.describe("Key within the Secret."),
          })
          .optional()
          .describe("A key of a Secret in the job's namespace."),
      })
      .refine((ca) => (ca.configMapKeyRef === undefined) !== (ca.secretKeyRef === undefined), {
        message: "set exactly one of configMapKeyRef or secretKeyRef",
      })
      .optional()
      .describe(
        "PEM CA certificates that verify the endpoint's certificate, from exactly one of configMapKeyRef or secretKeyRef. Default: the public root CAs.",
      ),
    includePublicRoots: includePublicRootsSchema,
    clientCertificate: z
      .strictObject({
        secretName: dnsName.describe(
          "A Secret in the job's namespace holding the certificate and its key (e.g. of type kubernetes.io/tls, or cert-manager's).",
        ),
        certificateKey: dataKey.default("tls.crt").describe("Key of the PEM certificate (chain)."),
        privateKeyKey: dataKey.default("tls.key").describe("Key of the PEM private key."),
      })
      .optional()
      .describe("A client certificate for mutual TLS."),
    serverName: tlsServerNameSchema.optional(),
  })
  .describe(
    "TLS to an https endpoint. The ConfigMap and Secret are mounted into the pods as read-only volumes (never environment variables); an update reaches running pods without a restart.",
  );

export const jobHeaderSchema = z
  .strictObject({
    name: headerNameSchema,
    value: z.string().optional().describe("A literal value. Credentials belong in valueFrom."),
    valueFrom: z
      .strictObject({ secretKeyRef: secretKeySelectorSchema })
      .optional()
      .describe("Takes the value from a Secret; it reaches the pod as an environment variable."),
  })
  .describe("An HTTP header sent with every request: exactly one of value or valueFrom.");

export const sinkStreamSchema = z
  .strictObject({
    stream: streamIdSchema,
    partitionKey: z
      .string()
      .regex(/^(source|random|field:.+)$/, 'expected "source", "random" or "field:<name>"')
      .default("source")
      .describe(
        'Partition key of written records: "source" (the input\'s), "random", or "field:<name>" of the output JSON.',
      ),
    aggregation: aggregationSchema,
  })
  .describe("A Kinesis stream the job writes to.");

export const jobSpecSchema = z
  .strictObject({
    aws: z
      .strictObject({
        region: z.string().min(1).describe("AWS region of the streams."),
        endpoint: z
          .string()
          .regex(/^https?:\/\/[^\s/]+/, "expected an http:// or https:// URL")
          .optional()
          .describe("Kinesis endpoint override, for LocalStack or a local emulator."),
        credentialsSecretRef: z
          .strictObject({ name: dnsName.describe("Name of the Secret.") })
          .optional()
          .describe(
            "A Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and optionally AWS_SESSION_TOKEN). Leave it out to use the pod's identity (IRSA, EKS Pod Identity).",
          ),
      })
      .describe("Where the streams live and how the processors authenticate."),
    source: z
      .strictObject({
        stream: streamIdSchema,
        startPosition: startPositionSchema,
      })
      .describe("The Kinesis stream read."),
    sink: sinkStreamSchema,
    deadLetter: sinkStreamSchema
      .optional()
      .describe("Where failed records go; required when failurePolicy is deadLetter."),
    endpoint: withEndpointRules(
      z.strictObject({
        ...endpointFields,
        headers: z.array(jobHeaderSchema).max(32).default([]).describe("Extra request headers."),
        tls: endpointTlsSpecSchema.optional(),
      }),
    ).describe("The HTTP service and how it is called."),
    parallelism: z
      .number()
      .int()
      .min(0)
      .max(1_000)
      .default(1)
      .describe(
        "Processor pods. 0 pauses the job (pods drain and stop; checkpoints stay). With spec.autoscaling the operator sets it.",
      ),
    autoscaling: autoscalingSchema.optional(),
    suspend: z
      .boolean()
      .default(false)
      .describe(
        "true pauses the job whatever parallelism says, as the Flink Kubernetes Operator's suspended state.",
      ),
    ...processingFields,
    capacity: processingFields.capacity.describe(
      "Requests in flight per pod (Flink's capacity). The endpoint sees up to parallelism x capacity.",
    ),
    batching: z
      .strictObject({
        maxRecords: z
          .number()
          .int()
          .min(1)
          .max(500)
          .default(500)
          .describe("Records per PutRecords call."),
        lingerMs: z
          .number()
          .int()
          .min(0)
          .max(10_000)
          .default(50)
          .describe("How long a partial batch waits, in milliseconds."),
      })
      .prefault({})
      .describe("How results are batched into PutRecords calls."),
    leases: z
      .strictObject({
        ...leaseTimingFields,
        retainOnDelete: z
          .boolean()
          .default(false)
          .describe(
            "Keep the shard Leases, and so the checkpoints, when the job is deleted: a job created again with the same name resumes where this one stopped.",
          ),
      })
      .refine(leaseTimingRule.check, {
        message: leaseTimingRule.message,
        path: ["renewIntervalMs"],
        when: (payload) => typeof payload.value === "object" && payload.value !== null,
      })
      .prefault({})
      .describe(
        "How processors share the shards: one coordination.k8s.io Lease per shard holding its holder and checkpoint, and one heartbeat Lease per processor. Failover takes up to leaseDurationSeconds plus two renewIntervalMs (9 s by default).",
      ),
    restartNonce: z
      .string()
      .max(63)
      .optional()
      .describe("Change it to roll every processor pod without any other change."),
    pod: z
      .strictObject({
        image: z
          .string()
          .min(1)
          .optional()
          .describe("Processor image; defaults to the operator's."),
        imagePullPolicy: z
          .enum(["Always", "IfNotPresent", "Never"])
          .optional()
          .describe("Image pull policy."),
        serviceAccountName: dnsName
          .optional()
          .describe(
            "Use this ServiceAccount (e.g. one annotated for IRSA) instead of the one the operator creates.",
          ),
        resources: z
          .strictObject({
            requests: z
              .record(z.string(), z.string())
              .optional()
              .describe("Resource requests, e.g. cpu: 250m."),
            limits: z
              .record(z.string(), z.string())
              .optional()
              .describe("Resource limits, e.g. memory: 256Mi."),
          })
          .optional()
          .describe("Processor container resources."),
        nodeSelector: z
          .record(z.string(), z.string())
          .optional()
          .describe("Node selector of processor pods."),
        tolerations: z
          .array(
            z.strictObject({
              key: z.string().optional(),
              operator: z.enum(["Exists", "Equal"]).optional(),
              value: z.string().optional(),
              effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
              tolerationSeconds: z.number().int().optional(),
            }),
          )
          .optional()
          .describe("Tolerations of processor pods."),
        annotations: z.record(z.string(), z.string()).optional().describe("Extra pod annotations."),
        labels: z.record(z.string(), z.string()).optional().describe("Extra pod labels."),
      })
      .prefault({})
      .describe("Processor pod settings."),
  })
  .describe("What the job reads, calls and writes, and how many processors do it.");

export type JobSpec = z.output<typeof jobSpecSchema>;
export type JobSpecInput = z.input<typeof jobSpecSchema>;
