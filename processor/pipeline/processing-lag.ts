// How far behind its shard's tip a processor is, for the heartbeat. Kinesis' millisBehindLatest
// is the lag of the last read, but the reader reads ahead of processing (up to
// maxPendingRecordsPerShard), so while a backlog waits in memory the last read may say 0. Then
// the age of the record handed to the engine last is the truer lag: the records behind it in the
// shard wait for a slot. The autoscaler sizes the job from this lag; whether the reader is idle at
// the tip tells the arrival rate (metrics/arrival-rate.ts) that nothing handed on means none came.
/** A reader whose last read was this close to the tip takes records as they arrive. */
export const atTipMillis = 1_000;

/**
 * The shard's reader is idle at the tip: its last read was at the tip, it reads on (its last read
 * at most two idle pauses old: one waiting for the engine keeps the figure of a read long past),
 * and it has handed on all it read. Then no records handed on means none arrived.
 */
export function idleAtTip(
  millisBehindLatest: number | undefined,
  sinceLastReadMs: number | undefined,
  waitingToHandOn: number,
  idleTimeBetweenReadsMs: number,
): boolean {
  if (millisBehindLatest === undefined || sinceLastReadMs === undefined) return false;
  return (
    millisBehindLatest <= atTipMillis &&
    sinceLastReadMs <= 2 * idleTimeBetweenReadsMs + atTipMillis &&
    waitingToHandOn === 0
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
