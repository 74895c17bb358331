// What a job's Leases say about its progress, as a pure function of the Leases and how long each
// has gone unchanged (lease-renewals.ts): how many shards are left to read, who holds them, and
// the processors' latest figures, which each processor writes on its heartbeat Lease. A shard
// whose holder's heartbeat has not changed for its duration counts as unowned, and that
// processor's figures are ignored. A holder of the old protocol (during a rolling upgrade) renews
// the shard Lease itself and writes figures on it. For the status and the autoscaler only: the
// processors judge each other on their own clocks.
import type { V1Lease } from "@kubernetes/client-node";
import type { PodLoad } from "./autoscale-decision.ts";
import type { LeaseAges } from "./lease-renewals.ts";
import {
  SHARD_END,
  toHeartbeat,
  toShardLease,
  type Heartbeat,
  type ShardLease,
} from "../../processor/contract.ts";

export interface ShardProgressSummary {
  /** Shards not finished. */
  shards: number;
  owned: number;
  /** Shards that should have a holder and have none: not finished, parents finished. */
  unowned: string[];
  processors: ProcessorFigures[];
  /** Shards that may be read now: not finished, parents finished. */
  readable: number;
  /** What each live processor reports, for the autoscaler. */
  loads: PodLoad[];
  /** Records the reporting processors admit now, summed once per pod. */
  concurrencyLimit: number | undefined;
  maxLagMillis: number | undefined;
  recordsInPerSecond: number;
  recordsPerSecond: number;
  /** Records whose endpoint call failed, per second, and the last reason reported. */
  failedPerSecond: number;
  failure: { shardId: string; reason: string } | undefined;
  /** A source error a holder reports, with its shard. */
  readError: { shardId: string; error: string } | undefined;
  /** A holder pausing its calls through an endpoint outage, with the last outage error. */
  endpointOutage: { pod: string; reason: string } | undefined;
}

export interface ProcessorFigures {
  pod: string;
  shards: number;
  /** Records the pod admits now: its adaptive concurrency limit, or capacity when off. */
  concurrencyLimit?: number;
  /** With a rate limit: the pod's share, in requests per second. */
  rateLimitShare?: number;
}

/** One processor's figures, as its heartbeat or (old protocol) one shard Lease reports them. */
interface Report {
  pod: string;
  inPerSecond: number;
  outPerSecond: number;
  failedPerSecond: number;
  lags: number[];
  failure: { shardId: string; reason: string } | undefined;
  readError: { shardId: string; error: string } | undefined;
  endpointOutage: string | undefined;
  concurrencyLimit?: number | undefined;
  rateLimitShare?: number | undefined;
  inFlight?: number | undefined;
  endpointLatencyMillis?: number | undefined;
  arrivedPerSecond?: number | undefined;
  arrivalsPending?: number | undefined;
}

function heartbeatReport(heartbeat: Heartbeat, open: ReadonlySet<string>): Report | undefined {
  const progress = heartbeat.progress;
  if (progress?.worker !== heartbeat.processor) return undefined;
  return {
    pod: heartbeat.processor,
    inPerSecond: progress.inPerSecond,
    outPerSecond: progress.outPerSecond,
    failedPerSecond: progress.failedPerSecond,
    lags: Object.entries(progress.lagMillis)
      .filter(([shardId]) => open.has(shardId))
      .map(([, lag]) => lag),
    failure: progress.failedPerSecond > 0 ? progress.lastFailure : undefined,
    readError: progress.readError,
    endpointOutage: progress.endpointOutage,
    concurrencyLimit: progress.concurrencyLimit,
    inFlight: progress.inFlight,
    endpointLatencyMillis: progress.endpointLatencyMillis,
    arrivedPerSecond: progress.arrivedPerSecond,
    arrivalsPending: progress.arrivalsPending,
    rateLimitShare:
      progress.rateLimitShare === undefined
        ? undefined
        : Math.round(progress.rateLimitShare * 100) / 100,
  };
}

function legacyReport(lease: ShardLease): Report | undefined {
  const progress = lease.progress;
  if (progress?.worker !== lease.holder) return undefined;
  return {
    pod: lease.holder,
    inPerSecond: progress.inPerSecond,
    outPerSecond: progress.outPerSecond,
    failedPerSecond: progress.failedPerSecond,
    lags: progress.millisBehindLatest === undefined ? [] : [progress.millisBehindLatest],
    failure:
      progress.failedPerSecond > 0 && progress.lastFailure !== undefined
        ? { shardId: lease.shardId, reason: progress.lastFailure }
        : undefined,
    readError:
      progress.lastError === undefined
        ? undefined
        : { shardId: lease.shardId, error: progress.lastError },
    endpointOutage: progress.endpointOutage,
  };
}

const podLoad = (report: Report): PodLoad => ({
  inPerSecond: report.inPerSecond,
  outPerSecond: report.outPerSecond,
  maxLagMillis: report.lags.length === 0 ? undefined : Math.max(...report.lags),
  concurrencyLimit: report.concurrencyLimit,
  inFlight: report.inFlight,
  endpointLatencyMillis: report.endpointLatencyMillis,
  arrivedPerSecond: report.arrivedPerSecond,
  arrivalsPending: report.arrivalsPending,
});

export function summarizeShards(leases: readonly V1Lease[], ages: LeaseAges): ShardProgressSummary {
  const renewedWithin = (lease: V1Lease, seconds: number): boolean =>
    ages.unchangedForMs(lease) <= seconds * 1000;
  const views = leases.map(toShardLease).filter((lease) => lease !== undefined);
  const liveHeartbeats = new Map(
    leases
      .map(toHeartbeat)
      .filter((beat) => beat !== undefined)
      .filter((beat) => renewedWithin(beat.object, beat.leaseDurationSeconds))
      .map((beat) => [beat.processor, beat]),
  );
  const isLive = (lease: ShardLease): boolean =>
    lease.holder !== "" &&
    (lease.heartbeatHeld
      ? liveHeartbeats.has(lease.holder)
      : renewedWithin(lease.object, lease.leaseDurationSeconds));
  // A child is taken only once the processors consider its parents done: read to SHARD_END, or
  // gone from the stream's listing (aged out of retention unread; its Lease stays, unfinished).
  const takenChildrenOf = new Set(
    views.filter((lease) => lease.transitions > 0).flatMap((lease) => lease.parents),
  );
  const finished = new Set(
    views
      .filter((lease) => lease.checkpoint === SHARD_END || takenChildrenOf.has(lease.shardId))
      .map((lease) => lease.shardId),
  );
  const known = new Set(views.map((lease) => lease.shardId));
  const open = views.filter((lease) => !finished.has(lease.shardId));
  const live = open.filter(isLive);
  const waitsForParents = (lease: ShardLease): boolean =>
    lease.parents.some((parent) => known.has(parent) && !finished.has(parent));
  const perPod = new Map<string, number>();
  for (const lease of live) perPod.set(lease.holder, (perPod.get(lease.holder) ?? 0) + 1);
  const openIds = new Set(open.map((lease) => lease.shardId));
  const reports = [
    ...[...liveHeartbeats.values()].map((beat) => heartbeatReport(beat, openIds)),
    ...live.filter((lease) => !lease.heartbeatHeld).map(legacyReport),
  ].filter((report) => report !== undefined);
  const lags = reports.flatMap((report) => report.lags);
  const failing = reports.find((report) => report.failure !== undefined);
  const reading = reports.find((report) => report.readError !== undefined);
  const outage = reports.find((report) => report.endpointOutage !== undefined);
  const sum = (pick: (report: Report) => number): number =>
    reports.reduce((total, report) => total + pick(report), 0);
  /** A pod's own figures, from its heartbeat (old-protocol pods report none). */
  const podFigures = new Map(
    reports
      .filter((report) => report.concurrencyLimit !== undefined)
      .map((report) => [
        report.pod,
        {
          concurrencyLimit: report.concurrencyLimit,
          ...(report.rateLimitShare === undefined ? {} : { rateLimitShare: report.rateLimitShare }),
        },
      ]),
  );
  return {
    shards: open.length,
    owned: live.length,
    unowned: open
      .filter((lease) => !isLive(lease) && !waitsForParents(lease))
      .map((lease) => lease.shardId)
      .sort(),
    processors: [...perPod]
      .map(([pod, shards]) => ({ pod, shards, ...podFigures.get(pod) }))
      .sort((a, b) => a.pod.localeCompare(b.pod)),
    concurrencyLimit:
      podFigures.size === 0
        ? undefined
        : [...podFigures.values()].reduce(
            (total, figures) => total + (figures.concurrencyLimit ?? 0),
            0,
          ),
    readable: open.filter((lease) => !waitsForParents(lease)).length,
    loads: reports.map(podLoad),
    maxLagMillis: lags.length === 0 ? undefined : Math.max(...lags),
    recordsInPerSecond: sum((report) => report.inPerSecond),
    recordsPerSecond: sum((report) => report.outPerSecond),
    failedPerSecond: sum((report) => report.failedPerSecond),
    failure: failing?.failure,
    readError: reading?.readError,
    endpointOutage:
      outage === undefined ? undefined : { pod: outage.pod, reason: outage.endpointOutage ?? "" },
  };
}
