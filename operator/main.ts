// The operator's entry point: settings from the environment, /metrics /healthz /readyz, leader
// election, and the job controller while leading. SIGTERM stops the controller, releases the
// Lease so a standby replica takes over at once, and exits.
import { createServer } from "node:http";
import { CoordinationV1Api } from "@kubernetes/client-node";
import { Counter, Histogram, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { createLogger, loadKubeConfig } from "../processor/contract.ts";
import { createAutoscalingMetrics } from "./autoscaling-metrics.ts";
import { startJobController } from "./controller/job-controller.ts";
import { defaultTimings, runLeaderElection } from "./leader/leader-election.ts";
import { coordinationLeaseApi } from "./leader/lease-api.ts";
import { loadSettings, type OperatorSettings } from "./settings.ts";

let settings: OperatorSettings;
try {
  settings = loadSettings(process.env);
} catch (error) {
  createLogger("info", { component: "operator" }).fatal((error as Error).message);
  process.exit(2);
}
const logger = createLogger(settings.LOG_LEVEL, { component: "operator", pod: settings.POD_NAME });

const registry = new Registry();
collectDefaultMetrics({ register: registry });
const reconciles = new Counter({
  name: "aej_operator_reconciles_total",
  help: "Reconciles, by result.",
  labelNames: ["result"] as const,
  registers: [registry],
});
const reconcileSeconds = new Histogram({
  name: "aej_operator_reconcile_duration_seconds",
  help: "Duration of successful reconciles.",
  registers: [registry],
});
const writes = new Counter({
  name: "aej_operator_writes_total",
  help: "Writes to the API server (server-side apply, status), by kind.",
  labelNames: ["kind"] as const,
  registers: [registry],
});
const leader = new Gauge({
  name: "aej_operator_leader",
  help: "1 while this replica is the leader.",
  registers: [registry],
});
const onAutoscaled = createAutoscalingMetrics(registry);

let ready = false;
const server = createServer((request, response) => {
  if (request.url === "/metrics") {
    void registry.metrics().then((text) => {
      response.writeHead(200, { "content-type": registry.contentType });
      response.end(text);
    });
    return;
  }
  const ok = request.url === "/healthz" || (request.url === "/readyz" && ready);
  response.writeHead(ok ? 200 : request.url === "/readyz" ? 503 : 404);
  response.end(ok ? "ok" : "not ready");
});
server.listen(settings.METRICS_PORT, settings.METRICS_HOST);

const kubeConfig = loadKubeConfig();
const stop = new AbortController();
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    stop.abort();
  });
}
ready = true;

await runLeaderElection(
  {
    leases: coordinationLeaseApi(
      kubeConfig.makeApiClient(CoordinationV1Api),
      settings.POD_NAMESPACE,
      settings.LEADER_ELECTION_ID,
    ),
    identity: settings.POD_NAME,
    ...defaultTimings,
    logger,
  },
  async (acting) => {
    // Leadership lost (not given up at SIGTERM) ends the process at once, as controller-runtime
    // does: a reconcile in flight must not overlap the next leader's. The Deployment restarts it
    // as a standby.
    acting.addEventListener(
      "abort",
      () => {
        if (stop.signal.aborted) return;
        logger.fatal({ err: acting.reason as Error }, "lost leadership; exiting");
        process.exit(1);
      },
      { once: true },
    );
    leader.set(1);
    const controller = await startJobController({
      kubeConfig,
      namespaces: settings.WATCH_NAMESPACES,
      settings: { defaultImage: settings.PROCESSOR_IMAGE },
      logger,
      onWrite: (kind) => {
        writes.labels(kind).inc();
      },
      onAutoscaled,
      onReconciled: (_key, result, seconds) => {
        reconciles.labels(result).inc();
        if (result === "success") reconcileSeconds.observe(seconds);
      },
    });
    // Checked first: a SIGTERM may have come while the controller was starting.
    if (!acting.aborted)
      await new Promise<void>((resolve) => {
        acting.addEventListener(
          "abort",
          () => {
            resolve();
          },
          { once: true },
        );
      });
    await controller.stop();
    leader.set(0);
  },
  stop.signal,
);
logger.info("operator stopped");
server.close();
process.exit(0);
