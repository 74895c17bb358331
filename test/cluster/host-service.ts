// A Service for a server on this machine, as a user would put one in front of an external
// endpoint: no selector, one EndpointSlice naming the relay on the node's address. Pods then call
// it by its DNS name (CoreDNS), through its ClusterIP (kube-proxy).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HostRelay } from "./host-relay.ts";
import { nodeIp } from "./node-network.ts";

export function hostServiceManifests(
  name: string,
  namespace: string,
  port: number,
  relay: HostRelay,
): object[] {
  return [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace },
      spec: { ports: [{ name: "http", port, targetPort: relay.port, protocol: "TCP" }] },
    },
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name, namespace, labels: { "kubernetes.io/service-name": name } },
      addressType: "IPv4",
      endpoints: [{ addresses: [nodeIp], conditions: { ready: true } }],
      ports: [{ name: "http", port: relay.port, protocol: "TCP" }],
    },
  ];
}

/** Applies the Service and its EndpointSlice; returns the URL pods call: http://name.namespace.svc:port */
export async function exposeHostService(
  kubectl: (...args: string[]) => Promise<string>,
  folder: string,
  service: { name: string; namespace: string; port: number; relay: HostRelay },
): Promise<string> {
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `service-${service.namespace}-${service.name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: hostServiceManifests(service.name, service.namespace, service.port, service.relay),
    }),
  );
  await kubectl("apply", "-f", file);
  return `http://${service.name}.${service.namespace}.svc:${String(service.port)}`;
}
