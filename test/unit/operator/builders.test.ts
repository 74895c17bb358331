// Desired objects are pure functions of the job: plain objects in, plain objects out.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { processorConfigSchema } from "../../../processor/config/schema.ts";
import { jobSpecSchema, type JobSpecInput } from "../../../operator/api/job-schema.ts";
import { desiredConfigMap, podTemplateHash } from "../../../operator/reconcile/desired-config.ts";
import {
  desiredRole,
  desiredRoleBinding,
  desiredServiceAccount,
} from "../../../operator/reconcile/desired-rbac.ts";
import { desiredNetworkPolicy } from "../../../operator/reconcile/desired-network-policy.ts";
import { desiredDeployment } from "../../../operator/reconcile/desired-workload.ts";
import type { Job } from "../../../operator/reconcile/job.ts";

const settings = { defaultImage: "ghcr.io/async-enrichment/async-enrichment:0.1.0" };

function job(spec: Partial<JobSpecInput> = {}): Job {
  return {
    namespace: "shop",
    name: "orders",
    uid: "0d5f1f1e-5c7a-4a43-9d2e-6b1f6f3c2a11",
    generation: 1,
    spec: jobSpecSchema.parse({
      aws: { region: "eu-west-1" },
      source: { stream: "orders" },
      sink: { stream: "orders-enriched" },
      deadLetter: { stream: "orders-dead" },
      endpoint: {
        url: "https://scoring.shop.svc/score",
        headers: [
          { name: "x-tenant", value: "shop" },
          {
            name: "authorization",
            valueFrom: { secretKeyRef: { name: "scoring-token", key: "token" } },
          },
        ],
      },
      parallelism: 3,
      ...spec,
    }),
  };
}

describe("processor config", () => {
  test("is a valid processor config, with secret headers named only by environment variable", () => {
    const data = desiredConfigMap(job()).data?.["config.json"] ?? "";
    const config = processorConfigSchema.parse(JSON.parse(data));
    assert.equal(config.jobName, "shop/orders");
    assert.deepEqual(config.endpoint.headers, [
      { name: "x-tenant", value: "shop" },
      { name: "authorization", fromEnv: "AEJ_HEADER_1" },
    ]);
    assert.doesNotMatch(data, /scoring-token/, "the Secret's name is not even in the ConfigMap");
  });

  test("field partition keys become the processor's field form", () => {
    const data =
      desiredConfigMap(job({ sink: { stream: "out", partitionKey: "field:customerId" } })).data?.[
        "config.json"
      ] ?? "";
    assert.deepEqual(processorConfigSchema.parse(JSON.parse(data)).sink.partitionKey, {
      field: "customerId",
    });
  });
});

describe("shard lease coordination", () => {
  const coordination = (spec: Partial<JobSpecInput> = {}) =>
    processorConfigSchema.parse(JSON.parse(desiredConfigMap(job(spec)).data?.["config.json"] ?? ""))
      .coordination;

  test("processors share shards through Leases owned by the job, labelled for the operator", () => {
    assert.deepEqual(coordination(), {
      type: "kubernetes",
      namespace: "shop",
      leasePrefix: "orders",
      labels: {
        "asyncenrichment.dev/job": "orders",
        "app.kubernetes.io/component": "shard-lease",
        "app.kubernetes.io/name": "async-enrichment",
        "app.kubernetes.io/instance": "orders",
        "app.kubernetes.io/managed-by": "async-enrichment-operator",
      },
      // No blockOwnerDeletion: processors may not set it on the job.
      owner: {
        apiVersion: "asyncenrichment.dev/v1alpha1",
        kind: "AsyncEnrichmentJob",
        name: "orders",
        uid: "0d5f1f1e-5c7a-4a43-9d2e-6b1f6f3c2a11",
      },
      leaseDurationSeconds: 5,
      renewIntervalMs: 2_000,
      maxStealsPerRenewal: 100,
    });
  });

  test("retainOnDelete leaves the owner out, so the checkpoints outlive the job", () => {
    const config = coordination({ leases: { retainOnDelete: true, leaseDurationSeconds: 20 } });
    assert.equal(config.type === "kubernetes" ? config.owner : "memory", undefined);
    assert.equal(config.type === "kubernetes" ? config.leaseDurationSeconds : 0, 20);
  });

  test("lease timing is part of the pod template hash, so changing it rolls the pods", () => {
    assert.notEqual(
      podTemplateHash(job()),
      podTemplateHash(job({ leases: { leaseDurationSeconds: 20 } })),
    );
  });
});

describe("workload", () => {
  test("runs parallelism replicas, none when suspended or at parallelism 0", () => {
    assert.equal(desiredDeployment(job(), settings).spec?.replicas, 3);
    assert.equal(desiredDeployment(job({ suspend: true }), settings).spec?.replicas, 0);
    assert.equal(desiredDeployment(job({ parallelism: 0 }), settings).spec?.replicas, 0);
  });

  test("a spec change or a new restartNonce rolls the pods; a scale change does not", () => {
    const base = podTemplateHash(job());
    assert.equal(podTemplateHash(job({ parallelism: 7 })), base);
    assert.notEqual(podTemplateHash(job({ capacity: 20 })), base);
    assert.notEqual(podTemplateHash(job({ restartNonce: "2026-11-24" })), base);
    const annotation = desiredDeployment(job(), settings).spec?.template.metadata?.annotations?.[
      "asyncenrichment.dev/config-hash"
    ];
    assert.equal(annotation, base);
  });

  test("header secrets and AWS credentials reach the pod as secretKeyRef environment variables", () => {
    const deployment = desiredDeployment(
      job({ aws: { region: "eu-west-1", credentialsSecretRef: { name: "aws" } } }),
      settings,
    );
    const env = deployment.spec?.template.spec?.containers[0]?.env ?? [];
    assert.deepEqual(env.find((variable) => variable.name === "AEJ_HEADER_1")?.valueFrom, {
      secretKeyRef: { name: "scoring-token", key: "token" },
    });
    assert.deepEqual(env.find((variable) => variable.name === "AWS_SECRET_ACCESS_KEY")?.valueFrom, {
      secretKeyRef: { name: "aws", key: "AWS_SECRET_ACCESS_KEY", optional: false },
    });
    assert.ok(
      env.every((variable) => variable.value === undefined),
      "no literal values in the pod spec",
    );
  });

  test("pods are locked down and owned by the job", () => {
    const deployment = desiredDeployment(job(), settings);
    const container = deployment.spec?.template.spec?.containers[0];
    assert.equal(container?.image, settings.defaultImage);
    assert.deepEqual(container.securityContext?.capabilities?.drop, ["ALL"]);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(deployment.spec?.template.spec?.securityContext?.runAsNonRoot, true);
    assert.equal(deployment.spec.template.spec.securityContext.runAsUser, 65532);
    assert.equal(deployment.metadata?.ownerReferences?.[0]?.uid, job().uid);
    assert.equal(deployment.spec.strategy?.rollingUpdate?.maxSurge, 0);
  });

  test("pods get default requests and a memory limit, unless the job names its own", () => {
    const defaults = desiredDeployment(job(), settings).spec?.template.spec?.containers[0];
    assert.deepEqual(defaults?.resources?.limits, { memory: "209Mi" });
    assert.equal(defaults.resources.requests?.cpu, "100m");
    const own = { requests: { cpu: "2" }, limits: { memory: "1Gi" } };
    const named = desiredDeployment(job({ pod: { resources: own } }), settings).spec?.template.spec
      ?.containers[0];
    assert.deepEqual(named?.resources, own);
  });

  test("the processor's heap limit follows its memory limit, passed to node before the script", () => {
    const args = (spec: Partial<JobSpecInput>) =>
      desiredDeployment(job(spec), settings).spec?.template.spec?.containers[0]?.args ?? [];
    assert.deepEqual(args({}).slice(0, 3), [
      "--max-old-space-size=156",
      "--max-semi-space-size=4",
      "processor/main.js",
    ]);
    const limited = { pod: { resources: { limits: { memory: "1Gi" } } } };
    assert.equal(args(limited)[0], "--max-old-space-size=768");
    const unlimited = { pod: { resources: { requests: { memory: "1Gi" } } } };
    assert.equal(args(unlimited)[0], "processor/main.js");
  });
});

describe("RBAC", () => {
  test("processors may manage Leases and nothing else", () => {
    const rules = desiredRole(job()).rules ?? [];
    assert.deepEqual(
      rules.map((rule) => [rule.apiGroups, rule.resources]),
      [[["coordination.k8s.io"], ["leases"]]],
    );
  });

  test("a job naming its own service account gets none created, and the binding points at its", () => {
    const custom = job({ pod: { serviceAccountName: "orders-irsa" } });
    assert.equal(desiredServiceAccount(custom), undefined);
    assert.equal(desiredRoleBinding(custom).subjects?.[0]?.name, "orders-irsa");
    assert.equal(desiredRoleBinding(job()).subjects?.[0]?.name, "orders-processor");
  });
});

describe("network policy", () => {
  test("only the processors' metrics port accepts connections; egress stays open", () => {
    const policy = desiredNetworkPolicy(job());
    const pods = desiredDeployment(job(), settings).spec?.template.metadata?.labels ?? {};
    const selected = policy.spec?.podSelector?.matchLabels ?? {};
    assert.ok(Object.keys(selected).length > 0);
    for (const [key, value] of Object.entries(selected)) assert.equal(pods[key], value, key);
    assert.deepEqual(policy.spec?.policyTypes, ["Ingress"]);
    assert.deepEqual(policy.spec.ingress, [{ ports: [{ port: "metrics", protocol: "TCP" }] }]);
    const ports = desiredDeployment(job(), settings).spec?.template.spec?.containers[0]?.ports;
    assert.ok(
      ports?.some((port) => port.name === "metrics"),
      "the container names the port",
    );
    assert.equal(policy.metadata?.ownerReferences?.[0]?.uid, job().uid);
  });
});
