// One run of the processor's per-record path (async operator, request and response mapping, the
// undici caller, routing, checkpoint tracking) against the queueing endpoint, with a backlog: an
// in-memory source that always has a record, an in-memory sink. With `adaptive`, the operator's
// limit follows a gradient limiter wired as processor.ts wires it.
import { pino } from "pino";
import { acknowledge, createShardTracker } from "../../processor/checkpoint/tracker.ts";
import { validateConfig } from "../../processor/config/load.ts";
import { createGradientLimit } from "../../processor/engine/adaptive-limit.ts";
import { createAsyncWait } from "../../processor/engine/async-wait.ts";
import { createCaller } from "../../processor/http/caller.ts";
import { createRequestMapper } from "../../processor/http/request-mapping.ts";
import { createResponseMapper } from "../../processor/http/response-mapping.ts";
import type { RecordSink } from "../../processor/kinesis/put-batcher.ts";
import type { SourceRecord } from "../../processor/kinesis/shard-reader.ts";
import { createProcessorMetrics } from "../../processor/metrics/processor-metrics.ts";
import { createEnricher, type Enrichment } from "../../processor/pipeline/enrich.ts";
import { createRouter } from "../../processor/pipeline/route.ts";
import { deadlineFailure, internalFailure } from "../../processor/pipeline/call-failures.ts";

export interface ConcurrencyRun {
  /** Records emitted per second in the measured window. */
  perSecond: number;
  /** Call latencies in the measured window, sorted, in ms. */
  latencies: Float64Array;
  /** The operator's limit, sampled every 50 ms in the measured window. */
  limits: number[];
  /** The latencies the endpoint assigned in the measured window, in ms (its own view). */
  endpoint: { count: number; p50: number; p99: number };
}

export async function concurrencyRun(options: {
  url: string;
  capacity: number;
  adaptive: boolean;
  warmupMs: number;
  durationMs: number;
}): Promise<ConcurrencyRun> {
  const { capacity, warmupMs, durationMs } = options;
  const config = validateConfig({
    source: { stream: "memory-source" },
    sink: { stream: "memory-sink" },
    endpoint: { url: `${options.url}/enrich` },
    capacity,
    ordering: "unordered",
    failurePolicy: "drop",
    adaptiveConcurrency: { enabled: options.adaptive },
  });
  const metrics = createProcessorMetrics("bench", { defaultMetrics: false });
  const measureFrom = performance.now() + warmupMs;
  const stopAt = measureFrom + durationMs;
  const inWindow = (at: number): boolean => at >= measureFrom && at < stopAt;
  let emitted = 0;
  const latencies: number[] = [];
  const sink: RecordSink = {
    add(entry) {
      acknowledge(entry.receipt);
      if (inWindow(performance.now())) emitted++;
      return undefined;
    },
    flush: () => Promise.resolve(),
    abort: () => undefined,
    unacknowledged: 0,
  };
  const requests = createRequestMapper(config.endpoint);
  const caller = createCaller({
    endpoint: config.endpoint,
    origin: requests.origin,
    connections: capacity,
    env: {},
    observer: metrics.callObserver,
  });
  const enrich = createEnricher({
    requests,
    caller,
    responses: createResponseMapper(config.endpoint.response),
    partitionKey: "source",
  });
  const adaptive = config.adaptiveConcurrency;
  const engine = createAsyncWait<SourceRecord, Enrichment>({
    capacity,
    ordering: "unordered",
    partitionOf: (record) => record.shardId,
    invoke: async (record) => {
      const started = performance.now();
      const result = await enrich(record);
      const ended = performance.now();
      if (inWindow(ended)) latencies.push(ended - started);
      return result;
    },
    timeoutMs: config.endpoint.deadlineMs + 5_000,
    onTimeout: () => deadlineFailure(config.endpoint),
    onError: (_record, error) => internalFailure(error),
    emit: createRouter({
      config,
      sink,
      deadLetter: undefined,
      metrics,
      logger: pino({ level: "silent" }),
      fail: () => undefined,
    }),
    onFatal: (error) => {
      throw error;
    },
    limiter: adaptive.enabled
      ? createGradientLimit({
          min: adaptive.minLimit,
          max: capacity,
          tolerance: adaptive.latencyTolerance,
        })
      : undefined,
    isDrop: (result) => !result.ok,
  });
  const stats = (path: string) =>
    fetch(`${options.url}${path}`).then(
      async (response) => (await response.json()) as ConcurrencyRun["endpoint"],
    );
  const reset = new Promise<unknown>((resolve) => {
    setTimeout(() => {
      resolve(stats("/stats/reset"));
    }, warmupMs);
  });
  const limits: number[] = [];
  const sampler = setInterval(() => {
    if (inWindow(performance.now())) limits.push(engine.limit);
  }, 50);
  const body = Buffer.from(JSON.stringify({ id: 1, customer: "c-1" }));
  const tracker = createShardTracker("shardId-000000000000");
  for (let sequence = 0; performance.now() < stopAt; sequence++) {
    const waiting = engine.submit({
      shardId: tracker.shardId,
      sequenceNumber: String(sequence),
      partitionKey: "key",
      data: body,
      arrivedAt: undefined,
      receipt: tracker.track(String(sequence)),
    });
    if (waiting !== undefined) await waiting;
  }
  clearInterval(sampler);
  await reset;
  const endpoint = await stats("/stats");
  await engine.drained();
  await caller.close();
  return {
    perSecond: emitted / (durationMs / 1000),
    latencies: Float64Array.from(latencies).sort(),
    limits,
    endpoint,
  };
}

/** The q-quantile of sorted values (nearest rank). */
export const quantile = (sorted: Float64Array, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
