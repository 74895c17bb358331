// A pod's status from its containers', as the kubelet computes it: phase, the four conditions
// (lastTransitionTime kept while a condition's status stays), addresses and start time. Pure: the
// pod worker writes the result to the status subresource when it differs from the last write.
import type { ContainerStatus, Pod, PodCondition, PodStatus, RestartPolicy } from "./types.ts";

export interface PodStatusInput {
  pod: Pod;
  previous: PodStatus | undefined;
  initContainers: ContainerStatus[];
  containers: ContainerStatus[];
  podIP: string;
  hostIP: string;
  startTime: string;
  now: string;
}

export function podPhase(
  containers: ContainerStatus[],
  restartPolicy: RestartPolicy,
): NonNullable<PodStatus["phase"]> {
  const ran = (status: ContainerStatus): boolean =>
    status.state.running !== undefined ||
    status.state.terminated !== undefined ||
    status.lastState.terminated !== undefined;
  if (containers.some((status) => !ran(status))) return "Pending";
  // A container still waiting here waits for a restart; only all-terminated pods are done.
  if (containers.some((status) => status.state.terminated === undefined)) return "Running";
  // Between a failed exit and its restart the container shows terminated: Always and OnFailure
  // will restart it, so the pod still runs.
  const failed = containers.some((status) => status.state.terminated?.exitCode !== 0);
  if (restartPolicy === "Always" || (restartPolicy === "OnFailure" && failed)) return "Running";
  return failed ? "Failed" : "Succeeded";
}

function condition(
  type: string,
  holds: boolean,
  previous: PodCondition[] | undefined,
  now: string,
  reason?: string,
): PodCondition {
  const status = holds ? "True" : "False";
  const before = previous?.find((entry) => entry.type === type);
  return {
    type,
    status,
    lastTransitionTime:
      before !== undefined && before.status === status ? before.lastTransitionTime : now,
    ...(holds || reason === undefined ? {} : { reason }),
  };
}

/** Init containers have all exited 0 (true for a pod without any). */
function initialized(initContainers: ContainerStatus[]): boolean {
  return initContainers.every((status) => status.state.terminated?.exitCode === 0);
}

/** An init container failed for good: it exited non-zero and the policy restarts nothing. */
function initFailed(initContainers: ContainerStatus[], restartPolicy: RestartPolicy): boolean {
  return (
    restartPolicy === "Never" &&
    initContainers.some((status) => (status.state.terminated?.exitCode ?? 0) !== 0)
  );
}

export function podStatus(input: PodStatusInput): PodStatus {
  const { pod, previous, initContainers, containers, now } = input;
  const restartPolicy = pod.spec.restartPolicy ?? "Always";
  const isInitialized = initialized(initContainers);
  const phase = initFailed(initContainers, restartPolicy)
    ? "Failed"
    : isInitialized
      ? podPhase(containers, restartPolicy)
      : "Pending";
  const allReady = containers.every((status) => status.ready);
  const done = phase === "Succeeded" || phase === "Failed";
  const conditions = [
    condition("PodReadyToStartContainers", true, previous?.conditions, now),
    condition("Initialized", isInitialized, previous?.conditions, now, "ContainersNotInitialized"),
    condition(
      "Ready",
      allReady,
      previous?.conditions,
      now,
      done ? "PodCompleted" : "ContainersNotReady",
    ),
    condition(
      "ContainersReady",
      allReady,
      previous?.conditions,
      now,
      done ? "PodCompleted" : "ContainersNotReady",
    ),
    // The scheduler set this one; keep it as it is.
    previous?.conditions?.find((entry) => entry.type === "PodScheduled") ??
      condition("PodScheduled", true, undefined, now),
  ];
  return {
    phase,
    conditions,
    hostIP: input.hostIP,
    hostIPs: [{ ip: input.hostIP }],
    podIP: input.podIP,
    podIPs: [{ ip: input.podIP }],
    startTime: input.startTime,
    ...(initContainers.length === 0 ? {} : { initContainerStatuses: initContainers }),
    containerStatuses: containers,
  };
}
