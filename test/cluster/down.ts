// `npm run cluster:down`: stops what cluster:up started: the serving process stops the node and
// the control plane gracefully; anything still alive after 30 s is killed by pid, and whatever a
// dead run left on the machine (mounts, network namespaces, bridge, iptables chains, sysctls) is
// removed.
import { clearState, isAlive, readState } from "./cluster-state.ts";
import { cleanupNode } from "./node-cleanup.ts";
import { nodeUnsupported } from "./node-support.ts";
import { nodeDirectory } from "./test-cluster.ts";

const state = readState();
if (state !== undefined) {
  const pids = [state.pid, ...Object.values(state.pids)];
  if (isAlive(state.pid)) process.kill(state.pid, "SIGTERM");
  const deadline = Date.now() + 30_000;
  while (pids.some(isAlive) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  for (const pid of pids.filter(isAlive)) process.kill(pid, "SIGKILL");
  clearState();
}
// Without root nothing of a node can have been made (cluster:up refuses to start).
if (nodeUnsupported() === undefined) await cleanupNode(nodeDirectory);
process.stdout.write(state === undefined ? "no cluster was up; cleaned up\n" : "cluster stopped\n");
