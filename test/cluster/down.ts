// `npm run cluster:down`: stops the control plane that cluster:up started, and every process of it.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const state = join(import.meta.dirname, "../../.cache/cluster/dev.json");
if (!existsSync(state)) {
  process.stdout.write("no control plane is up\n");
  process.exit(0);
}
const { pid } = JSON.parse(readFileSync(state, "utf8")) as { pid: number };
const alive = (): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
if (alive()) process.kill(pid, "SIGTERM");
const deadline = Date.now() + 30_000;
while (alive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
if (alive()) process.kill(pid, "SIGKILL");
rmSync(state, { force: true });
process.stdout.write("control plane stopped\n");
