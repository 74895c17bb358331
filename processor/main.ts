// The processor pod's entry point: validate the config, run until SIGTERM, drain, exit.
// Exit codes: 0 after a clean drain, 1 when the job failed, 2 for an invalid config.
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "./config/load.ts";
import { createLogger } from "./logger.ts";
import { startProcessor } from "./processor.ts";
import { startHealthServer } from "./server/health-server.ts";

const { values } = parseArgs({ options: { config: { type: "string" } } });

let config;
try {
  config = loadConfig({ file: values.config, env: process.env });
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  createLogger("info", { component: "processor" }).fatal(
    { problems: error.problems },
    `${error.message}\nFix the fields above in the job's spec (or the config file) and restart.`,
  );
  process.exit(2);
}

const workerId = config.workerId ?? hostname();
const logger = createLogger(config.logLevel, { job: config.jobName, worker: workerId });
const processor = startProcessor(config, { logger });
const health = await startHealthServer(
  { registry: processor.metrics.registry, status: () => processor.status() },
  config.metrics.host,
  config.metrics.port,
);
logger.info({ url: health.url }, "serving /metrics, /healthz, /readyz and /status");

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    void processor.stop(`received ${signal}`);
  });
}

const { exitCode } = await processor.done;
await health.close();
process.exit(exitCode);
