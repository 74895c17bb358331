// reconcileJob against an API server and informers in memory (in-memory-job-cluster.ts), with the
// processors' Leases built as they write them (job-leases.ts): the order of its writes, what a
// failed write leaves, and, over seeded random runs, that a rescale is recorded before it is acted on.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobSpecInput } from "../../../operator/api/job-schema.ts";
import { reconcileJob } from "../../../operator/reconcile/reconcile-job.ts";
import {
  apiError,
  createInMemoryJobCluster,
  key,
  name,
  namespace,
  type Call,
  type InMemoryJobCluster,
} from "./in-memory-job-cluster.ts";
import { minimalSpec } from "./job-fixture.ts";
import { busy, processorLeases, type PodReport } from "./job-leases.ts";

const start = new Date("2026-11-30T12:00:00Z");
const autoscaling = { maxParallelism: 6, targetUtilization: 0.8, catchUpSeconds: 60 };
const autoscaled: JobSpecInput = { ...minimalSpec, capacity: 10, parallelism: 1, autoscaling };

/** Each call by its kind, with what tells it apart: the kind applied, the Event's reason. */
const steps = (calls: readonly Call[]): string[] =>
  calls
    .filter((call) => call.op !== "onAutoscaled")
    .map((call) => {
      if (call.op === "apply") return `apply ${call.object.kind ?? ""}`;
      if (call.op === "recordEvent") return `event ${call.reason}`;
      if (call.op === "scaleJob") return `scaleJob ${String(call.parallelism)}`;
      return call.op;
    });

type Of<Op extends Call["op"]> = Extract<Call, { op: Op }>;
const only = <Op extends Call["op"]>(calls: readonly Call[], op: Op): Of<Op>[] =>
  calls.filter((call): call is Of<Op> => call.op === op);

const writes = (calls: readonly Call[]): Call[] =>
  calls.filter((call) => ["writeStatus", "scaleJob", "apply"].includes(call.op));

/** The processors run what the Deployment asks, and report these figures. */
function running(cluster: InMemoryJobCluster, report: PodReport): void {
  cluster.rollOut();
  const replicas = cluster.deployment()?.status?.readyReplicas ?? 0;
  const pods = Array.from({ length: replicas }, (_, index) => `${name}-processor-${String(index)}`);
  cluster.setLeases(
    processorLeases({ namespace, job: name, shards: 8, pods, report, now: cluster.now() }),
  );
}

/** Reconciles and returns the calls it made. */
async function reconcile(cluster: InMemoryJobCluster): Promise<Call[]> {
  const before = cluster.calls.length;
  await reconcileJob(cluster.context, key);
  return cluster.calls.slice(before);
}

/**
 * A job of 1 pod with a backlog, reconciled once (its objects created, the autoscaler waiting for
 * the pods), then running at its Little's bound of 200 records/s, 60 s behind: 3 pods are called
 * for, ⌈(200 + 200 × 60 s / 60 s) / (200 × 0.8)⌉.
 */
async function backlogged(): Promise<InMemoryJobCluster> {
  const cluster = createInMemoryJobCluster(autoscaled, start);
  await reconcileJob(cluster.context, key);
  cluster.advance(10_000);
  running(cluster, busy(200, 60_000));
  cluster.sync();
  cluster.calls.length = 0;
  return cluster;
}

describe("a rescale is recorded, then written to spec.parallelism, then acted on", () => {
  test("the status (with scalingFrom) before scaleJob, scaleJob before the Deployment, which runs the decision", async () => {
    const cluster = await backlogged();
    const calls = await reconcile(cluster);
    const order = steps(calls);
    const status = order.indexOf("writeStatus");
    assert.ok(status >= 0 && status < order.indexOf("scaleJob 3"), order.join(", "));
    assert.ok(order.indexOf("scaleJob 3") < order.indexOf("apply Deployment"), order.join(", "));
    const written = calls.find((call) => call.op === "writeStatus");
    assert.equal(written?.status.autoscaling?.current, 3);
    assert.equal(written.status.autoscaling.scalingFrom, 1);
    assert.equal(cluster.deployment()?.spec?.replicas, 3);
    assert.equal((cluster.job().spec as JobSpecInput).parallelism, 3);
    assert.deepEqual(
      calls.filter((call) => call.op === "recordEvent").map((call) => call.reason),
      ["ScaledUp"],
    );
  });

  test("a status write that fails changes nothing else, and the error goes back to the queue", async () => {
    const cluster = await backlogged();
    const refused = apiError(422, "admission policy refuses status.autoscaling");
    cluster.fails = (write) => (write === "writeStatus" ? refused : undefined);
    await assert.rejects(reconcile(cluster), (error) => error === refused);
    assert.deepEqual(
      cluster.calls.filter((call) => call.op === "scaleJob" || call.op === "apply"),
      [],
    );
    assert.equal(
      cluster.calls.some((call) => call.op === "recordEvent"),
      false,
      "no ScaledUp yet",
    );
    assert.equal((cluster.job().spec as JobSpecInput).parallelism, 1);
    assert.equal(cluster.job().status?.autoscaling?.current, 1);
    assert.equal(cluster.deployment()?.spec?.replicas, 1);
  });

  test("a scale write that fails is a Warning; the Deployment follows the decision and the error comes last", async () => {
    const cluster = await backlogged();
    const refused = apiError(403, "asyncenrichmentjobs/scale is forbidden");
    cluster.fails = (write) => (write === "scaleJob" ? refused : undefined);
    await assert.rejects(reconcile(cluster), (error) => error === refused);
    const warning = only(cluster.calls, "recordEvent").find(
      (call) => call.reason === "FailedUpdateScale",
    );
    assert.equal(warning?.type, "Warning");
    assert.match(
      warning.message,
      /^Could not set spec\.parallelism to 3 .*: asyncenrichmentjobs\/scale is forbidden\. The processors run 3 pods meanwhile/,
    );
    assert.equal(steps(cluster.calls).at(-1), "apply Deployment", "nothing after the Deployment");
    assert.equal(cluster.deployment()?.spec?.replicas, 3);
    assert.equal((cluster.job().spec as JobSpecInput).parallelism, 1);
    assert.equal(cluster.job().status?.autoscaling?.scalingFrom, 1);

    // Retried from the status: the write is sent again, and spec.parallelism at 1 is no change by hand.
    cluster.fails = () => undefined;
    cluster.advance(2_000);
    cluster.sync();
    const retry = steps(await reconcile(cluster));
    assert.deepEqual(
      retry.filter((step) => step.startsWith("scaleJob") || step.startsWith("event")),
      ["scaleJob 3"],
    );
    assert.equal((cluster.job().spec as JobSpecInput).parallelism, 3);
  });
});

describe("other reconciles", () => {
  test("apply the objects first and write the status last; an unchanged status is not written", async () => {
    const cluster = createInMemoryJobCluster(autoscaled, start);
    const order = steps(await reconcile(cluster));
    assert.deepEqual(order, [
      "readJob",
      "apply ServiceAccount",
      "apply Role",
      "apply RoleBinding",
      "apply ConfigMap",
      "apply Service",
      "apply NetworkPolicy",
      "apply Deployment",
      "writeStatus",
      "event ProcessorsNotReady",
    ]);
    cluster.sync();
    cluster.advance(3_000);
    assert.deepEqual(writes(await reconcile(cluster)), []);
  });

  test("a stale cache: a decision that would write is taken again on the job read past the cache", async () => {
    const cluster = await backlogged();
    await reconcile(cluster);
    const recorded = cluster.job().status?.autoscaling;
    // The informers have not seen the rescale's writes: the cached job would rescale again.
    cluster.advance(2_000);
    const calls = await reconcile(cluster);
    assert.equal(calls.filter((call) => call.op === "readJob").length, 1);
    assert.deepEqual(
      steps(calls).filter((step) => step.startsWith("scaleJob") || step.startsWith("event")),
      [],
      "the rescale is not taken twice",
    );
    const written = calls.find((call) => call.op === "writeStatus");
    assert.equal(written?.status.autoscaling?.current, 3);
    assert.equal(written.status.autoscaling.scalingFrom, undefined, "the scale write is seen");
    assert.deepEqual(written.status.autoscaling.lagSample, recorded?.lagSample);

    cluster.sync();
    cluster.advance(1_000);
    const quiet = await reconcile(cluster);
    assert.deepEqual(
      quiet.filter((call) => call.op === "readJob" || call.op === "writeStatus"),
      [],
      "a decision that writes nothing reads nothing",
    );
  });

  test("a spec the operator cannot run: Failed, Degraded InvalidSpec naming the field, nothing applied", async () => {
    const cluster = createInMemoryJobCluster({ ...autoscaled, capacity: -1 }, start);
    const calls = await reconcile(cluster);
    assert.deepEqual(steps(calls), ["writeStatus"]);
    const written = calls.find((call) => call.op === "writeStatus");
    assert.equal(written?.status.phase, "Failed");
    const degraded = written.status.conditions?.find((condition) => condition.type === "Degraded");
    assert.equal(degraded?.reason, "InvalidSpec");
    assert.match(degraded.message, /^spec is invalid: capacity: /);
    assert.deepEqual(
      calls.filter((call) => call.op === "onAutoscaled").map((call) => call.status),
      [undefined],
    );
    cluster.sync();
    assert.deepEqual(writes(await reconcile(cluster)), [], "refused once");
  });

  test("without spec.autoscaling the Deployment runs spec.parallelism, whatever the figures", async () => {
    const cluster = createInMemoryJobCluster(
      { ...autoscaled, autoscaling: undefined, parallelism: 2 },
      start,
    );
    await reconcile(cluster);
    cluster.advance(10_000);
    running(cluster, busy(200, 60_000));
    cluster.sync();
    cluster.advance(20_000);
    const calls = await reconcile(cluster);
    assert.equal(
      calls.some((call) => call.op === "scaleJob" || call.op === "readJob"),
      false,
    );
    assert.equal(cluster.deployment()?.spec?.replicas, 2);
    assert.equal(cluster.job().status?.autoscaling, undefined);
  });
});

describe("informers that catch up at different times", () => {
  test(
    "a rescale stands while the job's informer lags the Deployment's",
    {
      todo: "reconcileJob takes the cached job's decision when it writes nothing to the job, though the Deployment would change: the stale job sets the Deployment back and overwrites the recorded rescale",
    },
    async () => {
      const cluster = await backlogged();
      await reconcile(cluster);
      assert.equal(cluster.job().status?.autoscaling?.current, 3);
      // The Deployment's watch delivers the rescale (and queues the job) before the job's watch.
      cluster.sync("Deployment");
      cluster.advance(1_000);
      const calls = await reconcile(cluster);
      assert.equal(cluster.deployment()?.spec?.replicas, 3, steps(calls).join(", "));
      assert.equal(cluster.job().status?.autoscaling?.current, 3, "the recorded decision stands");

      cluster.sync();
      cluster.advance(1_000);
      const later = await reconcile(cluster);
      assert.deepEqual(
        only(later, "recordEvent").map((call) => call.reason),
        [],
        "the operator's own rescale is no change by hand",
      );
      assert.equal(cluster.deployment()?.spec?.replicas, 3);
    },
  );
});
