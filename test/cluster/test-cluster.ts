// A whole test cluster: the node's network, the control plane on the node's address, and the node
// with the project's image (built from the Dockerfile) and the pause image imported. One node runs
// at a time on a machine (it owns the bridge and the kubelet's port); a run that died leaves state
// that the next start cleans up, unless its owner is still alive.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive } from "./cluster-state.ts";
import { nodeBinaries, pauseImageArchive, projectImageArchive } from "./binaries.ts";
import { startControlPlane, type ControlPlane } from "./control-plane.ts";
import { cleanupNode, saveHostFolders, saveSysctls } from "./node-cleanup.ts";
import { assertRangesUnused, bridgeExists, createNetwork, nodeIp } from "./node-network.ts";
import { nodeUnsupported } from "./node-support.ts";
import { startNode, type TestNode } from "./node.ts";
import { clusterStateRoot } from "./paths.ts";
import { relayToPods, type HostRelay } from "./host-relay.ts";

export const projectImageName = "ghcr.io/async-enrichment/async-enrichment:test";
/** The node's folder: one node at a time, so one place that cleanup always finds. */
export const nodeDirectory = join(clusterStateRoot, "node");
const ownerFile = join(nodeDirectory, "owner.pid");

export interface TestCluster extends ControlPlane {
  node: TestNode;
  /** The project's image, as pods name it. */
  image: string;
  /** Makes a loopback server of this machine reachable from pods (see host-relay.ts). */
  relay(loopbackUrl: string): Promise<HostRelay>;
}

function enableForwarding(): void {
  // Pods reach Services through this machine's netfilter: routed and bridged traffic both.
  writeFileSync("/proc/sys/net/ipv4/ip_forward", "1");
  writeFileSync("/proc/sys/net/bridge/bridge-nf-call-iptables", "1");
}

async function takeOverNodeState(): Promise<void> {
  if (existsSync(ownerFile)) {
    const owner = Number(readFileSync(ownerFile, "utf8"));
    if (owner !== process.pid && isAlive(owner) && bridgeExists()) {
      throw new Error(
        `a test node is already up (process ${String(owner)}); stop it first (npm run cluster:down)`,
      );
    }
  }
  await cleanupNode(nodeDirectory);
}

export async function startCluster(options: { name: string }): Promise<TestCluster> {
  const unsupported = nodeUnsupported();
  if (unsupported !== undefined) throw new Error(unsupported);
  const bin = nodeBinaries();
  const projectArchive = projectImageArchive();
  await takeOverNodeState();
  mkdirSync(nodeDirectory, { recursive: true });
  writeFileSync(ownerFile, String(process.pid));
  assertRangesUnused();
  saveSysctls(nodeDirectory);
  saveHostFolders(nodeDirectory);
  const relays: HostRelay[] = [];
  let controlPlane: ControlPlane | undefined;
  try {
    createNetwork();
    enableForwarding();
    controlPlane = await startControlPlane({ name: options.name, address: nodeIp });
    const node = await startNode({
      cluster: controlPlane,
      images: [pauseImageArchive(bin), projectArchive],
      directory: nodeDirectory,
    });
    const cluster = controlPlane;
    return {
      ...cluster,
      node,
      image: projectImageName,
      pids: { ...cluster.pids, ...node.pids },
      relay: async (url) => {
        const relay = await relayToPods(url);
        relays.push(relay);
        return relay;
      },
      stop: async () => {
        await Promise.all(relays.map((relay) => relay.close()));
        await node.stop();
        await cluster.stop();
      },
    };
  } catch (error) {
    await controlPlane?.stop();
    await cleanupNode(nodeDirectory);
    throw error;
  }
}
