// Reads the processor config from a file and/or the environment and validates it, so a bad
// config stops the pod at start with every wrong field named, not later with a confusing error.
import { readFileSync } from "node:fs";
import type { z } from "zod";
import { processorConfigSchema, type ProcessorConfig } from "./schema.ts";

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid processor config:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** One line per zod issue: `path.to.field: what was expected`. */
export function describeIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    return `${path === "" ? "(config)" : path}: ${issue.message}`;
  });
}

/** Environment variables that override single fields; the pod spec sets these (e.g. from fieldRef). */
const environmentOverrides: readonly {
  variable: string;
  path: readonly string[];
  numeric?: true;
}[] = [
  { variable: "PROCESSOR_WORKER_ID", path: ["workerId"] },
  { variable: "PROCESSOR_METRICS_HOST", path: ["metrics", "host"] },
  { variable: "PROCESSOR_METRICS_PORT", path: ["metrics", "port"], numeric: true },
  { variable: "PROCESSOR_LOG_LEVEL", path: ["logLevel"] },
];

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const child = node[key];
    node[key] = typeof child === "object" && child !== null ? child : {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1) ?? ""] = value;
}

function parseJson(text: string, origin: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`${origin}: not valid JSON (${(error as Error).message})`]);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([`${origin}: expected a JSON object`]);
  }
  return parsed as Record<string, unknown>;
}

export interface ConfigSources {
  /** Path of a JSON config file (`--config`, or PROCESSOR_CONFIG_FILE). */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/** Merges file, inline JSON (PROCESSOR_CONFIG) and single-field overrides, then validates. */
export function loadConfig(sources: ConfigSources): ProcessorConfig {
  const env = sources.env ?? {};
  const file = sources.file ?? env.PROCESSOR_CONFIG_FILE;
  let raw: Record<string, unknown> = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new ConfigError([`config file ${file}: ${(error as Error).message}`]);
    }
    raw = parseJson(text, `config file ${file}`);
  }
  if (env.PROCESSOR_CONFIG !== undefined) {
    raw = { ...raw, ...parseJson(env.PROCESSOR_CONFIG, "PROCESSOR_CONFIG") };
  }
  if (file === undefined && env.PROCESSOR_CONFIG === undefined) {
    throw new ConfigError([
      "no config given: pass --config <file.json>, or set PROCESSOR_CONFIG_FILE or PROCESSOR_CONFIG",
    ]);
  }
  for (const override of environmentOverrides) {
    const value = env[override.variable];
    if (value === undefined || value === "") continue;
    setPath(raw, override.path, override.numeric ? Number(value) : value);
  }
  return validateConfig(raw);
}

export function validateConfig(raw: unknown): ProcessorConfig {
  const result = processorConfigSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(describeIssues(result.error.issues));
  return result.data;
}
