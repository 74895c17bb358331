// Workloads of the project's image for the cluster tests, as plain manifests: the demo endpoint
// (HOST from the pod IP, a readiness probe on /healthz) and one-off node scripts.
import { projectImage } from "./kubelet/image.ts";

export const image = `${projectImage.repository}:dev`;

function endpointContainer(): object {
  return {
    name: "endpoint",
    image,
    args: ["demo/endpoint.ts"],
    env: [
      { name: "HOST", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
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
