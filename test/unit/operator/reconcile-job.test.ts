// reconcileJob against an API server and informers in memory (in-memory-job-cluster.ts), with the
// processors' Leases built as they write them (job-leases.ts): the order of its writes, what a
// failed write leaves, and, over seeded random runs, that a rescale is recorded before it is acted on.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { V1Deployment } from "@kubernetes/client-node";
import { kind as jobKind, type JobSpecInput } from "../../../operator/api/job-schema.ts";
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
import { seededRandom } from "../seeded-random.ts";
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
  renewed(cluster, report);
}

/** The ready pods hold the shards evenly and have just renewed their heartbeats. */
function renewed(cluster: InMemoryJobCluster, report: PodReport): void {
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
      cluster.calls.filter(
        (call) => call.op === "scaleJob" || call.op === "apply" || call.op === "onAutoscaled",
      ),
      [],
      "nothing written, applied, or shown in the metrics",
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

  test("a stale cache: every decision is taken on the job read past the cache, so none is taken twice", async () => {
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
      quiet.filter((call) => call.op === "readJob" || call.op === "writeStatus").map((c) => c.op),
      ["readJob"],
      "every decision is taken on the job read past the cache, and this one writes nothing",
    );
  });

  test("a job deleted since its informer saw it: nothing decided, written or applied", async () => {
    const cluster = await backlogged();
    cluster.deleteJob();
    const calls = await reconcile(cluster);
    assert.deepEqual(steps(calls), ["readJob"]);
    assert.deepEqual(
      only(calls, "onAutoscaled").map((call) => call.status),
      [undefined],
      "its metrics go with it",
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

describe("informers that lag the operator's own writes", () => {
  test("a rescale stands while the job's informer lags the Deployment's", async () => {
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
  });

  test("a rescale stands while every informer lags and the shards move", async () => {
    const cluster = await backlogged();
    await reconcile(cluster);
    // No informer has delivered the rescale, and the heartbeats the cache shows have expired
    // (pods starting for the new size take shards over): the autoscaler waits on the cached job.
    cluster.advance(6_000);
    const calls = await reconcile(cluster);
    assert.equal(cluster.job().status?.autoscaling?.current, 3, steps(calls).join(", "));

    cluster.sync();
    cluster.advance(1_000);
    const later = await reconcile(cluster);
    assert.deepEqual(
      only(later, "recordEvent").map((call) => call.reason),
      [],
    );
    assert.equal((cluster.job().spec as JobSpecInput).parallelism, 3);
  });
});

/** Whether the informers deliver every write before the next reconcile, or each lags now and then. */
type Informers = "keep up" | "lag";

interface World {
  cluster: InMemoryJobCluster;
  random: () => number;
  informers: Informers;
  report: PodReport;
}

const pick = <T>(random: () => number, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T;

/**
 * What happens between two reconciles: time passes, the load changes, the pods roll out and renew
 * their heartbeats (or not), now and then someone scales by hand, and the informers catch up
 * (every time, or each on its own now and then).
 */
function between(world: World): void {
  const { cluster, random } = world;
  cluster.advance(1_000 + Math.floor(random() * 14_000));
  if (random() < 0.2)
    world.report = busy(pick(random, [0, 20, 100, 200]), pick(random, [0, 3_000, 30_000, 120_000]));
  if (random() < 0.5) cluster.rollOut();
  if (random() < 0.8) renewed(cluster, world.report);
  // Above maxParallelism: a Warning naming another value takes the operator's own write for a hand's.
  if (random() < 0.03)
    cluster.scaleByHand(autoscaling.maxParallelism + 1 + Math.floor(random() * 3));
  if (world.informers === "keep up") {
    cluster.sync();
    return;
  }
  for (const kind of [jobKind, "Deployment", "Lease"]) if (random() < 0.7) cluster.sync(kind);
}

/**
 * As each call arrives: scaleJob sends only a decision the status records as a rescale, the
 * Deployment runs spec.parallelism or the recorded decision, and only a hand's value is set back.
 */
function watchCalls(cluster: InMemoryJobCluster, violations: string[]): void {
  cluster.onCall = (call) => {
    const job = cluster.job();
    const recorded = job.status?.autoscaling;
    if (
      call.op === "scaleJob" &&
      (recorded?.current !== call.parallelism || recorded.scalingFrom === undefined)
    )
      violations.push(
        `scaleJob ${String(call.parallelism)} with ${JSON.stringify(recorded)} recorded`,
      );
    const byHand = call.op === "recordEvent" && /set to (\d+) by hand/.exec(call.message);
    if (byHand && Number(byHand[1]) <= autoscaling.maxParallelism)
      violations.push(`the operator's own write set back: ${byHand[0]}`);
    if (call.op !== "apply" || call.failed || call.object.kind !== "Deployment") return;
    const replicas = (call.object as V1Deployment).spec?.replicas;
    const parallelism = (job.spec as JobSpecInput).parallelism;
    if (replicas !== parallelism && replicas !== recorded?.current)
      violations.push(
        `Deployment at ${String(replicas)}: spec.parallelism ${String(parallelism)}, recorded ${String(recorded?.current)}`,
      );
  };
}

/** With every write let through and nothing else changing, the writes stop within three reconciles. */
async function settles(cluster: InMemoryJobCluster): Promise<Call[]> {
  const fails = cluster.fails;
  cluster.fails = () => undefined;
  let last: Call[] = [];
  for (let run = 0; run < 3; run++) {
    cluster.sync();
    last = writes(await reconcile(cluster));
  }
  cluster.fails = fails;
  return last;
}

interface Tally {
  reconciles: number;
  failed: number;
  rescales: number;
  settled: number;
}

async function randomRun(seed: number, informers: Informers, tally: Tally): Promise<void> {
  const random = seededRandom(seed);
  const spec = {
    ...autoscaled,
    autoscaling: { ...autoscaling, scaleDownStabilizationSeconds: 30 },
  };
  const cluster = createInMemoryJobCluster(spec, start);
  const world: World = { cluster, random, informers, report: busy(100, 0) };
  const violations: string[] = [];
  watchCalls(cluster, violations);
  const failing = pick(random, [0.05, 0.15, 0.3]);
  cluster.fails = (write) => (random() < failing ? apiError(500, `${write} failed`) : undefined);
  for (let step = 0; step < 60; step++) {
    const at = `seed ${String(seed)} step ${String(step)}`;
    between(world);
    const caughtUp = cluster.caughtUp();
    const succeeded = await reconcileJob(cluster.context, key).then(
      () => true,
      () => false,
    );
    tally.reconciles++;
    if (!succeeded) tally.failed++;
    assert.deepEqual(violations, [], at);
    const recorded = cluster.job().status?.autoscaling?.current;
    // On caches behind the last writes a reconcile may rightly do nothing: their events queue another.
    if (succeeded && caughtUp && recorded !== undefined)
      assert.equal(
        cluster.deployment()?.spec?.replicas,
        recorded,
        `${at}: after a reconcile that succeeded`,
      );
    if (random() < 0.1) {
      assert.deepEqual(await settles(cluster), [], `${at}: settled`);
      tally.settled++;
    }
  }
  tally.rescales += only(cluster.calls, "recordEvent").filter((call) =>
    call.reason.startsWith("Scaled"),
  ).length;
}

async function randomRuns(informers: Informers): Promise<Tally> {
  const tally = { reconciles: 0, failed: 0, rescales: 0, settled: 0 };
  for (let seed = 1; seed <= 20; seed++) await randomRun(seed, informers, tally);
  return tally;
}

describe("seeded random runs: random figures, failed writes, a hand now and then", () => {
  test("informers that keep up: a rescale is recorded before it is written or acted on, and never taken for a hand's", async (t) => {
    const tally = await randomRuns("keep up");
    t.diagnostic(JSON.stringify(tally));
    assert.ok(tally.rescales > 20 && tally.failed > 50, "the runs rescale, and writes fail");
  });

  test("informers that lag, each on its own: the same", async (t) => {
    t.diagnostic(JSON.stringify(await randomRuns("lag")));
  });
});
