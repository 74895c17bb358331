// A NetworkPolicy for the job's processors: nothing may connect to them but on their metrics port
// (Prometheus, the kubelet's probes). Egress stays open: the endpoint and AWS are wherever the job
// says, so a policy guessing them would break jobs; restrict it with a policy of your own.
import type { V1NetworkPolicy } from "@kubernetes/client-node";
import { objectMeta, processorName, selectorLabels, type Job } from "./job.ts";

export function desiredNetworkPolicy(job: Job): V1NetworkPolicy {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: objectMeta(job, processorName(job)),
    spec: {
      podSelector: { matchLabels: selectorLabels(job) },
      policyTypes: ["Ingress"],
      ingress: [{ ports: [{ port: "metrics", protocol: "TCP" }] }],
    },
  };
}
