// Holds the cluster of `npm run cluster:up` (control plane and node) until SIGTERM; up.ts starts
// it in the background. Its children get a parent-death signal, so they end with it; what they
// leave on the machine (mounts, bridge, iptables chains) the cluster's stop removes.
import { copyFileSync } from "node:fs";
import { clearState, upKubeconfig, writeState } from "./cluster-state.ts";
import { startCluster } from "./test-cluster.ts";

const cluster = await startCluster({ name: "dev" });
copyFileSync(cluster.kubeconfig, upKubeconfig);
writeState({
  pid: process.pid,
  pids: cluster.pids,
  server: cluster.server,
  port: cluster.port,
  kubeconfig: upKubeconfig,
  directory: cluster.directory,
  nodeDirectory: cluster.node.directory,
  nodeName: cluster.nodeName,
  image: cluster.image,
});

const stop = (): void => {
  void cluster.stop().finally(() => {
    clearState();
    process.exit(0);
  });
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
