// The job-wide rate limit on the real control plane and a real node: processor pods (containers of
// the project's image) share a 10-shard backlog through shard Leases and call a real HTTP server
// that timestamps every request. The job is scaled 3 -> 5 -> 1 pods; over the whole run no 5 s
// window at the endpoint goes above 1.1 x the limit, and once each scale has settled the endpoint
// gets at least 0.95 x the limit while the backlog lasts. The figures per phase are printed with
// those targets; the assertions allow for a loaded machine (see below).
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { startKinesisEmulator, type KinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { produceRecords } from "../../demo/stream-tools.ts";
import { crdPath } from "../../operator/api/crd.ts";
import type { JobStatus } from "../../operator/api/status-schema.ts";
import { SHARD_END } from "../../processor/checkpoint/store.ts";
import { annotations } from "../../processor/leases/shard-lease.ts";
import type { ProcessorStatus } from "../../processor/processor.ts";
import { nodeUnsupported } from "../cluster/node-support.ts";
import { startCluster, type TestCluster } from "../cluster/test-cluster.ts";
import { startOperator, type Operator } from "../support/operator-process.ts";
import { startScriptedEndpoint } from "../support/scripted-endpoint.ts";
import { createStreams, type Streams } from "../support/test-bed.ts";
import { waitFor } from "../support/wait-for.ts";
import { createEmulatorSecret, emulatorSecretName } from "../support/emulator-secret.ts";

const shards = 10;
const limit = { requestsPerSecond: 100, burst: 30 };
/** Far above what a pod's share needs at the endpoint's latency: the limit, not capacity, binds. */
const capacity = 50;
/** Enough for every shard to stay backlogged through the run (about 4 minutes at the limit). */
const backlog = 25_000;
const windowMs = 5_000;
const measureMs = 15_000;

interface LeaseObject {
  metadata: { annotations?: Record<string, string> };
  spec: { holderIdentity?: string; leaseTransitions?: number };
}

/** The most requests in any `span`-long window of sorted arrival times, as a rate per second. */
function maxWindowRate(times: readonly number[], span: number): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while ((times[end] as number) - (times[start] as number) >= span) start++;
    most = Math.max(most, end - start + 1);
  }
  return most / (span / 1000);
}

describe(
  "rate limit: a job's pods together stay within it while they scale",
  { skip: nodeUnsupported() },
  () => {
    let cluster: TestCluster;
    let emulator: KinesisEmulator;
    let endpoint: Awaited<ReturnType<typeof startScriptedEndpoint>>;
    let operator: Operator;
    let streams: Streams;
    let podUrls: { emulator: string; endpoint: string };

    const kubectl = (...args: string[]): Promise<string> => cluster.kubectlAsync(...args);
    const apply = async (manifest: object): Promise<void> => {
      const folder = join(cluster.directory, "manifests");
      mkdirSync(folder, { recursive: true });
      const file = join(folder, `${String(Date.now())}.json`);
      writeFileSync(file, JSON.stringify(manifest));
      await kubectl("apply", "-f", file);
    };

    /** The job's shard Leases (not the processors' heartbeat Leases, which carry its labels too). */
    const shardLeases = async (): Promise<LeaseObject[]> =>
      (
        JSON.parse(
          await kubectl("get", "leases", "-l", "asyncenrichment.dev/job=ratelimited", "-o", "json"),
        ) as { items: LeaseObject[] }
      ).items.filter((lease) => lease.metadata.annotations?.[annotations.shardId] !== undefined);
    /** Hand-overs and takes so far, over all the job's shard Leases. */
    const transitions = async (): Promise<number> =>
      (await shardLeases()).reduce((sum, lease) => sum + (lease.spec.leaseTransitions ?? 0), 0);
    /** Open shards per holder ("" for none); a plain object, so a timeout prints it. */
    const holdings = async (): Promise<Record<string, number>> => {
      const counts: Record<string, number> = {};
      for (const lease of await shardLeases()) {
        if (lease.metadata.annotations?.[annotations.checkpoint] === SHARD_END) continue;
        const holder = lease.spec.holderIdentity ?? "";
        counts[holder] = (counts[holder] ?? 0) + 1;
      }
      return counts;
    };
    /** What each running processor pod not being deleted answers on `path` (9400). */
    const fromPods = async (path: string): Promise<string[]> => {
      const pods = (
        JSON.parse(
          await kubectl(
            "get",
            "pods",
            "-l",
            "asyncenrichment.dev/job=ratelimited,app.kubernetes.io/component=processor",
            "-o",
            "json",
          ),
        ) as { items: V1Pod[] }
      ).items.filter(
        (pod) => pod.metadata?.deletionTimestamp === undefined && pod.status?.podIP !== undefined,
      );
      const answers = await Promise.all(
        pods.map(async (pod) => {
          try {
            return await (await fetch(`http://${pod.status?.podIP ?? ""}:9400${path}`)).text();
          } catch {
            return undefined;
          }
        }),
      );
      return answers.filter((answer) => answer !== undefined);
    };
    const podStatuses = async (): Promise<ProcessorStatus[]> =>
      (await fromPods("/status")).map((text) => JSON.parse(text) as ProcessorStatus);
    /** Each pod's largest event-loop delay since the last scrape (prom-client resets it). */
    const loopDelays = async (): Promise<number[]> =>
      (await fromPods("/metrics")).map((text) =>
        Number(/^nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? NaN),
      );
    const jobStatus = async (): Promise<JobStatus | undefined> =>
      (
        JSON.parse(await kubectl("get", "aej", "ratelimited", "-o", "json")) as {
          status?: JobStatus;
        }
      ).status;

    /**
     * Settled at `pods`: every open shard held, `pods` holders as evenly as can be, and each pod's
     * /status share equal to the limit times its share of the shards (so the shares sum to it).
     */
    const settle = async (pods: number): Promise<ProcessorStatus[]> => {
      const fair = Math.floor(shards / pods);
      await waitFor(
        holdings,
        (counts) =>
          counts[""] === undefined &&
          Object.keys(counts).length === pods &&
          Object.values(counts).every((count) => count === fair || count === fair + 1),
        {
          timeoutMs: 120_000,
          what: `${String(pods)} pods holding the ${String(shards)} shards evenly`,
          intervalMs: 1_000,
        },
      );
      return waitFor(
        podStatuses,
        (statuses) =>
          statuses.length === pods &&
          statuses.every(
            (status) =>
              Math.abs(
                (status.rateLimit?.requestsPerSecond ?? 0) -
                  (limit.requestsPerSecond * status.shards.length) / shards,
              ) < 1e-6,
          ),
        {
          timeoutMs: 30_000,
          what: "each pod's rate share following its shards",
          intervalMs: 1_000,
        },
      );
    };

    const arrivals = (from: number, to: number): number[] =>
      endpoint.requests.map((request) => request.at).filter((at) => at >= from && at < to);

    before(async () => {
      cluster = await startCluster({ name: "rate-limit" });
      cluster.installCrds(crdPath);
      emulator = await startKinesisEmulator();
      streams = await createStreams(emulator, shards);
      endpoint = await startScriptedEndpoint(() => ({ delayMs: 5, body: "{}" }));
      podUrls = {
        emulator: (await cluster.relay(emulator.endpoint)).url,
        endpoint: (await cluster.relay(endpoint.url)).url,
      };
      operator = await startOperator(cluster, "operator-ratelimit", {
        PROCESSOR_IMAGE: cluster.image,
      });
      await createEmulatorSecret(kubectl);
      // One partition key per record spreads the backlog evenly over the shards.
      await produceRecords(
        emulator.client,
        streams.source,
        Array.from({ length: backlog }, (_, id) => ({
          data: Buffer.from(JSON.stringify({ id })),
          partitionKey: `record-${String(id)}`,
        })),
      );
    });

    after(async () => {
      await operator.stop();
      await cluster.stop();
      await endpoint.close();
      await emulator.stop();
    });

    test("scaled 3 -> 5 -> 1 pods: 5 s windows at the endpoint within the limit (target 1.1 x, asserted 1.15 x) and the limit used once settled (target 0.95 x, asserted 0.85 x)", async (t: TestContext) => {
      const started = performance.now();
      const phases: {
        pods: number;
        from: number;
        measuredFrom: number;
        to: number;
        moves: number;
      }[] = [];
      for (const pods of [3, 5, 1]) {
        const from = performance.now();
        await apply({
          apiVersion: "asyncenrichment.dev/v1alpha1",
          kind: "AsyncEnrichmentJob",
          metadata: { name: "ratelimited", namespace: "default" },
          spec: {
            aws: {
              region: "us-east-1",
              endpoint: podUrls.emulator,
              credentialsSecretRef: { name: emulatorSecretName },
            },
            source: { stream: streams.source },
            sink: { stream: streams.sink },
            deadLetter: { stream: streams.deadLetter },
            endpoint: { url: podUrls.endpoint, timeoutMs: 2_000, rateLimit: limit },
            parallelism: pods,
            capacity,
            ordering: "unordered",
            leases: { leaseDurationSeconds: 4, renewIntervalMs: 1_000 },
          },
        });
        const statuses = await settle(pods);
        const measuredFrom = performance.now();
        const movesBefore = await transitions();
        await loopDelays();
        await new Promise((resolve) => setTimeout(resolve, measureMs));
        const to = performance.now();
        const [delays, waiting] = await Promise.all([loopDelays(), podStatuses()]);
        t.diagnostic(
          `${String(pods)} pods while measured: largest event-loop delay per pod ${delays.map((delay) => delay.toFixed(2)).join(", ")} s; attempts waiting for a token at the end ${waiting.map((status) => String(status.rateLimit?.waiting)).join(", ")} (capacity ${String(capacity)})`,
        );
        phases.push({ pods, from, measuredFrom, to, moves: (await transitions()) - movesBefore });
        assert.ok(
          statuses.every((status) => status.concurrencyLimit === capacity),
          "/status shows each pod's concurrency limit (capacity, adaptive concurrency off)",
        );
        if (pods === 5) {
          const status = await waitFor(
            jobStatus,
            (job) => job?.concurrencyLimit === 5 * capacity && job.processors?.length === 5,
            { timeoutMs: 30_000, what: "the job status summing 5 pods' limits", intervalMs: 500 },
          );
          assert.equal(status?.maxConcurrency, 5 * capacity);
          const shares = (status.processors ?? []).reduce(
            (sum, processor) => sum + (processor.rateLimitShare ?? 0),
            0,
          );
          assert.ok(
            Math.abs(shares - limit.requestsPerSecond) < 0.1,
            `the pods' rate shares in the status sum to ${String(shares)}`,
          );
        }
      }

      const all = arrivals(started, performance.now());
      const results = phases.map((phase) => {
        const measured = arrivals(phase.measuredFrom, phase.to);
        return {
          pods: phase.pods,
          moves: phase.moves,
          maxWindow:
            maxWindowRate(arrivals(phase.from, phase.to), windowMs) / limit.requestsPerSecond,
          throughput:
            measured.length / ((phase.to - phase.measuredFrom) / 1000) / limit.requestsPerSecond,
        };
      });
      for (const result of results) {
        t.diagnostic(
          `${String(result.pods)} pods: max ${String(windowMs / 1000)} s window ${result.maxWindow.toFixed(3)} x limit, settled throughput ${result.throughput.toFixed(3)} x limit (${String(result.moves)} shard moves while measured)`,
        );
      }
      t.diagnostic(
        `${String(all.length)} requests in ${((performance.now() - started) / 1000).toFixed(0)} s, limit ${String(limit.requestsPerSecond)}/s burst ${String(limit.burst)}`,
      );
      const overall = maxWindowRate(all, windowMs) / limit.requestsPerSecond;
      t.diagnostic(
        `targets: every window within 1.1 x the limit (${overall <= 1.1 ? "met" : "missed"}), settled throughput at least 0.95 x (${results.every((result) => result.throughput >= 0.95) ? "met" : "missed"})`,
      );
      // The asserted bounds leave room for this machine's noise, as the guide keeps speed targets
      // out of timed tests: by construction the pods send at most 1.06 x the limit in 5 s
      // (burst 30 over 500 requests); the relay in this process bunches arrivals by its pauses,
      // and a pod stalled longer than its bucket holds tokens loses throughput.
      assert.ok(
        overall <= 1.15,
        `a ${String(windowMs)} ms window reached ${overall.toFixed(3)} x the limit`,
      );
      for (const result of results) {
        assert.ok(
          result.throughput >= 0.85,
          `${String(result.pods)} pods: ${result.throughput.toFixed(3)} x the limit once settled`,
        );
      }
      assert.ok(all.length < backlog, "the backlog lasted through the measurement");
    });
  },
);
