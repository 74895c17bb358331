// `npm run bench:leases`: what shard Leases cost the API server at scale, and how fast a crashed
// processor's shards move, on the real control plane (kube-apiserver and etcd). Side by side in
// one run: the previous release's protocol at its defaults (every shard Lease renewed every 10 s,
// 40 s leases; test/support/legacy-leases) and the heartbeat protocol at the new defaults (one
// heartbeat Lease per processor renewed every 2 s, 5 s duration; shard Leases written only for
// checkpoints and moves). `workers` coordinators (the processors' own code, without Kinesis)
// share `shards` Leases; acknowledged writes per second are counted with every shard idle, then
// with every shard busy (a moved checkpoint per shard per checkpoint interval). Then one worker's
// API calls stop answering (a crash) and the time until others hold all its shards is measured.
// Writes docs/lease-load.md.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CoordinationV1Api, KubeConfig } from "@kubernetes/client-node";
import { pino } from "pino";
import type { ShardCoordinator } from "../../processor/checkpoint/coordinator.ts";
import type { LeaseCoordinationConfig } from "../../processor/config/schema.ts";
import { leaseTimingFields } from "../../processor/config/schema.ts";
import { createLeaseCoordinator } from "../../processor/leases/lease-coordinator.ts";
import { startControlPlane } from "../cluster/control-plane.ts";
import { createLegacyLeaseCoordinator } from "../support/legacy-leases/lease-coordinator.ts";
import { markdownTable } from "./report.ts";

const { values } = parseArgs({
  options: {
    shards: { type: "string", default: "1000" },
    workers: { type: "string", default: "10" },
    "checkpoint-ms": { type: "string", default: "10000" },
    "window-ms": { type: "string", default: "20000" },
  },
});
const shards = Number(values.shards);
const workers = Number(values.workers);
const checkpointIntervalMs = Number(values["checkpoint-ms"]);
const windowMs = Number(values["window-ms"]);
const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

interface Protocol {
  name: string;
  job: string;
  legacy: boolean;
  leaseDurationSeconds: number;
  renewIntervalMs: number;
  /** Lease writes per second by the formula, every shard idle and every shard busy. */
  formula: { idle: number; busy: number };
}
const fromDefaults = {
  leaseDurationSeconds: leaseTimingFields.leaseDurationSeconds.parse(undefined),
  renewIntervalMs: leaseTimingFields.renewIntervalMs.parse(undefined),
};
const protocols: Protocol[] = [
  {
    name: "per-shard renewals, old defaults (40 s, 10 s)",
    job: "bench-old",
    legacy: true,
    leaseDurationSeconds: 40,
    renewIntervalMs: 10_000,
    // Renewals and checkpoints ride on one write per shard.
    formula: {
      idle: shards / 10,
      busy: shards / (Math.min(checkpointIntervalMs, 10_000) / 1000),
    },
  },
  {
    name: `heartbeats, new defaults (${String(fromDefaults.leaseDurationSeconds)} s, ${String(fromDefaults.renewIntervalMs / 1000)} s)`,
    job: "bench-new",
    legacy: false,
    ...fromDefaults,
    formula: {
      idle: workers / (fromDefaults.renewIntervalMs / 1000),
      busy:
        workers / (fromDefaults.renewIntervalMs / 1000) + shards / (checkpointIntervalMs / 1000),
    },
  },
];

/** Lease writes the API server acknowledged, by job. */
const writes = new Map<string, number>();
const writeCalls = new Set([
  "createNamespacedLease",
  "replaceNamespacedLease",
  "deleteNamespacedLease",
]);

/** The API of one worker, whose calls stop answering once it "crashes". */
function crashable(api: CoordinationV1Api, job: string): { api: CoordinationV1Api; crash(): void } {
  let crashed = false;
  const wrapped = new Proxy(api, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        if (crashed) return new Promise(() => undefined);
        const answer = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (writeCalls.has(String(property))) writes.set(job, (writes.get(job) ?? 0) + 1);
        return answer;
      };
    },
  });
  return {
    api: wrapped,
    crash: () => {
      crashed = true;
    },
  };
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Measured {
  spreadMs: number;
  idle: number;
  busy: number;
  failoverMs: number;
}

async function measure(kubeConfig: KubeConfig, protocol: Protocol) {
  const listed = Array.from({ length: shards }, (_, index) => ({
    shardId: `shardId-${String(index).padStart(12, "0")}`,
  }));
  const config: LeaseCoordinationConfig = {
    type: "kubernetes",
    namespace: "default",
    leasePrefix: protocol.job,
    labels: { "asyncenrichment.dev/job": protocol.job },
    owner: undefined,
    leaseDurationSeconds: protocol.leaseDurationSeconds,
    renewIntervalMs: protocol.renewIntervalMs,
    maxStealsPerRenewal: 100,
  };
  const running = new AbortController();
  let busy = false;
  let sequence = 0n;
  const team = Array.from({ length: workers }, (_, index) => {
    const connection = crashable(kubeConfig.makeApiClient(CoordinationV1Api), protocol.job);
    const options = {
      api: connection.api,
      config,
      workerId: `worker-${String(index)}`,
      counters: () => ({
        recordsIn: 0,
        recordsOut: 0,
        millisBehindLatest: 0,
        lastError: undefined,
        failed: 0,
        lastFailure: undefined,
      }),
      logger: pino({ level: "silent" }),
    };
    const coordinator: ShardCoordinator & { held(): string[] } = protocol.legacy
      ? createLegacyLeaseCoordinator(options)
      : createLeaseCoordinator(options);
    const alive = new AbortController();
    const every = (ms: number, work: () => Promise<unknown>): void => {
      void (async () => {
        // Workers start spread over one interval, as pods of a Deployment do.
        await pause(Math.random() * ms);
        while (!running.signal.aborted && !alive.signal.aborted) {
          const started = performance.now();
          await work().catch(() => undefined);
          await pause(Math.max(0, ms - (performance.now() - started)));
        }
      })();
    };
    // As the shard supervisor does, with nothing in flight to drain.
    coordinator.onHandoffRequested((shardId) => {
      coordinator.handOver(shardId).catch(() => undefined);
    });
    every(protocol.renewIntervalMs, () => coordinator.sync(listed));
    every(checkpointIntervalMs, () =>
      busy
        ? Promise.all(
            coordinator
              .held()
              .map((shardId) =>
                coordinator.put(shardId, String((sequence += 1n))).catch(() => undefined),
              ),
          )
        : Promise.resolve(),
    );
    return {
      coordinator,
      crash: () => {
        alive.abort();
        connection.crash();
      },
    };
  });

  // Every shard held, each worker at most its fair share; the previous protocol may take minutes
  // to balance on a loaded machine, which does not change its write rate: measured from 90 s on.
  const started = performance.now();
  const fairShare = Math.ceil(shards / workers);
  let balanced: boolean;
  for (;;) {
    const held = team.map((worker) => worker.coordinator.held().length);
    const total = held.reduce((a, b) => a + b, 0);
    balanced = total === shards && held.every((count) => count <= fairShare);
    if (balanced || (total === shards && performance.now() - started > 90_000)) break;
    say(
      `  spreading: ${String(total)} of ${String(shards)} held, most by one ${String(Math.max(...held))}`,
    );
    await pause(2_000);
  }
  const spreadMs = balanced ? performance.now() - started : Infinity;
  say(
    `  every shard held, balanced: ${String(balanced)}, after ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const rate = async (): Promise<number> => {
    const before = writes.get(protocol.job) ?? 0;
    await pause(windowMs);
    return ((writes.get(protocol.job) ?? 0) - before) / (windowMs / 1000);
  };
  const idle = await rate();
  say(`  idle: ${idle.toFixed(1)} writes/s`);
  busy = true;
  await pause(checkpointIntervalMs);
  const busyRate = await rate();
  say(`  busy: ${busyRate.toFixed(1)} writes/s`);

  const [victim, ...others] = team;
  if (victim === undefined) throw new Error("no workers");
  const orphaned = victim.coordinator.held();
  const crashedAt = performance.now();
  victim.crash();
  for (;;) {
    const heldByOthers = new Set(others.flatMap((worker) => worker.coordinator.held()));
    if (orphaned.every((shardId) => heldByOthers.has(shardId))) break;
    await pause(100);
  }
  const failoverMs = performance.now() - crashedAt;
  say(`  failover of ${String(orphaned.length)} shards: ${(failoverMs / 1000).toFixed(1)} s`);
  running.abort();
  await Promise.all(others.map((worker) => worker.coordinator.release()));
  return { spreadMs, idle, busy: busyRate, failoverMs } satisfies Measured;
}

say(`starting the control plane; ${String(workers)} workers will share ${String(shards)} shards`);
const cluster = await startControlPlane({ name: "lease-bench" });
try {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfig);
  const results: [Protocol, Measured][] = [];
  for (const protocol of protocols) {
    say(protocol.name);
    results.push([protocol, await measure(kubeConfig, protocol)]);
  }
  const table = markdownTable(
    ["figure", ...results.map(([protocol]) => protocol.name)],
    [
      [
        "time to spread every shard (≤ fair share each)",
        ...results.map(([, m]) =>
          Number.isFinite(m.spreadMs) ? `${(m.spreadMs / 1000).toFixed(1)} s` : "over 90 s",
        ),
      ],
      [
        "Lease writes/s, every shard idle (formula)",
        ...results.map(([p, m]) => `${m.idle.toFixed(1)} (${p.formula.idle.toFixed(1)})`),
      ],
      [
        "Lease writes/s, every shard busy (formula)",
        ...results.map(([p, m]) => `${m.busy.toFixed(1)} (${p.formula.busy.toFixed(1)})`),
      ],
      [
        "failover: worker's calls stop → others hold its shards",
        ...results.map(([, m]) => `${(m.failoverMs / 1000).toFixed(1)} s`),
      ],
      [
        "failover bound: duration + 2 × renew interval",
        ...results.map(
          ([p]) => `${String(p.leaseDurationSeconds + (2 * p.renewIntervalMs) / 1000)} s`,
        ),
      ],
    ],
  );
  const report = `# Shard Leases under load

Generated by \`npm run bench:leases\` (the processors' lease coordinators, ${String(workers)} workers sharing
${String(shards)} shards, against the real API server and etcd of the test control plane, all on one
machine; checkpoints every ${String(checkpointIntervalMs / 1000)} s; ${new Date().toISOString().slice(0, 10)}). Writes are those the API server acknowledged,
counted by the clients over ${String(windowMs / 1000)} s windows; busy means a moved checkpoint for every shard at every checkpoint interval.

${table}
`;
  writeFileSync(join(import.meta.dirname, "../../docs/lease-load.md"), report);
  say(`\n${report}`);
} finally {
  await cluster.stop();
}
