// Every API permission the operator uses, and nothing more: the Helm chart's ClusterRole (or, when
// it watches a list of namespaces, its Roles) must grant exactly these; a test holds them together.
// The operator may only grant processors what it holds itself (RBAC escalation prevention), which
// is why it needs the Lease verbs its processors' Role lists.
import type { V1PolicyRule } from "@kubernetes/client-node";
import { group, plural } from "./api/job-schema.ts";

const watch = ["get", "list", "watch"];
/** Owned objects: applied, and watched so the reconciler reads them from a cache. */
const own = [...watch, "create", "patch"];

/** Rules the operator needs in every namespace whose jobs it reconciles. */
export const jobNamespaceRules: V1PolicyRule[] = [
  { apiGroups: [group], resources: [plural], verbs: watch },
  { apiGroups: [group], resources: [`${plural}/status`], verbs: ["get", "patch", "update"] },
  // spec.autoscaling: the operator sets parallelism through the scale subresource.
  { apiGroups: [group], resources: [`${plural}/scale`], verbs: ["patch"] },
  { apiGroups: ["apps"], resources: ["deployments"], verbs: own },
  { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch"] },
  { apiGroups: [""], resources: ["configmaps", "services", "serviceaccounts"], verbs: own },
  { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles", "rolebindings"], verbs: own },
  { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: own },
  // The Secrets a job references, read by name to report a missing one; never listed or watched.
  { apiGroups: [""], resources: ["secrets"], verbs: ["get"] },
  // The processors' shard Leases: granted to them by the job's Role, and read for the status.
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
  },
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
];

/** Rules the operator needs in its own namespace: the leader election Lease. */
export const leaderElectionRules: V1PolicyRule[] = [
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
];
