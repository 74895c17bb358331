// Generates the AsyncEnrichmentJob CustomResourceDefinition from the zod schemas. zod's OpenAPI
// output is close to a CRD schema; this turns it into a structural one (no additionalProperties:
// false, discriminated unions merged into one object) and adds what JSON Schema cannot say: CEL
// rules across fields, list-map markers, printer columns and the scale subresource.
// `npm run crds` writes crds/; a test fails when the file is stale.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { z } from "zod";
import { apiVersion, group, jobSpecSchema, kind, plural, version } from "./job-schema.ts";
import { jobStatusSchema } from "./status-schema.ts";

type Schema = Record<string, unknown> & {
  properties?: Record<string, Schema>;
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
  required?: string[];
};

const dropped = new Set(["$schema", "propertyNames", "uniqueItems", "$defs", "id"]);

/** Makes zod's OpenAPI output structural, as the API server requires of a CRD schema. */
export function structural(input: Schema): Schema {
  const output: Schema = {};
  for (const [key, value] of Object.entries(input)) {
    if (dropped.has(key)) continue;
    if (key === "additionalProperties" && value === false) continue;
    if (key === "properties") {
      output.properties = Object.fromEntries(
        Object.entries(value as Record<string, Schema>).map(([name, child]) => [
          name,
          structural(child),
        ]),
      );
    } else if (key === "items" || (key === "additionalProperties" && typeof value === "object")) {
      output[key] = structural(value as Schema);
    } else {
      output[key] = value;
    }
  }
  if (output.format === "date-time") delete output.pattern;
  const variants = output.oneOf ?? output.anyOf;
  if (variants !== undefined && variants.every((variant) => variant.type === "object")) {
    delete output.oneOf;
    delete output.anyOf;
    return { ...mergeVariants(variants.map(structural)), ...output };
  }
  return output;
}

/** One object with every variant's properties; the discriminator's enum is the union of theirs. */
function mergeVariants(variants: Schema[]): Schema {
  const properties: Record<string, Schema> = {};
  for (const variant of variants) {
    for (const [name, property] of Object.entries(variant.properties ?? {})) {
      const known = properties[name];
      if (known?.enum !== undefined && property.enum !== undefined) {
        properties[name] = {
          ...known,
          enum: [...(known.enum as unknown[]), ...(property.enum as unknown[])],
        };
      } else {
        // A default of one variant's field would be applied to every variant: leave it to the processor.
        const withoutDefault = { ...property };
        delete withoutDefault.default;
        properties[name] = known ?? withoutDefault;
      }
    }
  }
  const required = variants
    .map((variant) => variant.required ?? [])
    .reduce((common, names) => common.filter((name) => names.includes(name)));
  return { type: "object", properties, ...(required.length > 0 ? { required } : {}) };
}

interface Rule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: string;
}

/** Cross-field rules, enforced by the API server at `kubectl apply`, each naming its field. */
const rules: Record<string, Rule[]> = {
  "": [
    {
      rule: "self.failurePolicy != 'deadLetter' || has(self.deadLetter)",
      message: "spec.deadLetter is required when spec.failurePolicy is deadLetter (the default)",
      fieldPath: ".deadLetter",
      reason: "FieldValueRequired",
    },
    {
      // The budget must admit the smallest job: minParallelism pods of capacity calls each.
      rule: "!has(self.autoscaling) || !has(self.autoscaling.maxEndpointConcurrency) || self.autoscaling.maxEndpointConcurrency >= (has(self.capacity) ? self.capacity : 10) * (has(self.autoscaling.minParallelism) ? self.autoscaling.minParallelism : 1)",
      message:
        "spec.autoscaling.maxEndpointConcurrency must admit minParallelism x spec.capacity calls in flight",
      fieldPath: ".autoscaling.maxEndpointConcurrency",
    },
  ],
  autoscaling: [
    {
      rule: "!has(self.minParallelism) || self.minParallelism <= self.maxParallelism",
      message: "spec.autoscaling.minParallelism must be at most maxParallelism",
      fieldPath: ".minParallelism",
    },
  ],
  "source.startPosition": [
    {
      rule: "(self.type == 'AT_TIMESTAMP') == has(self.timestamp)",
      message:
        "spec.source.startPosition.timestamp is required with type AT_TIMESTAMP, and only with it",
    },
  ],
  endpoint: [
    {
      // The schema's pattern checks only the scheme; the API server's own URL parser the rest.
      rule: "isURL(self.url)",
      message: "spec.endpoint.url must be a valid URL (no spaces; host, then path)",
      fieldPath: ".url",
    },
    {
      rule: "self.deadlineMs >= self.timeoutMs",
      message: "spec.endpoint.deadlineMs must be at least spec.endpoint.timeoutMs",
      fieldPath: ".deadlineMs",
    },
    {
      rule: "!(self.method == 'GET' && self.body == 'record')",
      message: 'spec.endpoint.body must be "none" when method is GET',
      fieldPath: ".body",
    },
    {
      rule: "!has(self.tls) || self.url.startsWith('https://')",
      message: "spec.endpoint.tls applies only to an https:// URL",
      fieldPath: ".tls",
    },
  ],
  "endpoint.http": [
    {
      rule: "!has(self.maxConnections) || (has(self.version) && self.version == '2')",
      message:
        'spec.endpoint.http.maxConnections applies only to version "2" (HTTP/1.1 opens capacity connections)',
      fieldPath: ".maxConnections",
    },
  ],
  "endpoint.tls.ca": [
    {
      rule: "has(self.configMapKeyRef) != has(self.secretKeyRef)",
      message: "spec.endpoint.tls.ca needs exactly one of configMapKeyRef or secretKeyRef",
    },
  ],
  "endpoint.headers[]": [
    {
      rule: "has(self.value) != has(self.valueFrom)",
      message: "each of spec.endpoint.headers needs exactly one of value or valueFrom",
    },
  ],
  "endpoint.retry": [
    {
      // has(): the API server checks the schema's default ({}) before nested defaults fill it.
      rule: "!has(self.maxBackoffMs) || !has(self.initialBackoffMs) || self.maxBackoffMs >= self.initialBackoffMs",
      message: "spec.endpoint.retry.maxBackoffMs must be at least initialBackoffMs",
      fieldPath: ".maxBackoffMs",
    },
  ],
  "endpoint.outage": [
    {
      rule: "!has(self.maxProbeIntervalMs) || !has(self.probeIntervalMs) || self.maxProbeIntervalMs >= self.probeIntervalMs",
      message: "spec.endpoint.outage.maxProbeIntervalMs must be at least probeIntervalMs",
      fieldPath: ".maxProbeIntervalMs",
    },
  ],
  leases: [
    {
      rule: "!has(self.renewIntervalMs) || !has(self.leaseDurationSeconds) || self.renewIntervalMs < self.leaseDurationSeconds * 1000",
      message: "spec.leases.renewIntervalMs must be shorter than spec.leases.leaseDurationSeconds",
      fieldPath: ".renewIntervalMs",
    },
  ],
  "endpoint.response": [
    {
      rule: "self.mode == 'merge' || !has(self.field)",
      message: "spec.endpoint.response.field applies only to mode merge",
      fieldPath: ".field",
    },
  ],
};

function at(schema: Schema, path: string): Schema {
  let node = schema;
  for (const step of path.split(".").filter(Boolean)) {
    const list = step.endsWith("[]");
    const child = node.properties?.[list ? step.slice(0, -2) : step];
    if (child === undefined) throw new Error(`CRD rule path ${path}: no ${step}`);
    node = list ? (child.items ?? child) : child;
  }
  return node;
}

function openApi(schema: z.ZodType): Schema {
  return structural(
    z.toJSONSchema(schema, {
      target: "openapi-3.0",
      io: "input",
      unrepresentable: "any",
    }) as Schema,
  );
}

export function crd(): Record<string, unknown> {
  const spec = openApi(jobSpecSchema);
  for (const [path, pathRules] of Object.entries(rules))
    at(spec, path)["x-kubernetes-validations"] = pathRules;
  const status = openApi(jobStatusSchema);
  const conditions = at(status, "conditions");
  conditions["x-kubernetes-list-type"] = "map";
  conditions["x-kubernetes-list-map-keys"] = ["type"];
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      names: {
        kind,
        listKind: `${kind}List`,
        plural,
        singular: kind.toLowerCase(),
        shortNames: ["aej"],
        categories: ["all", "streaming"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: {
            status: {},
            scale: {
              specReplicasPath: ".spec.parallelism",
              statusReplicasPath: ".status.replicas",
              labelSelectorPath: ".status.selector",
            },
          },
          additionalPrinterColumns: [
            { name: "Phase", type: "string", jsonPath: ".status.phase" },
            { name: "Parallelism", type: "integer", jsonPath: ".spec.parallelism" },
            {
              name: "Recommended",
              type: "integer",
              jsonPath: ".status.autoscaling.recommended",
              description: "Parallelism the autoscaler's latest figures call for",
            },
            {
              name: "Limited-By",
              type: "string",
              jsonPath: ".status.autoscaling.limitedBy",
              description: "What sets the autoscaler's recommendation",
              priority: 1,
            },
            { name: "Ready", type: "integer", jsonPath: ".status.readyReplicas" },
            { name: "Shards", type: "integer", jsonPath: ".status.shards" },
            {
              name: "Lag",
              type: "integer",
              jsonPath: ".status.maxLagMillis",
              description: "Largest millisBehindLatest",
            },
            { name: "Records/s", type: "number", jsonPath: ".status.recordsPerSecond" },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
          schema: {
            openAPIV3Schema: {
              type: "object",
              // The job's name is a label value on every object it owns (at most 63 characters).
              "x-kubernetes-validations": [
                {
                  rule: "size(self.metadata.name) <= 63",
                  message:
                    "metadata.name must be at most 63 characters: it labels every object of the job",
                },
              ],
              description: `${kind} runs Flink-style Async I/O from one Kinesis stream through an HTTP service to another, on parallelism processor pods.`,
              required: ["spec"],
              properties: {
                apiVersion: { type: "string", description: apiVersion },
                kind: { type: "string", description: kind },
                metadata: { type: "object" },
                spec,
                status,
              },
            },
          },
        },
      ],
    },
  };
}

export const crdPath = join(import.meta.dirname, `../../crds/${group}_${plural}.yaml`);

export function crdYaml(): string {
  // Plain YAML: client-node's dumpYaml maps through its typed models, which drop x-kubernetes-*
  // extensions and defaults.
  return `# Generated from operator/api by \`npm run crds\`; do not edit.\n${stringify(crd(), { lineWidth: 0 })}`;
}

/** The Helm chart's copy: Helm reads only files inside the chart. */
export const chartCrdPath = join(
  import.meta.dirname,
  `../../charts/async-enrichment/crds/${group}_${plural}.yaml`,
);

if (import.meta.main) {
  for (const path of [crdPath, chartCrdPath]) {
    writeFileSync(path, crdYaml());
    process.stdout.write(`wrote ${path}\n`);
  }
}
