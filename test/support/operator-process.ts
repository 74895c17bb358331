// The operator as its own process, the way a pod runs it, against a test control plane.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { freePort } from "../../demo/kinesis-emulator.ts";
import type { ControlPlane } from "../cluster/control-plane.ts";

export interface Operator {
  child: ChildProcess;
  /** The operator's /metrics text. */
  metrics(): Promise<string>;
  output: () => string;
  stop(): Promise<void>;
}

export async function startOperator(
  cluster: ControlPlane,
  name: string,
  env: Record<string, string> = {},
): Promise<Operator> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(import.meta.dirname, "../../operator/main.ts")], {
    env: {
      PATH: process.env.PATH ?? "",
      KUBECONFIG: cluster.kubeconfig,
      PROCESSOR_IMAGE: "ghcr.io/async-enrichment/async-enrichment:test",
      POD_NAME: name,
      POD_NAMESPACE: "default",
      METRICS_HOST: "127.0.0.1",
      METRICS_PORT: String(port),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      resolve();
    }),
  );
  return {
    child,
    metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
