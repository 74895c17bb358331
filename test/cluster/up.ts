// `npm run cluster:up`: a control plane and a real node in the background, for work by hand (as
// root: the node runs containerd, a kubelet and iptables). Prints the kubeconfig's path; `npm run
// cluster:down` stops everything. A first run builds the binaries and the image (minutes); later
// starts take seconds.
import { spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { clearState, isAlive, readState, serveLog, type ClusterState } from "./cluster-state.ts";
import { nodeUnsupported } from "./node-support.ts";
import { clusterStateRoot } from "./paths.ts";

function report(state: ClusterState, prefix: string): void {
  process.stdout.write(
    `${prefix} at ${state.server} (node ${state.nodeName}, image ${state.image}, node logs in ${state.nodeDirectory})\n` +
      `export KUBECONFIG=${state.kubeconfig}\n`,
  );
}

const unsupported = nodeUnsupported();
if (unsupported !== undefined) {
  process.stderr.write(`${unsupported}\n`);
  process.exit(1);
}
const existing = readState();
if (existing !== undefined && isAlive(existing.pid)) {
  report(existing, "the cluster is already up");
  process.exit(0);
}
if (existing !== undefined) {
  // Left by a serving process that died without cleaning up: its children died with it.
  clearState();
}
mkdirSync(clusterStateRoot, { recursive: true });
const log = openSync(serveLog, "w");
const started = Date.now();
const child = spawn(process.execPath, [join(import.meta.dirname, "serve.ts")], {
  detached: true,
  stdio: ["ignore", log, log],
});
child.unref();
const deadline = started + 30 * 60_000; // a cold build of the binaries comes first
let state = readState();
while (state === undefined) {
  if (child.exitCode !== null || Date.now() > deadline) {
    process.stderr.write(
      `the cluster did not start; ${serveLog} says:\n${readFileSync(serveLog, "utf8")}\n`,
    );
    child.kill("SIGTERM");
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  state = readState();
}
report(state, `cluster up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
