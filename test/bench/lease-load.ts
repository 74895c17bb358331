// `npm run bench:leases`: what shard Leases cost the API server at scale, on the real control
// plane. `workers` lease coordinators (the processors' own code, without Kinesis) share `shards`
// Leases, renew them and write a moved checkpoint for each at every checkpoint interval. Prints
// the time to spread the shards, the Lease writes per second seen by a watch beside the formula
// shards / min(checkpoint, renew interval), and write latency. Writes docs/lease-load.md.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CoordinationV1Api, KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import type { ShardCoordinator } from "../../processor/checkpoint/coordinator.ts";
import { createLeaseCoordinator } from "../../processor/leases/lease-coordinator.ts";
import { startControlPlane } from "../cluster/control-plane.ts";
import { countLeaseUpdates } from "../support/lease-updates.ts";
import { markdownTable } from "./report.ts";

const { values } = parseArgs({
  options: {
    shards: { type: "string", default: "1000" },
    workers: { type: "string", default: "10" },
    "renew-ms": { type: "string", default: "10000" },
    "checkpoint-ms": { type: "string", default: "10000" },
    "window-ms": { type: "string", default: "30000" },
  },
});
const shards = Number(values.shards);
const workers = Number(values.workers);
const renewIntervalMs = Number(values["renew-ms"]);
const checkpointIntervalMs = Number(values["checkpoint-ms"]);
const windowMs = Number(values["window-ms"]);
const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Latency of every API call the coordinators make, by method. */
const latencies = new Map<string, number[]>();
function timed(api: CoordinationV1Api): CoordinationV1Api {
  return new Proxy(api, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        const started = performance.now();
        try {
          const call = value as (...a: unknown[]) => Promise<unknown>;
          return await call.apply(target, args);
        } finally {
          const list = latencies.get(String(property)) ?? [];
          list.push(performance.now() - started);
          latencies.set(String(property), list);
        }
      };
    },
  });
}
const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

say(`starting the control plane; ${String(workers)} workers will share ${String(shards)} shards`);
const cluster = await startControlPlane({ name: "lease-bench" });
const stopped = new AbortController();
try {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfig);
  const listed = Array.from({ length: shards }, (_, index) => ({
    shardId: `shardId-${String(index).padStart(12, "0")}`,
  }));
  const logger = pino({ level: "silent" });
  const leaseDurationSeconds = Math.ceil((renewIntervalMs * 4) / 1000);
  const coordinators: (ShardCoordinator & { held(): string[] })[] = [];
  for (let index = 0; index < workers; index++) {
    coordinators.push(
      createLeaseCoordinator({
        api: timed(kubeConfig.makeApiClient(CoordinationV1Api)),
        config: {
          type: "kubernetes",
          namespace: "default",
          leasePrefix: "bench",
          labels: { "asyncenrichment.dev/job": "bench" },
          leaseDurationSeconds,
          renewIntervalMs,
          maxStealsPerRenewal: 100,
        },
        workerId: `worker-${String(index)}`,
        counters: () => ({
          recordsIn: 0,
          recordsOut: 0,
          millisBehindLatest: 0,
          lastError: undefined,
          failed: 0,
          lastFailure: undefined,
        }),
        logger,
      }),
    );
  }
  const every = (ms: number, work: () => Promise<unknown>): void => {
    void (async () => {
      // Workers start spread over one interval, as pods of a Deployment do.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ms));
      while (!stopped.signal.aborted) {
        const started = performance.now();
        await work().catch((error: unknown) => {
          say(`a worker's call failed: ${String(error)}`);
        });
        const rest = ms - (performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, rest)));
      }
    })();
  };
  let sequence = 0n;
  for (const coordinator of coordinators) {
    // As the shard supervisor does, with nothing in flight to drain.
    coordinator.onHandoffRequested((shardId) => {
      void coordinator.handOver(shardId);
    });
    every(renewIntervalMs, () => coordinator.sync(listed));
    every(checkpointIntervalMs, () =>
      Promise.all(
        coordinator
          .held()
          .map((shardId) =>
            coordinator.put(shardId, String((sequence += 1n))).catch(() => undefined),
          ),
      ),
    );
  }

  const started = performance.now();
  const fairShare = Math.ceil(shards / workers);
  for (;;) {
    const held = coordinators.map((coordinator) => coordinator.held().length);
    const total = held.reduce((a, b) => a + b, 0);
    if (total === shards && held.every((count) => count <= fairShare)) break;
    say(
      `  spreading: ${String(total)} of ${String(shards)} held, most by one worker ${String(Math.max(...held))}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
  const spreadMs = performance.now() - started;
  say(
    `every shard held, at most ${String(fairShare)} per worker, after ${(spreadMs / 1000).toFixed(1)} s`,
  );

  latencies.clear();
  say(`measuring Lease writes for ${String(windowMs / 1000)} s`);
  const updates = await countLeaseUpdates(cluster.kubeconfig, "bench", windowMs);
  const measured = updates / (windowMs / 1000);
  const formula = shards / (Math.min(checkpointIntervalMs, renewIntervalMs) / 1000);
  const writes = (latencies.get("replaceNamespacedLease") ?? []).sort((a, b) => a - b);
  const lists = (latencies.get("listNamespacedLease") ?? []).sort((a, b) => a - b);
  const table = markdownTable(
    ["figure", "value"],
    [
      ["shards, workers", `${String(shards)}, ${String(workers)}`],
      [
        "renew, checkpoint interval",
        `${String(renewIntervalMs)} ms, ${String(checkpointIntervalMs)} ms`,
      ],
      ["time to spread every shard (≤ fair share each)", `${(spreadMs / 1000).toFixed(1)} s`],
      ["Lease writes/s measured (watch)", measured.toFixed(1)],
      ["Lease writes/s by the formula", formula.toFixed(1)],
      ["measured / formula", (measured / formula).toFixed(2)],
      [
        "write latency p50 / p99",
        `${quantile(writes, 0.5).toFixed(1)} / ${quantile(writes, 0.99).toFixed(1)} ms`,
      ],
      [
        `list of ${String(shards)} Leases p50 / p99`,
        `${quantile(lists, 0.5).toFixed(1)} / ${quantile(lists, 0.99).toFixed(1)} ms`,
      ],
    ],
  );
  const report = `# Shard Leases under load

Generated by \`npm run bench:leases\` (the processors' lease coordinator against the real API
server and etcd of the test control plane, all on one machine; ${new Date().toISOString().slice(0, 10)}).

${table}
`;
  writeFileSync(join(import.meta.dirname, "../../docs/lease-load.md"), report);
  say(`\n${report}`);
} finally {
  stopped.abort();
  await new Promise((resolve) => setTimeout(resolve, 500));
  await cluster.stop();
}
