// Child processes that cannot outlive the test bed. Each is started through util-linux's setpriv
// with a parent-death signal, so even a test runner killed with SIGKILL takes etcd, the API server
// and the pods down with it; a normal exit that skipped `stop()` kills them in an exit hook.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync } from "node:fs";

const setpriv = "/usr/bin/setpriv";
const hasSetpriv = existsSync(setpriv);
const running = new Set<ChildProcess>();

process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface OwnedProcess {
  child: ChildProcess;
  /** Resolves when the process has exited (at once if it already has). */
  exited: Promise<void>;
  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
  stop(graceMs: number): Promise<void>;
}

export function spawnOwned(command: string, args: string[], options: SpawnOptions): OwnedProcess {
  // setpriv execs the command in place, so the pid and the signals are the command's own.
  const child = hasSetpriv
    ? spawn(setpriv, ["--pdeathsig", "KILL", "--", command, ...args], options)
    : spawn(command, args, options);
  running.add(child);
  const exited = new Promise<void>((resolve) => {
    const done = (): void => {
      running.delete(child);
      resolve();
    };
    child.once("exit", done);
    // A spawn failure (ENOENT, EACCES) emits "error" and never "exit".
    child.once("error", done);
  });
  const stop = async (graceMs: number): Promise<void> => {
    if (running.has(child)) {
      child.kill("SIGTERM");
      const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(kill);
    }
  };
  return { child, exited, stop };
}
