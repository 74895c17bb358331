// The taking side of a sync, as the KCL's LeaseTaker: list the job's Leases (shard Leases and
// heartbeats, one list), create those of new shards, notice what was taken from us, and take what
// the pure planner (balance.ts) says: free Leases, then those whose holder is gone, up to the
// share among the processors that hold shards. Every take is a fenced write, also of a Lease that
// names us already: whoever judged our heartbeat expired and writes the Lease first wins, so a
// shard never has two readers for long.
import type { Logger } from "pino";
import { SHARD_END } from "../checkpoint/store.ts";
import type { LeaseCoordinationConfig } from "../config/schema.ts";
import { readableShards, type ShardInfo } from "../kinesis/shard-lineage.ts";
import { statusCode } from "./api-deadline.ts";
import { planAcquisitions, type BalancePlan } from "./balance.ts";
import { toHeartbeat, type Heartbeat } from "./heartbeat-lease.ts";
import type { HeldLeases } from "./held-leases.ts";
import type { HolderLiveness } from "./holder-liveness.ts";
import type { ShardLeaseCalls } from "./shard-lease-calls.ts";
import { newShardLease, toShardLease, type ShardLease } from "./shard-lease.ts";

/** Held shards whose listed Lease says they are no longer ours, with why. */
export function takenFromUs(
  held: Iterable<[string, ShardLease]>,
  leases: ReadonlyMap<string, ShardLease>,
  me: string,
): { shardId: string; reason: string }[] {
  const lost: { shardId: string; reason: string }[] = [];
  for (const [shardId, mine] of held) {
    const listed = leases.get(shardId);
    if (listed === undefined) lost.push({ shardId, reason: "the Lease was deleted" });
    else if (listed.holder !== me && listed.resourceVersion !== mine.resourceVersion) {
      const by = listed.holder === "" ? "nobody (released)" : listed.holder;
      lost.push({ shardId, reason: `taken over by ${by}` });
    }
  }
  return lost;
}

/**
 * Leases naming us that we do not hold, to adopt: handed over to us, held by a previous run of
 * this same pod, or dropped when our heartbeat lapsed and taken by nobody meanwhile.
 */
export function ours(
  leases: ReadonlyMap<string, ShardLease>,
  me: string,
  holds: (shardId: string) => boolean,
): ShardLease[] {
  return [...leases.values()].filter(
    (lease) => lease.holder === me && !holds(lease.shardId) && lease.checkpoint !== SHARD_END,
  );
}

/** Shards that may be read now: listed, not finished, every listed parent finished. */
export function readableIds(
  listed: readonly ShardInfo[],
  checkpoints: ReadonlyMap<string, string | undefined>,
): Set<string> {
  const isFinished = (shardId: string): boolean => checkpoints.get(shardId) === SHARD_END;
  return new Set(readableShards(listed, isFinished).map((shard) => shard.shardId));
}

/**
 * The plan of a sync. A shard we asked for, or are about to steal, counts as ours: we neither ask
 * for more than our share nor ask again for one we steal (the request would win the race).
 */
export function planSync(
  leases: ReadonlyMap<string, ShardLease>,
  claimed: (shardId: string) => boolean,
  input: { me: string; readable: ReadonlySet<string>; expired: (lease: ShardLease) => boolean },
  maxSteals: number,
): BalancePlan {
  const planned = [...leases.values()].map((lease) =>
    claimed(lease.shardId) ? { ...lease, holder: input.me } : lease,
  );
  return planAcquisitions({ ...input, leases: planned, maxSteals });
}

export interface LeaseTakerOptions {
  calls: ShardLeaseCalls;
  config: LeaseCoordinationConfig;
  me: string;
  held: HeldLeases;
  liveness: HolderLiveness;
  /** Whether this processor may hold shards now (its heartbeat is live). */
  live(): boolean;
  onTaken(): void;
  logger: Logger;
  now: () => number;
}

export type LeaseTaker = ReturnType<typeof createLeaseTaker>;

export function createLeaseTaker(options: LeaseTakerOptions) {
  const { calls, config, me, held, liveness, logger } = options;
  return {
    /** The job's shard Leases by shard; the heartbeats in the same list feed the liveness. */
    async list(): Promise<Map<string, ShardLease>> {
      const sentAt = options.now();
      const items = await calls.list();
      const leases = new Map<string, ShardLease>();
      const beats: Heartbeat[] = [];
      for (const item of items) {
        const lease = toShardLease(item);
        if (lease?.name.startsWith(`${config.leasePrefix}-`) === true) {
          leases.set(lease.shardId, lease);
        }
        const heartbeat = toHeartbeat(item);
        if (heartbeat !== undefined) beats.push(heartbeat);
      }
      liveness.observe(leases.values(), beats, sentAt);
      return leases;
    },
    /** Creates the Leases of listed shards that have none, adding them to `leases`. */
    async createMissing(listed: readonly ShardInfo[], leases: Map<string, ShardLease>) {
      const missing = listed.filter((shard) => !leases.has(shard.shardId));
      await Promise.all(
        missing.map(async (shard) => {
          const body = newShardLease({
            namespace: config.namespace,
            prefix: config.leasePrefix,
            shardId: shard.shardId,
            parents: [shard.parentShardId, shard.adjacentParentShardId],
            labels: config.labels,
            owner: config.owner,
            leaseDurationSeconds: config.leaseDurationSeconds,
          });
          try {
            const created = await calls.create(body);
            if (created !== undefined) leases.set(shard.shardId, created);
          } catch (error) {
            // Another processor created it first: it is in the next list.
            if (statusCode(error) !== 409) throw error;
          }
        }),
      );
    },
    /** True when the shard's holder is gone: the shard may be taken. */
    expired: (lease: ShardLease): boolean => liveness.gone(lease, me),
    /** Takes a Lease with a fenced write; someone else winning the race is no error. */
    async take(lease: ShardLease, how: string): Promise<void> {
      if (!options.live()) return;
      try {
        const taken = await calls.replace(lease, { holder: me, holderHeartbeat: true });
        if (!options.live()) return;
        held.taken(taken);
        options.onTaken();
        const from = lease.holder === "" || lease.holder === me ? undefined : lease.holder;
        const { shardId, checkpoint } = lease;
        logger.info({ shardId, how, from, checkpoint }, "took a shard lease");
      } catch (error) {
        // Someone else took it between our list and our write.
        if (statusCode(error) !== 409) throw error;
      }
    },
  };
}
