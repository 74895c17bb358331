// A real Kubernetes control plane on loopback, as controller-runtime's envtest runs one: etcd,
// kube-apiserver (RBAC and Node authorization, service-account token signing), the controller
// manager (garbage collection, Deployments, ReplicaSets, service accounts) and the scheduler.
// Binaries come from build.sh (built once, cached outside the clone). Start is awaited on
// /readyz, never on a sleep; stop ends every process, also after a failed start.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, openSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, fetch } from "undici";
import { freePort } from "../../demo/kinesis-emulator.ts";

const repository = join(import.meta.dirname, "../..");

export interface ControlPlane {
  /** Admin kubeconfig (system:masters). */
  kubeconfig: string;
  server: string;
  bin: string;
  /** Runs the control plane's kubectl with the admin kubeconfig; returns stdout. */
  kubectl(...args: string[]): string;
  /** Installs CRDs from a file and waits until they are served (and kubectl knows them). */
  installCrds(file: string): void;
  stop(): Promise<void>;
}

/** Builds (or finds in the cache) the control-plane binaries; returns their directory. */
export function controlPlaneBinaries(): string {
  const output = execFileSync("bash", [join(import.meta.dirname, "build.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 64 * 1024 * 1024,
  });
  return output.trim().split("\n").at(-1) ?? "";
}

function kubeconfigFor(server: string, user: string, token: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "test", cluster: { server, "insecure-skip-tls-verify": true } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: "test", context: { cluster: "test", user, namespace: "default" } }],
    "current-context": "test",
  });
}

async function waitReady(
  url: string,
  token: string,
  processes: ChildProcess[],
  timeoutMs: number,
): Promise<void> {
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  const deadline = Date.now() + timeoutMs;
  let last = "no answer";
  try {
    while (Date.now() < deadline) {
      const exited = processes.find((child) => child.exitCode !== null);
      if (exited !== undefined)
        throw new Error(
          `${exited.spawnargs[0] ?? "a process"} exited with ${String(exited.exitCode)}`,
        );
      try {
        const response = await fetch(url, {
          headers: { authorization: `Bearer ${token}` },
          dispatcher,
        });
        last = `${response.status} ${await response.text()}`;
        if (response.ok) return;
      } catch (error) {
        last = String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`${url} not ready within ${timeoutMs} ms; last answer: ${last}`);
  } finally {
    await dispatcher.close();
  }
}

export async function startControlPlane(options: { name?: string } = {}): Promise<ControlPlane> {
  const bin = controlPlaneBinaries();
  const directory = join(repository, ".cache/cluster", options.name ?? `run-${process.pid}`);
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const server = `https://127.0.0.1:${apiPort}`;
  const tokens = {
    admin: randomBytes(16).toString("hex"),
    controllerManager: randomBytes(16).toString("hex"),
    scheduler: randomBytes(16).toString("hex"),
  };
  writeFileSync(
    join(directory, "tokens.csv"),
    [
      `${tokens.admin},admin,admin,system:masters`,
      `${tokens.controllerManager},system:kube-controller-manager,controller-manager`,
      `${tokens.scheduler},system:kube-scheduler,scheduler`,
    ].join("\n"),
  );
  const serviceAccountKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(
    join(directory, "sa.key"),
    serviceAccountKey.privateKey.export({ type: "pkcs1", format: "pem" }),
  );
  writeFileSync(
    join(directory, "sa.pub"),
    serviceAccountKey.publicKey.export({ type: "spki", format: "pem" }),
  );
  const kubeconfig = join(directory, "admin.kubeconfig");
  writeFileSync(kubeconfig, kubeconfigFor(server, "admin", tokens.admin));
  writeFileSync(
    join(directory, "controller-manager.kubeconfig"),
    kubeconfigFor(server, "system:kube-controller-manager", tokens.controllerManager),
  );
  writeFileSync(
    join(directory, "scheduler.kubeconfig"),
    kubeconfigFor(server, "system:kube-scheduler", tokens.scheduler),
  );

  const processes: ChildProcess[] = [];
  const run = (name: string, args: string[]): ChildProcess => {
    const log = openSync(join(directory, `${name}.log`), "a");
    const child = spawn(join(bin, name), args, { stdio: ["ignore", log, log] });
    processes.push(child);
    return child;
  };
  const stop = async (): Promise<void> => {
    await Promise.all(
      processes.reverse().map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) {
              resolve();
              return;
            }
            const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
            child.once("exit", () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
  };

  try {
    run("etcd", [
      "--name=default",
      `--data-dir=${join(directory, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ]);
    run("kube-apiserver", [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(directory, "apiserver-certs")}`,
      `--token-auth-file=${join(directory, "tokens.csv")}`,
      "--authorization-mode=Node,RBAC",
      "--service-account-issuer=https://kubernetes.default.svc",
      `--service-account-key-file=${join(directory, "sa.pub")}`,
      `--service-account-signing-key-file=${join(directory, "sa.key")}`,
      "--service-cluster-ip-range=10.96.0.0/16",
      "--allow-privileged=true",
      "--endpoint-reconciler-type=none",
    ]);
    await waitReady(`${server}/readyz`, tokens.admin, processes, 60_000);
    run("kube-controller-manager", [
      `--kubeconfig=${join(directory, "controller-manager.kubeconfig")}`,
      `--authentication-kubeconfig=${join(directory, "controller-manager.kubeconfig")}`,
      `--authorization-kubeconfig=${join(directory, "controller-manager.kubeconfig")}`,
      `--service-account-private-key-file=${join(directory, "sa.key")}`,
      "--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-route,-service",
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${await freePort()}`,
      // Each controller acts as its own service account, bound by the default RBAC roles.
      "--use-service-account-credentials=true",
    ]);
    run("kube-scheduler", [
      `--kubeconfig=${join(directory, "scheduler.kubeconfig")}`,
      `--authentication-kubeconfig=${join(directory, "scheduler.kubeconfig")}`,
      `--authorization-kubeconfig=${join(directory, "scheduler.kubeconfig")}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${await freePort()}`,
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  const kubectl = (...args: string[]): string =>
    execFileSync(
      join(bin, "kubectl"),
      [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(directory, "kubectl-cache")}`, ...args],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
  const installCrds = (file: string): void => {
    kubectl("apply", "-f", file);
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", file);
    // kubectl caches discovery; drop it so the new kinds and short names are known at once.
    rmSync(join(directory, "kubectl-cache"), { recursive: true, force: true });
  };
  return { kubeconfig, server, bin, kubectl, installCrds, stop };
}
