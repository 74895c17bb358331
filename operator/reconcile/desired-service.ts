// A Service in front of the processors' metrics port, for Prometheus (and a ServiceMonitor).
import type { V1Service } from "@kubernetes/client-node";
import { objectMeta, processorName, selectorLabels, type Job } from "./job.ts";
import { metricsPort } from "./processor-config.ts";

export function desiredMetricsService(job: Job): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: objectMeta(job, `${processorName(job)}-metrics`),
    spec: {
      selector: selectorLabels(job),
      ports: [{ name: "metrics", port: metricsPort, targetPort: "metrics", protocol: "TCP" }],
    },
  };
}
