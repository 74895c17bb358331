// The ConfigMap holding the processor config (no secrets: header values from Secrets travel as
// environment variables), and the hash that rolls the pods when it changes.
import { createHash } from "node:crypto";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { objectMeta, processorName, type Job } from "./job.ts";
import { processorConfig } from "./processor-config.ts";

export const configFileName = "config.json";

export function desiredConfigMap(job: Job): V1ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: objectMeta(job, processorName(job)),
    data: {
      [configFileName]: `${JSON.stringify(processorConfig(job), null, 2)}\n`,
    },
  };
}

/** Changes whenever the pods must restart: a new config or a new restartNonce, not a new scale. */
export function podTemplateHash(job: Job): string {
  return createHash("sha256")
    .update(JSON.stringify(processorConfig(job)))
    .update(job.spec.restartNonce ?? "")
    .digest("hex")
    .slice(0, 16);
}
