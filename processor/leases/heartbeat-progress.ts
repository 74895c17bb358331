// The figures a processor writes on its heartbeat at each renewal: records in, out and failed per
// second summed over the shards it holds (rates since the previous renewal), the last failure and
// read error with their shard, the lag per shard, and the pod's mean endpoint latency and calls in
// flight over the interval and the rate at which its records arrived (for the operator's
// autoscaler).
import type { ShardCounters } from "../checkpoint/coordinator.ts";
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
  arrivedPerSecond: number | undefined;
}

/**
 * Records that arrived in the shard per second, counted by their arrival times: the records handed
 * on since the last sample over the arrival times they span. Exact however fast they are read (a
 * backlog read after a hand-over, a reader that waits for the engine): it is the rate at which the
 * records now processed arrived. With nothing handed on, 0 while the reader is at the tip (nothing
 * arrived), else the last figure stands (the reader waits); undefined until a shard has two
 * samples with records between them.
 */
export function shardArrivalRate(
  counters: ShardCounters,
  previous: Sample | undefined,
): number | undefined {
  const now = counters.taken;
  const before = previous?.counters.taken;
  if (now === undefined || before === undefined) return undefined;
  const records = now.records - before.records;
  const seconds = (now.lastArrivedAt - before.lastArrivedAt) / 1000;
  if (records > 0 && seconds > 0) return records / seconds;
  if (records === 0 && counters.readsAtTip === true) return 0;
  return previous?.arrivedPerSecond;
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
    const arrivals: (number | undefined)[] = [];
    for (const shardId of held) {
      const counters = options.counters(shardId);
      if (counters === undefined) continue;
      const previous = samples.get(shardId);
      addShard(figures, shardId, counters, previous, at);
      const arrivedPerSecond = shardArrivalRate(counters, previous);
      arrivals.push(arrivedPerSecond);
      samples.set(shardId, { counters, at, arrivedPerSecond });
      load ??= counters.load;
    }
    // Only when every shard's is known: a shard just taken would count as none arriving.
    if (arrivals.length > 0 && arrivals.every((rate) => rate !== undefined)) {
      figures.arrivedPerSecond =
        Math.round(arrivals.reduce((sum, rate) => sum + rate, 0) * 10) / 10;
    }
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
