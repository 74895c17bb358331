// How far behind its shard's tip a processor is, for the heartbeat. Kinesis' millisBehindLatest
// is the lag of the last read, but the reader reads ahead of processing (up to
// maxPendingRecordsPerShard), so while a backlog waits in memory the last read may say 0. Then
// the age of the record handed to the engine last is the truer lag: the records behind it in the
// shard wait for a slot. The autoscaler sizes the job from this lag.
import type { SourceRecord } from "../kinesis/shard-reader.ts";

export function processingLagMillis(
  millisBehindLatest: number | undefined,
  lastTaken: Pick<SourceRecord, "arrivedAt" | "receipt"> | undefined,
  now: number,
): number | undefined {
  const arrivedAt = lastTaken?.arrivedAt;
  if (arrivedAt === undefined || lastTaken?.receipt.tracker.pending === 0)
    return millisBehindLatest;
  return Math.max(millisBehindLatest ?? 0, now - arrivedAt.getTime());
}
