// Which shard Leases a processor takes at a renewal, as the KCL's lease taker decides: free and
// expired ones up to its fair share, ceil(readable shards / live processors), and when none is
// free, it asks for the surplus of those above the fair share (at most maxSteals at a time). A
// processor holding nothing is visible to the others only once it asks, so growing is the
// newcomer's job. Free and expired shards are taken up to the share among the processors that
// hold shards: the orphans of a crashed processor are read again at the next sync of those that
// saw it expire, rather than left for a newcomer, which must first see the crash for itself; the
// newcomer then asks for its share, and a hand-over replays nothing.
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

/** A per-processor starting point, so newcomers that start together ask for different leases. */
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
  // Live processors: holders, and those asking for a held shard (a newcomer holds nothing yet,
  // but its request shows it is there).
  const askers = work.filter(isHeld).map((lease) => lease.handoffTo);
  const workers = new Set([me, ...counts.keys(), ...askers.filter((asker) => asker !== "")]).size;
  const fairShare = Math.ceil(work.length / workers);
  const takeShare = Math.ceil(work.length / new Set([me, ...counts.keys()]).size);
  let mine = counts.get(me)?.length ?? 0;
  const plan: BalancePlan = { take: [], steal: [], fairShare, workers };

  const free = work.filter((lease) => !isHeld(lease));
  const start = rotation(me, free.length);
  const rotated = [...free.slice(start), ...free.slice(0, start)];
  // Released Leases first: their shards were checkpointed on the way out.
  rotated.sort((a, b) => Number(a.holder !== "") - Number(b.holder !== ""));
  plan.take = rotated.slice(0, Math.max(0, takeShare - mine));
  mine += plan.take.length;
  if (plan.take.length > 0 || mine >= fairShare) return plan;

  // Ask those above the fair share for their surplus; if none is above it, ask the busiest for
  // one shard when it holds at least two more (3/3/1 becomes 3/2/2, and then stays).
  const others = [...counts.entries()]
    .filter(([holder]) => holder !== me)
    .sort((a, b) => b[1].length - a[1].length);
  let budget = Math.min(input.maxSteals, fairShare - mine);
  // A shard another processor asked for already is left to it: two askers would only make the
  // holder's writes conflict.
  const askable = (lease: ShardLease): boolean => lease.handoffTo === "" || lease.handoffTo === me;
  for (const [, held] of others) {
    const theirs = held.filter(askable);
    const surplus = Math.min(held.length - fairShare, theirs.length, budget);
    if (surplus <= 0) continue;
    const from = rotation(me, theirs.length);
    plan.steal.push(...[...theirs.slice(from), ...theirs.slice(0, from)].slice(0, surplus));
    budget -= surplus;
  }
  const busiest = others[0]?.[1] ?? [];
  if (plan.steal.length === 0 && budget > 0 && busiest.length >= mine + 2) {
    plan.steal.push(...busiest.filter(askable).slice(0, 1));
  }
  return plan;
}
