// Wires one processor: shard readers -> async operator (capacity-bounded calls to the endpoint)
// -> sink or dead letter -> checkpoints. Everything it needs comes from its validated config and
// the few dependencies a test or the demo may replace (Kinesis client, checkpoint store, logger).
import { hostname } from "node:os";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { createCheckpointer } from "./checkpoint/checkpointer.ts";
import { LeaseLostError } from "./checkpoint/coordinator.ts";
import { coordinatorFor } from "./checkpoint/coordinator-for.ts";
import type { CheckpointStore } from "./checkpoint/store.ts";
import { maxPendingRecordsPerShard, type ProcessorConfig } from "./config/schema.ts";
import { createGradientLimit } from "./engine/adaptive-limit.ts";
import { createAsyncWait } from "./engine/async-wait.ts";
import { createCaller } from "./http/caller.ts";
import { createRateGate, type RateGate } from "./http/rate-limit.ts";
import { rateShare } from "./http/rate-share.ts";
import type { BreakerState } from "./http/outage-breaker.ts";
import { createRequestMapper } from "./http/request-mapping.ts";
import { createResponseMapper } from "./http/response-mapping.ts";
import { createKinesisClient } from "./kinesis/client.ts";
import { describeError } from "./kinesis/errors.ts";
import { fixStartPosition } from "./kinesis/start-position.ts";
import type { SourceRecord } from "./kinesis/shard-reader.ts";
import { createLogger } from "./logger.ts";
import { createProcessorMetrics, type ProcessorMetrics } from "./metrics/processor-metrics.ts";
import { createLoadTracker } from "./metrics/load-totals.ts";
import { idleAtTip, processingLagMillis } from "./pipeline/processing-lag.ts";
import { deadlineFailure, internalFailure, isDrop } from "./pipeline/call-failures.ts";
import { createEnricher, type Enrichment } from "./pipeline/enrich.ts";
import {
  outageBreakerFor,
  pauseThroughOutages,
  withOutageObserver,
} from "./pipeline/pause-through-outage.ts";
import { createRouter } from "./pipeline/route.ts";
import {
  noteFailure,
  shardCounters,
  type ShardReadings,
  type ShardStatus,
} from "./pipeline/shard-readings.ts";
import { createShardSupervisor } from "./pipeline/shard-supervisor.ts";
import { createSinks } from "./pipeline/sinks.ts";
import { shutDown } from "./shutdown.ts";

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
  /** Records admitted now: the adaptive concurrency limit, or capacity when it is off. */
  concurrencyLimit: number;
  /** With a rate limit: this pod's share (requests per second, burst) and attempts waiting. */
  rateLimit?: { requestsPerSecond: number; burst: number; waiting: number };
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
  const rateLimit = config.endpoint.rateLimit;
  const rateMetrics = rateLimit === undefined ? undefined : metrics.withRateLimit();
  const gate: RateGate | undefined =
    rateMetrics === undefined
      ? undefined
      : createRateGate({
          onWaited: (seconds) => {
            rateMetrics.waited(seconds);
          },
        });
  const load = createLoadTracker();
  const caller = createCaller({
    endpoint: config.endpoint,
    origin: requests.origin,
    connections: config.capacity,
    env: dependencies.env ?? process.env,
    observer: load.observing(withOutageObserver(metrics.callObserver, breaker)),
    logger,
    ...(gate === undefined ? {} : { admit: () => gate.admit() }),
  });
  const sinks = createSinks(config, kinesis, metrics, logger);
  const { sink, deadLetter } = sinks;

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
  const readings: ShardReadings = new Map();
  const engine = createAsyncWait<SourceRecord, Enrichment>({
    capacity: config.capacity,
    ordering: config.ordering,
    partitionOf: (record) => record.shardId,
    // Shards being read or drained: each gets its share of the capacity.
    openPartitions: () => readings.size,
    invoke:
      breaker === undefined
        ? enrich
        : pauseThroughOutages(enrich, breaker, config.endpoint.outage.probeIntervalMs),
    // The caller's deadline ends every call first; this bound only catches a bug below it.
    timeoutMs: config.endpoint.deadlineMs + 5_000,
    onTimeout: () => deadlineFailure(config.endpoint),
    onError: (_record, error) => internalFailure(error),
    emit: (record, result) => {
      if (!result.ok) noteFailure(readings, record.shardId, result.reason);
      return route(record, result);
    },
    onFatal: (error) => {
      fail(`emitting a result failed: ${describeError(error)}`);
    },
    limiter,
    isDrop,
  });
  metrics.capacity.set(config.capacity);
  metrics.concurrencyLimit.set(engine.limit);
  load.sampleInFlight(() => engine.inFlight);

  const coordinator = coordinatorFor(config, {
    workerId,
    counters: (shardId) => {
      const counters = shardCounters(readings, shardId);
      const reading = readings.get(shardId);
      if (counters === undefined || reading === undefined) return undefined;
      return {
        ...counters,
        millisBehindLatest: processingLagMillis(
          counters.millisBehindLatest,
          reading.lastTakenArrivedAt,
          reading.tracker.pending,
          Date.now(),
        ),
        taken: {
          records: reading.taken,
          lastArrivedAt: reading.lastTakenArrivedAt?.getTime(),
          reading,
        },
        idleAtTip: idleAtTip(
          counters.millisBehindLatest,
          reading.lastReadAt === undefined ? undefined : performance.now() - reading.lastReadAt,
          reading.status.recordsRead - reading.taken,
          config.source.idleTimeBetweenReadsMs,
        ),
        concurrencyLimit: engine.limit,
        load: load.totals(),
        ...(gate === undefined ? {} : { rateLimitShare: gate.requestsPerSecond }),
        ...(breaker === undefined || breaker.state === "closed"
          ? {}
          : { endpointOutage: breaker.reason ?? "no answer" }),
      };
    },
    kubeConfig: dependencies.kubeConfig,
    checkpointStore: dependencies.checkpointStore,
    metrics,
    logger,
  });
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
    readings,
    submit: (record) => {
      const reading = readings.get(record.shardId);
      if (reading !== undefined) {
        reading.lastTakenArrivedAt = record.arrivedAt;
        reading.taken++;
      }
      return engine.submit(record);
    },
    handoverDrainMs:
      config.coordination.type === "kubernetes"
        ? (config.coordination.leaseDurationSeconds * 1000) / 2
        : 0,
    metrics,
    logger,
    ...(gate === undefined || rateLimit === undefined
      ? {}
      : {
          onShares: (held: number, open: number) => {
            const share = rateShare(rateLimit, held, open);
            gate.setShare(share.requestsPerSecond, share.burst);
            rateMetrics?.share(share.requestsPerSecond);
          },
        }),
  });

  const checkpointTimer = setInterval(() => {
    void checkpointer.flush(shards.trackers());
  }, config.checkpointIntervalMs);
  const gaugeTimer = setInterval(() => {
    metrics.inFlight.set(engine.inFlight);
    metrics.concurrencyLimit.set(engine.limit);
  }, 1_000);
  gaugeTimer.unref();

  const stop = (reason = "stop requested"): Promise<void> => {
    stopping ??= (async () => {
      logger.info(
        { reason, inFlight: engine.inFlight },
        "draining: stop reading, finish in-flight work, flush, checkpoint",
      );
      clearInterval(checkpointTimer);
      await shutDown(
        {
          logger,
          shards,
          engine,
          sinks,
          checkpointer,
          coordinator,
          caller,
          breaker,
          ownKinesis: ownsKinesis ? kinesis : undefined,
        },
        config.shutdownGraceMs,
      );
      clearInterval(gaugeTimer);
      load.stop();
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
        concurrencyLimit: engine.limit,
        ...(gate === undefined
          ? {}
          : {
              rateLimit: {
                requestsPerSecond: gate.requestsPerSecond,
                burst: gate.burst,
                waiting: gate.waiting,
              },
            }),
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
