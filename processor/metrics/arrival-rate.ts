// Records that arrived in a shard per second, counted by their arrival times
// (ApproximateArrivalTimestamp): the records handed on since a baseline over the arrival times
// they span. It is the rate at which the records processed now arrived, however fast they are
// read: a backlog read in a burst after a hand-over, or a reader that waits for the engine, does
// not disturb it. The operator's autoscaler sums it over the pods for the job's incoming rate.

/**
 * The least span of arrival times a rate is measured over. Over one heartbeat (2 s) a shard's
 * records come in a few PutRecords batches, and a producer that falls behind catches up in bursts,
 * so a short span can read a third above the rate (one e2e run: 134 records/s where 100 arrived).
 * Over 5 s the error is a few percent, and a ramp still shows within a decision interval. Flink's
 * autoscaler averages over a metrics window for the same reason.
 */
export const minimumSpanMs = 5_000;

/** A shard's records handed on so far, in one reading of it. */
export interface Taken {
  records: number;
  /** When the last of them arrived in the stream (epoch ms); undefined without timestamps. */
  lastArrivedAt: number | undefined;
  /** The reading the counts belong to, compared by identity: a new one counts from 0. */
  reading: unknown;
}

export interface ArrivalSample {
  /** Where the next rate counts from: moves only once a rate is measured against it. */
  base: Taken;
  /** Records that arrived per second; undefined until measured. */
  rate: number | undefined;
}

/**
 * The next sample of a shard's arrivals. With records handed on over a span of arrival times of
 * at least minimumSpanMs, the rate is their count over the span; over a shorter span (records
 * that share an arrival time, a batch or a KPL aggregate, span nothing) the baseline and the last
 * rate stay, and a later sample counts them. With nothing handed on, the
 * rate is 0 while `idleAtTip` (the reader is at the tip and has handed on all it read: nothing
 * arrived), else the last rate stands (the reader waits, for the engine or for a call). A new
 * reading has no rate yet, unless it is idle at the tip having handed on nothing at all; one
 * sampled before its first record counts from that record's arrival time.
 */
export function nextArrival(
  taken: Taken,
  idleAtTip: boolean,
  previous: ArrivalSample | undefined,
): ArrivalSample {
  if (previous === undefined || previous.base.reading !== taken.reading)
    return { base: taken, rate: idleAtTip && taken.records === 0 ? 0 : undefined };
  const { base } = previous;
  const records = taken.records - base.records;
  if (records === 0 && idleAtTip) return { base: taken, rate: 0 };
  // A reading sampled before it handed anything on has no arrival time to count from: its first
  // records set one (kept, it would never open a span).
  if (base.lastArrivedAt === undefined) return { base: taken, rate: previous.rate };
  const spanMs = taken.lastArrivedAt === undefined ? 0 : taken.lastArrivedAt - base.lastArrivedAt;
  if (records > 0 && spanMs >= minimumSpanMs)
    return { base: taken, rate: (records * 1000) / spanMs };
  return previous;
}

/** A pod's arrivals: the sum over its shards, known only when every shard's is (0 with none). */
export function podArrivalRate(rates: readonly (number | undefined)[]): number | undefined {
  if (rates.some((rate) => rate === undefined)) return undefined;
  return Math.round(rates.reduce<number>((sum, rate) => sum + (rate ?? 0), 0) * 10) / 10;
}
