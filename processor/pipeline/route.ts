// Where each result goes: an enriched record to the sink; a failed one where the failure policy
// says (dead-letter stream, dropped with a metric and a log line, or the job fails). A record is
// acknowledged only once its fate is settled, so nothing is lost silently.
import type { Logger } from "pino";
import { acknowledge } from "../checkpoint/tracker.ts";
import type { ProcessorConfig } from "../config/schema.ts";
import type { RecordSink } from "../kinesis/put-batcher.ts";
import type { SourceRecord } from "../kinesis/shard-reader.ts";
import type { ProcessorMetrics } from "../metrics/processor-metrics.ts";
import { deadLetterRecord } from "./dead-letter.ts";
import type { Enrichment, Failure } from "./enrich.ts";

export interface RouterOptions {
  config: Pick<ProcessorConfig, "failurePolicy" | "sink" | "deadLetter" | "source">;
  sink: RecordSink;
  deadLetter: RecordSink | undefined;
  metrics: ProcessorMetrics;
  logger: Logger;
  /** The fail policy: stop the job; the record stays unacknowledged and is read again. */
  fail(record: SourceRecord, failure: Failure): void;
}

export type Route = (record: SourceRecord, result: Enrichment) => Promise<void> | undefined;

export function createRouter(options: RouterOptions): Route {
  const { config, sink, deadLetter, metrics, logger } = options;
  const maxRecordBytes = config.sink.maxRecordBytes;

  const routeFailure = (record: SourceRecord, failure: Failure): Promise<void> | undefined => {
    switch (config.failurePolicy) {
      case "deadLetter": {
        if (deadLetter === undefined || config.deadLetter === undefined) {
          throw new Error("failurePolicy deadLetter without a dead-letter sink");
        }
        metrics.failedOutcomes.deadLetter.inc();
        logger.debug(
          {
            shardId: record.shardId,
            sequenceNumber: record.sequenceNumber,
            reason: failure.reason,
          },
          "record sent to the dead-letter stream",
        );
        return deadLetter.add({
          data: deadLetterRecord(
            record,
            failure,
            config.source.stream,
            config.deadLetter.maxRecordBytes,
          ),
          partitionKey: record.partitionKey,
          receipt: record.receipt,
        });
      }
      case "drop":
        metrics.failedOutcomes.dropped.inc();
        logger.warn(
          {
            shardId: record.shardId,
            sequenceNumber: record.sequenceNumber,
            reason: failure.reason,
          },
          "record dropped by failure policy",
        );
        acknowledge(record.receipt);
        return undefined;
      case "fail":
        metrics.failedOutcomes.failed.inc();
        options.fail(record, failure);
        return undefined;
    }
  };

  return (record, result) => {
    if (!result.ok) return routeFailure(record, result);
    const size = result.data.length + Buffer.byteLength(result.partitionKey);
    if (size > maxRecordBytes) {
      return routeFailure(record, {
        ok: false,
        reason: `output record of ${size} bytes exceeds sink.maxRecordBytes (${maxRecordBytes})`,
        kind: "too-large",
        attempts: 1,
        startedAt: Date.now(),
      });
    }
    metrics.recordsOut.inc();
    return sink.add({
      data: result.data,
      partitionKey: result.partitionKey,
      receipt: record.receipt,
    });
  };
}
