// Holds the cluster of `npm run cluster:up` (control plane and a kubelet) until SIGTERM; up.ts
// starts it in the background. Its children get a parent-death signal, so they end with it.
import { copyFileSync } from "node:fs";
import { clearState, upKubeconfig, writeState } from "./cluster-state.ts";
import { startControlPlane } from "./control-plane.ts";
import { startKubelet } from "./kubelet/kubelet.ts";

const nodeName = "dev-node";
const cluster = await startControlPlane({ name: "dev" });
const kubelet = await startKubelet({ kubeconfig: cluster.kubeconfig, nodeName }).catch(
  async (error: unknown) => {
    await cluster.stop();
    throw error;
  },
);
copyFileSync(cluster.kubeconfig, upKubeconfig);
writeState({
  pid: process.pid,
  pids: cluster.pids,
  server: cluster.server,
  port: cluster.port,
  kubeconfig: upKubeconfig,
  directory: cluster.directory,
  podsDir: kubelet.podsDir,
  nodeName,
});

const stop = (): void => {
  void kubelet
    .stop()
    .then(() => cluster.stop())
    .finally(() => {
      clearState();
      process.exit(0);
    });
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
