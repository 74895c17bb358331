// The test bed's processes cannot outlive the process that started them, even one killed with
// SIGKILL (which runs no after() hook and no exit handler).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { waitFor } from "../support/wait-for.ts";

/** Running, not a zombie waiting to be reaped by an init that may never do it. */
function running(pid: number): boolean {
  const stat = `/proc/${String(pid)}/stat`;
  if (!existsSync(stat)) return false;
  return !/^\d+ \(.*\) Z/.test(readFileSync(stat, "utf8"));
}

test("a process started with spawnOwned dies when its parent is killed with SIGKILL", async () => {
  const module = join(import.meta.dirname, "owned-process.ts");
  const script = [
    `import { spawnOwned } from ${JSON.stringify(module)};`,
    `const { child } = spawnOwned("sleep", ["60"], { stdio: "ignore" });`,
    `process.stdout.write(String(child.pid) + "\\n");`,
    `setInterval(() => undefined, 1000);`,
  ].join("\n");
  const parent = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const pid = await new Promise<number>((resolve) => {
    parent.stdout.once("data", (chunk: Buffer) => {
      resolve(Number(chunk.toString().trim()));
    });
  });
  assert.ok(running(pid), `sleep ${String(pid)} runs`);
  parent.kill("SIGKILL");
  await waitFor(
    () => running(pid),
    (alive) => !alive,
    { timeoutMs: 5_000, what: `sleep ${String(pid)} to die with its parent` },
  );
});
