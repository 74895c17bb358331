// What `npm run cluster:up` leaves for `cluster:down` and for people: the serving process, every
// component's pid, the API server's address and where the kubeconfig and the node's state are.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { clusterStateRoot } from "./paths.ts";

const stateFile = join(clusterStateRoot, "state.json");
/** The admin kubeconfig of the cluster that cluster:up started. */
export const upKubeconfig = join(clusterStateRoot, "kubeconfig");
export const serveLog = join(clusterStateRoot, "serve.log");

export interface ClusterState {
  /** The process that holds the control plane and the node (serve.ts). */
  pid: number;
  /** Each component's pid; they die with `pid` (parent-death signal) but are listed for down. */
  pids: Record<string, number>;
  server: string;
  port: number;
  kubeconfig: string;
  directory: string;
  /** The node's daemons' state, configs and logs (containerd, kubelet, kube-proxy, coredns). */
  nodeDirectory: string;
  nodeName: string;
  /** The project's image as pods name it (imported into the node's containerd). */
  image: string;
}

export function readState(): ClusterState | undefined {
  if (!existsSync(stateFile)) return undefined;
  return JSON.parse(readFileSync(stateFile, "utf8")) as ClusterState;
}

export function writeState(state: ClusterState): void {
  writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
}

export function clearState(): void {
  rmSync(stateFile, { force: true });
  rmSync(upKubeconfig, { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
