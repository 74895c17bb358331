// The shard Leases this processor holds, as last read or written, and their fenced writes: one
// write per shard at a time, so the processor never conflicts with itself. A conflict (someone
// wrote the Lease since) or a deletion means the shard is no longer ours, except when the other
// writer only asked for it (an annotation): then the Lease still names us and is written over.
import { LeaseLostError } from "../checkpoint/coordinator.ts";
import { statusCode } from "./api-deadline.ts";
import type { ShardLeaseCalls } from "./shard-lease-calls.ts";
import type { LeaseChange, ShardLease } from "./shard-lease.ts";

export interface HeldLeasesOptions {
  calls: ShardLeaseCalls;
  me: string;
  /** A held shard was lost: stop reading it now. Called once per loss. */
  onLost(shardId: string, reason: string, stillHeld: number): void;
}

/** Why a failed write of a held Lease loses it, or undefined when it does not (no answer). */
export function lossReason(error: unknown): string | undefined {
  const code = statusCode(error);
  if (code === 409) return "another processor wrote the Lease (taken over)";
  if (code === 404) return "the Lease was deleted";
  return undefined;
}

export type HeldLeases = ReturnType<typeof createHeldLeases>;

export function createHeldLeases(options: HeldLeasesOptions) {
  const { calls, me } = options;
  const held = new Map<string, ShardLease>();
  const writing = new Map<string, Promise<unknown>>();

  const lose = (shardId: string, reason: string): void => {
    if (held.delete(shardId)) options.onLost(shardId, reason, held.size);
  };

  const asLost = (shardId: string, error: unknown): unknown => {
    const reason = lossReason(error);
    if (reason === undefined) return error;
    lose(shardId, reason);
    return new LeaseLostError(shardId, reason);
  };

  const writeOver = async (lease: ShardLease, change: LeaseChange): Promise<void> => {
    const updated = await calls.replace(lease, change);
    // Dropped meanwhile (the heartbeat lapsed): only a take brings the shard back.
    if (updated.holder === me && held.has(lease.shardId)) held.set(lease.shardId, updated);
    else held.delete(lease.shardId);
  };

  const writeOnce = async (shardId: string, change: LeaseChange): Promise<void> => {
    const current = held.get(shardId);
    if (current === undefined) throw new LeaseLostError(shardId, "not held");
    try {
      await writeOver(current, change);
    } catch (error) {
      if (statusCode(error) !== 409) throw asLost(shardId, error);
      // Others write a Lease we hold only to ask for it (an annotation). Read it again: if we
      // still hold it, write over the new version; if not, it was taken and fencing holds.
      const reread = await calls.read(current.name).catch((readError: unknown) => {
        throw asLost(shardId, readError);
      });
      if (reread?.holder !== me) throw asLost(shardId, error);
      // Dropped meanwhile (the heartbeat lapsed): only a fenced take brings it back.
      if (!held.has(shardId)) throw new LeaseLostError(shardId, "dropped");
      // Still ours: a second conflict is another request, not a loss; the next write reads again.
      held.set(shardId, reread);
      await writeOver(reread, change);
    }
  };

  return {
    get: (shardId: string): ShardLease | undefined => held.get(shardId),
    has: (shardId: string): boolean => held.has(shardId),
    ids: (): string[] => [...held.keys()],
    entries: (): [string, ShardLease][] => [...held],
    get size(): number {
      return held.size;
    },
    /** Records a Lease this processor just took. */
    taken(lease: ShardLease): void {
      held.set(lease.shardId, lease);
    },
    /** Stops holding a shard without telling the reader (it is released or finished). */
    forget(shardId: string): void {
      held.delete(shardId);
    },
    lose,
    /** Writes a held Lease; rejects with LeaseLostError when it is no longer ours. */
    write(shardId: string, change: LeaseChange): Promise<void> {
      const next = (writing.get(shardId) ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => writeOnce(shardId, change));
      writing.set(shardId, next);
      return next;
    },
  };
}
