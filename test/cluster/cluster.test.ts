// The test bed itself: the real control plane and a real node (containerd, runc, the kubelet,
// kube-proxy, CoreDNS) running containers of the project's image, built from its Dockerfile.
// Pod networking and its isolation, Services and cluster DNS, logs, exec and port-forward,
// graceful termination, garbage collection, restarts, probes, limits in the cgroup, the
// in-cluster contract (env, volumes, service-account token) and helm.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import type { V1Pod } from "@kubernetes/client-node";
import { waitFor } from "../support/wait-for.ts";
import { podSubnet } from "./node-network.ts";
import { nodeUnsupported } from "./node-support.ts";
import { startCluster, type TestCluster } from "./test-cluster.ts";
import { endpointDeployment, image, scriptPod } from "./workloads.ts";

const execFileAsync = promisify(execFile);

describe("the test cluster", { skip: nodeUnsupported() }, () => {
  let cluster: TestCluster | undefined;

  const ready = (): TestCluster => {
    assert.ok(cluster !== undefined, "the cluster did not start");
    return cluster;
  };
  const kubectl = (...args: string[]): Promise<string> => ready().kubectlAsync(...args);
  const getJson = async <T>(...args: string[]): Promise<T> =>
    JSON.parse(await kubectl("get", ...args, "-o", "json")) as T;
  const apply = async (manifest: object): Promise<void> => {
    const folder = join(ready().directory, "manifests");
    mkdirSync(folder, { recursive: true });
    const file = join(folder, `${String(Date.now())}-${String(Math.random()).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(manifest));
    await kubectl("apply", "-f", file);
  };
  const pods = async (selector: string): Promise<V1Pod[]> =>
    (await getJson<{ items: V1Pod[] }>("pods", "-l", selector)).items;
  const isReady = (pod: V1Pod): boolean =>
    pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;
  const readyEndpoints = async (name: string, replicas: number): Promise<V1Pod[]> => {
    await apply(endpointDeployment(name, replicas));
    return waitFor(
      () => pods(`app=${name}`),
      (list) => list.length === replicas && list.every(isReady),
      { timeoutMs: 60_000, what: `${String(replicas)} Ready pods of ${name}`, intervalMs: 250 },
    );
  };
  const finished = (name: string): Promise<V1Pod> =>
    waitFor(
      () => getJson<V1Pod>("pod", name),
      (seen) => seen.status?.phase === "Succeeded" || seen.status?.phase === "Failed",
      { timeoutMs: 60_000, what: `pod ${name} to finish`, intervalMs: 250 },
    );
  const pidOf = (pod: V1Pod): number =>
    ready().node.containerPid(pod.status?.containerStatuses?.[0]?.containerID ?? "");
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  before(async () => {
    cluster = await startCluster({ name: "cluster-test" });
  });

  after(async () => {
    await cluster?.stop();
  });

  test("kubectl get nodes shows the node Ready: kubelet v1.33.13 on containerd 2", async () => {
    const node = await getJson<{
      status: { nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string } };
    }>("node", ready().nodeName);
    assert.equal(node.status.nodeInfo.kubeletVersion, "v1.33.13");
    assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\/2\./);
    assert.match(await kubectl("get", "nodes", "--no-headers"), /\sReady\s/);
  });

  test("kubectl auth can-i answers per RBAC: a service account lists pods only once a Role binds it", async () => {
    const canI = async (): Promise<string> => {
      const { bin, kubeconfig } = ready();
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

  test("a Deployment of the project's image runs 2 Ready pods, each a container with its own IP in the pod range, as uid 65532", async () => {
    const list = await readyEndpoints("web", 2);
    const ips = list.map((pod) => pod.status?.podIP ?? "");
    assert.equal(new Set(ips).size, 2, `distinct pod IPs: ${ips.join(", ")}`);
    for (const pod of list) {
      const ip = pod.status?.podIP ?? "";
      assert.match(ip, new RegExp(`^${podSubnet.split(".").slice(0, 3).join("\\.")}\\.\\d+$`));
      assert.match(pod.status?.containerStatuses?.[0]?.containerID ?? "", /^containerd:\/\//);
      assert.ok(alive(pidOf(pod)), `the container process of ${pod.metadata?.name ?? ""}`);
      // From this machine straight to the pod, over the bridge.
      assert.equal(await (await fetch(`http://${ip}:8080/healthz`)).text(), "ok");
      assert.equal(pod.status?.containerStatuses?.[0]?.image, image);
      // The API server proxies logs and exec to the kubelet, the kubelet to containerd.
      const name = pod.metadata?.name ?? "";
      assert.match(await kubectl("logs", name), /demo endpoint listening/);
      const uid = await kubectl("exec", name, "--", "node", "-p", "process.getuid()");
      assert.equal(uid.trim(), "65532", "the image's USER");
    }
  });

  test("a Service is reached by its DNS name from a pod (CoreDNS, kube-proxy) and by its ClusterIP from this machine", async () => {
    await readyEndpoints("web", 2);
    await kubectl("expose", "deployment", "web", "--port=80", "--target-port=8080");
    const clusterIp = (
      await kubectl("get", "service", "web", "-o", "jsonpath={.spec.clusterIP}")
    ).trim();
    const fromHost = await waitFor(
      () =>
        fetch(`http://${clusterIp}/healthz`)
          .then((response) => response.text())
          .catch((error: unknown) => String(error)),
      (text) => text === "ok",
      { timeoutMs: 20_000, what: "the ClusterIP to answer from this machine", intervalMs: 250 },
    );
    assert.equal(fromHost, "ok");
    const call = `
      const response = await fetch("http://web.default.svc.cluster.local/healthz");
      console.log(JSON.stringify({ status: response.status, body: await response.text() }));`;
    await apply(
      scriptPod("caller", { args: ["--input-type=module", "-e", call], restartPolicy: "Never" }),
    );
    const pod = await finished("caller");
    const log = await kubectl("logs", "caller");
    assert.equal(pod.status?.phase, "Succeeded", log);
    assert.deepEqual(JSON.parse(log), { status: 200, body: "ok" });
  });

  test("kubectl port-forward reaches a pod's port from this machine's loopback", async () => {
    const [pod] = await readyEndpoints("web", 2);
    const forward = spawn(
      join(ready().bin, "kubectl"),
      [
        `--kubeconfig=${ready().kubeconfig}`,
        "port-forward",
        `pod/${pod?.metadata?.name ?? ""}`,
        ":8080",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      let output = "";
      forward.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const port = await waitFor(
        () => /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output)?.[1],
        (found) => found !== undefined,
        { timeoutMs: 20_000, what: "port-forward to listen" },
      );
      const response = await fetch(`http://127.0.0.1:${port ?? ""}/healthz`);
      assert.equal(await response.text(), "ok");
    } finally {
      forward.kill("SIGTERM");
    }
  });

  test("a pod has routes to the pod and Service ranges only: no default route, nothing leaves the machine", async () => {
    // /proc/net/route lists the pod's IPv4 routes; a default route has destination 00000000.
    await apply(
      scriptPod("routes", {
        args: [
          "-e",
          "process.stdout.write(require('node:fs').readFileSync('/proc/net/route', 'utf8'))",
        ],
        restartPolicy: "Never",
      }),
    );
    const pod = await finished("routes");
    const table = await kubectl("logs", "routes");
    assert.equal(pod.status?.phase, "Succeeded", table);
    const destinations = table
      .trim()
      .split("\n")
      .slice(1)
      .map((line) => line.split(/\s+/)[1]);
    assert.ok(destinations.length > 0, table);
    assert.ok(!destinations.includes("00000000"), `a default route in the pod:\n${table}`);
  });

  test("scaling to 0 stops the containers, then the pods leave the API", async () => {
    const list = await readyEndpoints("web", 2);
    const pids = list.map(pidOf);
    await kubectl("scale", "deployment/web", "--replicas=0");
    await waitFor(
      () => pods("app=web"),
      (remaining) => remaining.length === 0,
      { timeoutMs: 30_000, what: "the pods of web to be deleted", intervalMs: 250 },
    );
    for (const pid of pids) assert.ok(!alive(pid), `process ${String(pid)} still runs`);
  });

  test("deleting a Deployment garbage-collects its ReplicaSet and Pods through ownerReferences", async () => {
    const [pod] = await readyEndpoints("collected", 1);
    assert.ok(pod !== undefined);
    const pid = pidOf(pod);
    const replicaSets = await getJson<{ items: unknown[] }>("replicasets", "-l", "app=collected");
    assert.equal(replicaSets.items.length, 1);
    await kubectl("delete", "deployment", "collected", "--cascade=background", "--wait=false");
    await waitFor(
      () => kubectl("get", "replicasets,pods", "-l", "app=collected", "-o", "name"),
      (names) => names.trim() === "",
      { timeoutMs: 30_000, what: "the ReplicaSet and Pods to be collected", intervalMs: 250 },
    );
    await waitFor(
      () => alive(pid),
      (running) => !running,
      {
        timeoutMs: 10_000,
        what: "the pod's process to be stopped",
      },
    );
  });

  test("a container that exits non-zero is restarted, then held in CrashLoopBackOff", async () => {
    await apply(scriptPod("crasher", { args: ["-e", "process.exit(3)"] }));
    const pod = await waitFor(
      () => getJson<V1Pod>("pod", "crasher"),
      (seen) =>
        (seen.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 &&
        seen.status?.containerStatuses?.[0]?.state?.waiting?.reason === "CrashLoopBackOff",
      { timeoutMs: 60_000, what: "crasher restarted and backing off", intervalMs: 250 },
    );
    const status = pod.status?.containerStatuses?.[0];
    assert.equal(status?.lastState?.terminated?.exitCode, 3);
    assert.equal(status.lastState.terminated.reason, "Error");
    await kubectl("delete", "pod", "crasher", "--wait=false");
  });

  test("a container failing its liveness probe is stopped with SIGTERM and restarted", async () => {
    await apply(
      scriptPod("unhealthy", {
        args: ["demo/endpoint.ts"],
        container: {
          env: [{ name: "HOST", value: "0.0.0.0" }],
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
      () => getJson<V1Pod>("pod", "unhealthy"),
      (seen) => (seen.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1,
      { timeoutMs: 60_000, what: "unhealthy to be restarted", intervalMs: 250 },
    );
    // The demo endpoint exits 0 on SIGTERM.
    assert.equal(pod.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 0);
    await kubectl("delete", "pod", "unhealthy", "--wait=false");
  });

  test("a container of an image the node does not have waits in ErrImageNeverPull (nothing is pulled)", async () => {
    await apply(
      scriptPod("foreign", {
        args: [],
        image: "docker.io/library/nginx:1.27",
        container: { imagePullPolicy: "Never" },
      }),
    );
    const pod = await waitFor(
      () => getJson<V1Pod>("pod", "foreign"),
      (seen) => seen.status?.containerStatuses?.[0]?.state?.waiting?.reason === "ErrImageNeverPull",
      { timeoutMs: 30_000, what: "ErrImageNeverPull", intervalMs: 250 },
    );
    assert.match(pod.status?.containerStatuses?.[0]?.state?.waiting?.message ?? "", /nginx/);
    assert.equal(pod.status?.phase, "Pending");
    await kubectl("delete", "pod", "foreign", "--wait=false");
  });

  test("a memory limit is the container's cgroup limit", async () => {
    const read = `
      const { existsSync, readFileSync } = require("node:fs");
      const file = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .find((candidate) => existsSync(candidate));
      process.stdout.write(readFileSync(file, "utf8").trim());`;
    await apply(
      scriptPod("limited", {
        args: ["-e", read],
        restartPolicy: "Never",
        container: { resources: { limits: { memory: "128Mi", cpu: "500m" } } },
      }),
    );
    const pod = await finished("limited");
    const limit = await kubectl("logs", "limited");
    assert.equal(pod.status?.phase, "Succeeded", limit);
    assert.equal(Number(limit), 128 * 1024 * 1024);
  });

  test("a pod gets env from refs, its volumes at their mount paths and a service-account token that the API server accepts", async () => {
    await kubectl("create", "secret", "generic", "credentials", "--from-literal=token=s3cr3t");
    await kubectl("create", "configmap", "settings", "--from-literal=mode=fast");
    await kubectl("create", "configmap", "files", '--from-literal=job.json={"capacity":5}');
    // Prints what it sees, then asks the API server who it is, the way the project's code does:
    // @kubernetes/client-node's in-cluster config.
    const script = `
      import { readFileSync } from "node:fs";
      import { AuthenticationV1Api, KubeConfig } from "@kubernetes/client-node";
      const config = new KubeConfig();
      config.loadFromCluster();
      const review = await config.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
        body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
      });
      const env = process.env;
      console.log(JSON.stringify({
        env: { TOKEN: env.TOKEN, MODE: env.MODE, MISSING: env.MISSING ?? null, POD: env.POD,
          NS: env.NS, IP: env.IP, SA: env.SA },
        config: readFileSync(process.argv[1], "utf8"),
        namespace: readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8"),
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
          ],
          volumeMounts: [{ name: "files", mountPath: "/etc/config" }],
        },
        spec: { volumes: [{ name: "files", configMap: { name: "files" } }] },
      }),
    );
    const pod = await finished("contract");
    const log = await kubectl("logs", "contract");
    assert.equal(pod.status?.phase, "Succeeded", log);
    const seen = JSON.parse(log) as {
      env: Record<string, string | null>;
      config: string;
      namespace: string;
      user: { username: string; extra?: Record<string, string[]> };
    };
    assert.deepEqual(seen.env, {
      TOKEN: "s3cr3t",
      MODE: "fast",
      MISSING: null,
      POD: "contract",
      NS: "default",
      IP: pod.status.podIP,
      SA: "default",
    });
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
    const pod = await finished("initialized");
    const log = await kubectl("logs", "initialized");
    assert.equal(pod.status?.phase, "Succeeded", log);
    assert.equal(log, "from init");
    assert.equal(pod.status.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 0);
  });

  test("helm install of a chart succeeds and its objects exist", async () => {
    const chart = join(import.meta.dirname, "fixtures/test-chart");
    await ready().helm("install", "demo", chart, "--wait", "--timeout=60s");
    const settings = await getJson<{ data: Record<string, string> }>("configmap", "demo-settings");
    assert.equal(settings.data.greeting, "hello");
    const [pod] = await pods("app=demo-endpoint");
    assert.ok(pod !== undefined && isReady(pod), "the chart's endpoint pod is Ready");
    assert.match(await ready().helm("list", "--short"), /^demo$/m);
  });
});
