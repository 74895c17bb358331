// Which shard Leases a processor takes at a renewal, as the KCL's lease taker decides: free and
// expired ones up to its fair share, ceil(readable shards / live processors), and when none is
// free, a few from the busiest processor if that one holds at least two more than it does. A
// processor holding nothing is not yet visible to the others, so growing is the newcomer's job.
import type { ShardLease } from "./shard-lease.ts";

export interface BalanceInput {
  me: string;
  leases: readonly ShardLease[];
  /** Shards that may be read now: not finished, parents finished. */
  readable: ReadonlySet<string>;
  expired: (lease: ShardLease) => boolean;
  maxSteals: number;
}

export interface BalancePlan {
  take: ShardLease[];
  steal: ShardLease[];
  fairShare: number;
  workers: number;
}

/** A per-processor starting point, so newcomers that start together try different leases first. */
function rotation(me: string, length: number): number {
  let hash = 0;
  for (const char of me) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return length === 0 ? 0 : hash % length;
}

export function planAcquisitions(input: BalanceInput): BalancePlan {
  const { me, readable, expired } = input;
  const work = input.leases
    .filter((lease) => readable.has(lease.shardId))
    .sort((a, b) => a.shardId.localeCompare(b.shardId));
  const isHeld = (lease: ShardLease): boolean => lease.holder !== "" && !expired(lease);
  const counts = new Map<string, ShardLease[]>();
  for (const lease of work.filter(isHeld)) {
    counts.set(lease.holder, [...(counts.get(lease.holder) ?? []), lease]);
  }
  const workers = new Set([me, ...counts.keys()]).size;
  const fairShare = Math.ceil(work.length / workers);
  let mine = counts.get(me)?.length ?? 0;
  const plan: BalancePlan = { take: [], steal: [], fairShare, workers };
  if (mine >= fairShare) return plan;

  const free = work.filter((lease) => !isHeld(lease));
  const start = rotation(me, free.length);
  const rotated = [...free.slice(start), ...free.slice(0, start)];
  // Released Leases first: their shards were checkpointed on the way out.
  rotated.sort((a, b) => Number(a.holder !== "") - Number(b.holder !== ""));
  plan.take = rotated.slice(0, fairShare - mine);
  mine += plan.take.length;
  if (plan.take.length > 0) return plan;

  const [, busiest] = [...counts.entries()]
    .filter(([holder]) => holder !== me)
    .reduce<[string, ShardLease[]]>(
      (best, entry) => (entry[1].length > best[1].length ? entry : best),
      ["", []],
    );
  const stealable = Math.min(
    input.maxSteals,
    fairShare - mine,
    Math.floor((busiest.length - mine) / 2),
  );
  plan.steal = busiest.slice(0, Math.max(0, stealable));
  return plan;
}
