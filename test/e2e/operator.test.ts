// The operator against a real API server and controller manager: it turns a job into its
// objects, rolls on spec changes but not on scale, reports a missing Secret and recovers, records
// a repeated Event as one series, writes nothing on a restart, and only the elected replica acts.
// (No kubelet runs here: processor pods stay Pending, which is what the status then says.)
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { EventsV1Api, KubeConfig } from "@kubernetes/client-node";
import { crdPath } from "../../operator/api/crd.ts";
import { createEventRecorder, eventsV1Sink } from "../../operator/controller/event-recorder.ts";
import type { JobObject } from "../../operator/reconcile/reconcile-job.ts";
import { startControlPlane, type ControlPlane } from "../cluster/control-plane.ts";
import { startOperator, type Operator } from "../support/operator-process.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";
import { waitFor } from "../support/wait-for.ts";

const json = <T>(text: string): T => JSON.parse(text) as T; // eslint-disable-line @typescript-eslint/no-unnecessary-type-parameters -- callers name the shape

interface Meta {
  metadata: {
    resourceVersion: string;
    ownerReferences?: { kind: string; name: string }[];
    annotations?: Record<string, string>;
  };
}
interface DeploymentView extends Meta {
  spec: { replicas: number; template: { metadata: { annotations: Record<string, string> } } };
}
interface JobView extends Meta {
  status?: {
    phase?: string;
    observedGeneration?: number;
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}
interface EventView {
  metadata: { name: string };
  reason: string;
  note: string;
  series?: { count: number; lastObservedTime: string };
}

/** When the operator logged `message` first (its pino `time`), if it did. */
function loggedAt(output: string, message: string): number | undefined {
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line) as { msg?: string; time?: string };
    if (entry.msg === message && entry.time !== undefined) return Date.parse(entry.time);
  }
  return undefined;
}

describe("the operator on a real API server", () => {
  let cluster: ControlPlane;
  let operator: Operator;
  const get = <T>(...args: string[]): T => json<T>(cluster.kubectl("get", ...args, "-o", "json")); // eslint-disable-line @typescript-eslint/no-unnecessary-type-parameters -- callers name the shape
  const exists = (...args: string[]): boolean =>
    cluster.kubectl("get", ...args, "--ignore-not-found", "-o", "name").trim() !== "";
  const patchJob = (spec: Record<string, unknown>): string =>
    cluster.kubectl("patch", "aej", "orders", "--type=merge", "-p", JSON.stringify({ spec }));
  const condition = (type: string) =>
    get<JobView>("aej", "orders").status?.conditions?.find((entry) => entry.type === type);

  before(async () => {
    cluster = await startControlPlane({ name: "operator-test" });
    cluster.installCrds(crdPath);
    operator = await startOperator(cluster, "operator-a");
  });
  after(async () => {
    await operator.stop();
    await cluster.stop();
  });

  test("a job becomes a workload, its RBAC, config and metrics Service, all owned by the job", async () => {
    cluster.kubectl("apply", "-f", join(import.meta.dirname, "../../examples/minimal-job.yaml"));
    const deployment = await waitFor(
      () =>
        exists("deployment", "orders-processor")
          ? get<DeploymentView>("deployment", "orders-processor")
          : undefined,
      (found) => found !== undefined,
      { timeoutMs: 30_000, what: "the processor Deployment" },
    );
    assert.equal(deployment?.spec.replicas, 2);
    for (const kind of [
      "serviceaccount",
      "role",
      "rolebinding",
      "configmap",
      "service",
      "networkpolicy",
    ]) {
      const name = kind === "service" ? "orders-processor-metrics" : "orders-processor";
      const object = get<Meta>(kind, name);
      assert.deepEqual(
        object.metadata.ownerReferences?.map((owner) => [owner.kind, owner.name]),
        [["AsyncEnrichmentJob", "orders"]],
        kind,
      );
    }
    const status = await waitFor(
      () => get<JobView>("aej", "orders").status,
      (found) => found?.observedGeneration === 1,
      {
        timeoutMs: 30_000,
        what: "status for generation 1",
      },
    );
    assert.equal(status?.phase, "Pending", "no kubelet runs the pods here");
    assert.equal(condition("Progressing")?.reason, "RollingOut");
  });

  test("an owned object deleted or edited by hand is repaired at once, from the informer's event", async () => {
    const uid = (): string =>
      exists("configmap", "orders-processor")
        ? get<Meta & { metadata: { uid: string } }>("configmap", "orders-processor").metadata.uid
        : "";
    const before = uid();
    cluster.kubectl("delete", "configmap", "orders-processor");
    await waitFor(uid, (now) => now !== "" && now !== before, {
      timeoutMs: 10_000,
      what: "the ConfigMap re-created",
    });
    cluster.kubectl(
      "patch",
      "role",
      "orders-processor",
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/rules/0"}]',
    );
    await waitFor(
      () =>
        cluster.kubectl("get", "role", "orders-processor", "-o", "jsonpath={.rules[*].resources}"),
      (resources) => resources.includes("leases"),
      { timeoutMs: 10_000, what: "the Role's rules restored" },
    );
  });

  test("a spec change rolls the pods; kubectl scale changes replicas without a roll", async () => {
    const hash = (): string =>
      get<DeploymentView>("deployment", "orders-processor").spec.template.metadata.annotations[
        "asyncenrichment.dev/config-hash"
      ] ?? "";
    const before = hash();
    cluster.kubectl("scale", "aej/orders", "--replicas=4");
    await waitFor(
      () => get<DeploymentView>("deployment", "orders-processor").spec.replicas,
      (replicas) => replicas === 4,
      {
        timeoutMs: 20_000,
        what: "4 replicas",
      },
    );
    assert.equal(hash(), before, "scaling does not roll");
    patchJob({ capacity: 50 });
    await waitFor(hash, (now) => now !== before, { timeoutMs: 20_000, what: "a new config hash" });
    assert.match(
      cluster.kubectl(
        "get",
        "configmap",
        "orders-processor",
        "-o",
        "jsonpath={.data.config\\.json}",
      ),
      /"capacity": 50/,
    );
  });

  test("a missing Secret reports Degraded with that reason, and the job recovers when it appears", async () => {
    patchJob({
      endpoint: {
        url: "http://scoring.shop.svc:8080/score",
        headers: [
          {
            name: "authorization",
            valueFrom: { secretKeyRef: { name: "scoring-token", key: "token" } },
          },
        ],
      },
    });
    const degraded = await waitFor(
      () => condition("Degraded"),
      (found) => found?.reason === "SecretNotFound",
      {
        timeoutMs: 20_000,
        what: "Degraded SecretNotFound",
      },
    );
    assert.match(
      degraded?.message ?? "",
      /Secret scoring-token \(key token\), referenced by spec\.endpoint\.headers\[0\]\.valueFrom, is missing/,
    );
    assert.match(
      cluster.kubectl("get", "events", "--field-selector", "reason=SecretNotFound"),
      /SecretNotFound/,
    );
    cluster.kubectl("create", "secret", "generic", "scoring-token", "--from-literal=token=s3cr3t");
    await waitFor(
      () => condition("Degraded"),
      (found) => found?.status === "False",
      { timeoutMs: 30_000, what: "recovery" },
    );
    const podSpec = JSON.stringify(get<DeploymentView>("deployment", "orders-processor").spec);
    assert.doesNotMatch(
      podSpec + cluster.kubectl("get", "configmap", "orders-processor", "-o", "json"),
      /s3cr3t/,
      "no secret value in spec or ConfigMap",
    );
  });

  test("the Event recorder patches a repeat into one Event's series, and creates one deleted meanwhile again", async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.kubeconfig);
    const record = createEventRecorder(eventsV1Sink(kubeConfig.makeApiClient(EventsV1Api)), {
      controller: "asyncenrichment.dev/operator",
      instance: "e2e",
    });
    const job = get<JobObject>("aej", "orders");
    const recorded = () =>
      get<{ items: EventView[] }>("events.events.k8s.io").items.filter(
        (event) => event.reason === "RecordedAgain",
      );
    for (let occurrence = 0; occurrence < 3; occurrence++)
      await record(job, "Warning", "RecordedAgain", "The same note each time.");
    const [series, ...more] = recorded();
    assert.deepEqual(more, [], "one Event");
    assert.equal(series?.series?.count, 3);
    assert.match(series.series.lastObservedTime, /\.\d{6}Z$/);
    cluster.kubectl("delete", "events.events.k8s.io", series.metadata.name);
    await record(job, "Warning", "RecordedAgain", "The same note each time.");
    assert.deepEqual(
      recorded().map((event) => [event.metadata.name, event.series?.count, event.note]),
      [[series.metadata.name, 4, "The same note each time."]],
    );
  });

  test("a restarted operator reconciles every job and writes nothing when nothing changed", async () => {
    // Suspended, the workload settles at 0 replicas: no controller keeps changing what the
    // operator observes (without a kubelet, a rollout of Pending pods would go on and on).
    patchJob({ suspend: true });
    await waitFor(
      () => condition("Progressing"),
      (found) => found?.reason === "Paused",
      {
        timeoutMs: 30_000,
        what: "the suspended job to settle",
      },
    );
    await operator.stop();
    operator = await startOperator(cluster, "operator-b");
    const reconciled = /aej_operator_reconciles_total\{result="success"\} (\d+)/;
    const metrics = await waitFor(
      () => operator.metrics().catch(() => ""),
      (text) => Number(reconciled.exec(text)?.[1] ?? 0) >= 1,
      { timeoutMs: 30_000, what: "the new operator to reconcile the job" },
    );
    const writes = metrics
      .split("\n")
      .filter((line) => line.startsWith("aej_operator_writes_total{"));
    assert.deepEqual(writes, [], "no server-side apply and no status write");
  });

  test("with two replicas only the leader acts", async () => {
    const standby = await startOperator(cluster, "operator-c");
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const holder = cluster.kubectl(
        "get",
        "lease",
        "async-enrichment-operator",
        "-n",
        "default",
        "-o",
        "jsonpath={.spec.holderIdentity}",
      );
      assert.equal(holder, "operator-b");
      assert.doesNotMatch(standby.output(), /watching AsyncEnrichmentJobs/);
      await operator.stop();
      await waitFor(standby.output, (output) => output.includes("watching AsyncEnrichmentJobs"), {
        timeoutMs: 30_000,
        what: "the standby to take over once the leader released the Lease",
      });
    } finally {
      operator = standby;
    }
  });

  test("a leader cut off from the API server stops acting before a standby takes over, and the standby reconciles", async (t) => {
    const proxy = await startTcpProxy({ host: "127.0.0.1", port: cluster.port });
    const viaProxy = join(cluster.directory, "partitioned.kubeconfig");
    writeFileSync(
      viaProxy,
      readFileSync(cluster.kubeconfig, "utf8").replaceAll(
        cluster.server,
        `https://${proxy.address}`,
      ),
    );
    await operator.stop();
    const partitioned = await startOperator(cluster, "operator-partitioned", {
      KUBECONFIG: viaProxy,
    });
    let standby: Operator | undefined;
    try {
      await waitFor(
        partitioned.output,
        (output) => loggedAt(output, "became the leader") !== undefined,
        {
          timeoutMs: 30_000,
          what: "the operator behind the proxy to lead",
        },
      );
      standby = await startOperator(cluster, "operator-standby");
      proxy.cut();
      const cutAt = Date.now();
      await waitFor(
        standby.output,
        (output) => loggedAt(output, "became the leader") !== undefined,
        {
          timeoutMs: 60_000,
          what: "the standby to take over",
        },
      );
      const stoppedAt = loggedAt(partitioned.output(), "lost leadership; exiting");
      const tookOverAt = loggedAt(standby.output(), "became the leader");
      assert.ok(stoppedAt !== undefined, "the cut-off leader stopped by itself");
      assert.ok(tookOverAt !== undefined);
      t.diagnostic(
        `cut-off leader stopped ${String(stoppedAt - cutAt)} ms after the cut; standby led ${String(tookOverAt - cutAt)} ms after it (${String(tookOverAt - stoppedAt)} ms with no leader)`,
      );
      assert.ok(stoppedAt < tookOverAt, "never two leaders at once");
      patchJob({ suspend: false, parallelism: 3 });
      await waitFor(
        () => get<DeploymentView>("deployment", "orders-processor").spec.replicas,
        (replicas) => replicas === 3,
        { timeoutMs: 20_000, what: "the new leader to reconcile a change" },
      );
    } finally {
      await partitioned.stop();
      await proxy.close();
      if (standby !== undefined) operator = standby;
    }
  });

  test("deleting the job garbage-collects everything it owned", async () => {
    cluster.kubectl("delete", "aej", "orders", "--wait=true");
    await waitFor(
      () =>
        ["deployment", "configmap", "role", "rolebinding", "serviceaccount"].filter((kind) =>
          exists(kind, "orders-processor"),
        ),
      (left) => left.length === 0,
      { timeoutMs: 60_000, what: "owned objects to be deleted" },
    );
  });
});
