// The processor's per-record path (async operator, outage breaker, request and response mapping,
// the undici caller and its metrics, routing, checkpoint tracking) wired as processor.ts wires
// it, fed by an in-memory source and drained into an in-memory sink, so the engine's own cost can
// be set against a bare undici loop.
import { pino } from "pino";
import { acknowledge, createShardTracker } from "../../processor/checkpoint/tracker.ts";
import { validateConfig } from "../../processor/config/load.ts";
import { createAsyncWait } from "../../processor/engine/async-wait.ts";
import { createCaller } from "../../processor/http/caller.ts";
import { createRequestMapper } from "../../processor/http/request-mapping.ts";
import { createResponseMapper } from "../../processor/http/response-mapping.ts";
import type { RecordSink } from "../../processor/kinesis/put-batcher.ts";
import type { SourceRecord } from "../../processor/kinesis/shard-reader.ts";
import { createProcessorMetrics } from "../../processor/metrics/processor-metrics.ts";
import {
  deadlineFailure,
  internalFailure,
  isDrop,
} from "../../processor/pipeline/call-failures.ts";
import { createEnricher, type Enrichment } from "../../processor/pipeline/enrich.ts";
import {
  outageBreakerFor,
  pauseThroughOutages,
  withOutageObserver,
} from "../../processor/pipeline/pause-through-outage.ts";
import { createRouter } from "../../processor/pipeline/route.ts";
import { measureWindow, type Window } from "./measure-window.ts";

export async function inMemoryPipelineWindow(
  url: string,
  capacity: number,
  body: Buffer,
  durationMs: number,
  warmupMs: number,
  /** More endpoint settings (tls, http). */
  endpoint: Record<string, unknown> = {},
): Promise<Window> {
  const config = validateConfig({
    source: { stream: "memory-source" },
    sink: { stream: "memory-sink" },
    endpoint: { url, ...endpoint },
    capacity,
    ordering: "unordered",
    failurePolicy: "drop",
  });
  const logger = pino({ level: "silent" });
  const metrics = createProcessorMetrics("bench", { defaultMetrics: false });
  const window = measureWindow(warmupMs, durationMs);
  const sink: RecordSink = {
    add(entry) {
      acknowledge(entry.receipt);
      window.count();
      return undefined;
    },
    flush: () => Promise.resolve(),
    abort: () => undefined,
    unacknowledged: 0,
  };
  const requests = createRequestMapper(config.endpoint);
  const breaker = outageBreakerFor(config.endpoint.outage, metrics, logger);
  const caller = createCaller({
    endpoint: config.endpoint,
    origin: requests.origin,
    connections: capacity,
    env: {},
    observer: withOutageObserver(metrics.callObserver, breaker),
  });
  const enrich = createEnricher({
    requests,
    caller,
    responses: createResponseMapper(config.endpoint.response),
    partitionKey: config.sink.partitionKey,
  });
  const engine = createAsyncWait<SourceRecord, Enrichment>({
    capacity,
    ordering: "unordered",
    partitionOf: (record) => record.shardId,
    invoke:
      breaker === undefined
        ? enrich
        : pauseThroughOutages(enrich, breaker, config.endpoint.outage.probeIntervalMs),
    timeoutMs: config.endpoint.deadlineMs + 5_000,
    onTimeout: () => deadlineFailure(config.endpoint),
    onError: (_record, error) => internalFailure(error),
    emit: createRouter({
      config,
      sink,
      deadLetter: undefined,
      metrics,
      logger,
      fail: () => undefined,
    }),
    onFatal: (error) => {
      throw error;
    },
    isDrop,
  });
  const tracker = createShardTracker("shardId-000000000000");
  for (let sequence = 0; !window.over; sequence++) {
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
  await engine.drained();
  breaker?.stop();
  await caller.close();
  return window.result;
}

/** Records/s only, for callers that want no more (the peer comparison harness, peers/run-ours.ts). */
export const inMemoryPipelineRate = async (
  ...args: Parameters<typeof inMemoryPipelineWindow>
): Promise<number> => (await inMemoryPipelineWindow(...args)).perSecond;
