// How far behind its shard's tip a processor is, for the heartbeat. Kinesis' millisBehindLatest
// is the lag of the last read, but the reader reads ahead of processing (up to
// maxPendingRecordsPerShard), so while a backlog waits in memory the last read may say 0. Then
// the age of the record handed to the engine last is the truer lag: the records behind it in the
// shard wait for a slot. The autoscaler sizes the job from this lag.
export function processingLagMillis(
  millisBehindLatest: number | undefined,
  /** When the record handed to the engine last arrived in the stream. */
  lastTakenArrivedAt: Date | undefined,
  /** The shard's records read and not yet acknowledged. */
  pending: number,
  now: number,
): number | undefined {
  if (lastTakenArrivedAt === undefined || pending === 0) return millisBehindLatest;
  return Math.max(millisBehindLatest ?? 0, now - lastTakenArrivedAt.getTime());
}
