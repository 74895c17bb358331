// The processors' workload: a Deployment with `parallelism` replicas (0 when suspended).
// A Deployment, not a StatefulSet: processors keep no local state (checkpoints live on Leases) and
// need no stable names, and a StatefulSet's one-by-one ordered rollout would only slow a roll.
// maxSurge 0 keeps the endpoint's load within parallelism x capacity during a roll too.
import type { V1Deployment, V1EnvVar } from "@kubernetes/client-node";
import { defaultResources } from "./default-resources.ts";
import { configFileName, podTemplateHash } from "./desired-config.ts";
import { endpointTlsVolumes } from "./endpoint-tls-volumes.ts";
import { heapFlags } from "./heap-size.ts";
import { serviceAccountName } from "./desired-rbac.ts";
import { commonLabels, objectMeta, processorName, selectorLabels, type Job } from "./job.ts";
import { headerVariable, metricsPort } from "./processor-config.ts";
import { configHashAnnotation } from "./labels.ts";

export interface WorkloadSettings {
  /** Processor image when the job names none: the operator's own. */
  defaultImage: string;
}

const configDirectory = "/etc/async-enrichment";
/** The processor drains within shutdownGraceMs (25 s by default); the kubelet waits a bit longer. */
const terminationGracePeriodSeconds = 30;

function environment(job: Job): V1EnvVar[] {
  const fromField = (name: string, fieldPath: string): V1EnvVar => ({
    name,
    valueFrom: { fieldRef: { fieldPath } },
  });
  const variables: V1EnvVar[] = [fromField("PROCESSOR_WORKER_ID", "metadata.name")];
  job.spec.endpoint.headers.forEach((header, index) => {
    if (header.valueFrom !== undefined) {
      variables.push({
        name: headerVariable(index),
        valueFrom: { secretKeyRef: header.valueFrom.secretKeyRef },
      });
    }
  });
  const credentials = job.spec.aws.credentialsSecretRef;
  if (credentials !== undefined) {
    for (const [key, optional] of [
      ["AWS_ACCESS_KEY_ID", false],
      ["AWS_SECRET_ACCESS_KEY", false],
      ["AWS_SESSION_TOKEN", true],
    ] as const) {
      variables.push({
        name: key,
        valueFrom: { secretKeyRef: { name: credentials.name, key, optional } },
      });
    }
  }
  return variables;
}

export function desiredDeployment(job: Job, settings: WorkloadSettings): V1Deployment {
  const { pod } = job.spec;
  const replicas = job.spec.suspend ? 0 : job.spec.parallelism;
  const resources = pod.resources ?? defaultResources(job.spec);
  const tls = endpointTlsVolumes(job.spec.endpoint.tls);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: objectMeta(job, processorName(job)),
    spec: {
      replicas,
      selector: { matchLabels: selectorLabels(job) },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } },
      template: {
        metadata: {
          labels: { ...pod.labels, ...commonLabels(job) },
          annotations: {
            ...pod.annotations,
            [configHashAnnotation]: podTemplateHash(job),
          },
        },
        spec: {
          serviceAccountName: serviceAccountName(job),
          terminationGracePeriodSeconds,
          securityContext: {
            runAsNonRoot: true,
            // The image's uid: high, so it matches no user of the node.
            runAsUser: 65532,
            runAsGroup: 65532,
            // Mounted TLS keys are group-readable only: the processor reads them as this group.
            ...(tls.volumes.length === 0 ? {} : { fsGroup: 65532 }),
            seccompProfile: { type: "RuntimeDefault" },
          },
          ...(pod.nodeSelector === undefined ? {} : { nodeSelector: pod.nodeSelector }),
          ...(pod.tolerations === undefined ? {} : { tolerations: pod.tolerations }),
          containers: [
            {
              name: "processor",
              image: pod.image ?? settings.defaultImage,
              ...(pod.imagePullPolicy === undefined
                ? {}
                : { imagePullPolicy: pod.imagePullPolicy }),
              args: [
                ...heapFlags(resources),
                // The image holds the processor compiled to JavaScript (the Dockerfile).
                "processor/main.js",
                "--config",
                `${configDirectory}/${configFileName}`,
              ],
              env: environment(job),
              ports: [{ name: "metrics", containerPort: metricsPort, protocol: "TCP" }],
              readinessProbe: {
                httpGet: { path: "/readyz", port: "metrics" },
                periodSeconds: 5,
                failureThreshold: 2,
              },
              livenessProbe: {
                httpGet: { path: "/healthz", port: "metrics" },
                periodSeconds: 10,
                failureThreshold: 3,
              },
              resources,
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
              volumeMounts: [
                { name: "config", mountPath: configDirectory, readOnly: true },
                ...tls.volumeMounts,
              ],
            },
          ],
          volumes: [{ name: "config", configMap: { name: processorName(job) } }, ...tls.volumes],
        },
      },
    },
  };
}
