// Renders the config schema as the markdown reference in docs/processor-config.md, so the docs are
// generated from the one schema, never written beside it. `npm run docs` rewrites the file and a
// test fails when it is stale.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { processorConfigSchema } from "./schema.ts";

interface JsonSchema {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  format?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

const code = (value: unknown): string => `\`${JSON.stringify(value)}\``;

function typeOf(schema: JsonSchema): string {
  const variants = schema.oneOf ?? schema.anyOf;
  if (variants !== undefined) return variants.map(typeOf).join(" or ");
  if (schema.const !== undefined) return code(schema.const);
  if (schema.enum !== undefined) return schema.enum.map(code).join(", ");
  if (schema.type === "array")
    return `list of ${schema.items === undefined ? "values" : typeOf(schema.items)}`;
  if (schema.type === "object") {
    const discriminator = Object.values(schema.properties ?? {}).find(
      (property) => property.const !== undefined,
    );
    return discriminator === undefined ? "object" : `object with ${code(discriminator.const)}`;
  }
  const bounds =
    schema.minimum !== undefined && schema.maximum !== undefined
      ? ` ${schema.minimum.toLocaleString("en")} to ${schema.maximum.toLocaleString("en")}`
      : "";
  return `${schema.type ?? "value"}${schema.format === undefined ? "" : ` (${schema.format})`}${bounds}`;
}

function rows(schema: JsonSchema, prefix: string, required: boolean): string[][] {
  const result: string[][] = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    const path = `${prefix}${name}`;
    const isRequired =
      required && (schema.required ?? []).includes(name) && property.default === undefined;
    const defaultText =
      property.default !== undefined ? code(property.default) : isRequired ? "required" : "";
    if (property.const === undefined) {
      result.push([
        `\`${path}\``,
        typeOf(property),
        defaultText,
        (property.description ?? "").replaceAll("|", "\\|"),
      ]);
    }
    if (property.properties !== undefined) result.push(...rows(property, `${path}.`, isRequired));
    if (property.items?.properties !== undefined)
      result.push(...rows(property.items, `${path}[].`, true));
    for (const variant of property.oneOf ?? property.anyOf ?? []) {
      if (variant.properties !== undefined) result.push(...rows(variant, `${path}.`, false));
    }
  }
  return result;
}

export function configReference(): string {
  const schema = z.toJSONSchema(processorConfigSchema, {
    io: "input",
    unrepresentable: "any",
  }) as JsonSchema;
  const table = [
    ["field", "type", "default", "what it does"],
    ["---", "---", "---", "---"],
    ...rows(schema, "", true),
  ]
    .map((cells) => `| ${cells.join(" | ")} |`)
    .join("\n");
  return `# Processor configuration

Generated from \`processor/config/schema.ts\` by \`npm run docs\`; do not edit by hand.

The processor reads one JSON object: from the file given by \`--config\` or \`PROCESSOR_CONFIG_FILE\`,
merged with the JSON in \`PROCESSOR_CONFIG\`, then these variables override single fields:
\`PROCESSOR_WORKER_ID\`, \`PROCESSOR_METRICS_HOST\`, \`PROCESSOR_METRICS_PORT\`, \`PROCESSOR_LOG_LEVEL\`.
Unknown fields are refused. An invalid config exits with code 2 and one line per bad field:
\`path.to.field: what was expected\`.

${table}
`;
}

if (import.meta.main) {
  const target = join(import.meta.dirname, "../../docs/processor-config.md");
  writeFileSync(target, configReference());
  process.stdout.write(`wrote ${target}\n`);
}
