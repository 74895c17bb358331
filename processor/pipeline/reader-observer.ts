// What a shard's reader reports becomes the shard's figures on its reading (for /status and the
// heartbeat), the processor's metrics, and a log line for what needs a look.
import type { Logger } from "pino";
import { describeError } from "../kinesis/errors.ts";
import type { ShardReaderObserver } from "../kinesis/shard-reader.ts";
import type { ExtractStats } from "../kinesis/user-records.ts";
import type { ProcessorMetrics } from "../metrics/processor-metrics.ts";
import type { ShardReadings } from "./shard-readings.ts";

export function readerObserver(
  readings: ShardReadings,
  metrics: ProcessorMetrics,
  logger: Logger,
): ShardReaderObserver {
  return {
    fetched(shardId: string, records: number, millisBehindLatest: number | undefined) {
      const reading = readings.get(shardId);
      if (reading === undefined) return;
      reading.status.recordsRead += records;
      reading.lastReadAt = performance.now();
      reading.status.millisBehindLatest = millisBehindLatest;
      reading.status.lastError = undefined;
      metrics.recordsIn.inc(records);
      if (millisBehindLatest !== undefined) {
        metrics.millisBehindLatest.labels(shardId).set(millisBehindLatest);
      }
    },
    deaggregated(shardId: string, stats: ExtractStats) {
      metrics.kplAggregates.inc(stats.aggregates);
      metrics.kplMisplaced.inc(stats.outOfRange);
      for (const reason of stats.rejected) {
        metrics.kplPassedWhole.labels(reason).inc();
        logger.warn(
          { shardId, reason },
          "a record with the KPL magic bytes is no sound aggregate; passed on whole",
        );
      }
    },
    failed(shardId: string, error: unknown, attempt: number) {
      const reading = readings.get(shardId);
      if (reading !== undefined) reading.status.lastError = describeError(error);
      metrics.sourceErrors.inc();
      logger[attempt > 3 ? "warn" : "debug"](
        { shardId, attempt, err: describeError(error) },
        "reading the shard failed; retrying with backoff",
      );
    },
  };
}
