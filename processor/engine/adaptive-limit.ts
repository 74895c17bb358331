// Adaptive concurrency: an in-flight limit that follows the endpoint's latency, in the way of
// Netflix's concurrency-limits (Gradient2) and Envoy's adaptive concurrency filter. Pure: it sees
// only the samples it is given (no clock, no I/O), so a test drives it with any sequence.
//
// Samples are taken in rounds of about `limit` calls (one round trip's worth at full use). At the
// end of a round, with `gradient = clamp(tolerance x noLoad / median, 0.5, 1)`:
// - the median is within tolerance (gradient 1): the limit grows by sqrt(limit) (Envoy's headroom),
//   unless the round used less than half of it (app-limited, as Gradient2: no evidence for more);
// - it is above: the limit shrinks to limit x gradient, in proportion to the excess;
// - more than a tenth of the round's calls were dropped (timed out, refused): gradient 0.5.
// The move is smoothed (Gradient2's 0.2) and clamped to [min, max]. Growth only while latency is
// within tolerance, shrinking in proportion above it: the limit settles where latency crosses
// tolerance x noLoad, the knee of a queueing endpoint, instead of Gradient2's point past it.
//
// The no-load latency is measured, not assumed: Gradient2 compares with a long-term average of
// the latency, which creeps up under sustained load and takes the limit with it. Here, as in
// Envoy, it is the median latency of a round with at most `min` calls in flight: the limit starts
// at `min`, so the first round measures it; every `probeEveryRounds` rounds the limit is held at
// `min` for one round to measure it again (the calls started before the probe end first and do
// not count), which costs a few round trips' worth of calls in a thousand; and any round that is
// entirely at or below `min` in flight (a light load) refines it. Each measurement moves the
// estimate half way, so one noisy round cannot move it far, and an endpoint that became slower or
// faster for good is followed within a probe or two. (Lowering the estimate whenever a loaded
// round was faster would ratchet it down to the fastest round ever seen.)

export interface GradientLimitOptions {
  /** Lowest limit, where it starts, and the in-flight count at or below which latency is no-load. */
  min: number;
  /** Highest limit: the operator's capacity. */
  max: number;
  /** Latency up to this multiple of the no-load latency lets the limit grow. Default 1.1. */
  tolerance?: number;
  /** Weight of each round's new limit against the previous one. Default 0.2. */
  smoothing?: number;
  /** Fewest samples in a round. Default 10. */
  minRoundSamples?: number;
  /** Rounds between two measurements of the no-load latency. Default 1,000. */
  probeEveryRounds?: number;
}

export interface GradientLimit {
  /**
   * One completed call: its latency, the calls in flight when it started (itself included), and
   * whether it was dropped (timed out, refused, failed for overload): a dropped call's latency
   * says nothing of the endpoint's queue and is left out of the median.
   */
  onSample(rttMs: number, inFlightAtStart: number, dropped?: boolean): void;
  /** The limit now, in [min, max]; the pool admits `Math.floor(limit)` calls. */
  readonly limit: number;
  /** The measured no-load latency, undefined before the first round. */
  readonly noLoadMs: number | undefined;
  /** True while the limit is held at min to measure the no-load latency. */
  readonly probing: boolean;
}

/** Share of dropped calls in a round above which the limit shrinks as far as one round allows. */
const maxDropShare = 0.1;
/** The steepest shrink of a round (before smoothing), as Gradient2's and Envoy's lower bound. */
const minGradient = 0.5;

export function createGradientLimit(options: GradientLimitOptions): GradientLimit {
  const {
    tolerance = 1.1,
    smoothing = 0.2,
    minRoundSamples = 10,
    probeEveryRounds = 1_000,
  } = options;
  const max = options.max;
  const min = Math.min(options.min, max);
  if (!(min >= 1) || !Number.isFinite(max)) {
    throw new RangeError(`expected 1 <= min <= max, got min ${options.min}, max ${max}`);
  }
  if (!(tolerance >= 1)) throw new RangeError(`tolerance must be at least 1, got ${tolerance}`);
  if (!(smoothing > 0 && smoothing <= 1)) {
    throw new RangeError(`smoothing must be in (0, 1], got ${smoothing}`);
  }

  let limit = min;
  let noLoad: number | undefined;
  // Probing from the start: the first round measures the no-load latency.
  let probing = true;
  let resumeAt = min;
  let rounds = 0;
  // The round: latencies of calls not dropped (sorted in place at its end), counts, peak load.
  const latencies = new Float64Array(Math.max(minRoundSamples, Math.ceil(max)));
  let kept = 0;
  let samples = 0;
  let drops = 0;
  let peakInFlight = 0;

  const median = (): number => {
    const sorted = latencies.subarray(0, kept).sort();
    const middle = kept >> 1;
    return kept % 2 === 1
      ? (sorted[middle] as number)
      : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  };

  const resetRound = (): void => {
    kept = 0;
    samples = 0;
    drops = 0;
    peakInFlight = 0;
  };

  const measureNoLoad = (roundMedian: number): void => {
    noLoad = noLoad === undefined ? roundMedian : noLoad + (roundMedian - noLoad) / 2;
  };

  /** A probe round: only calls started at or below `min` in flight count. */
  const probeSample = (rttMs: number, inFlightAtStart: number, dropped: boolean): void => {
    if (inFlightAtStart > min) return;
    samples++;
    if (!dropped && Number.isFinite(rttMs) && rttMs >= 0) latencies[kept++] = rttMs;
    if (samples < minRoundSamples) return;
    if (kept > 0) measureNoLoad(median());
    resetRound();
    probing = false;
    rounds = 0;
    limit = resumeAt;
  };

  const endRound = (): void => {
    const dropShare = drops / samples;
    const lowLoad = peakInFlight <= min;
    const appLimited = peakInFlight < limit / 2;
    const roundMedian = kept > 0 ? median() : undefined;
    resetRound();
    if (roundMedian !== undefined && lowLoad) measureNoLoad(roundMedian);

    const gradient =
      dropShare > maxDropShare || roundMedian === undefined || noLoad === undefined
        ? minGradient
        : Math.max(minGradient, Math.min(1, (tolerance * noLoad) / roundMedian));
    let target = limit;
    if (gradient < 1) target = limit * gradient;
    else if (!appLimited) target = limit + Math.sqrt(limit);
    limit = Math.max(min, Math.min(max, limit * (1 - smoothing) + target * smoothing));

    if (++rounds >= probeEveryRounds) {
      probing = true;
      resumeAt = limit;
      limit = min;
    }
  };

  return {
    onSample(rttMs, inFlightAtStart, dropped = false) {
      if (probing) {
        probeSample(rttMs, inFlightAtStart, dropped);
        return;
      }
      samples++;
      if (dropped) drops++;
      else if (Number.isFinite(rttMs) && rttMs >= 0 && kept < latencies.length) {
        latencies[kept++] = rttMs;
      }
      if (inFlightAtStart > peakInFlight) peakInFlight = inFlightAtStart;
      if (samples >= Math.max(minRoundSamples, Math.ceil(limit))) endRound();
    },
    get limit() {
      return limit;
    },
    get noLoadMs() {
      return noLoad;
    },
    get probing() {
      return probing;
    },
  };
}
