// The Helm chart against the real control plane and a real node: lint, what it renders for
// the main value combinations (RBAC exactly the operator's permissions), values refused by its
// schema, then install into namespaces enforcing the restricted Pod Security Standard, a job from
// examples/ moving records, RBAC checked with `kubectl auth can-i`, an upgrade rolling the
// operator, and an uninstall that leaves the CRD and the jobs.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import type { V1Pod, V1PolicyRule } from "@kubernetes/client-node";
import { startKinesisEmulator, type KinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { produceRecords, readAllRecords } from "../../demo/stream-tools.ts";
import { crdPath } from "../../operator/api/crd.ts";
import { jobNamespaceRules, leaderElectionRules } from "../../operator/permissions.ts";
import { nodeUnsupported } from "../cluster/node-support.ts";
import { repositoryRoot } from "../cluster/paths.ts";
import { startCluster, type TestCluster } from "../cluster/test-cluster.ts";
import { startScriptedEndpoint } from "../support/scripted-endpoint.ts";
import { waitFor } from "../support/wait-for.ts";

const chart = join(repositoryRoot, "charts/async-enrichment");
const appVersion = (
  parseYaml(readFileSync(join(chart, "Chart.yaml"), "utf8")) as { appVersion: string }
).appVersion;

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: V1PolicyRule[];
  spec?: {
    template?: {
      spec: {
        securityContext: Record<string, unknown>;
        containers: {
          image: string;
          args: string[];
          env: { name: string; value?: string }[];
          resources: { requests?: object; limits?: object };
          securityContext: Record<string, unknown>;
        }[];
      };
    };
  };
  data?: Record<string, string>;
}

/** Rules as sets, so the order of verbs and resources does not matter. */
const normalized = (rules: V1PolicyRule[] | undefined) =>
  (rules ?? [])
    .map((rule) =>
      JSON.stringify({
        apiGroups: [...(rule.apiGroups ?? [])].sort(),
        resources: [...(rule.resources ?? [])].sort(),
        verbs: [...rule.verbs].sort(),
      }),
    )
    .sort();

describe("the Helm chart", { skip: nodeUnsupported() }, () => {
  let cluster: TestCluster;
  let emulator: KinesisEmulator;
  let endpoint: Awaited<ReturnType<typeof startScriptedEndpoint>>;
  /** The emulator and the endpoint as pods reach them (relays on the node's address). */
  let podUrls: { emulator: string; endpoint: string };
  const kubectl = (...args: string[]): Promise<string> => cluster.kubectlAsync(...args);
  const render = async (...values: string[]): Promise<Manifest[]> =>
    parseAllDocuments(await cluster.helm("template", "aej", chart, "-n", "operators", ...values))
      .map((document) => document.toJS() as Manifest | null)
      .filter((manifest): manifest is Manifest => manifest !== null);
  const operatorAccount = "system:serviceaccount:operators:aej-async-enrichment";
  const canI = async (...args: string[]): Promise<boolean> =>
    (
      await kubectl("auth", "can-i", ...args, `--as=${operatorAccount}`).catch(() => "no")
    ).trim() === "yes";

  before(async () => {
    cluster = await startCluster({ name: "chart" });
    emulator = await startKinesisEmulator();
    endpoint = await startScriptedEndpoint((request) => ({
      body: JSON.stringify({ ...(JSON.parse(request.body) as object), enriched: true }),
    }));
    podUrls = {
      emulator: (await cluster.relay(emulator.endpoint)).url,
      endpoint: (await cluster.relay(endpoint.url)).url,
    };
  });
  after(async () => {
    await cluster.stop();
    await endpoint.close();
    await emulator.stop();
  });

  test("helm lint --strict passes, and the chart's CRD is the generated one", async () => {
    const lint = await cluster.helm("lint", "--strict", chart);
    assert.match(lint, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    assert.equal(
      readFileSync(join(chart, "crds/asyncenrichment.dev_asyncenrichmentjobs.yaml"), "utf8"),
      readFileSync(crdPath, "utf8"),
      "charts/async-enrichment/crds/ is stale: run npm run crds",
    );
  });

  test("cluster-wide by default: a ClusterRole with exactly the operator's permissions, secure pods", async () => {
    const manifests = await render();
    const clusterRole = manifests.find((manifest) => manifest.kind === "ClusterRole");
    assert.deepEqual(normalized(clusterRole?.rules), normalized(jobNamespaceRules));
    const leader = manifests.find(
      (manifest) => manifest.kind === "Role" && manifest.metadata.namespace === "operators",
    );
    assert.deepEqual(normalized(leader?.rules), normalized(leaderElectionRules));
    const pod = manifests.find((manifest) => manifest.kind === "Deployment")?.spec?.template?.spec;
    const container = pod?.containers[0];
    assert.equal(container?.image, `ghcr.io/async-enrichment/async-enrichment:${appVersion}`);
    assert.deepEqual(container.args, ["operator/main.js"]);
    assert.equal(pod?.securityContext.runAsNonRoot, true);
    assert.deepEqual(pod.securityContext.seccompProfile, { type: "RuntimeDefault" });
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities, { drop: ["ALL"] });
    assert.ok(
      container.resources.requests !== undefined && container.resources.limits !== undefined,
    );
    const env = Object.fromEntries(
      container.env.map((variable) => [variable.name, variable.value]),
    );
    assert.equal(env.WATCH_NAMESPACES, "");
    assert.equal(env.PROCESSOR_IMAGE, container.image);
    assert.equal(
      manifests.filter((manifest) => manifest.kind === "Service").length,
      1,
      "the metrics Service",
    );
  });

  test("watchNamespaces: a Role in each, no cluster-wide rights at all", async () => {
    const manifests = await render("--set", "watchNamespaces={team-a,team-b}");
    assert.ok(!manifests.some((manifest) => manifest.kind.startsWith("Cluster")));
    for (const namespace of ["team-a", "team-b"]) {
      const role = manifests.find(
        (manifest) => manifest.kind === "Role" && manifest.metadata.namespace === namespace,
      );
      assert.deepEqual(normalized(role?.rules), normalized(jobNamespaceRules), namespace);
      assert.ok(
        manifests.some(
          (manifest) =>
            manifest.kind === "RoleBinding" && manifest.metadata.namespace === namespace,
        ),
      );
    }
    const container = manifests.find((manifest) => manifest.kind === "Deployment")?.spec?.template
      ?.spec.containers[0];
    const watch = container?.env.find((variable) => variable.name === "WATCH_NAMESPACES");
    assert.equal(watch?.value, "team-a,team-b");
  });

  test("metrics off, or with ServiceMonitors and the Grafana dashboard", async () => {
    const off = await render("--set", "metrics.service.enabled=false");
    assert.ok(!off.some((manifest) => manifest.kind === "Service"));
    assert.ok(!off.some((manifest) => manifest.kind === "ServiceMonitor"));
    const on = await render(
      "--set",
      "metrics.serviceMonitor.enabled=true",
      "--set",
      "grafanaDashboard.enabled=true",
    );
    assert.deepEqual(
      on.filter((manifest) => manifest.kind === "ServiceMonitor").map((m) => m.metadata.name),
      ["aej-async-enrichment", "aej-async-enrichment-processors"],
    );
    const dashboard = on.find((manifest) => manifest.kind === "ConfigMap")?.data?.[
      "async-enrichment.json"
    ];
    const panels = (JSON.parse(dashboard ?? "{}") as { panels?: { title: string }[] }).panels;
    const titles = (panels ?? []).map((panel) => panel.title).join(" | ");
    for (const title of [
      "Records in and out",
      "Lag",
      "In flight",
      "latency",
      "Retries",
      "Failed",
      "Adaptive concurrency limit",
      "Rate limit: share",
      "waiting for a token",
      "Endpoint outages",
    ]) {
      assert.match(titles, new RegExp(title));
    }
  });

  test("image.digest pins the operator's and the processors' image", async () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const manifests = await render("--set", `image.digest=${digest}`);
    const container = manifests.find((manifest) => manifest.kind === "Deployment")?.spec?.template
      ?.spec.containers[0];
    assert.equal(container?.image, `ghcr.io/async-enrichment/async-enrichment@${digest}`);
    const processors = container.env.find((variable) => variable.name === "PROCESSOR_IMAGE");
    assert.equal(processors?.value, container.image);
  });

  test("bad values are refused by the chart's schema, naming the field", async () => {
    const refusals: [string[], RegExp][] = [
      [["--set", "replicaCount=-1"], /\/replicaCount.*minimum/],
      [["--set", "logLevel=loud"], /\/logLevel.*must be one of/],
      [["--set", "watchNamespaces={Team_A}"], /\/watchNamespaces\/0/],
      [["--set", "metrics.prot=8080"], /additional properties 'prot' not allowed/],
      [["--set", "image.digest=latest"], /\/image\/digest.*does not match pattern/],
    ];
    for (const [values, message] of refusals) {
      await assert.rejects(render(...values), message, values.join(" "));
    }
  });

  test("helm install into namespaces enforcing the restricted Pod Security Standard: the operator runs, the example job moves records, RBAC is enough and no wider", async () => {
    // The API server refuses any pod of the chart or of the operator that breaks the standard
    // (non-root, no privilege escalation, capabilities dropped, RuntimeDefault seccomp).
    await kubectl("create", "namespace", "operators");
    for (const namespace of ["operators", "default"]) {
      await kubectl(
        "label",
        "namespace",
        namespace,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=v1.33",
      );
    }
    await cluster.helm(
      "install",
      "aej",
      chart,
      "-n",
      "operators",
      "--create-namespace",
      "--set",
      "image.tag=test",
      "--set",
      "replicaCount=1",
      "--wait",
      "--timeout",
      "120s",
    );
    for (const stream of ["orders", "orders-enriched", "orders-dead-letter"]) {
      await emulator.createStream(stream, 2);
    }
    // The emulator variant, pointed at this test's emulator and endpoint.
    const manifest = readFileSync(join(repositoryRoot, "examples/emulator-job.yaml"), "utf8")
      .replace("http://localstack.localstack.svc:4566", podUrls.emulator)
      .replace("http://enrich-demo.default.svc:8080/enrich", `${podUrls.endpoint}/enrich`);
    const file = join(cluster.directory, "emulator-job.yaml");
    writeFileSync(file, manifest);
    await kubectl("apply", "-f", file);
    await waitFor(
      async () =>
        (
          JSON.parse(await kubectl("get", "aej", "orders-local", "-o", "json")) as {
            status?: { conditions?: { type: string; status: string }[] };
          }
        ).status?.conditions,
      (conditions) => conditions?.some((c) => c.type === "Ready" && c.status === "True") === true,
      { timeoutMs: 90_000, what: "the example job Ready", intervalMs: 1_000 },
    );
    // Every pod runs as the image's high uid, on a read-only root file system.
    const pods = JSON.parse(await kubectl("get", "pods", "-A", "-o", "json")) as {
      items: V1Pod[];
    };
    const ours = pods.items.filter((pod) =>
      ["operators", "default"].includes(pod.metadata?.namespace ?? ""),
    );
    assert.ok(ours.length >= 2, "the operator's and the processor's pods");
    for (const pod of ours) {
      assert.equal(pod.spec?.securityContext?.runAsUser, 65532, pod.metadata?.name);
      assert.equal(pod.spec.containers[0]?.securityContext?.readOnlyRootFilesystem, true);
    }
    await produceRecords(
      emulator.client,
      "orders",
      Array.from({ length: 200 }, (_, id) => ({
        data: Buffer.from(JSON.stringify({ id })),
        partitionKey: `k${String(id % 10)}`,
      })),
    );
    await waitFor(
      async () =>
        new Set(
          (await readAllRecords(emulator.client, "orders-enriched")).map((r) =>
            Buffer.from(r.data).toString(),
          ),
        ).size,
      (count) => count >= 200,
      { timeoutMs: 60_000, what: "200 enriched records", intervalMs: 1_000 },
    );

    // Enough: everything the operator does, in a namespace it reconciles.
    for (const check of [
      ["list", "asyncenrichmentjobs.asyncenrichment.dev", "-A"],
      ["patch", "asyncenrichmentjobs.asyncenrichment.dev", "--subresource=status", "-n", "default"],
      ["patch", "deployments.apps", "-n", "default"],
      ["create", "roles.rbac.authorization.k8s.io", "-n", "default"],
      ["update", "leases.coordination.k8s.io", "-n", "default"],
      ["create", "events.events.k8s.io", "-n", "default"],
      ["get", "secrets", "-n", "default"],
    ]) {
      assert.ok(await canI(...check), `can ${check.join(" ")}`);
    }
    // No wider: Secrets are read by name only, nothing is deleted but Leases, no pods, no escalation.
    for (const check of [
      ["list", "secrets", "-n", "default"],
      ["watch", "secrets", "-n", "default"],
      ["delete", "deployments.apps", "-n", "default"],
      ["create", "pods", "-n", "default"],
      ["update", "asyncenrichmentjobs.asyncenrichment.dev", "-n", "default"],
      ["escalate", "roles.rbac.authorization.k8s.io", "-n", "default"],
      ["create", "clusterroles.rbac.authorization.k8s.io"],
    ]) {
      assert.ok(!(await canI(...check)), `cannot ${check.join(" ")}`);
    }
  });

  test("helm upgrade with changed values rolls the operator", async () => {
    const operatorPods = async (): Promise<string[]> =>
      (
        await kubectl(
          "get",
          "pods",
          "-n",
          "operators",
          "-l",
          "app.kubernetes.io/component=operator",
          "-o",
          "jsonpath={.items[*].metadata.name}",
        )
      )
        .split(" ")
        .filter(Boolean);
    const [before] = await operatorPods();
    await cluster.helm(
      "upgrade",
      "aej",
      chart,
      "-n",
      "operators",
      "--reuse-values",
      "--set",
      "logLevel=debug",
      "--wait",
      "--timeout",
      "120s",
    );
    const pods = await waitFor(operatorPods, (names) => names.length === 1 && names[0] !== before, {
      timeoutMs: 60_000,
      what: "a new operator pod",
      intervalMs: 500,
    });
    const env = await kubectl(
      "get",
      "pod",
      "-n",
      "operators",
      pods[0] ?? "",
      "-o",
      'jsonpath={.spec.containers[0].env[?(@.name=="LOG_LEVEL")].value}',
    );
    assert.equal(env, "debug");
  });

  test("helm uninstall removes the operator and leaves the CRD and the jobs", async () => {
    await cluster.helm("uninstall", "aej", "-n", "operators", "--wait");
    await waitFor(
      () => kubectl("get", "deployments,serviceaccounts", "-n", "operators", "-o", "name"),
      (names) => !names.includes("aej-async-enrichment"),
      { timeoutMs: 60_000, what: "the operator gone", intervalMs: 500 },
    );
    assert.match(
      await kubectl("get", "crd", "asyncenrichmentjobs.asyncenrichment.dev", "-o", "name"),
      /asyncenrichmentjobs/,
    );
    assert.match(await kubectl("get", "aej", "orders-local", "-o", "name"), /orders-local/);
  });

  test("the examples are valid jobs: the API server accepts them (server-side dry run)", async () => {
    await kubectl("create", "namespace", "shop");
    for (const example of ["minimal-job.yaml", "full-job.yaml"]) {
      const output = await kubectl(
        "apply",
        "--dry-run=server",
        "-n",
        "shop",
        "-f",
        join(repositoryRoot, "examples", example),
      );
      assert.match(
        output,
        /asyncenrichmentjob.asyncenrichment.dev\/orders (created|configured) \(server dry run\)/,
      );
    }
  });

  test("watching a list of namespaces grants rights there only: no Secret elsewhere, no cluster-wide list", async () => {
    await kubectl("create", "namespace", "team-a");
    await cluster.helm(
      "install",
      "aej",
      chart,
      "-n",
      "operators",
      "--set",
      "watchNamespaces={team-a}",
      "--set",
      "image.tag=test",
    );
    assert.ok(await canI("get", "secrets", "-n", "team-a"));
    assert.ok(await canI("patch", "deployments.apps", "-n", "team-a"));
    assert.ok(
      await canI("update", "leases.coordination.k8s.io", "-n", "operators"),
      "leader election",
    );
    for (const check of [
      ["get", "secrets", "-n", "default"],
      ["get", "secrets", "-n", "kube-system"],
      ["list", "asyncenrichmentjobs.asyncenrichment.dev", "-A"],
      ["patch", "deployments.apps", "-n", "default"],
    ]) {
      assert.ok(!(await canI(...check)), `cannot ${check.join(" ")}`);
    }
    await cluster.helm("uninstall", "aej", "-n", "operators", "--wait");
  });
});
