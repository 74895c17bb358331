// The downward API's fieldRef paths, as env values and volume files see them.
import { ContainerConfigError } from "./object-source.ts";
import type { Pod } from "./types.ts";

export interface PodAddresses {
  podIP: string;
  hostIP: string;
}

export function fieldValue(pod: Pod, addresses: PodAddresses, fieldPath: string): string {
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (keyed !== null) {
    const map = keyed[1] === "labels" ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[keyed[2] ?? ""] ?? "";
  }
  switch (fieldPath) {
    case "metadata.name":
      return pod.metadata.name;
    case "metadata.namespace":
      return pod.metadata.namespace ?? "default";
    case "metadata.uid":
      return pod.metadata.uid;
    case "spec.nodeName":
      return pod.spec.nodeName ?? "";
    case "spec.serviceAccountName":
      return pod.spec.serviceAccountName ?? "default";
    case "status.podIP":
    case "status.podIPs":
      return addresses.podIP;
    case "status.hostIP":
    case "status.hostIPs":
      return addresses.hostIP;
    default:
      throw new ContainerConfigError(
        "CreateContainerConfigError",
        `the test kubelet does not support fieldRef ${fieldPath}`,
      );
  }
}
