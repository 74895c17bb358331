// `npm run cluster:down`: stops what cluster:up started: the serving process ends the kubelet's
// pods and the control plane gracefully; anything still alive after 30 s is killed by pid.
import { clearState, isAlive, readState } from "./cluster-state.ts";

const state = readState();
if (state === undefined) {
  process.stdout.write("no cluster is up\n");
  process.exit(0);
}
const pids = [state.pid, ...Object.values(state.pids)];
if (isAlive(state.pid)) process.kill(state.pid, "SIGTERM");
const deadline = Date.now() + 30_000;
while (pids.some(isAlive) && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 100));
}
for (const pid of pids.filter(isAlive)) process.kill(pid, "SIGKILL");
clearState();
process.stdout.write("cluster stopped\n");
