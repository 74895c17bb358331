// What a job's shard Leases say about its progress, as a pure function of the Leases and the time:
// how many shards are left to read, who holds them, and the holders' latest figures. A Lease whose
// holder has not renewed it within its duration counts as unowned, and its figures are ignored.
import type { V1Lease } from "@kubernetes/client-node";
import { SHARD_END } from "../../processor/checkpoint/store.ts";
import { toShardLease, type ShardLease } from "../../processor/leases/shard-lease.ts";

export interface ShardProgressSummary {
  /** Shards not finished. */
  shards: number;
  owned: number;
  /** Shards that should have a holder and have none: not finished, parents finished. */
  unowned: string[];
  processors: ProcessorFigures[];
  /** Records the reporting processors admit now, summed once per pod (each reports on every Lease). */
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

function isLive(lease: ShardLease, now: Date): boolean {
  const renewed = lease.object.spec?.renewTime;
  if (lease.holder === "" || renewed === undefined) return false;
  return now.getTime() - new Date(renewed).getTime() <= lease.leaseDurationSeconds * 1000;
}

export function summarizeShards(leases: readonly V1Lease[], now: Date): ShardProgressSummary {
  const views = leases.map(toShardLease).filter((lease) => lease !== undefined);
  const finished = new Set(
    views.filter((lease) => lease.checkpoint === SHARD_END).map((lease) => lease.shardId),
  );
  const known = new Set(views.map((lease) => lease.shardId));
  const open = views.filter((lease) => !finished.has(lease.shardId));
  const live = open.filter((lease) => isLive(lease, now));
  const waitsForParents = (lease: ShardLease): boolean =>
    lease.parents.some((parent) => known.has(parent) && !finished.has(parent));
  const perPod = new Map<string, number>();
  for (const lease of live) perPod.set(lease.holder, (perPod.get(lease.holder) ?? 0) + 1);
  const reports = live
    .map((lease) => ({ lease, progress: lease.progress }))
    .filter(({ lease, progress }) => progress?.worker === lease.holder);
  const lags = reports
    .map(({ progress }) => progress?.millisBehindLatest)
    .filter((lag) => lag !== undefined);
  const failingCalls = reports.find(
    ({ progress }) => (progress?.failedPerSecond ?? 0) > 0 && progress?.lastFailure !== undefined,
  );
  const failing = reports.find(({ progress }) => progress?.lastError !== undefined);
  const outage = reports.find(({ progress }) => progress?.endpointOutage !== undefined);
  /** A pod's own figures, from the first of its Leases that carries them. */
  const podFigures = new Map<string, { concurrencyLimit?: number; rateLimitShare?: number }>();
  for (const { lease, progress } of reports) {
    if (progress?.concurrencyLimit === undefined || podFigures.has(lease.holder)) continue;
    podFigures.set(lease.holder, {
      concurrencyLimit: progress.concurrencyLimit,
      ...(progress.rateLimitShare === undefined
        ? {}
        : { rateLimitShare: Math.round(progress.rateLimitShare * 100) / 100 }),
    });
  }
  const sum = (pick: (lease: (typeof reports)[number]) => number): number =>
    reports.reduce((total, report) => total + pick(report), 0);
  return {
    shards: open.length,
    owned: live.length,
    unowned: open
      .filter((lease) => !isLive(lease, now) && !waitsForParents(lease))
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
    maxLagMillis: lags.length === 0 ? undefined : Math.max(...lags),
    recordsInPerSecond: sum(({ progress }) => progress?.inPerSecond ?? 0),
    recordsPerSecond: sum(({ progress }) => progress?.outPerSecond ?? 0),
    failedPerSecond: sum(({ progress }) => progress?.failedPerSecond ?? 0),
    failure:
      failingCalls === undefined
        ? undefined
        : { shardId: failingCalls.lease.shardId, reason: failingCalls.progress?.lastFailure ?? "" },
    readError:
      failing === undefined
        ? undefined
        : { shardId: failing.lease.shardId, error: failing.progress?.lastError ?? "" },
    endpointOutage:
      outage === undefined
        ? undefined
        : { pod: outage.lease.holder, reason: outage.progress?.endpointOutage ?? "" },
  };
}
