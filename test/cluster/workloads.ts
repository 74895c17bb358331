// Workloads of the project's image for the cluster tests, as plain manifests: the demo endpoint
// (on every address of its pod, a readiness probe on /healthz) and one-off node scripts.
import { projectImageName } from "./test-cluster.ts";

export const image = projectImageName;

function endpointContainer(): object {
  return {
    name: "endpoint",
    image,
    args: ["demo/endpoint.ts"],
    env: [
      // Every address: port-forward arrives on the pod's loopback.
      { name: "HOST", value: "0.0.0.0" },
      { name: "PORT", value: "8080" },
    ],
    ports: [{ name: "http", containerPort: 8080 }],
    readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 1 },
  };
}

export function endpointDeployment(name: string, replicas: number): object {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { terminationGracePeriodSeconds: 10, containers: [endpointContainer()] },
      },
    },
  };
}

export function scriptPod(
  name: string,
  options: {
    args: string[];
    image?: string;
    restartPolicy?: string;
    container?: object;
    spec?: object;
  },
): object {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      restartPolicy: options.restartPolicy ?? "Always",
      terminationGracePeriodSeconds: 2,
      containers: [
        { name: "main", image: options.image ?? image, args: options.args, ...options.container },
      ],
      ...options.spec,
    },
  };
}
