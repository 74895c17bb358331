// A real Kubernetes control plane, as controller-runtime's envtest runs one: etcd,
// kube-apiserver (RBAC and Node authorization, NodeRestriction, service-account token signing), the
// controller manager (garbage collection, Deployments, ReplicaSets, StatefulSets, service accounts,
// node lifecycle) and the scheduler. Binaries come from build.sh (built once, cached outside the
// clone). Start is awaited on /readyz and the default service account, never on a sleep; stop ends
// every process, also after a failed start. On loopback it serves API tests; on the node's address
// (the bridge) pods reach it too, and it issues the node's credentials: see test-cluster.ts.
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Agent, request } from "undici";
import { freePort } from "../../demo/kinesis-emulator.ts";
import { controlPlaneBinaries } from "./binaries.ts";
import { createKubeApi } from "./kube-api.ts";
import { writeKubeconfig } from "./kubeconfig.ts";
import { spawnOwned } from "./owned-process.ts";
import { clusterStateRoot } from "./paths.ts";
import { serviceSubnet } from "./node-network.ts";
import { createPki } from "./pki.ts";
import { waitUntil, type Watched } from "./wait-until.ts";

const execFileAsync = promisify(execFile);

export interface ControlPlane {
  /** Admin kubeconfig (group system:masters). */
  kubeconfig: string;
  /** https://<address>:<port> */
  server: string;
  port: number;
  /** The CA that signed the API server's certificate (a pod's service-account ca.crt). */
  caFile: string;
  /** Folder of the built binaries (kubectl, helm, ...). */
  bin: string;
  /** This run's folder: certificates, kubeconfigs, etcd data, one log per process. */
  directory: string;
  /** The node the credentials below are for. */
  nodeName: string;
  /** Kubeconfigs of the node's kubelet (system:node:<nodeName>) and kube-proxy. */
  nodeKubeconfigs: { kubelet: string; kubeProxy: string };
  /**
   * Process ids by component at start, for `cluster:down` and for a look with ps; a component
   * started again by `startComponent` has a new one (`pidOf`).
   */
  pids: Record<string, number>;
  /** The current process id of a component. */
  pidOf(component: ControlPlaneComponent): number;
  /** Kills a component with SIGKILL, as a crash does; resolves once it is gone. */
  killComponent(component: ControlPlaneComponent): Promise<void>;
  /**
   * Starts a killed component again with the same flags and data, as its supervisor would;
   * resolves once the API server answers /readyz.
   */
  startComponent(component: ControlPlaneComponent): Promise<void>;
  /**
   * Runs the control plane's kubectl with the admin kubeconfig; returns stdout. Synchronous: it
   * blocks the event loop, so where the test serves something itself use kubectlAsync.
   */
  kubectl(...args: string[]): string;
  kubectlAsync(...args: string[]): Promise<string>;
  /** Runs the control plane's helm with the admin kubeconfig; returns stdout. */
  helm(...args: string[]): Promise<string>;
  /** Installs CRDs from a file and waits until they are served (and kubectl knows them). */
  installCrds(file: string): void;
  stop(): Promise<void>;
}

export type ControlPlaneComponent =
  "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler";

export interface ControlPlaneOptions {
  /** Names the run's folder under .cache/cluster/ (default run-<pid>); it is emptied first. */
  name?: string;
  /** Where the API server listens and what it advertises (default 127.0.0.1). */
  address?: string;
  /** The node to issue kubelet credentials for (default "node-1"). */
  nodeName?: string;
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const bin = controlPlaneBinaries();
  const address = options.address ?? "127.0.0.1";
  const nodeName = options.nodeName ?? "node-1";
  const directory = join(clusterStateRoot, options.name ?? `run-${process.pid}`);
  rmSync(directory, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  const file = (name: string): string => join(directory, name);

  const [etcdPort, peerPort, port, managerPort, schedulerPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const server = `https://${address}:${port}`;
  const pki = createPki(directory, address);
  const ca = readFileSync(pki.caCert, "utf8");
  const token = (): string => randomBytes(24).toString("hex");
  const tokens = {
    admin: token(),
    manager: token(),
    scheduler: token(),
    kubelet: token(),
    kubeProxy: token(),
  };
  // A static token file keeps the identities simple: the node's kubelet is in system:nodes (the
  // Node authorizer and NodeRestriction apply), kube-proxy is bound by the default RBAC roles.
  writeFileSync(
    file("tokens.csv"),
    [
      `${tokens.admin},admin,admin,system:masters`,
      `${tokens.manager},system:kube-controller-manager,kube-controller-manager`,
      `${tokens.scheduler},system:kube-scheduler,kube-scheduler`,
      `${tokens.kubelet},system:node:${nodeName},kubelet-${nodeName},system:nodes`,
      `${tokens.kubeProxy},system:kube-proxy,kube-proxy`,
    ].join("\n"),
    { mode: 0o600 },
  );
  const kubeconfig = file("admin.kubeconfig");
  writeKubeconfig(kubeconfig, "admin", { server, ca, token: tokens.admin });
  writeKubeconfig(file("controller-manager.kubeconfig"), "system:kube-controller-manager", {
    server,
    ca,
    token: tokens.manager,
  });
  writeKubeconfig(file("scheduler.kubeconfig"), "system:kube-scheduler", {
    server,
    ca,
    token: tokens.scheduler,
  });
  const nodeKubeconfigs = {
    kubelet: file("kubelet.kubeconfig"),
    kubeProxy: file("kube-proxy.kubeconfig"),
  };
  writeKubeconfig(nodeKubeconfigs.kubelet, `system:node:${nodeName}`, {
    server,
    ca,
    token: tokens.kubelet,
  });
  writeKubeconfig(nodeKubeconfigs.kubeProxy, "system:kube-proxy", {
    server,
    ca,
    token: tokens.kubeProxy,
  });

  const watched: Watched[] = [];
  const commands = new Map<string, string[]>();
  const spawnComponent = (name: string): void => {
    const log = file(`${name}.log`);
    const output = openSync(log, "a");
    const args = commands.get(name) ?? [];
    const entry = {
      name,
      log,
      process: spawnOwned(join(bin, name), args, { stdio: ["ignore", output, output] }),
    };
    // A component started again takes its old place, so stop still ends clients before etcd.
    const index = watched.findIndex((other) => other.name === name);
    if (index === -1) watched.push(entry);
    else watched[index] = entry;
  };
  const run = (name: string, args: string[]): void => {
    commands.set(name, args);
    spawnComponent(name);
  };
  const apiReady = async (): Promise<void> => {
    const probes = new Agent({ connect: { ca } });
    try {
      await waitUntil(
        "the API server's /readyz",
        async () => {
          const response = await request(`${server}/readyz`, {
            headers: { authorization: `Bearer ${tokens.admin}` },
            dispatcher: probes,
          });
          const text = await response.body.text();
          if (response.statusCode !== 200) throw new Error(`${response.statusCode} ${text}`);
          return true;
        },
        { timeoutMs: 60_000, watched },
      );
    } finally {
      await probes.close();
    }
  };
  const stop = async (): Promise<void> => {
    // Clients first, etcd last, so nothing logs a storm of connection errors on the way down.
    for (const { process } of [...watched].reverse()) await process.stop(3_000);
  };

  const admin = createKubeApi({ server, ca, token: tokens.admin });
  try {
    run("etcd", [
      "--name=default",
      `--data-dir=${file("etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      // Test data is thrown away; fsync only costs time.
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ]);
    run("kube-apiserver", [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${port}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--token-auth-file=${file("tokens.csv")}`,
      "--authorization-mode=Node,RBAC",
      // On top of the default plugins: a node may only touch itself and its own pods.
      "--enable-admission-plugins=NodeRestriction",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      `--service-cluster-ip-range=${serviceSubnet}`,
      "--allow-privileged=true",
      // Test nodes' host names do not resolve; `kubectl logs` reaches kubelets by address.
      "--kubelet-preferred-address-types=InternalIP",
      // The `kubernetes` Service's endpoint is this address; a loopback one reaches no pod.
      ...(address.startsWith("127.") ? ["--endpoint-reconciler-type=none"] : []),
    ]);
    await apiReady();
    const managerConfig = file("controller-manager.kubeconfig");
    run("kube-controller-manager", [
      `--kubeconfig=${managerConfig}`,
      `--authentication-kubeconfig=${managerConfig}`,
      `--authorization-kubeconfig=${managerConfig}`,
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      // Published to every namespace as the kube-root-ca.crt ConfigMap, which pods mount.
      `--root-ca-file=${pki.caCert}`,
      // Everything but the cloud and IPAM controllers; node lifecycle lifts the not-ready taint.
      "--controllers=*,-nodeipam,-cloud-node-lifecycle,-route,-service",
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${managerPort}`,
      // Each controller acts as its own service account, bound by the default RBAC roles.
      "--use-service-account-credentials=true",
    ]);
    const schedulerConfig = file("scheduler.kubeconfig");
    run("kube-scheduler", [
      `--kubeconfig=${schedulerConfig}`,
      `--authentication-kubeconfig=${schedulerConfig}`,
      `--authorization-kubeconfig=${schedulerConfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      `--secure-port=${schedulerPort}`,
    ]);
    // Pods cannot be created before their service account exists; the token controller makes it.
    await waitUntil(
      "the default service account",
      () => admin.find("/api/v1/namespaces/default/serviceaccounts/default"),
      { timeoutMs: 60_000, watched },
    );
  } catch (error) {
    await stop();
    throw error;
  } finally {
    await admin.close();
  }

  const pids = Object.fromEntries(
    watched.map(({ name, process }) => [name, process.child.pid ?? -1]),
  );
  const kubectlArgs = (args: string[]): string[] => [
    `--kubeconfig=${kubeconfig}`,
    `--cache-dir=${file("kubectl-cache")}`,
    ...args,
  ];
  const kubectl = (...args: string[]): string =>
    execFileSync(join(bin, "kubectl"), kubectlArgs(args), {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  const kubectlAsync = async (...args: string[]): Promise<string> =>
    (
      await execFileAsync(join(bin, "kubectl"), kubectlArgs(args), {
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
      })
    ).stdout;
  const helmHome = file("helm");
  const helm = async (...args: string[]): Promise<string> =>
    (
      await execFileAsync(join(bin, "helm"), [`--kubeconfig=${kubeconfig}`, ...args], {
        encoding: "utf8",
        // Keep helm's cache, config and data in this run's folder, not the user's home.
        env: {
          ...process.env,
          HELM_CACHE_HOME: join(helmHome, "cache"),
          HELM_CONFIG_HOME: join(helmHome, "config"),
          HELM_DATA_HOME: join(helmHome, "data"),
        },
      })
    ).stdout;
  const installCrds = (crds: string): void => {
    kubectl("apply", "-f", crds);
    kubectl("wait", "--for=condition=Established", "--timeout=60s", "-f", crds);
    // kubectl caches discovery; drop it so the new kinds and short names are known at once.
    rmSync(file("kubectl-cache"), { recursive: true, force: true });
  };
  const component = (name: ControlPlaneComponent): Watched => {
    const entry = watched.find((other) => other.name === name);
    if (entry === undefined) throw new Error(`no component ${name}`);
    return entry;
  };
  const killComponent = async (name: ControlPlaneComponent): Promise<void> => {
    const { process } = component(name);
    process.child.kill("SIGKILL");
    await process.exited;
  };
  const startComponent = async (name: ControlPlaneComponent): Promise<void> => {
    const { child } = component(name).process;
    if (child.exitCode === null && child.signalCode === null) throw new Error(`${name} runs`);
    spawnComponent(name);
    await apiReady();
  };
  return {
    kubeconfig,
    server,
    port,
    nodeName,
    nodeKubeconfigs,
    caFile: pki.caCert,
    bin,
    directory,
    pids,
    kubectl,
    kubectlAsync,
    helm,
    installCrds,
    pidOf: (name) => component(name).process.child.pid ?? -1,
    killComponent,
    startComponent,
    stop,
  };
}
