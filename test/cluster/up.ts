// `npm run cluster:up`: a control plane in the background for manual work; prints its kubeconfig.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const directory = join(import.meta.dirname, "../../.cache/cluster");
const state = join(directory, "dev.json");
if (existsSync(state)) {
  process.stderr.write(
    `a control plane is already up (${state}); run npm run cluster:down first\n`,
  );
  process.exit(1);
}
mkdirSync(directory, { recursive: true });
const log = openSync(join(directory, "serve.log"), "w");
const child = spawn(process.execPath, [join(import.meta.dirname, "serve.ts")], {
  detached: true,
  stdio: ["ignore", log, log],
});
child.unref();
const deadline = Date.now() + 30 * 60_000; // a cold build of the binaries comes first
while (!existsSync(state)) {
  if (child.exitCode !== null || Date.now() > deadline) {
    process.stderr.write(`the control plane did not start; see ${join(directory, "serve.log")}\n`);
    rmSync(state, { force: true });
    process.exit(1);
  }
  await new Promise((resolve) => setTimeout(resolve, 250));
}
const { kubeconfig, server } = JSON.parse(readFileSync(state, "utf8")) as {
  kubeconfig: string;
  server: string;
};
process.stdout.write(`control plane up at ${server}\nexport KUBECONFIG=${kubeconfig}\n`);
