// A container's environment as a kubelet builds it: the image's ENV, the in-cluster API address,
// then envFrom sources, then env entries in order (later wins), each value with $(VAR) expanded
// against what is defined so far. Nothing leaks in from the kubelet's own environment but PATH,
// so a pod cannot lean on the developer's KUBECONFIG or AWS settings.
import { dirname } from "node:path";
import { expandReferences } from "./expand.ts";
import { fieldValue, type PodAddresses } from "./field-ref.ts";
import { projectImage } from "./image.ts";
import { ContainerConfigError, readKey, type ObjectSource } from "./object-source.ts";
import type { Container, Pod } from "./types.ts";

export interface EnvironmentContext {
  pod: Pod;
  addresses: PodAddresses;
  source: ObjectSource;
  /** Port of the API server on 127.0.0.1: KUBERNETES_SERVICE_PORT. */
  apiServerPort: number;
  /** The repository's Node binary, first on PATH so `node` in a shell command is Node 24. */
  nodeBinary: string;
}

const envNamePattern = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

export async function containerEnvironment(
  container: Container,
  context: EnvironmentContext,
): Promise<Map<string, string>> {
  const { pod, source } = context;
  const namespace = pod.metadata.namespace ?? "default";
  const env = new Map<string, string>([
    ["PATH", `${dirname(context.nodeBinary)}:${process.env.PATH ?? "/usr/bin:/bin"}`],
    ["HOSTNAME", pod.metadata.name],
    ...Object.entries(projectImage.env),
    // What a real cluster injects for the `kubernetes` Service; the API server is on loopback.
    ["KUBERNETES_SERVICE_HOST", "127.0.0.1"],
    ["KUBERNETES_SERVICE_PORT", String(context.apiServerPort)],
    ["KUBERNETES_SERVICE_PORT_HTTPS", String(context.apiServerPort)],
  ]);
  for (const from of container.envFrom ?? []) {
    const reference = from.configMapRef ?? from.secretRef;
    if (reference === undefined) continue;
    const kind = from.configMapRef !== undefined ? "configMap" : "secret";
    const data = await source[kind](namespace, reference.name);
    if (data === undefined) {
      if (reference.optional === true) continue;
      throw new ContainerConfigError(
        "CreateContainerConfigError",
        `${kind === "configMap" ? "configmap" : "secret"} "${reference.name}" not found`,
      );
    }
    for (const [key, value] of Object.entries(data)) {
      const name = `${from.prefix ?? ""}${key}`;
      // Keys that are not valid variable names are skipped, as the kubelet does.
      if (envNamePattern.test(name)) env.set(name, value.toString("utf8"));
    }
  }
  for (const variable of container.env ?? []) {
    const from = variable.valueFrom;
    let value: string | undefined;
    if (from?.fieldRef !== undefined) {
      value = fieldValue(pod, context.addresses, from.fieldRef.fieldPath);
    } else if (from?.secretKeyRef !== undefined) {
      value = await readKey(source, "secret", namespace, from.secretKeyRef);
    } else if (from?.configMapKeyRef !== undefined) {
      value = await readKey(source, "configMap", namespace, from.configMapKeyRef);
    } else {
      value = expandReferences(variable.value ?? "", env);
    }
    // An optional reference that is missing leaves the variable unset.
    if (value !== undefined) env.set(variable.name, value);
  }
  return env;
}
