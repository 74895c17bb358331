// Who among the holders of a job's shards is gone, as one processor sees it: client-go's rule for
// Leases, applied to heartbeats. A holder is gone when its heartbeat Lease has not changed (same
// resourceVersion) for the heartbeat's duration, or has been missing that long, timed on this
// processor's monotonic clock; a holder of the old protocol (no heartbeat) when the shard Lease
// itself has not changed for its own duration. No other machine's clock is read, so skewed wall
// clocks change nothing. A list is a snapshot taken between its request and its answer: a version
// counts as seen from when the answer arrived (no earlier than it was written) and as still
// current only when the request was sent (a slow list must not hide a renewal made meanwhile).
import type { Heartbeat } from "./heartbeat-lease.ts";
import { heartbeatLeaseName } from "./heartbeat-lease.ts";
import type { ShardLease } from "./shard-lease.ts";

export interface HolderLivenessOptions {
  /** Lease name prefix of the job, from which heartbeat Lease names derive. */
  prefix: string;
  /** The heartbeat duration configured here, for a heartbeat not seen yet. */
  defaultDurationMs: number;
  /** Monotonic milliseconds. */
  now: () => number;
}

export function createHolderLiveness(options: HolderLivenessOptions) {
  const { now } = options;
  // Nothing is judged gone before it was watched for a full duration.
  const startedAt = now();
  /** Per Lease name: the version last seen ("" while missing), and since when. */
  const observed = new Map<string, { resourceVersion: string; since: number }>();
  /** When the request of the latest list was sent. */
  let listSentAt = startedAt;
  /** Heartbeats in the last list, by processor. */
  let heartbeats = new Map<string, { name: string; durationMs: number }>();

  const see = (name: string, resourceVersion: string, at: number): void => {
    if (observed.get(name)?.resourceVersion !== resourceVersion) {
      observed.set(name, { resourceVersion, since: at });
    }
  };
  const unchangedFor = (name: string): number =>
    listSentAt - (observed.get(name)?.since ?? startedAt);

  /** How long a shard's holder may go unchanged before the shard is free. */
  const holdMs = (lease: ShardLease): number =>
    lease.heartbeatHeld
      ? (heartbeats.get(lease.holder)?.durationMs ?? options.defaultDurationMs)
      : lease.leaseDurationSeconds * 1000;

  return {
    /** Records one list of the job's Leases, whose request was sent at `sentAt`. */
    observe(shards: Iterable<ShardLease>, beats: Iterable<Heartbeat>, sentAt: number): void {
      const at = now();
      listSentAt = Math.max(listSentAt, sentAt);
      for (const lease of shards) see(lease.name, lease.resourceVersion, at);
      const listed = new Map<string, { name: string; durationMs: number }>();
      for (const beat of beats) {
        listed.set(beat.processor, {
          name: beat.name,
          durationMs: beat.leaseDurationSeconds * 1000,
        });
        see(beat.name, beat.resourceVersion, at);
      }
      // A heartbeat seen before and gone now: its processor stopped (or it was deleted); timed
      // from now, so a live processor has a full duration to notice and stop reading.
      for (const [processor, beat] of heartbeats) {
        if (!listed.has(processor)) see(beat.name, "", at);
      }
      heartbeats = listed;
    },
    /** True when the shard's holder (not `me`) is gone: the shard may be taken. */
    gone(lease: ShardLease, me: string): boolean {
      if (lease.holder === "" || lease.holder === me) return false;
      const name = lease.heartbeatHeld
        ? heartbeatLeaseName(options.prefix, lease.holder)
        : lease.name;
      return unchangedFor(name) >= holdMs(lease);
    },
    holdMs,
    /** Whether the processor renews a heartbeat (it was in the last list). */
    hasHeartbeat: (processor: string): boolean => heartbeats.has(processor),
  };
}

export type HolderLiveness = ReturnType<typeof createHolderLiveness>;
