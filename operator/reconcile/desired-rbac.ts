// The processors' identity: a ServiceAccount (unless the job names its own, e.g. one annotated
// for IRSA) and a Role that allows only what processors do: manage their job's shard Leases.
import type { V1Role, V1RoleBinding, V1ServiceAccount } from "@kubernetes/client-node";
import { objectMeta, processorName, type Job } from "./job.ts";

export function serviceAccountName(job: Job): string {
  return job.spec.pod.serviceAccountName ?? processorName(job);
}

export function desiredServiceAccount(job: Job): V1ServiceAccount | undefined {
  if (job.spec.pod.serviceAccountName !== undefined) return undefined;
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: objectMeta(job, processorName(job)),
  };
}

export function desiredRole(job: Job): V1Role {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: objectMeta(job, processorName(job)),
    rules: [
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
      },
    ],
  };
}

export function desiredRoleBinding(job: Job): V1RoleBinding {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: objectMeta(job, processorName(job)),
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: processorName(job) },
    subjects: [{ kind: "ServiceAccount", name: serviceAccountName(job), namespace: job.namespace }],
  };
}
