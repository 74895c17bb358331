// A real Kubernetes node under the test control plane: containerd 2 (runc, the CNI bridge), the
// kubelet and kube-proxy (iptables mode) of the control plane's release, and CoreDNS for cluster
// DNS, all as root on this machine, their state under the node's folder. Pods are containers of
// images imported into containerd (no registry is reachable). Start is awaited on the Node's Ready
// condition and a DNS answer; stop ends every daemon and leaves the machine as it was
// (node-cleanup.ts).
import { execFile } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../../demo/kinesis-emulator.ts";
import type { ControlPlane } from "./control-plane.ts";
import { cleanupNode } from "./node-cleanup.ts";
import { cniConfig, nodeIp, podSubnet } from "./node-network.ts";
import { spawnOwned } from "./owned-process.ts";
import { waitUntil, type Watched } from "./wait-until.ts";

const execFileAsync = promisify(execFile);

export const clusterDomain = "cluster.local";
/** The kubelet's API port: fixed, one node runs at a time (the bridge is the node's too). */
const kubeletPort = 10250;
const pauseImage = "registry.k8s.io/pause:3.10";

export interface TestNode {
  name: string;
  directory: string;
  /** containerd's socket (`ctr --address`, namespace k8s.io). */
  containerdSocket: string;
  pids: Record<string, number>;
  /** The host pid of a container's main process, from its status's "containerd://<id>". */
  containerPid(containerId: string): number;
  stop(): Promise<void>;
}

export interface NodeOptions {
  cluster: ControlPlane;
  /** Image archives (docker-archive) to import, each under the names it carries. */
  images: string[];
  /** The node's folder: daemon state, configs and logs (its contents are replaced). */
  directory: string;
}

function containerdConfig(directory: string): string {
  const state = join(directory, "containerd");
  return `version = 3
root = "${join(state, "root")}"
state = "${join(state, "state")}"
disabled_plugins = ["io.containerd.nri.v1.nri"]

[grpc]
  address = "${join(state, "containerd.sock")}"
[ttrpc]
  address = "${join(state, "containerd.sock.ttrpc")}"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "${pauseImage}"

[plugins."io.containerd.cri.v1.runtime"]
  # Root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below its own.
  restrict_oom_score_adj = true
  # Network namespaces under the node's folder, so cleanup finds every one.
  netns_mounts_under_state_dir = true
  enable_cdi = false
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
      BinaryName = "/usr/sbin/runc"
      Root = "${join(state, "runc")}"
      SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "${join(directory, "cni")}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(state, "opt")}"
`;
}

function kubeletConfig(directory: string, healthzPort: number): object {
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    containerRuntimeEndpoint: `unix://${join(directory, "containerd/containerd.sock")}`,
    // No systemd on these machines; cgroup v1 hierarchies (1.33 only warns about v1).
    cgroupDriver: "cgroupfs",
    failSwapOn: false,
    address: nodeIp,
    port: kubeletPort,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort,
    // The API server reaches the kubelet without a client certificate (logs, exec,
    // port-forward); the kubelet listens on the bridge only.
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: "AlwaysAllow" },
    clusterDNS: [nodeIp],
    clusterDomain,
    resolvConf: "",
    podLogsDir: join(directory, "pod-logs"),
    podCIDR: podSubnet,
    // A shared test machine: never evict for disk the tests do not fill.
    evictionHard: {
      "memory.available": "100Mi",
      "nodefs.available": "1%",
      "imagefs.available": "1%",
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    // Pods Ready and status seen sooner than the production defaults.
    nodeStatusUpdateFrequency: "4s",
    syncFrequency: "10s",
  };
}

function kubeProxyConfig(kubeconfig: string, nodeName: string, ports: number[]): object {
  return {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    // This kernel has no IPVS.
    mode: "iptables",
    clientConnection: { kubeconfig },
    hostnameOverride: nodeName,
    bindAddress: nodeIp,
    healthzBindAddress: `127.0.0.1:${String(ports[0])}`,
    metricsBindAddress: `127.0.0.1:${String(ports[1])}`,
    // NodePorts on the bridge only; no route_localnet for localhost NodePorts.
    nodePortAddresses: [`${nodeIp}/32`],
    iptables: { localhostNodePorts: false, masqueradeAll: false },
    // Leave the machine's conntrack settings alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: "0s", tcpCloseWaitTimeout: "0s" },
  };
}

function corefile(kubeconfig: string, healthPort: number): string {
  // No `forward`: names outside the cluster do not resolve, nothing leaves the machine.
  return `.:53 {
    bind ${nodeIp}
    errors
    health 127.0.0.1:${String(healthPort)}
    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfig} test
        pods insecure
        ttl 5
    }
}
`;
}

export async function startNode(options: NodeOptions): Promise<TestNode> {
  const { cluster, directory } = options;
  const nodeName = cluster.nodeName;
  const { bin } = cluster;
  const file = (name: string): string => join(directory, name);
  mkdirSync(file("cni"), { recursive: true });
  const socket = file("containerd/containerd.sock");
  const taskRoot = file("containerd/state/io.containerd.runtime.v2.task/k8s.io");

  const watched: Watched[] = [];
  const run = (name: string, args: string[], env?: NodeJS.ProcessEnv): void => {
    const log = file(`${name}.log`);
    const output = openSync(log, "a");
    watched.push({
      name,
      log,
      process: spawnOwned(join(bin, name), args, {
        stdio: ["ignore", output, output],
        ...(env === undefined ? {} : { env }),
      }),
    });
  };
  const stop = async (): Promise<void> => {
    for (const { process } of [...watched].reverse()) await process.stop(5_000);
    await cleanupNode(directory);
  };

  try {
    writeFileSync(file("containerd.toml"), containerdConfig(directory));
    writeFileSync(
      file("cni/10-aej-pods.conflist"),
      JSON.stringify(cniConfig(file("cni-data")), null, 2),
    );
    // The shim is found on PATH; ours comes first.
    run("containerd", ["--config", file("containerd.toml")], {
      PATH: `${bin}:${process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"}`,
    });
    const ctr = (...args: string[]): Promise<{ stdout: string }> =>
      execFileAsync(join(bin, "ctr"), ["--address", socket, "--namespace", "k8s.io", ...args], {
        encoding: "utf8",
        maxBuffer: 16 * 1024 * 1024,
      });
    await waitUntil("containerd's socket", async () => (await ctr("version")).stdout, {
      timeoutMs: 30_000,
      watched,
    });
    for (const archive of options.images) {
      // The archives carry fully qualified names, which the CRI looks images up by.
      await ctr("images", "import", archive);
    }

    const healthzPort = await freePort();
    writeFileSync(file("kubelet.json"), JSON.stringify(kubeletConfig(directory, healthzPort)));
    run("kubelet", [
      `--config=${file("kubelet.json")}`,
      `--kubeconfig=${cluster.nodeKubeconfigs.kubelet}`,
      `--hostname-override=${nodeName}`,
      `--node-ip=${nodeIp}`,
      `--root-dir=${file("kubelet")}`,
      `--cert-dir=${file("kubelet/pki")}`,
    ]);
    const proxyPorts = [await freePort(), await freePort()];
    writeFileSync(
      file("kube-proxy.json"),
      JSON.stringify(kubeProxyConfig(cluster.nodeKubeconfigs.kubeProxy, nodeName, proxyPorts)),
    );
    run("kube-proxy", [`--config=${file("kube-proxy.json")}`]);
    writeFileSync(file("Corefile"), corefile(cluster.kubeconfig, await freePort()));
    run("coredns", ["-conf", file("Corefile")]);

    await waitUntil(
      `node ${nodeName} Ready`,
      async () => {
        const node = JSON.parse(
          await cluster.kubectlAsync("get", "node", nodeName, "-o", "json"),
        ) as {
          status?: { conditions?: { type: string; status: string; message: string }[] };
        };
        const ready = node.status?.conditions?.find((condition) => condition.type === "Ready");
        if (ready?.status !== "True") throw new Error(ready?.message ?? "no Ready condition");
        return true;
      },
      { timeoutMs: 90_000, watched, intervalMs: 500 },
    );
    const resolver = new Resolver({ timeout: 1_000, tries: 1 });
    resolver.setServers([nodeIp]);
    await waitUntil(
      "CoreDNS answering for kubernetes.default",
      async () => (await resolver.resolve4(`kubernetes.default.svc.${clusterDomain}`))[0],
      { timeoutMs: 30_000, watched, intervalMs: 250 },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    name: nodeName,
    directory,
    containerdSocket: socket,
    pids: Object.fromEntries(watched.map(({ name, process }) => [name, process.child.pid ?? -1])),
    containerPid: (containerId) => {
      const id = containerId.replace(/^containerd:\/\//, "");
      // The runc shim writes the container's init pid into its bundle.
      const pidFile = join(taskRoot, id, "init.pid");
      if (!existsSync(pidFile)) throw new Error(`no running container ${containerId}`);
      return Number(readFileSync(pidFile, "utf8").trim());
    },
    stop,
  };
}
