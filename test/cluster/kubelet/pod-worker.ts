// One pod on this node, from its first sight to its removal: a loopback pod IP and a pod folder,
// its volumes materialized once, one ContainerRun per container, and the pod's status written to
// the status subresource whenever it changed (writes are serialized and coalesced). Deletion is
// a kubelet's: SIGTERM, the grace period, SIGKILL, then the pod deleted with grace 0 so it leaves
// the API.
import type { KubeApi } from "../kube-api.ts";
import { ApiError } from "../kube-api.ts";
import { runContainer, type ContainerRun } from "./container.ts";
import { containerRoot, linkMounts } from "./container-root.ts";
import { containerEnvironment } from "./environment.ts";
import { launchPlan, type LaunchPlan } from "./launch-plan.ts";
import type { ObjectSource } from "./object-source.ts";
import { podDirectory, preparePodDirectory } from "./pod-files.ts";
import type { PodIpAllocator } from "./pod-ips.ts";
import { podStatus } from "./pod-status.ts";
import type { Container, Pod, PodStatus } from "./types.ts";
import { materializeVolumes } from "./volumes.ts";
import { join } from "node:path";

export interface PodWorkerContext {
  /** The API as this node (system:node:<name>). */
  api: KubeApi;
  source: ObjectSource;
  hostIP: string;
  podsDir: string;
  ips: PodIpAllocator;
  backoffBaseMs: number;
  apiServerPort: number;
  repositoryRoot: string;
  nodeBinary: string;
  log(message: string, fields: Record<string, unknown>): void;
}

export interface PodWorker {
  /** A newer version of the pod from the API (a deletionTimestamp starts the termination). */
  update(pod: Pod): void;
  /** The pod is gone from the API: kill its processes at once. */
  remove(): Promise<void>;
  /** The kubelet stops: end the processes within graceMs, leave the API alone. */
  stop(graceMs: number): Promise<void>;
  /** Resolves when the worker is finished (pod deleted or removed or stopped). */
  finished: Promise<void>;
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, "Z");

export function startPodWorker(initial: Pod, context: PodWorkerContext): PodWorker {
  let pod = initial;
  const { uid, name } = pod.metadata;
  const namespace = pod.metadata.namespace ?? "default";
  const podPath = `/api/v1/namespaces/${namespace}/pods/${name}`;
  const fields = { pod: `${namespace}/${name}` };
  const podIP = context.ips.allocate(uid);
  const podDir = podDirectory(context.podsDir, namespace, name);
  preparePodDirectory(podDir, uid);
  const startTime = pod.status?.startTime ?? now();
  const addresses = { podIP, hostIP: context.hostIP };

  let volumes: Promise<Map<string, string>> | undefined;
  const mountVolumes = (): Promise<Map<string, string>> => {
    volumes ??= materializeVolumes({
      pod,
      addresses,
      source: context.source,
      api: context.api,
      root: join(podDir, "volumes"),
    }).catch((error: unknown) => {
      volumes = undefined; // the next container start tries again
      throw error;
    });
    return volumes;
  };
  const prepare = async (container: Container): Promise<LaunchPlan> => {
    const env = await containerEnvironment(container, {
      pod,
      addresses,
      source: context.source,
      apiServerPort: context.apiServerPort,
      nodeBinary: context.nodeBinary,
    });
    const root = containerRoot(podDir, container.name);
    linkMounts(container, await mountVolumes(), root);
    return launchPlan(container, env, root, context);
  };

  // Status writes: one at a time, coalesced, skipped when nothing changed since the last write.
  let ended = false;
  let previous: PodStatus | undefined = pod.status;
  let lastWritten = "";
  let queued = false;
  let writes = Promise.resolve();
  let initContainers: ContainerRun[] = [];
  let containers: ContainerRun[] = [];
  const write = async (): Promise<void> => {
    queued = false;
    if (ended) return;
    const status = podStatus({
      pod,
      previous,
      initContainers: initContainers.map((container) => container.status()),
      containers: containers.map((container) => container.status()),
      podIP,
      hostIP: context.hostIP,
      startTime,
      now: now(),
    });
    previous = status;
    const body = JSON.stringify(status);
    if (body === lastWritten) return;
    try {
      await context.api.patch(`${podPath}/status`, { status }, "merge");
      lastWritten = body;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return;
      context.log("pod status write failed; retrying", { ...fields, error: String(error) });
      setTimeout(changed, 1_000).unref();
    }
  };
  function changed(): void {
    if (queued || ended) return;
    queued = true;
    writes = writes.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(write);
  }

  const restartPolicy = pod.spec.restartPolicy ?? "Always";
  const terminationGraceMs = (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000;
  const common = {
    podDir,
    podIP,
    backoffBaseMs: context.backoffBaseMs,
    killGraceMs: terminationGraceMs,
    prepare,
    changed,
    log: (message: string, extra: Record<string, unknown>) => {
      context.log(message, { ...fields, ...extra });
    },
  };
  // Init containers run one at a time, each to a zero exit (retried unless the policy is Never),
  // then all the other containers start together.
  const startFrom = (index: number): void => {
    const next = initContainers[index];
    if (next !== undefined) {
      next.start();
      return;
    }
    for (const container of containers) container.start();
  };
  initContainers = (pod.spec.initContainers ?? []).map((container, index) =>
    runContainer(container, {
      ...common,
      restartPolicy: restartPolicy === "Never" ? "Never" : "OnFailure",
      initialReason: "PodInitializing",
      finished: (exitCode) => {
        if (exitCode === 0) startFrom(index + 1);
      },
    }),
  );
  containers = pod.spec.containers.map((container) =>
    runContainer(container, {
      ...common,
      restartPolicy,
      initialReason: initContainers.length === 0 ? "ContainerCreating" : "PodInitializing",
    }),
  );
  startFrom(0);
  context.log("pod started", { ...fields, podIP, podDir });

  let finish = (): void => undefined;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const end = async (graceMs: number): Promise<void> => {
    await Promise.all(
      [...initContainers, ...containers].map((container) => container.terminate(graceMs)),
    );
    context.ips.release(uid);
    finish();
  };

  let terminating = false;
  const terminate = async (): Promise<void> => {
    const graceMs =
      (pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30) *
      1000;
    context.log("pod terminating", { ...fields, graceMs });
    await Promise.all(
      [...initContainers, ...containers].map((container) => container.terminate(graceMs)),
    );
    changed();
    await writes;
    ended = true;
    try {
      await context.api.delete(podPath, {
        apiVersion: "v1",
        kind: "DeleteOptions",
        gracePeriodSeconds: 0,
        preconditions: { uid },
      });
    } catch (error) {
      context.log("deleting the terminated pod failed", { ...fields, error: String(error) });
    }
    await end(0);
  };

  return {
    update(next) {
      pod = next;
      if (pod.metadata.deletionTimestamp !== undefined) {
        if (!terminating) {
          terminating = true;
          void terminate();
        }
        return;
      }
      changed();
    },
    async remove() {
      ended = true;
      // Force-deleted (or gone before we saw the deletion): a short grace, as for a lost pod.
      await end(2_000);
    },
    async stop(graceMs) {
      ended = true;
      await end(graceMs);
    },
    finished,
  };
}
