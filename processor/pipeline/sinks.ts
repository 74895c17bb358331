// The sink and dead-letter streams a processor writes, each a PutRecords batcher with its metrics.
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import type { Logger } from "pino";
import type { ProcessorConfig } from "../config/schema.ts";
import { createPutBatcher, type RecordSink } from "../kinesis/put-batcher.ts";
import type { ProcessorMetrics } from "../metrics/processor-metrics.ts";

export interface Sinks {
  sink: RecordSink;
  deadLetter: RecordSink | undefined;
}

export function createSinks(
  config: ProcessorConfig,
  kinesis: KinesisClient,
  metrics: ProcessorMetrics,
  logger: Logger,
): Sinks {
  const sinkFor = (sink: ProcessorConfig["sink"], role: "sink" | "deadLetter"): RecordSink =>
    createPutBatcher({
      client: kinesis,
      stream: sink.stream,
      maxBatchRecords: sink.maxBatchRecords,
      maxBatchBytes: sink.maxBatchBytes,
      lingerMs: sink.lingerMs,
      // One batch at a time keeps the write order that ordered mode promises.
      maxInFlightBatches: sink.maxInFlightBatches ?? (config.ordering === "ordered" ? 1 : 4),
      keyOrdered: config.ordering === "ordered",
      observer: {
        ...metrics.sinkObserver(role),
        shardMapFailed: (reason) => {
          logger.warn({ role, reason }, "ListShards failed: aggregating per hash key meanwhile");
        },
      },
      aggregation: sink.aggregation.enabled ? sink.aggregation : undefined,
    });
  return {
    sink: sinkFor(config.sink, "sink"),
    deadLetter:
      config.deadLetter === undefined ? undefined : sinkFor(config.deadLetter, "deadLetter"),
  };
}
