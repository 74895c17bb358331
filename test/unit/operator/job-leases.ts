// The Leases a job's processors leave in its namespace, for reconciler tests: each pod holds its
// share of the shards, spread evenly as the processors balance them, and has just renewed its
// heartbeat with its figures. Built with the processors' own conversions, so the operator reads
// them as it reads theirs.
import type { V1Lease } from "@kubernetes/client-node";
import { labelKeys } from "../../../operator/reconcile/labels.ts";
import {
  newHeartbeatLease,
  renewedHeartbeat,
  toHeartbeat,
  type ProcessorProgress,
} from "../../../processor/leases/heartbeat-lease.ts";
import {
  HEARTBEAT_HELD_SECONDS,
  changedLease,
  newShardLease,
  toShardLease,
} from "../../../processor/leases/shard-lease.ts";

/** What each pod reports: its figures, and the lag of every shard it holds. */
export type PodReport = Omit<ProcessorProgress, "worker" | "at" | "lagMillis"> & {
  lagMillis: number;
};

/** A pod whose slots are full at capacity 10 and 50 ms per call: 200 records/s at most. */
export const busy = (perSecond: number, lagMillis: number): PodReport => ({
  inPerSecond: perSecond,
  outPerSecond: perSecond,
  failedPerSecond: 0,
  concurrencyLimit: 10,
  inFlight: 10,
  endpointLatencyMillis: 50,
  lagMillis,
});

const heartbeatSeconds = 5;

export interface Processors {
  namespace: string;
  job: string;
  shards: number;
  pods: readonly string[];
  report: PodReport;
  now: Date;
}

export function processorLeases(processors: Processors): V1Lease[] {
  const { namespace, job, shards, pods, report, now } = processors;
  const common = { namespace, prefix: job, labels: { [labelKeys.job]: job }, owner: undefined };
  const shardId = (n: number): string => `shardId-${String(n).padStart(12, "0")}`;
  const holderOf = (n: number): string | undefined => pods[n % pods.length];
  const shardLeases = Array.from({ length: shards }, (_, n) => {
    const free = newShardLease({
      ...common,
      shardId: shardId(n),
      parents: [],
      leaseDurationSeconds: HEARTBEAT_HELD_SECONDS,
    });
    const holder = holderOf(n);
    const view = toShardLease(free);
    if (holder === undefined || view === undefined) return free;
    return changedLease(view, { holder, holderHeartbeat: true }, HEARTBEAT_HELD_SECONDS, now);
  });
  const heartbeats = pods.map((pod) => {
    const view = toHeartbeat(
      newHeartbeatLease(
        { ...common, processor: pod, leaseDurationSeconds: heartbeatSeconds },
        new Date(now.getTime() - 60_000),
      ),
    );
    if (view === undefined) throw new Error(`no heartbeat view for ${pod}`);
    const held = Array.from({ length: shards }, (_, n) => n).filter((n) => holderOf(n) === pod);
    const { lagMillis, ...figures } = report;
    const progress: ProcessorProgress = {
      ...figures,
      worker: pod,
      at: now.toISOString(),
      lagMillis: Object.fromEntries(held.map((n) => [shardId(n), lagMillis])),
    };
    return renewedHeartbeat(view, heartbeatSeconds, progress, now);
  });
  return [...shardLeases, ...heartbeats];
}
