// Keeps a control plane running until SIGTERM; `npm run cluster:up` starts this in the background.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startControlPlane } from "./control-plane.ts";

const state = join(import.meta.dirname, "../../.cache/cluster/dev.json");
const cluster = await startControlPlane({ name: "dev" });
writeFileSync(
  state,
  JSON.stringify({
    pid: process.pid,
    kubeconfig: cluster.kubeconfig,
    server: cluster.server,
    bin: cluster.bin,
  }),
);
const stop = (): void => {
  void cluster.stop().then(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
