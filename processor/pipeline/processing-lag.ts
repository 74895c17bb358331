// How far behind its shard's tip a processor is, for the heartbeat. Kinesis' millisBehindLatest
// is the lag of the last read, but the reader reads ahead of processing (up to
// maxPendingRecordsPerShard), so while a backlog waits in memory the last read may say 0. Then
// the age of the record handed to the engine last is the truer lag: the records behind it in the
// shard wait for a slot. The autoscaler sizes the job from this lag.
/** A reader whose last read was this close to the tip takes records as they arrive. */
export const atTipMillis = 1_000;

/**
 * The shard's reader takes records as they arrive: its last read was at the tip, and it reads on
 * (its last read is at most two idle pauses old). A reader waiting for the engine to take what it
 * read, or for its read-ahead to drain, keeps the figure of a read long past. Its read rate is then
 * the shard's arrival rate, which the autoscaler takes over an estimate from the lag's slope.
 */
export function readsAtTip(
  millisBehindLatest: number | undefined,
  sinceLastReadMs: number | undefined,
  idleTimeBetweenReadsMs: number,
): boolean {
  if (millisBehindLatest === undefined || sinceLastReadMs === undefined) return false;
  return (
    millisBehindLatest <= atTipMillis && sinceLastReadMs <= 2 * idleTimeBetweenReadsMs + atTipMillis
  );
}

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
