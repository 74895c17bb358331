// The processor's per-record path (async operator, request and response mapping, the undici
// caller, routing, checkpoint tracking) fed by an in-memory source and drained into an in-memory
// sink, so the engine's own cost can be set against a bare undici loop.
import { pino } from "pino";
import { createShardTracker } from "../../processor/checkpoint/tracker.ts";
import { acknowledge } from "../../processor/checkpoint/tracker.ts";
import { validateConfig } from "../../processor/config/load.ts";
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

export async function inMemoryPipelineRate(
  url: string,
  capacity: number,
  body: Buffer,
  durationMs: number,
  warmupMs: number,
  /** More endpoint settings (tls, http). */
  endpoint: Record<string, unknown> = {},
): Promise<number> {
  const config = validateConfig({
    source: { stream: "memory-source" },
    sink: { stream: "memory-sink" },
    endpoint: { url, ...endpoint },
    capacity,
    ordering: "unordered",
    failurePolicy: "drop",
  });
  const metrics = createProcessorMetrics("bench", { defaultMetrics: false });
  const started = performance.now();
  const measureFrom = started + warmupMs;
  const stopAt = measureFrom + durationMs;
  let counted = 0;
  const sink: RecordSink = {
    add(entry) {
      acknowledge(entry.receipt);
      const now = performance.now();
      if (now >= measureFrom && now < stopAt) counted++;
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
  const engine = createAsyncWait<SourceRecord, Enrichment>({
    capacity,
    ordering: "unordered",
    partitionOf: (record) => record.shardId,
    invoke: createEnricher({
      requests,
      caller,
      responses: createResponseMapper(config.endpoint.response),
      partitionKey: "source",
    }),
    timeoutMs: 60_000,
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
  });
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
  await engine.drained();
  await caller.close();
  return counted / (durationMs / 1000);
}
