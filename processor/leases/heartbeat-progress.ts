// The figures a processor writes on its heartbeat at each renewal: records in, out and failed per
// second summed over the shards it holds (rates since the previous renewal), the last failure and
// read error with their shard, the lag per shard, and the pod's mean endpoint latency and calls in
// flight over the interval and the rate at which its records arrived (for the operator's
// autoscaler).
import type { ShardCounters } from "../checkpoint/coordinator.ts";
import { nextArrival, podArrivalRate, type ArrivalSample } from "../metrics/arrival-rate.ts";
import { loadFigures, type LoadTotals } from "../metrics/load-totals.ts";
import type { ProcessorProgress } from "./heartbeat-lease.ts";

export interface HeartbeatProgressOptions {
  workerId: string;
  /** The reader's counters of a shard. */
  counters(shardId: string): ShardCounters | undefined;
  /** The shards this processor holds. */
  held(): Iterable<string>;
  now: () => number;
  wallClock: () => Date;
}

interface Sample {
  counters: ShardCounters;
  at: number;
  arrival: ArrivalSample | undefined;
}

/** Adds one shard's counters, against its previous sample, to the processor's figures. */
function addShard(
  figures: ProcessorProgress,
  shardId: string,
  counters: ShardCounters,
  previous: Sample | undefined,
  at: number,
): void {
  const seconds = previous === undefined ? 0 : (at - previous.at) / 1000;
  const rate = (current: number, before: number | undefined): number =>
    before === undefined || seconds <= 0 ? 0 : Math.max(0, (current - before) / seconds);
  figures.inPerSecond += rate(counters.recordsIn, previous?.counters.recordsIn);
  figures.outPerSecond += rate(counters.recordsOut, previous?.counters.recordsOut);
  const failing = rate(counters.failed, previous?.counters.failed);
  figures.failedPerSecond += failing;
  if (failing > 0 && counters.lastFailure !== undefined) {
    figures.lastFailure ??= { shardId, reason: counters.lastFailure };
  }
  if (counters.lastError !== undefined) {
    figures.readError ??= { shardId, error: counters.lastError };
  }
  if (counters.endpointOutage !== undefined) figures.endpointOutage = counters.endpointOutage;
  // The pod's own figures, the same on each of its shards.
  if (counters.concurrencyLimit !== undefined) {
    figures.concurrencyLimit = counters.concurrencyLimit;
  }
  if (counters.rateLimitShare !== undefined) figures.rateLimitShare = counters.rateLimitShare;
  if (counters.millisBehindLatest !== undefined) {
    figures.lagMillis[shardId] = counters.millisBehindLatest;
  }
}

/** Returns the figures of now; each call is the next sample the rates are measured against. */
export function createHeartbeatProgress(
  options: HeartbeatProgressOptions,
): () => ProcessorProgress {
  const { now } = options;
  const samples = new Map<string, Sample>();
  let previousLoad: LoadTotals | undefined;
  return () => {
    const at = now();
    const figures: ProcessorProgress = {
      worker: options.workerId,
      inPerSecond: 0,
      outPerSecond: 0,
      failedPerSecond: 0,
      lagMillis: {},
      at: options.wallClock().toISOString(),
    };
    const held = new Set(options.held());
    for (const shardId of samples.keys()) {
      if (!held.has(shardId)) samples.delete(shardId);
    }
    let load: LoadTotals | undefined;
    // Each held shard's arrivals; undefined for one not known yet (not read, just taken).
    const arrivals: (number | undefined)[] = [];
    for (const shardId of held) {
      const counters = options.counters(shardId);
      const previous = samples.get(shardId);
      const arrival =
        counters?.taken === undefined
          ? undefined
          : nextArrival(counters.taken, counters.idleAtTip === true, previous?.arrival);
      arrivals.push(arrival?.rate);
      if (counters === undefined) continue;
      addShard(figures, shardId, counters, previous, at);
      samples.set(shardId, { counters, at, arrival });
      load ??= counters.load;
    }
    const arrivedPerSecond = podArrivalRate(arrivals);
    if (arrivedPerSecond !== undefined) figures.arrivedPerSecond = arrivedPerSecond;
    const pending = arrivals.filter((rate) => rate === undefined).length;
    if (pending > 0) figures.arrivalsPending = pending;
    if (load !== undefined) {
      Object.assign(figures, loadFigures(previousLoad, load));
      previousLoad = load;
    }
    figures.inPerSecond = Math.round(figures.inPerSecond);
    figures.outPerSecond = Math.round(figures.outPerSecond);
    figures.failedPerSecond = Math.round(figures.failedPerSecond);
    return figures;
  };
}
