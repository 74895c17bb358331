// Wires one processor: shard readers -> async operator (capacity-bounded calls to the endpoint)
// -> sink or dead letter -> checkpoints. Everything it needs comes from its validated config and
// the few dependencies a test or the demo may replace (Kinesis client, checkpoint store, logger).
import { hostname } from "node:os";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { CoordinationV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { createCheckpointer } from "./checkpoint/checkpointer.ts";
import { LeaseLostError, type ShardCoordinator } from "./checkpoint/coordinator.ts";
import { createSingleWorkerCoordinator } from "./checkpoint/single-worker.ts";
import { createMemoryCheckpointStore, type CheckpointStore } from "./checkpoint/store.ts";
import { maxPendingRecordsPerShard, type ProcessorConfig } from "./config/schema.ts";
import { createGradientLimit } from "./engine/adaptive-limit.ts";
import { createAsyncWait } from "./engine/async-wait.ts";
import { createCaller } from "./http/caller.ts";
import type { BreakerState } from "./http/outage-breaker.ts";
import { createRequestMapper } from "./http/request-mapping.ts";
import { createResponseMapper } from "./http/response-mapping.ts";
import { createKinesisClient } from "./kinesis/client.ts";
import { describeError } from "./kinesis/errors.ts";
import { fixStartPosition } from "./kinesis/start-position.ts";
import { loadKubeConfig } from "./leases/kube-config.ts";
import { createLeaseCoordinator } from "./leases/lease-coordinator.ts";
import { createPutBatcher, type RecordSink } from "./kinesis/put-batcher.ts";
import type { SourceRecord } from "./kinesis/shard-reader.ts";
import { createLogger } from "./logger.ts";
import { createProcessorMetrics, type ProcessorMetrics } from "./metrics/processor-metrics.ts";
import { createEnricher, type Enrichment } from "./pipeline/enrich.ts";
import {
  outageBreakerFor,
  pauseThroughOutages,
  withOutageObserver,
} from "./pipeline/pause-through-outage.ts";
import { createRouter } from "./pipeline/route.ts";
import { createShardSupervisor, type ShardStatus } from "./pipeline/shard-supervisor.ts";

export interface ProcessorDependencies {
  kinesis?: KinesisClient;
  /** Checkpoints of a single processor (coordination "memory"). */
  checkpointStore?: CheckpointStore;
  /** API server access for coordination "kubernetes"; by default in-cluster or KUBECONFIG. */
  kubeConfig?: KubeConfig;
  logger?: Logger;
  metrics?: ProcessorMetrics;
  /** Where header values named by `fromEnv` are read. */
  env?: NodeJS.ProcessEnv;
}

export interface ProcessorStatus {
  workerId: string;
  ready: boolean;
  reason: string | undefined;
  inFlight: number;
  capacity: number;
  /** The outage breaker: closed, or open/probing with the last outage error and calls waiting. */
  endpoint: { state: BreakerState; reason: string | undefined; waiting: number };
  shards: ShardStatus[];
}

export interface Processor {
  readonly metrics: ProcessorMetrics;
  status(): ProcessorStatus;
  /** Drains and stops: stop reading, finish in-flight calls, flush the sinks, checkpoint. */
  stop(reason?: string): Promise<void>;
  /** Settles when the processor has stopped; exitCode 1 if it failed. */
  readonly done: Promise<{ exitCode: number; reason: string | undefined }>;
}

export function startProcessor(
  config: ProcessorConfig,
  dependencies: ProcessorDependencies = {},
): Processor {
  const workerId = config.workerId ?? hostname();
  const logger =
    dependencies.logger ?? createLogger(config.logLevel, { job: config.jobName, worker: workerId });
  const metrics = dependencies.metrics ?? createProcessorMetrics(config.jobName);
  const ownsKinesis = dependencies.kinesis === undefined;
  const kinesis =
    dependencies.kinesis ??
    createKinesisClient({ region: config.aws.region, endpoint: config.aws.endpoint });

  const requests = createRequestMapper(config.endpoint);
  const breaker = outageBreakerFor(config.endpoint.outage, metrics, logger);
  const caller = createCaller({
    endpoint: config.endpoint,
    origin: requests.origin,
    connections: config.capacity,
    env: dependencies.env ?? process.env,
    observer: withOutageObserver(metrics.callObserver, breaker),
  });
  const sinkFor = (sink: ProcessorConfig["sink"], role: "sink" | "deadLetter"): RecordSink =>
    createPutBatcher({
      client: kinesis,
      stream: sink.stream,
      maxBatchRecords: sink.maxBatchRecords,
      maxBatchBytes: sink.maxBatchBytes,
      lingerMs: sink.lingerMs,
      maxInFlightBatches: sink.maxInFlightBatches ?? (config.ordering === "ordered" ? 1 : 4),
      observer: {
        ...metrics.sinkObserver(role),
        shardMapFailed: (reason) => {
          logger.warn({ role, reason }, "ListShards failed: aggregating per hash key meanwhile");
        },
      },
      aggregation: sink.aggregation.enabled ? sink.aggregation : undefined,
    });
  const sink = sinkFor(config.sink, "sink");
  const deadLetter =
    config.deadLetter === undefined ? undefined : sinkFor(config.deadLetter, "deadLetter");

  let failure: string | undefined;
  let stopping: Promise<void> | undefined;
  let resolveDone: (result: { exitCode: number; reason: string | undefined }) => void = () =>
    undefined;
  const done = new Promise<{ exitCode: number; reason: string | undefined }>((resolve) => {
    resolveDone = resolve;
  });

  const fail = (reason: string): void => {
    if (failure !== undefined) return;
    failure = reason;
    logger.error({ reason }, "processor failed; stopping without checkpointing past the failure");
    void stop("failure");
  };

  const route = createRouter({
    config,
    sink,
    deadLetter,
    metrics,
    logger,
    fail: (record, result) => {
      fail(
        `record ${record.sequenceNumber} of shard ${record.shardId} failed and failurePolicy is fail: ${result.reason}`,
      );
    },
  });
  const enrich = createEnricher({
    requests,
    caller,
    responses: createResponseMapper(config.endpoint.response),
    partitionKey: config.sink.partitionKey,
  });
  const adaptive = config.adaptiveConcurrency;
  const limiter = adaptive.enabled
    ? createGradientLimit({
        min: adaptive.minLimit,
        max: config.capacity,
        tolerance: adaptive.latencyTolerance,
      })
    : undefined;
  const engine = createAsyncWait<SourceRecord, Enrichment>({
    capacity: config.capacity,
    ordering: config.ordering,
    partitionOf: (record) => record.shardId,
    openPartitions: () => shards.readingCount(),
    invoke:
      breaker === undefined
        ? enrich
        : pauseThroughOutages(enrich, breaker, config.endpoint.outage.probeIntervalMs),
    // The caller's deadline ends every call first; this bound only catches a bug below it.
    timeoutMs: config.endpoint.deadlineMs + 5_000,
    onTimeout: () => ({
      ok: false,
      reason: `no result within the deadline (${config.endpoint.deadlineMs} ms)`,
      kind: "deadline",
      attempts: 0,
      startedAt: Date.now(),
    }),
    onError: (_record, error) => ({
      ok: false,
      reason: describeError(error),
      kind: "internal",
      attempts: 0,
      startedAt: Date.now(),
    }),
    emit: (record, result) => {
      if (!result.ok) shards.noteFailure(record.shardId, result.reason);
      return route(record, result);
    },
    onFatal: (error) => {
      fail(`emitting a result failed: ${describeError(error)}`);
    },
    limiter,
    // Overload, for the limiter: timed out, refused, 429 or 5xx, or failed after retries.
    isDrop: (result) =>
      !result.ok &&
      (result.attempts > 1 ||
        result.kind === "timeout" ||
        result.kind === "network" ||
        result.kind === "deadline" ||
        result.status === 429 ||
        (result.status ?? 0) >= 500),
  });
  metrics.capacity.set(config.capacity);
  metrics.concurrencyLimit.set(engine.limit);

  const coordination = config.coordination;
  const coordinator: ShardCoordinator =
    coordination.type === "kubernetes"
      ? createLeaseCoordinator({
          api: (dependencies.kubeConfig ?? loadKubeConfig()).makeApiClient(CoordinationV1Api),
          config: coordination,
          workerId,
          counters: (shardId) => {
            const counters = shards.counters(shardId);
            return counters === undefined || breaker === undefined || breaker.state === "closed"
              ? counters
              : { ...counters, endpointOutage: breaker.reason ?? "no answer" };
          },
          logger,
          observer: metrics.leaseObserver,
        })
      : createSingleWorkerCoordinator(
          dependencies.checkpointStore ?? createMemoryCheckpointStore(),
          config.source.shardDiscoveryIntervalMs,
        );
  const checkpointer = createCheckpointer(
    coordinator,
    (shardId, error) => {
      // A lost lease is logged where it is noticed; its shard is no longer ours to checkpoint.
      if (error instanceof LeaseLostError) return;
      logger.warn({ shardId, err: describeError(error) }, "writing the checkpoint failed");
    },
    () => {
      metrics.checkpoints.inc();
    },
  );
  const shards = createShardSupervisor({
    client: kinesis,
    source: config.source,
    startPosition: fixStartPosition(
      config.source.startPosition,
      config.source.latestFrom === undefined ? new Date() : new Date(config.source.latestFrom),
    ),
    maxPendingRecords: maxPendingRecordsPerShard(config),
    coordinator,
    checkpointer,
    submit: (record) => engine.submit(record),
    handoverDrainMs:
      coordination.type === "kubernetes" ? (coordination.leaseDurationSeconds * 1000) / 2 : 0,
    metrics,
    logger,
  });

  const checkpointTimer = setInterval(() => {
    void checkpointer.flush(shards.trackers());
  }, config.checkpointIntervalMs);
  const gaugeTimer = setInterval(() => {
    metrics.inFlight.set(engine.inFlight);
    metrics.concurrencyLimit.set(engine.limit);
  }, 1_000);
  gaugeTimer.unref();

  const drain = async (): Promise<void> => {
    await shards.stop();
    await engine.drained();
    await Promise.all([sink.flush(), deadLetter?.flush()]);
  };

  const stop = (reason = "stop requested"): Promise<void> => {
    stopping ??= (async () => {
      logger.info(
        { reason, inFlight: engine.inFlight },
        "draining: stop reading, finish in-flight work, flush, checkpoint",
      );
      clearInterval(checkpointTimer);
      // Syncing stops with reading: keep the shards' Leases alive until they are released.
      const renewal = setInterval(() => {
        void coordinator.renew();
      }, coordinator.syncIntervalMs);
      let graceTimer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<"grace over">((resolve) => {
        graceTimer = setTimeout(resolve, config.shutdownGraceMs, "grace over");
      });
      const outcome = await Promise.race([drain().then(() => "drained" as const), graceOver]);
      clearTimeout(graceTimer);
      clearInterval(renewal);
      if (outcome === "grace over") {
        sink.abort();
        deadLetter?.abort();
        logger.warn(
          { inFlight: engine.inFlight, unwritten: sink.unacknowledged },
          "shutdown grace period over: checkpointing only what was written; the rest will be read again",
        );
      }
      await checkpointer.flush(shards.trackers());
      await coordinator.release();
      clearInterval(gaugeTimer);
      // Past the grace period, calls still running are abandoned: their records are read again.
      breaker?.stop();
      await (outcome === "grace over" ? caller.destroy() : caller.close());
      if (ownsKinesis) kinesis.destroy();
      logger.info(
        {
          checkpoints: shards.status().shards.map((shard) => [shard.shardId, shard.checkpoint]),
          maxRssBytes: process.resourceUsage().maxRSS * 1024,
        },
        "processor stopped",
      );
      resolveDone({ exitCode: failure === undefined ? 0 : 1, reason: failure });
    })();
    return stopping;
  };

  shards.start();
  logger.info(
    {
      source: config.source.stream,
      sink: config.sink.stream,
      endpoint: requests.origin,
      capacity: config.capacity,
      ordering: config.ordering,
      failurePolicy: config.failurePolicy,
    },
    "processor started",
  );

  return {
    metrics,
    status() {
      const shardStatus = shards.status();
      const reason =
        failure ??
        (stopping !== undefined
          ? "stopping"
          : !shardStatus.discovered
            ? `shards of ${config.source.stream} not listed yet${shardStatus.discoveryError === undefined ? "" : `: ${shardStatus.discoveryError}`}`
            : undefined);
      return {
        workerId,
        ready: reason === undefined,
        reason,
        inFlight: engine.inFlight,
        capacity: config.capacity,
        endpoint:
          breaker === undefined
            ? { state: "closed", reason: undefined, waiting: 0 }
            : { state: breaker.state, reason: breaker.reason, waiting: breaker.waiting },
        shards: shardStatus.shards,
      };
    },
    stop,
    done,
  };
}
