// A pod's volumes, materialized as folders under its pod folder: ConfigMaps and Secrets as one file
// per key (or per item), projected volumes (the service-account token from the TokenRequest API,
// bound to the pod, plus kube-root-ca.crt and the namespace, as in the kube-api-access volume the
// API server adds to every pod), downwardAPI files and emptyDirs. A missing non-optional source
// fails the mount; the container waits and the kubelet tries again.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { KubeApi } from "../kube-api.ts";
import { fieldValue, type PodAddresses } from "./field-ref.ts";
import { ContainerConfigError, type ObjectSource } from "./object-source.ts";
import type { DownwardApiFile, KeyToPath, Pod, ProjectionSource, Volume } from "./types.ts";

export interface VolumeContext {
  pod: Pod;
  addresses: PodAddresses;
  source: ObjectSource;
  /** The API as the node, for TokenRequests (the Node authorizer allows them for its own pods). */
  api: KubeApi;
  /** <pod folder>/volumes */
  root: string;
}

function writeFiles(directory: string, files: Record<string, Buffer | string>): void {
  for (const [path, content] of Object.entries(files)) {
    const file = join(directory, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content, { mode: 0o600 });
  }
}

function selectItems(
  data: Record<string, Buffer>,
  items: KeyToPath[] | undefined,
  what: string,
): Record<string, Buffer> {
  if (items === undefined) return data;
  const selected: Record<string, Buffer> = {};
  for (const item of items) {
    const value = data[item.key];
    if (value === undefined) {
      throw new ContainerConfigError("FailedMount", `${what} has no key ${item.key}`);
    }
    selected[item.path] = value;
  }
  return selected;
}

async function keyedSource(
  context: VolumeContext,
  kind: "configMap" | "secret",
  name: string,
  items: KeyToPath[] | undefined,
  optional: boolean | undefined,
): Promise<Record<string, Buffer>> {
  const namespace = context.pod.metadata.namespace ?? "default";
  const data = await context.source[kind](namespace, name);
  const what = `${kind === "configMap" ? "configmap" : "secret"} "${name}"`;
  if (data === undefined) {
    if (optional === true) return {};
    throw new ContainerConfigError("FailedMount", `${what} not found`);
  }
  return selectItems(data, items, what);
}

function downwardFiles(context: VolumeContext, items: DownwardApiFile[] | undefined) {
  return Object.fromEntries(
    (items ?? [])
      .filter((item) => item.fieldRef !== undefined)
      .map((item) => [
        item.path,
        fieldValue(context.pod, context.addresses, item.fieldRef?.fieldPath ?? ""),
      ]),
  );
}

async function serviceAccountToken(
  context: VolumeContext,
  request: NonNullable<ProjectionSource["serviceAccountToken"]>,
): Promise<string> {
  const { metadata, spec } = context.pod;
  const namespace = metadata.namespace ?? "default";
  const account = spec.serviceAccountName ?? "default";
  // Tokens of 3607 s (the default volume's) are extended to a year by the API server
  // (--service-account-extend-token-expiration), so a test's pod never needs a refresh.
  const answer = await context.api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${account}/token`,
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: {
        audiences: request.audience === undefined ? [] : [request.audience],
        expirationSeconds: request.expirationSeconds ?? 3607,
        boundObjectRef: { apiVersion: "v1", kind: "Pod", name: metadata.name, uid: metadata.uid },
      },
    },
  );
  return answer.status.token;
}

async function projectedFiles(
  context: VolumeContext,
  sources: ProjectionSource[],
): Promise<Record<string, Buffer | string>> {
  const files: Record<string, Buffer | string> = {};
  for (const source of sources) {
    if (source.serviceAccountToken !== undefined) {
      files[source.serviceAccountToken.path] = await serviceAccountToken(
        context,
        source.serviceAccountToken,
      );
    }
    if (source.configMap !== undefined) {
      const { name, items, optional } = source.configMap;
      Object.assign(files, await keyedSource(context, "configMap", name, items, optional));
    }
    if (source.secret !== undefined) {
      const { name, items, optional } = source.secret;
      Object.assign(files, await keyedSource(context, "secret", name, items, optional));
    }
    if (source.downwardAPI !== undefined) {
      Object.assign(files, downwardFiles(context, source.downwardAPI.items));
    }
  }
  return files;
}

async function volumeFiles(
  context: VolumeContext,
  volume: Volume,
): Promise<Record<string, Buffer | string>> {
  if (volume.configMap !== undefined) {
    const { name, items, optional } = volume.configMap;
    return keyedSource(context, "configMap", name, items, optional);
  }
  if (volume.secret !== undefined) {
    const { secretName, items, optional } = volume.secret;
    return keyedSource(context, "secret", secretName, items, optional);
  }
  if (volume.projected !== undefined) return projectedFiles(context, volume.projected.sources);
  if (volume.downwardAPI !== undefined) return downwardFiles(context, volume.downwardAPI.items);
  if (volume.emptyDir !== undefined) return {};
  throw new ContainerConfigError(
    "FailedMount",
    `volume ${volume.name}: the test kubelet supports configMap, secret, projected, downwardAPI and emptyDir volumes`,
  );
}

/** Writes every volume of the pod; returns each volume's folder by name. */
export async function materializeVolumes(context: VolumeContext): Promise<Map<string, string>> {
  const folders = new Map<string, string>();
  for (const volume of context.pod.spec.volumes ?? []) {
    const folder = join(context.root, volume.name);
    mkdirSync(folder, { recursive: true });
    writeFiles(folder, await volumeFiles(context, volume));
    folders.set(volume.name, folder);
  }
  return folders;
}
