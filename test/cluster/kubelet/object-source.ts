// ConfigMaps and Secrets as the kubelet reads them for env and volumes: through the API with the
// node's identity (the Node authorizer lets a node read only what its pods reference), a missing
// object reported as undefined so `optional` can decide.
import type { KubeApi } from "../kube-api.ts";
import type { ConfigMap, Secret } from "./types.ts";

export interface ObjectSource {
  configMap(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
  secret(namespace: string, name: string): Promise<Record<string, Buffer> | undefined>;
}

export function apiObjectSource(api: KubeApi): ObjectSource {
  return {
    async configMap(namespace, name) {
      const map = await api.find<ConfigMap>(`/api/v1/namespaces/${namespace}/configmaps/${name}`);
      if (map === undefined) return undefined;
      const entries: [string, Buffer][] = [
        ...Object.entries(map.data ?? {}).map(([key, value]): [string, Buffer] => [
          key,
          Buffer.from(value),
        ]),
        ...Object.entries(map.binaryData ?? {}).map(([key, value]): [string, Buffer] => [
          key,
          Buffer.from(value, "base64"),
        ]),
      ];
      return Object.fromEntries(entries);
    },
    async secret(namespace, name) {
      const secret = await api.find<Secret>(`/api/v1/namespaces/${namespace}/secrets/${name}`);
      if (secret === undefined) return undefined;
      return Object.fromEntries(
        Object.entries(secret.data ?? {}).map(([key, value]) => [
          key,
          Buffer.from(value, "base64"),
        ]),
      );
    },
  };
}

/** A configuration error the user must fix; the container waits with this reason and message. */
export class ContainerConfigError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

export async function readKey(
  source: ObjectSource,
  kind: "configMap" | "secret",
  namespace: string,
  selector: { name: string; key: string; optional?: boolean },
): Promise<string | undefined> {
  const data = await source[kind](namespace, selector.name);
  const label = kind === "configMap" ? "configmap" : "secret";
  if (data === undefined) {
    if (selector.optional === true) return undefined;
    throw new ContainerConfigError(
      "CreateContainerConfigError",
      `${label} "${selector.name}" not found`,
    );
  }
  const value = data[selector.key];
  if (value === undefined) {
    if (selector.optional === true) return undefined;
    throw new ContainerConfigError(
      "CreateContainerConfigError",
      `couldn't find key ${selector.key} in ${kind === "configMap" ? "ConfigMap" : "Secret"} ${namespace}/${selector.name}`,
    );
  }
  return value.toString("utf8");
}
