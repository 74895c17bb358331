// The autoscaler on the real control plane and a real node: a producer ramps an 8-shard stream up
// and down against an endpoint that answers in 50 ms, and the operator sizes the job. The issue's
// figures (100 -> 800 records/s at capacity 10, 200 records/s per pod: 4 or 5 pods) do not fit
// here: the Kinesis emulator takes about 840 PutRecords entries per second shared by producer and
// sink, and on this shared 2-core machine a pod at capacity 2 does 16 to 40 records/s through the
// test's relays (Little's bound is 40), with 8 pods together near 45 at the worst. So the load
// ramps 5 -> 100 -> 5 records/s and the sizes are asserted against the figures the job reports: it grows from 1 to
// what the peak calls for at the per-pod rate it measured, the lag comes back under 5 s within
// the catch-up time (with slack), the ramp down shrinks it only after the stabilization window
// with at most one scale-down per window, an endpoint budget of 2 x capacity caps it at 2 pods
// with the status saying EndpointBudget, a kubectl scale by hand is set back with an Event, the
// decision is recorded before it is acted on (status and scale writes refused in turn by
// ValidatingAdmissionPolicies), and no record is lost. Printed: time to catch up, rescales, pod-seconds against a job fixed at the
// peak size.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { startKinesisEmulator, type KinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { produceRecords, readAllRecords } from "../../demo/stream-tools.ts";
import { crdPath } from "../../operator/api/crd.ts";
import type { JobStatus } from "../../operator/api/status-schema.ts";
import { nodeUnsupported } from "../cluster/node-support.ts";
import { startCluster, type TestCluster } from "../cluster/test-cluster.ts";
import { startOperator, type Operator } from "../support/operator-process.ts";
import { startScriptedEndpoint } from "../support/scripted-endpoint.ts";
import { createStreams, type Streams } from "../support/test-bed.ts";
import { waitFor } from "../support/wait-for.ts";
import { createEmulatorSecret, emulatorSecretName } from "../support/emulator-secret.ts";

const shards = 8;
const capacity = 2;
const latencyMs = 50;
const quiet = 5;
const peak = 100;
const lagTargetMs = 5_000;
const autoscaling = {
  minParallelism: 1,
  maxParallelism: 8,
  targetUtilization: 0.9,
  catchUpSeconds: 180,
  scaleDownStabilizationSeconds: 40,
};

interface Sample {
  at: number;
  parallelism: number;
  replicas: number;
  lagMillis: number | undefined;
  status: JobStatus | undefined;
}

const decodeId = (data: Uint8Array): number =>
  (JSON.parse(Buffer.from(data).toString()) as { id: number }).id;

describe("autoscaling: the operator sizes a job from its lag", { skip: nodeUnsupported() }, () => {
  let cluster: TestCluster;
  let emulator: KinesisEmulator;
  let endpoint: Awaited<ReturnType<typeof startScriptedEndpoint>>;
  let operator: Operator;
  let streams: Streams;
  let podUrls: { emulator: string; endpoint: string };
  const producer = { rate: 0, produced: 0, running: false, done: Promise.resolve() };
  const samples: Sample[] = [];
  const sampler = { running: false, done: Promise.resolve() };

  const kubectl = (...args: string[]): Promise<string> => cluster.kubectlAsync(...args);
  const apply = async (manifest: object): Promise<void> => {
    const folder = join(cluster.directory, "manifests");
    mkdirSync(folder, { recursive: true });
    const file = join(folder, `${String(Date.now())}.json`);
    writeFileSync(file, JSON.stringify(manifest));
    await kubectl("apply", "-f", file);
  };
  const job = (budget?: number) => ({
    apiVersion: "asyncenrichment.dev/v1alpha1",
    kind: "AsyncEnrichmentJob",
    metadata: { name: "autoscaled", namespace: "default" },
    spec: {
      aws: {
        region: "us-east-1",
        endpoint: podUrls.emulator,
        credentialsSecretRef: { name: emulatorSecretName },
      },
      source: { stream: streams.source, startPosition: { type: "TRIM_HORIZON" } },
      sink: { stream: streams.sink },
      deadLetter: { stream: streams.deadLetter },
      endpoint: { url: podUrls.endpoint, timeoutMs: 2_000 },
      capacity,
      ordering: "unordered",
      leases: { leaseDurationSeconds: 4, renewIntervalMs: 1_000 },
      autoscaling: {
        ...autoscaling,
        ...(budget === undefined ? {} : { maxEndpointConcurrency: budget }),
      },
    },
  });

  /** Produces at producer.rate records per second, paced by the clock, one id per record. */
  const startProducing = (): void => {
    producer.running = true;
    producer.done = (async () => {
      let due = 0;
      let last = performance.now();
      while (producer.running) {
        const now = performance.now();
        due += (producer.rate * (now - last)) / 1000;
        last = now;
        const count = Math.floor(due) - producer.produced;
        if (count > 0) {
          const from = producer.produced;
          await produceRecords(
            emulator.client,
            streams.source,
            Array.from({ length: count }, (_, index) => ({
              data: Buffer.from(JSON.stringify({ id: from + index })),
              partitionKey: `record-${String(from + index)}`,
            })),
          );
          producer.produced += count;
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();
  };

  /** Samples the job every second: its parallelism, pods, lag and status. */
  const startSampling = (): void => {
    sampler.running = true;
    sampler.done = (async () => {
      while (sampler.running) {
        const object = JSON.parse(await kubectl("get", "aej", "autoscaled", "-o", "json")) as {
          spec: { parallelism: number };
          status?: JobStatus;
        };
        samples.push({
          at: performance.now(),
          parallelism: object.spec.parallelism,
          replicas: object.status?.replicas ?? 0,
          lagMillis: object.status?.maxLagMillis,
          status: object.status,
        });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    })();
  };
  const latest = (): Sample | undefined => samples.at(-1);
  const events = async (reason: string): Promise<{ note?: string; series?: { count: number } }[]> =>
    (
      JSON.parse(await kubectl("get", "events.events.k8s.io", "-o", "json")) as {
        items: { reason?: string; note?: string; series?: { count: number } }[];
      }
    ).items.filter((event) => event.reason === reason);
  /** Times an Event was recorded, counting the repeats of its series. */
  const timesRecorded = async (reason: string): Promise<number> =>
    (await events(reason)).reduce((sum, event) => sum + (event.series?.count ?? 1), 0);
  const deploymentReplicas = async (): Promise<number> =>
    Number(
      await kubectl("get", "deployment", "autoscaled-processor", "-o", "jsonpath={.spec.replicas}"),
    );

  /**
   * Refuses every write to the job's status or scale subresource, with a ValidatingAdmissionPolicy
   * (the API server's own admission, no webhook), until the returned function lifts it. Returns
   * once a server-side dry run shows the refusal in force.
   */
  const refuse = async (subresource: "status" | "scale"): Promise<() => Promise<void>> => {
    const name = `refuse-job-${subresource}`;
    await apply({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ["asyncenrichment.dev"],
              apiVersions: ["*"],
              operations: ["UPDATE"],
              resources: [`asyncenrichmentjobs/${subresource}`],
            },
          ],
        },
        validations: [{ expression: "false", message: `the test refuses ${subresource} writes` }],
      },
    });
    await apply({
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name },
      spec: { policyName: name, validationActions: ["Deny"] },
    });
    const probe = (): Promise<boolean> =>
      kubectl(
        "patch",
        "aej",
        "autoscaled",
        `--subresource=${subresource}`,
        "--type=merge",
        "--dry-run=server",
        "-p",
        subresource === "scale" ? '{"spec":{"replicas":1}}' : '{"status":{}}',
      ).then(
        () => false,
        () => true,
      );
    await waitFor(probe, (refused) => refused, {
      timeoutMs: 30_000,
      what: `the API server refusing ${subresource} writes`,
      intervalMs: 500,
    });
    return async () => {
      await kubectl("delete", "validatingadmissionpolicybinding", name);
      await kubectl("delete", "validatingadmissionpolicy", name);
    };
  };
  const waitForSample = (
    what: string,
    done: (sample: Sample) => boolean,
    timeoutMs: number,
  ): Promise<Sample | undefined> =>
    waitFor(latest, (sample) => sample !== undefined && done(sample), {
      timeoutMs,
      what,
      intervalMs: 500,
    });

  before(async () => {
    cluster = await startCluster({ name: "autoscaling" });
    cluster.installCrds(crdPath);
    emulator = await startKinesisEmulator();
    streams = await createStreams(emulator, shards);
    endpoint = await startScriptedEndpoint(() => ({ delayMs: latencyMs }));
    podUrls = {
      emulator: (await cluster.relay(emulator.endpoint)).url,
      endpoint: (await cluster.relay(endpoint.url)).url,
    };
    operator = await startOperator(cluster, "operator-autoscaling", {
      PROCESSOR_IMAGE: cluster.image,
    });
    await createEmulatorSecret(kubectl);
  });

  after(async () => {
    producer.running = false;
    sampler.running = false;
    await producer.done.catch(() => undefined);
    await sampler.done.catch(() => undefined);
    await operator.stop();
    await cluster.stop();
    await endpoint.close();
    await emulator.stop();
  });

  test(`ramp ${String(quiet)} -> ${String(peak)} -> ${String(quiet)} records/s: grows as its figures call for, catches up, shrinks once after the window; a budget caps it`, async (t: TestContext) => {
    producer.rate = quiet;
    startProducing();
    await apply(job());
    startSampling();
    await waitForSample(
      "the job running on one pod",
      (sample) => sample.status?.readyReplicas === 1 && sample.status.autoscaling !== undefined,
      120_000,
    );
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    assert.equal(latest()?.parallelism, 1, `${String(quiet)} records/s needs one pod`);

    const rampUp = performance.now();
    producer.rate = peak;
    const grown = await waitForSample(
      "the job grown past one pod",
      (sample) =>
        sample.parallelism >= 2 && sample.status?.autoscaling?.perPodPerSecond !== undefined,
      120_000,
    );
    const firstScaleUp = samples.find((sample) => sample.at > rampUp && sample.parallelism > 1);
    const caughtUp = await waitForSample(
      `the lag back under ${String(lagTargetMs)} ms at ${String(grown?.parallelism)} pods`,
      (sample) =>
        sample.at > (grown?.at ?? 0) + 5_000 &&
        sample.lagMillis !== undefined &&
        sample.lagMillis < lagTargetMs,
      autoscaling.catchUpSeconds * 1500,
    );
    const catchUpSeconds = ((caughtUp?.at ?? 0) - (firstScaleUp?.at ?? 0)) / 1000;
    const peakSize = Math.max(...samples.map((sample) => sample.parallelism));
    t.diagnostic(
      `${String(peak)} records/s: first scale-up ${(((firstScaleUp?.at ?? 0) - rampUp) / 1000).toFixed(0)} s after the ramp, ${String(peakSize)} pods at most, lag under ${String(lagTargetMs)} ms ${catchUpSeconds.toFixed(0)} s after the first scale-up (catch-up time ${String(autoscaling.catchUpSeconds)} s)`,
    );
    t.diagnostic(`at the peak: ${caughtUp?.status?.autoscaling?.message ?? ""}`);
    for (const [index, sample] of samples.entries()) {
      const before = samples[index - 1];
      if (before !== undefined && sample.parallelism !== before.parallelism)
        t.diagnostic(
          `+${((sample.at - rampUp) / 1000).toFixed(0)} s ${String(before.parallelism)} -> ${String(sample.parallelism)}: ${sample.status?.autoscaling?.message ?? ""}`,
        );
    }
    const perPod = grown?.status?.autoscaling?.perPodPerSecond ?? 0;
    const calledFor = peak / (perPod * autoscaling.targetUtilization);
    t.diagnostic(
      `a pod did ${String(perPod)} records/s (Little's bound ${String((capacity * 1000) / latencyMs)}): ${String(peak)} records/s call for ${calledFor.toFixed(1)} pods, more with a backlog; catch-up within ${String(autoscaling.catchUpSeconds)} s ${catchUpSeconds <= autoscaling.catchUpSeconds ? "met" : "missed"}`,
    );
    assert.ok(
      peakSize >= Math.min(shards, Math.max(2, Math.floor(calledFor))),
      `grew to ${String(peakSize)} pods only`,
    );
    // The "4 or 5 pods" where 3.2 are called for: one more than the load at most, for
    // the backlog gathered before the first scale-up.
    assert.ok(
      peakSize <= Math.min(shards, Math.ceil(calledFor) + 1),
      `grew to ${String(peakSize)} pods where the peak calls for ${calledFor.toFixed(1)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 15_000));

    const rampDown = performance.now();
    producer.rate = quiet;
    // Down to what the quiet load calls for: one pod. A step down to what the peak called for
    // once its backlog was read may come earlier; it is not the ramp down's. The backlog left at
    // the ramp down can keep 2 pods recommended for part of the first window, so the way down may
    // take two steps, one window apart, each followed by the pods settling.
    const shrunk = await waitForSample(
      "the job shrunk to one pod after the ramp down",
      (sample) => sample.parallelism === autoscaling.minParallelism,
      (2 * autoscaling.scaleDownStabilizationSeconds + 60) * 1000,
    );
    const shrinkSeconds = ((shrunk?.at ?? 0) - rampDown) / 1000;
    t.diagnostic(
      `${String(quiet)} records/s: ${String(peakSize)} -> ${String(shrunk?.parallelism)} pods ${shrinkSeconds.toFixed(0)} s after the ramp down (window ${String(autoscaling.scaleDownStabilizationSeconds)} s)`,
    );
    assert.ok(
      shrinkSeconds >= autoscaling.scaleDownStabilizationSeconds,
      `shrunk ${shrinkSeconds.toFixed(0)} s after the ramp down, within the window`,
    );
    await new Promise((resolve) => setTimeout(resolve, 20_000));

    const budgetPods = 2;
    const budget = budgetPods * capacity;
    await apply(job(budget));
    producer.rate = peak;
    const capped = await waitForSample(
      "the job capped by the endpoint budget",
      (sample) =>
        sample.status?.autoscaling?.limitedBy === "EndpointBudget" &&
        sample.parallelism === budgetPods,
      120_000,
    );
    t.diagnostic(
      `with maxEndpointConcurrency ${String(budget)}: ${capped?.status?.autoscaling?.message ?? ""}`,
    );
    t.diagnostic(
      `kubectl get aej -o wide:\n${await kubectl("get", "aej", "autoscaled", "-o", "wide")}`,
    );
    const cappedAt = capped?.at ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    assert.ok(
      samples
        .filter((sample) => sample.at >= cappedAt)
        .every((sample) => sample.parallelism <= budgetPods),
      `the budget held the job at ${String(budgetPods)} pods`,
    );

    await kubectl("scale", "aej/autoscaled", "--replicas=7");
    const scaledByHand = performance.now();
    await waitForSample(
      "a kubectl scale by hand set back to the autoscaler's size",
      (sample) => sample.at > scaledByHand && sample.parallelism === budgetPods,
      30_000,
    );
    const recorded = await waitFor(
      async () =>
        (
          JSON.parse(await kubectl("get", "events", "-o", "json")) as {
            items: { reason?: string; message?: string; note?: string }[];
          }
        ).items,
      (items) => items.some((event) => event.reason === "AutoscalingOwnsParallelism"),
      {
        timeoutMs: 30_000,
        what: "the Event saying autoscaling owns parallelism",
        intervalMs: 1_000,
      },
    );
    const rescaleEvents = recorded.filter(
      (event) => event.reason === "ScaledUp" || event.reason === "ScaledDown",
    );
    t.diagnostic(
      `Events: ${String(rescaleEvents.length)} rescales; ${recorded.find((event) => event.reason === "AutoscalingOwnsParallelism")?.message ?? ""}`,
    );
    // The endpoint answers in 50 ms however many calls it gets: every scale-up paid.
    assert.deepEqual(
      recorded
        .filter((event) => event.reason === "IneffectiveScaleUp")
        .map((event) => event.message ?? event.note),
      [],
    );

    // The decision is written to the status before spec.parallelism. With status writes refused,
    // lifting the budget at the peak scales nothing: no half-done rescale to undo later.
    const setBack = await timesRecorded("AutoscalingOwnsParallelism");
    const allowStatus = await refuse("status");
    await apply(job());
    const refusedAt = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 15_000));
    assert.ok(
      samples
        .filter((sample) => sample.at >= refusedAt)
        .every((sample) => sample.parallelism === budgetPods),
      "spec.parallelism moved while the decision could not be recorded",
    );
    assert.equal(
      await deploymentReplicas(),
      budgetPods,
      "the Deployment moved while the decision could not be recorded",
    );

    // With the status written and the scale write refused, the pods follow the decision; the
    // write is retried, and once it lands it is not taken for a change by hand.
    const allowScale = await refuse("scale");
    await allowStatus();
    const pending = await waitForSample(
      "the decision recorded with spec.parallelism refused",
      (sample) =>
        (sample.status?.autoscaling?.current ?? 0) > budgetPods &&
        sample.status?.autoscaling?.scalingFrom === budgetPods,
      60_000,
    );
    const decidedSize = pending?.status?.autoscaling?.current ?? 0;
    assert.equal(pending?.parallelism, budgetPods, "spec.parallelism written past the refusal");
    await waitFor(deploymentReplicas, (replicas) => replicas === decidedSize, {
      timeoutMs: 30_000,
      what: `the Deployment at the decided ${String(decidedSize)} pods`,
      intervalMs: 1_000,
    });
    const failed = await waitFor(
      () => events("FailedUpdateScale"),
      (found) => found.length > 0,
      { timeoutMs: 30_000, what: "the FailedUpdateScale Event", intervalMs: 1_000 },
    );
    t.diagnostic(`scale write refused: ${failed[0]?.note ?? ""}`);
    await allowScale();
    const landed = await waitForSample(
      "the refused scale write landed",
      (sample) =>
        sample.parallelism > budgetPods && sample.status?.autoscaling?.scalingFrom === undefined,
      60_000,
    );
    t.diagnostic(
      `decision recorded at ${String(decidedSize)} pods, spec.parallelism ${String(landed?.parallelism)} once the refusal lifted`,
    );
    assert.equal(
      await timesRecorded("AutoscalingOwnsParallelism"),
      setBack,
      "the operator's own late write was taken for a change by hand",
    );

    producer.running = false;
    await producer.done;
    const ids = await waitFor(
      async () =>
        [
          ...(await readAllRecords(emulator.client, streams.sink)),
          ...(await readAllRecords(emulator.client, streams.deadLetter)),
        ].map((record) => decodeId(record.data)),
      (found) => new Set(found).size >= producer.produced,
      {
        timeoutMs: 120_000,
        what: `all ${String(producer.produced)} records written`,
        intervalMs: 2_000,
      },
    );
    sampler.running = false;
    await sampler.done;
    const unique = new Set(ids);
    assert.equal(unique.size, producer.produced, "every record produced reached the sink");

    // Rescales and pod-seconds over the ramp, against a job fixed at the peak size.
    // The autoscaler's own rescales: up to the scale by hand, which it then set back.
    const own = samples.filter((sample) => sample.at < scaledByHand);
    const changes = own
      .slice(1)
      .filter((sample, index) => sample.parallelism !== own[index]?.parallelism);
    const downs = own
      .slice(1)
      .filter((sample, index) => sample.parallelism < (own[index]?.parallelism ?? 0));
    for (let index = 1; index < downs.length; index++) {
      const gap = ((downs[index]?.at ?? 0) - (downs[index - 1]?.at ?? 0)) / 1000;
      // The window counts from the operator's decision; sampling each second blurs it by 2 s.
      assert.ok(
        gap >= autoscaling.scaleDownStabilizationSeconds - 2,
        `two scale-downs ${gap.toFixed(0)} s apart, within one window`,
      );
    }
    let podSeconds = 0;
    for (const [index, sample] of own.entries()) {
      const next = own[index + 1];
      if (next !== undefined && sample.at >= started)
        podSeconds += (sample.replicas * (next.at - sample.at)) / 1000;
    }
    const fixed = (peakSize * ((own.at(-1)?.at ?? 0) - started)) / 1000;
    t.diagnostic(
      `${String(changes.length)} rescales (${String(downs.length)} down), ${podSeconds.toFixed(0)} pod-seconds against ${fixed.toFixed(0)} for ${String(peakSize)} fixed pods (${((100 * podSeconds) / fixed).toFixed(0)}%); ${String(producer.produced)} records, ${String(ids.length - unique.size)} duplicates`,
    );
    t.diagnostic(`endpoint requests: ${String(endpoint.requests.length)}`);
  });
});
