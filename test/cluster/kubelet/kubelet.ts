// The test kubelet: registers a Node and runs the pods bound to it as local processes (this
// project's image only; see image.ts and launch-plan.ts), reporting their status like a kubelet.
// It acts as system:node:<name> (impersonated with the admin kubeconfig), so the Node authorizer
// and NodeRestriction hold it to what a real kubelet may do; `kubectl logs` reaches its log
// server. In-process: startKubelet(); CLI:
//   node test/cluster/kubelet/kubelet.ts [--kubeconfig FILE] [--node-name NAME] [--pods-dir DIR]
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { createKubeApi } from "../kube-api.ts";
import { readKubeconfig } from "../kubeconfig.ts";
import { clusterStateRoot, defaultPodsDir, repositoryRoot } from "../paths.ts";
import { defaultBackoffBaseMs } from "./backoff.ts";
import { startLogServer } from "./log-server.ts";
import { registerNode } from "./node-heartbeat.ts";
import { apiObjectSource } from "./object-source.ts";
import { createPodIpAllocator } from "./pod-ips.ts";
import { watchNodePods } from "./pod-watch.ts";
import { startPodWorker, type PodWorker } from "./pod-worker.ts";
import type { Pod } from "./types.ts";

export type KubeletLog = (
  level: "info" | "warn",
  message: string,
  fields: Record<string, unknown>,
) => void;

export interface KubeletOptions {
  kubeconfig: string;
  nodeName: string;
  /** Per-pod folders (logs, volumes); default .cache/cluster/pods. */
  podsDir?: string;
  /** Crash-loop back-off base; default AEJ_KUBELET_BACKOFF_MS or 10 s. */
  backoffBaseMs?: number;
  heartbeatMs?: number;
  resyncMs?: number;
  /** Default: JSON lines appended to <podsDir>/kubelet-<node>.log. */
  log?: KubeletLog;
}

export interface Kubelet {
  nodeName: string;
  podsDir: string;
  /** Ends every pod process (SIGTERM, 2 s, SIGKILL) and stops heartbeats; the Node stays. */
  stop(): Promise<void>;
}

const hostIP = "127.0.0.1";

export async function startKubelet(options: KubeletOptions): Promise<Kubelet> {
  const { nodeName } = options;
  const podsDir = options.podsDir ?? defaultPodsDir;
  mkdirSync(podsDir, { recursive: true });
  const logFile = join(podsDir, `kubelet-${nodeName}.log`);
  const log: KubeletLog =
    options.log ??
    ((level, message, fields) => {
      const line = {
        time: new Date().toISOString(),
        level,
        node: nodeName,
        msg: message,
        ...fields,
      };
      appendFileSync(logFile, `${JSON.stringify(line)}\n`);
    });
  const credentials = readKubeconfig(options.kubeconfig);
  const api = createKubeApi(credentials, {
    user: `system:node:${nodeName}`,
    groups: ["system:nodes"],
  });
  const backoffBaseMs =
    options.backoffBaseMs ?? Number(process.env.AEJ_KUBELET_BACKOFF_MS ?? defaultBackoffBaseMs);
  const logServer = await startLogServer(podsDir, join(podsDir, `kubelet-${nodeName}-tls`));
  const heartbeat = await registerNode(api, {
    nodeName,
    hostIP,
    kubeletPort: logServer.port,
    intervalMs: options.heartbeatMs ?? 10_000,
    log: (message, fields) => {
      log("warn", message, fields);
    },
  }).catch(async (error: unknown) => {
    await Promise.all([api.close(), logServer.close()]);
    throw error;
  });
  const context = {
    api,
    source: apiObjectSource(api),
    hostIP,
    podsDir,
    ips: createPodIpAllocator(),
    backoffBaseMs,
    apiServerPort: Number(new URL(credentials.server).port),
    repositoryRoot,
    nodeBinary: join(repositoryRoot, "node_modules/.bin/node"),
    log: (message: string, fields: Record<string, unknown>) => {
      log("info", message, fields);
    },
  };

  // Workers stay while their pod exists in the API, so a finished pod is not started again.
  const workers = new Map<string, PodWorker>();
  const seen = (pod: Pod): void => {
    const worker = workers.get(pod.metadata.uid);
    if (worker !== undefined) {
      worker.update(pod);
      return;
    }
    const phase = pod.status?.phase;
    // Finished before this kubelet started: nothing to run.
    if (phase === "Succeeded" || phase === "Failed") return;
    const started = startPodWorker(pod, context);
    workers.set(pod.metadata.uid, started);
    started.update(pod);
  };
  const gone = (uid: string): void => {
    const worker = workers.get(uid);
    workers.delete(uid);
    void worker?.remove();
  };

  const abort = new AbortController();
  const watching = watchNodePods(
    api,
    nodeName,
    {
      pod: seen,
      gone,
      error: (message, error) => {
        log("warn", message, { error: String(error) });
      },
    },
    { resyncMs: options.resyncMs ?? 30_000, signal: abort.signal },
  );
  log("info", "kubelet started", { podsDir, backoffBaseMs });

  return {
    nodeName,
    podsDir,
    async stop() {
      heartbeat.stop();
      abort.abort();
      await watching;
      await Promise.all([...workers.values()].map((worker) => worker.stop(2_000)));
      workers.clear();
      await Promise.all([api.close(), logServer.close()]);
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      kubeconfig: {
        type: "string",
        default: process.env.KUBECONFIG ?? join(clusterStateRoot, "kubeconfig"),
      },
      "node-name": { type: "string", default: "test-node" },
      "pods-dir": { type: "string", default: defaultPodsDir },
    },
  });
  const logger = pino({ name: "test-kubelet" });
  const kubelet = await startKubelet({
    kubeconfig: values.kubeconfig,
    nodeName: values["node-name"],
    podsDir: values["pods-dir"],
    log: (level, message, fields) => {
      logger[level](fields, message);
    },
  });
  const stop = (): void => {
    void kubelet.stop().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
