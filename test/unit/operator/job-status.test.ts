import assert from "node:assert/strict";
import { test } from "node:test";
import { jobSpecSchema } from "../../../operator/api/job-schema.ts";
import { jobStatus, type Observed } from "../../../operator/reconcile/job-status.ts";
import type { Job } from "../../../operator/reconcile/job.ts";

const job: Job = {
  namespace: "shop",
  name: "orders",
  uid: "uid-1",
  generation: 4,
  spec: jobSpecSchema.parse({
    aws: { region: "eu-west-1" },
    source: { stream: "orders" },
    sink: { stream: "out" },
    deadLetter: { stream: "dead" },
    endpoint: { url: "http://scoring" },
    parallelism: 3,
  }),
};

const healthy: Observed = {
  desiredReplicas: 3,
  replicas: 3,
  readyReplicas: 3,
  updatedReplicas: 3,
  selector: "asyncenrichment.dev/job=orders",
  podProblems: [],
  missingSecrets: [],
  shards: {
    shards: 6,
    owned: 6,
    unowned: [],
    processors: [
      { pod: "orders-processor-a", shards: 3, concurrencyLimit: 7 },
      { pod: "orders-processor-b", shards: 3, concurrencyLimit: 10 },
    ],
    concurrencyLimit: 17,
    readable: 0,
    loads: [],
    maxLagMillis: 1200,
    recordsInPerSecond: 900,
    recordsPerSecond: 880,
    failedPerSecond: 0,
    failure: undefined,
    readError: undefined,
    endpointOutage: undefined,
  },
};

const condition = (status: ReturnType<typeof jobStatus>, type: string) =>
  status.conditions?.find((entry) => entry.type === type);

test("all processors ready: Running, Ready, rollout complete, not degraded", () => {
  const status = jobStatus(job, [], healthy, new Date("2026-11-24T10:00:00Z"));
  assert.equal(status.phase, "Running");
  assert.equal(status.observedGeneration, 4);
  assert.equal(condition(status, "Ready")?.status, "True");
  assert.equal(condition(status, "Progressing")?.reason, "RolloutComplete");
  assert.equal(condition(status, "Degraded")?.status, "False");
  assert.ok(status.conditions?.every((entry) => entry.observedGeneration === 4));
});

test("lastTransitionTime moves only when a condition's status flips", () => {
  const first = jobStatus(job, [], healthy, new Date("2026-11-24T10:00:00Z"));
  const same = jobStatus(job, first.conditions ?? [], healthy, new Date("2026-11-24T11:00:00Z"));
  assert.deepEqual(same, first, "a resync that finds the same state produces the same status");
  const rolling = jobStatus(
    job,
    first.conditions ?? [],
    { ...healthy, readyReplicas: 2, updatedReplicas: 1 },
    new Date("2026-11-24T12:00:00Z"),
  );
  assert.equal(condition(rolling, "Ready")?.lastTransitionTime, "2026-11-24T12:00:00Z");
  assert.equal(condition(rolling, "Degraded")?.lastTransitionTime, "2026-11-24T10:00:00Z");
  assert.equal(condition(rolling, "Progressing")?.reason, "RollingOut");
});

test("a missing Secret degrades the job with a reason and a message that says what to do", () => {
  const status = jobStatus(
    job,
    [],
    {
      ...healthy,
      readyReplicas: 0,
      missingSecrets: [
        { secret: "scoring-token", key: "token", field: "spec.endpoint.headers[1].valueFrom" },
      ],
    },
    new Date(),
  );
  assert.equal(status.phase, "Degraded");
  assert.equal(condition(status, "Degraded")?.reason, "SecretNotFound");
  assert.match(
    condition(status, "Ready")?.message ?? "",
    /Secret scoring-token \(key token\), referenced by spec\.endpoint\.headers\[1\]\.valueFrom, is missing in namespace shop: create it/,
  );
});

test("crash-looping pods degrade the job and name the pod to look at", () => {
  const status = jobStatus(
    job,
    [],
    {
      ...healthy,
      readyReplicas: 2,
      podProblems: [
        {
          pod: "orders-processor-abc",
          reason: "CrashLoopBackOff",
          message: "back-off 40s restarting",
        },
      ],
    },
    new Date(),
  );
  assert.equal(condition(status, "Degraded")?.reason, "ProcessorsCrashLoopBackOff");
  assert.match(
    condition(status, "Degraded")?.message ?? "",
    /kubectl logs orders-processor-abc -n shop/,
  );
});

test("a suspended job is Paused, and Progressing while its pods drain", () => {
  const suspended = { ...job, spec: { ...job.spec, suspend: true } };
  const draining = jobStatus(suspended, [], { ...healthy, desiredReplicas: 0 }, new Date());
  assert.equal(draining.phase, "Paused");
  assert.equal(condition(draining, "Progressing")?.reason, "Draining");
  const settled = jobStatus(
    suspended,
    [],
    { ...healthy, desiredReplicas: 0, replicas: 0, readyReplicas: 0, updatedReplicas: 0 },
    new Date(),
  );
  assert.equal(condition(settled, "Progressing")?.status, "False");
  assert.match(condition(settled, "Ready")?.message ?? "", /spec\.suspend is true/);
});

test("records failing at the endpoint: Degraded RecordsFailing says where they go and what to check", () => {
  const status = jobStatus(
    job,
    [],
    {
      ...healthy,
      shards: {
        ...healthy.shards,
        failedPerSecond: 12,
        failure: { shardId: "shardId-000000000002", reason: "HTTP 503 after 3 attempts" },
      },
    },
    new Date("2026-11-24T10:00:00Z"),
  );
  assert.equal(status.phase, "Degraded");
  assert.equal(status.failedPerSecond, 12);
  const degraded = condition(status, "Degraded");
  assert.equal(degraded?.reason, "RecordsFailing");
  assert.match(degraded.message, /12 records\/s fail .* dead-letter stream dead/);
  assert.match(degraded.message, /HTTP 503 after 3 attempts/);
  assert.match(degraded.message, /http:\/\/scoring is up/);
  assert.equal(condition(status, "Ready")?.status, "True", "failing records do not stop the job");
});

test("the status shows the processors' summed concurrency limit against the desired pods x capacity", () => {
  const status = jobStatus(job, [], healthy, new Date("2026-11-24T10:00:00Z"));
  assert.equal(status.concurrencyLimit, 17);
  // 3 desired pods x the default capacity of 10.
  assert.equal(status.maxConcurrency, 30);
  assert.deepEqual(
    status.processors?.map((processor) => processor.concurrencyLimit),
    [7, 10],
  );
  const scaledDown = jobStatus(job, [], { ...healthy, desiredReplicas: 1 }, new Date());
  assert.equal(scaledDown.maxConcurrency, job.spec.capacity);
});
