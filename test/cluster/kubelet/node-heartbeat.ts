// The Node this kubelet stands for: registered with its capacity, then kept alive as a kubelet
// does, by renewing its Lease in kube-node-lease and refreshing the Ready condition's heartbeat.
// The node lifecycle controller lifts the not-ready taint once Ready is True.
import { availableParallelism, release, totalmem } from "node:os";
import type { KubeApi } from "../kube-api.ts";
import { ApiError } from "../kube-api.ts";

const kubeletVersion = "v1.33.13";

/** Lease times are MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function nodeStatus(
  nodeName: string,
  hostIP: string,
  kubeletPort: number,
  since: string,
  heartbeat: string,
): object {
  const allocatable = {
    cpu: String(availableParallelism()),
    memory: `${String(Math.floor(totalmem() / 1024))}Ki`,
    pods: "110",
  };
  const condition = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: heartbeat,
    lastTransitionTime: since,
  });
  return {
    capacity: allocatable,
    allocatable,
    conditions: [
      condition(
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
      ),
      condition(
        "DiskPressure",
        "False",
        "KubeletHasNoDiskPressure",
        "kubelet has no disk pressure",
      ),
      condition(
        "PIDPressure",
        "False",
        "KubeletHasSufficientPID",
        "kubelet has sufficient PID available",
      ),
      condition("Ready", "True", "KubeletReady", "the test kubelet runs pods as local processes"),
    ],
    addresses: [
      { type: "InternalIP", address: hostIP },
      { type: "Hostname", address: nodeName },
    ],
    // The API server proxies `kubectl logs` here (see log-server.ts).
    daemonEndpoints: { kubeletEndpoint: { Port: kubeletPort } },
    nodeInfo: {
      machineID: "",
      systemUUID: "",
      bootID: "",
      kernelVersion: release(),
      osImage: "async-enrichment test kubelet",
      containerRuntimeVersion: `process://node-${process.versions.node}`,
      kubeletVersion,
      kubeProxyVersion: "",
      operatingSystem: "linux",
      architecture: process.arch === "x64" ? "amd64" : process.arch,
    },
  };
}

export interface NodeHeartbeat {
  stop(): void;
}

export interface NodeOptions {
  nodeName: string;
  hostIP: string;
  /** Port of the kubelet's log server. */
  kubeletPort: number;
  intervalMs: number;
  log: (message: string, fields: Record<string, unknown>) => void;
}

export async function registerNode(api: KubeApi, options: NodeOptions): Promise<NodeHeartbeat> {
  const { nodeName, hostIP, kubeletPort, intervalMs, log } = options;
  const nodePath = `/api/v1/nodes/${nodeName}`;
  const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${nodeName}`;
  const labels = {
    "kubernetes.io/hostname": nodeName,
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": process.arch === "x64" ? "amd64" : process.arch,
  };
  try {
    await api.create("/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: nodeName, labels },
    });
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 409)) throw error;
  }
  const node = await api.get<{ metadata: { uid: string } }>(nodePath);
  const seconds = (date: Date): string => date.toISOString().replace(/\.\d+Z$/, "Z");
  const since = seconds(new Date());
  const beat = async (): Promise<void> => {
    const time = new Date();
    const status = nodeStatus(nodeName, hostIP, kubeletPort, since, seconds(time));
    await api.patch(`${nodePath}/status`, { status }, "strategic");
    const lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: nodeName,
        namespace: "kube-node-lease",
        ownerReferences: [
          { apiVersion: "v1", kind: "Node", name: nodeName, uid: node.metadata.uid },
        ],
      },
      spec: { holderIdentity: nodeName, leaseDurationSeconds: 40, renewTime: microTime(time) },
    };
    const existing = await api.find<{ metadata: { resourceVersion: string } }>(leasePath);
    if (existing === undefined) {
      await api.create("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", lease);
    } else {
      await api.replace(leasePath, {
        ...lease,
        metadata: { ...lease.metadata, resourceVersion: existing.metadata.resourceVersion },
      });
    }
  };
  await beat();
  const timer = setInterval(() => {
    beat().catch((error: unknown) => {
      log("node heartbeat failed; the next one retries", { error: String(error) });
    });
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
    },
  };
}
