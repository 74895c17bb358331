// The test bed itself, against the real control plane and the test kubelet: nodes, RBAC, workloads
// of the project's image run as local processes, graceful termination, garbage collection,
// crash-loop back-off, image pull errors, the in-cluster contract (env, volumes, service-account
// token) and helm.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { waitFor } from "../support/wait-for.ts";
import { startControlPlane, type ControlPlane } from "./control-plane.ts";
import { startKubelet, type Kubelet } from "./kubelet/kubelet.ts";
import { readPodLog, readTerminations } from "./kubelet/pod-files.ts";
import type { Pod } from "./kubelet/types.ts";
import { endpointDeployment, image, scriptPod } from "./workloads.ts";

const execFileAsync = promisify(execFile);

describe("the test cluster", () => {
  let cluster: ControlPlane | undefined;
  let kubelet: Kubelet | undefined;
  const nodeName = "test-node";
  const backoffBaseMs = 500;

  const ready = (): { cluster: ControlPlane; kubelet: Kubelet } => {
    assert.ok(cluster !== undefined && kubelet !== undefined, "the cluster did not start");
    return { cluster, kubelet };
  };
  const kubectl = (...args: string[]): Promise<string> => ready().cluster.kubectlAsync(...args);
  const getJson = async <T>(...args: string[]): Promise<T> =>
    JSON.parse(await kubectl("get", ...args, "-o", "json")) as T;
  const apply = async (manifest: object): Promise<void> => {
    const folder = join(ready().cluster.directory, "manifests");
    mkdirSync(folder, { recursive: true });
    const file = join(folder, `${String(Date.now())}-${String(Math.random()).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(manifest));
    await kubectl("apply", "-f", file);
  };
  const pods = async (selector: string): Promise<Pod[]> =>
    (await getJson<{ items: Pod[] }>("pods", "-l", selector)).items;
  const isReady = (pod: Pod): boolean =>
    pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
  const readyEndpoints = async (name: string, replicas: number): Promise<Pod[]> => {
    await apply(endpointDeployment(name, replicas));
    return waitFor(
      () => pods(`app=${name}`),
      (list) => list.length === replicas && list.every(isReady),
      { timeoutMs: 30_000, what: `${String(replicas)} Ready pods of ${name}`, intervalMs: 200 },
    );
  };
  const pidOf = (pod: Pod): number =>
    Number(pod.status?.containerStatuses?.[0]?.containerID?.replace("process://", ""));
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  before(async () => {
    cluster = await startControlPlane({ name: "cluster-test" });
    kubelet = await startKubelet({
      kubeconfig: cluster.kubeconfig,
      nodeName,
      podsDir: join(cluster.directory, "pods"),
      backoffBaseMs,
    });
  });

  after(async () => {
    await kubelet?.stop();
    await cluster?.stop();
  });

  test("kubectl get nodes shows the test node Ready", async () => {
    const output = await waitFor(
      () => kubectl("get", "nodes", "--no-headers"),
      (text) => new RegExp(`^${nodeName}\\s+Ready\\s`, "m").test(text),
      { timeoutMs: 20_000, what: "the node to be Ready", intervalMs: 200 },
    );
    assert.match(output, /v1\.33\./);
  });

  test("kubectl auth can-i answers per RBAC: a service account lists pods only once a Role binds it", async () => {
    const canI = async (): Promise<string> => {
      const { bin, kubeconfig } = ready().cluster;
      const reader = "--as=system:serviceaccount:default:reader";
      // can-i exits 1 for "no"; its answer is on stdout either way.
      const { stdout } = await execFileAsync(join(bin, "kubectl"), [
        `--kubeconfig=${kubeconfig}`,
        ...["auth", "can-i", "list", "pods", reader],
      ]).catch((error: unknown) => error as { stdout: string });
      return stdout.trim();
    };
    await kubectl("create", "serviceaccount", "reader");
    assert.equal(await canI(), "no");
    await kubectl("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods");
    await kubectl(
      "create",
      "rolebinding",
      "reader-reads-pods",
      "--role=pod-reader",
      "--serviceaccount=default:reader",
    );
    await waitFor(canI, (answer) => answer === "yes", {
      timeoutMs: 10_000,
      what: "can-i to say yes",
    });
  });

  test("a Deployment of the project's image runs 2 Ready pods, each process serving on its own pod IP", async () => {
    const list = await readyEndpoints("web", 2);
    const ips = list.map((pod) => pod.status?.podIP ?? "");
    assert.equal(new Set(ips).size, 2, `distinct pod IPs: ${ips.join(", ")}`);
    for (const pod of list) {
      const ip = pod.status?.podIP ?? "";
      assert.match(ip, /^127\.0\.\d+\.\d+$/);
      assert.notEqual(ip, "127.0.0.1");
      assert.ok(alive(pidOf(pod)), `process ${String(pidOf(pod))} of ${pod.metadata.name}`);
      const response = await fetch(`http://${ip}:8080/healthz`);
      assert.equal(await response.text(), "ok");
      assert.equal(pod.status?.containerStatuses?.[0]?.image, image);
      // The API server proxies this to the kubelet's log server.
      assert.match(await kubectl("logs", pod.metadata.name), /demo endpoint listening/);
    }
  });

  test("scaling to 0 stops the pods gracefully: SIGTERM, exit code 0, then the pods leave the API", async () => {
    const list = await readyEndpoints("web", 2);
    await kubectl("scale", "deployment/web", "--replicas=0");
    await waitFor(
      () => pods("app=web"),
      (remaining) => remaining.length === 0,
      { timeoutMs: 30_000, what: "the pods of web to be deleted", intervalMs: 200 },
    );
    for (const pod of list) {
      const exits = readTerminations(ready().kubelet.podsDir, "default", pod.metadata.name);
      assert.deepEqual(
        exits.map(({ exitCode, signal }) => ({ exitCode, signal })),
        [{ exitCode: 0, signal: null }],
        `exits of ${pod.metadata.name}`,
      );
      assert.ok(!alive(pidOf(pod)), `process ${String(pidOf(pod))} still runs`);
    }
  });

  test("deleting a Deployment garbage-collects its ReplicaSet and Pods through ownerReferences", async () => {
    const [pod] = await readyEndpoints("collected", 1);
    assert.ok(pod !== undefined);
    const replicaSets = await getJson<{ items: unknown[] }>("replicasets", "-l", "app=collected");
    assert.equal(replicaSets.items.length, 1);
    await kubectl("delete", "deployment", "collected", "--cascade=background", "--wait=false");
    await waitFor(
      () => kubectl("get", "replicasets,pods", "-l", "app=collected", "-o", "name"),
      (names) => names.trim() === "",
      { timeoutMs: 30_000, what: "the ReplicaSet and Pods to be collected", intervalMs: 200 },
    );
    assert.ok(!alive(pidOf(pod)), "the pod's process was stopped");
  });

  test("a container that exits non-zero is restarted with back-off", async () => {
    await apply(scriptPod("crasher", { args: ["-e", "process.exit(3)"] }));
    const pod = await waitFor(
      () => getJson<Pod>("pod", "crasher"),
      (seen) => (seen.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2,
      { timeoutMs: 30_000, what: "crasher to restart twice", intervalMs: 200 },
    );
    const status = pod.status?.containerStatuses?.[0];
    assert.ok(status !== undefined);
    assert.equal(status.lastState.terminated?.exitCode, 3);
    assert.equal(status.lastState.terminated.reason, "Error");
    assert.equal(pod.status?.phase, "Running");
    // The first restart is immediate, the second waits the back-off base. restartCount 2 can be
    // reported before the third run has exited: wait for its exit too.
    const exits = await waitFor(
      () => readTerminations(ready().kubelet.podsDir, "default", "crasher"),
      (seen) => seen.length >= 3,
      { timeoutMs: 30_000, what: "three exits of crasher", intervalMs: 100 },
    );
    const [, second, third] = exits.map((exit) => Date.parse(exit.finishedAt));
    assert.ok(second !== undefined && third !== undefined, `exits: ${JSON.stringify(exits)}`);
    assert.ok(third - second >= backoffBaseMs, `${String(third - second)} ms between exits`);
    await kubectl("delete", "pod", "crasher", "--wait=false");
  });

  test("a container failing its liveness probe is stopped with SIGTERM and restarted", async () => {
    await apply(
      scriptPod("unhealthy", {
        args: ["demo/endpoint.ts"],
        container: {
          env: [{ name: "HOST", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
          // Nothing listens on port 9: every probe fails.
          livenessProbe: {
            httpGet: { path: "/healthz", port: 9 },
            periodSeconds: 1,
            failureThreshold: 2,
          },
        },
      }),
    );
    const pod = await waitFor(
      () => getJson<Pod>("pod", "unhealthy"),
      (seen) => (seen.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
      { timeoutMs: 30_000, what: "unhealthy to be restarted", intervalMs: 200 },
    );
    // The demo endpoint exits 0 on SIGTERM.
    assert.equal(pod.status?.containerStatuses?.[0]?.lastState.terminated?.exitCode, 0);
    const [first] = readTerminations(ready().kubelet.podsDir, "default", "unhealthy");
    assert.deepEqual([first?.exitCode, first?.signal], [0, null]);
    await kubectl("delete", "pod", "unhealthy", "--wait=false");
  });

  test("a container of another image waits in ErrImagePull or ImagePullBackOff", async () => {
    await apply(scriptPod("foreign", { args: [], image: "docker.io/library/nginx:1.27" }));
    const pod = await waitFor(
      () => getJson<Pod>("pod", "foreign"),
      (seen) =>
        ["ErrImagePull", "ImagePullBackOff"].includes(
          seen.status?.containerStatuses?.[0]?.state.waiting?.reason ?? "",
        ),
      { timeoutMs: 20_000, what: "an image pull error", intervalMs: 200 },
    );
    assert.match(pod.status?.containerStatuses?.[0]?.state.waiting?.message ?? "", /nginx/);
    assert.equal(pod.status?.phase, "Pending");
    await kubectl("delete", "pod", "foreign", "--wait=false");
  });

  test("a pod gets env from refs, its volumes at their mount paths and a service-account token that the API server accepts", async () => {
    await kubectl("create", "secret", "generic", "credentials", "--from-literal=token=s3cr3t");
    await kubectl("create", "configmap", "settings", "--from-literal=mode=fast");
    await kubectl("create", "configmap", "files", '--from-literal=job.json={"capacity":5}');
    // Prints what it sees, then asks the API server who it is, the way the project's code does:
    // @kubernetes/client-node's in-cluster config, found under AEJ_CONTAINER_ROOT.
    const script = `
      import { readFileSync } from "node:fs";
      import { AuthenticationV1Api, KubeConfig } from "@kubernetes/client-node";
      const config = new KubeConfig();
      config.loadFromCluster(process.env.AEJ_CONTAINER_ROOT);
      const review = await config.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
        body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
      });
      const env = process.env;
      console.log(JSON.stringify({
        env: { TOKEN: env.TOKEN, MODE: env.MODE, MISSING: env.MISSING ?? null, POD: env.POD,
          NS: env.NS, IP: env.IP, SA: env.SA, CONFIG: env.CONFIG },
        config: readFileSync(process.argv[1], "utf8"),
        namespace: readFileSync(env.AEJ_SERVICEACCOUNT_DIR + "/namespace", "utf8"),
        user: review.status.userInfo,
      }));`;
    const field = (fieldPath: string) => ({ valueFrom: { fieldRef: { fieldPath } } });
    await apply(
      scriptPod("contract", {
        args: ["--input-type=module", "-e", script, "/etc/config/job.json"],
        restartPolicy: "Never",
        container: {
          env: [
            { name: "TOKEN", valueFrom: { secretKeyRef: { name: "credentials", key: "token" } } },
            { name: "MODE", valueFrom: { configMapKeyRef: { name: "settings", key: "mode" } } },
            {
              name: "MISSING",
              valueFrom: { configMapKeyRef: { name: "absent", key: "x", optional: true } },
            },
            { name: "POD", ...field("metadata.name") },
            { name: "NS", ...field("metadata.namespace") },
            { name: "IP", ...field("status.podIP") },
            { name: "SA", ...field("spec.serviceAccountName") },
            { name: "CONFIG", value: "/etc/config/job.json" },
          ],
          volumeMounts: [{ name: "files", mountPath: "/etc/config" }],
        },
        spec: { volumes: [{ name: "files", configMap: { name: "files" } }] },
      }),
    );
    const pod = await waitFor(
      () => getJson<Pod>("pod", "contract"),
      (seen) => seen.status?.phase === "Succeeded" || seen.status?.phase === "Failed",
      { timeoutMs: 30_000, what: "the contract pod to finish", intervalMs: 200 },
    );
    const log = readPodLog(ready().kubelet.podsDir, "default", "contract", "main");
    assert.equal(pod.status?.phase, "Succeeded", log);
    const seen = JSON.parse(log) as {
      env: Record<string, string | null>;
      config: string;
      namespace: string;
      user: { username: string; extra?: Record<string, string[]> };
    };
    const { CONFIG: config, ...env } = seen.env;
    assert.deepEqual(env, {
      TOKEN: "s3cr3t",
      MODE: "fast",
      MISSING: null,
      POD: "contract",
      NS: "default",
      IP: pod.status.podIP,
      SA: "default",
    });
    assert.match(config ?? "", /_contract\/roots\/main\/etc\/config\/job\.json$/);
    assert.equal(seen.config, '{"capacity":5}');
    assert.equal(seen.namespace, "default");
    assert.equal(seen.user.username, "system:serviceaccount:default:default");
    assert.deepEqual(seen.user.extra?.["authentication.kubernetes.io/pod-name"], ["contract"]);
  });

  test("init containers run to completion first; an emptyDir carries their files to the others", async () => {
    const writer = "require('node:fs').writeFileSync('/shared/ready.txt', 'from init')";
    const reader =
      "process.stdout.write(require('node:fs').readFileSync('/shared/ready.txt', 'utf8'))";
    const mounts = { volumeMounts: [{ name: "shared", mountPath: "/shared" }] };
    await apply(
      scriptPod("initialized", {
        args: ["-e", reader],
        restartPolicy: "Never",
        container: mounts,
        spec: {
          initContainers: [{ name: "prepare", image, args: ["-e", writer], ...mounts }],
          volumes: [{ name: "shared", emptyDir: {} }],
        },
      }),
    );
    const pod = await waitFor(
      () => getJson<Pod>("pod", "initialized"),
      (seen) => seen.status?.phase === "Succeeded" || seen.status?.phase === "Failed",
      { timeoutMs: 30_000, what: "the pod to finish", intervalMs: 200 },
    );
    const log = readPodLog(ready().kubelet.podsDir, "default", "initialized", "main");
    assert.equal(pod.status?.phase, "Succeeded", log);
    assert.equal(log, "from init");
    assert.equal(pod.status.initContainerStatuses?.[0]?.state.terminated?.exitCode, 0);
  });

  test("helm install of a chart succeeds and its objects exist", async () => {
    const chart = join(import.meta.dirname, "fixtures/test-chart");
    await ready().cluster.helm("install", "demo", chart, "--wait", "--timeout=60s");
    const settings = await getJson<{ data: Record<string, string> }>("configmap", "demo-settings");
    assert.equal(settings.data.greeting, "hello");
    const [pod] = await pods("app=demo-endpoint");
    assert.ok(pod !== undefined && isReady(pod), "the chart's endpoint pod is Ready");
    assert.match(await ready().cluster.helm("list", "--short"), /^demo$/m);
  });
});
