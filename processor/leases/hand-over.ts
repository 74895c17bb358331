// Moving a shard between two live processors without replaying anything: a processor below its
// share asks the holder for a shard (the handoff-to annotation); the holder stops reading it, lets
// what was read finish, writes its checkpoint and writes the asker in as holder; the asker adopts
// it at its next sync. This module keeps both sides' books: the shards this processor asked for,
// and those it was asked for and is draining. A request to a holder with a live heartbeat is never
// turned into a steal (that would make two readers until it noticed): it is forgotten after a
// lease duration and may be asked again. Only a holder of the old protocol (no heartbeat) that
// does not hand over in time is stolen from.
import type { Logger } from "pino";
import { statusCode } from "./api-deadline.ts";
import type { HeldLeases } from "./held-leases.ts";
import type { ShardLeaseCalls } from "./shard-lease-calls.ts";
import type { ShardLease } from "./shard-lease.ts";

export type RequestOutcome = "waiting" | "settled" | "overdue";

/** What became of a request this processor made `askedMsAgo`: still waiting, settled, overdue. */
export function requestOutcome(
  lease: ShardLease | undefined,
  me: string,
  askedMsAgo: number,
  holdMs: number,
): RequestOutcome {
  if (lease === undefined || lease.holder === me || lease.holder === "" || lease.handoffTo !== me) {
    return "settled";
  }
  return askedMsAgo >= holdMs ? "overdue" : "waiting";
}

/** Held shards another processor asks for, which are not being handed over yet. */
export function newRequests(
  held: Iterable<string>,
  leases: ReadonlyMap<string, ShardLease>,
  me: string,
  handingOver: (shardId: string) => boolean,
): { shardId: string; asker: string }[] {
  return [...held]
    .map((shardId) => ({ shardId, asker: leases.get(shardId)?.handoffTo ?? "" }))
    .filter(({ shardId, asker }) => asker !== "" && asker !== me && !handingOver(shardId));
}

export interface HandOverOptions {
  calls: ShardLeaseCalls;
  held: HeldLeases;
  /**
   * Held shards being drained, with the processor that asked for each; a shard lost meanwhile
   * is deleted from it where the loss is noticed, so a request after it is taken back is heard.
   */
  handingOff: Map<string, string>;
  me: string;
  /** How long a shard's holder may go unchanged before the shard is free. */
  holdMs(lease: ShardLease): number;
  /** Whether a processor renews a heartbeat (an asker of the old protocol does not). */
  hasHeartbeat(processor: string): boolean;
  /** The hand-over was asked for: drain the shard, checkpoint, then `giveUp`. */
  onAsked(shardId: string): void;
  onEvent(event: "asked" | "handed_over"): void;
  logger: Logger;
  now: () => number;
}

export type HandOver = ReturnType<typeof createHandOver>;

export function createHandOver(options: HandOverOptions) {
  const { calls, held, handingOff, me, logger, now } = options;
  /** Shards this processor asked for, and when. */
  const requested = new Map<string, number>();

  return {
    /** Asks the holder of a shard to hand it over to this processor. */
    async ask(lease: ShardLease): Promise<void> {
      try {
        await calls.replace(lease, { handoffTo: me });
        requested.set(lease.shardId, now());
        options.onEvent("asked");
        logger.info({ shardId: lease.shardId, from: lease.holder }, "asked for a shard");
      } catch (error) {
        if (statusCode(error) !== 409) throw error;
      }
    },
    /** Whether this processor asked for the shard (it counts as ours when planning). */
    asked: (shardId: string): boolean => requested.has(shardId),
    /** The shard was handed to us: returns whether we had asked for it. */
    received: (shardId: string): boolean => requested.delete(shardId),
    /** Forgets settled requests; returns the overdue ones of old-protocol holders, to steal. */
    settle(leases: ReadonlyMap<string, ShardLease>): ShardLease[] {
      const overdue: ShardLease[] = [];
      for (const [shardId, at] of requested) {
        const lease = leases.get(shardId);
        const holdMs = lease === undefined ? 0 : options.holdMs(lease);
        const outcome = requestOutcome(lease, me, now() - at, holdMs);
        if (outcome === "waiting") continue;
        requested.delete(shardId);
        if (outcome === "overdue" && lease?.heartbeatHeld === false) overdue.push(lease);
      }
      return overdue;
    },
    /** Starts draining held shards others asked for. */
    notice(leases: ReadonlyMap<string, ShardLease>): void {
      for (const { shardId, asker } of newRequests(held.ids(), leases, me, (id) =>
        handingOff.has(id),
      )) {
        handingOff.set(shardId, asker);
        const checkpoint = held.get(shardId)?.checkpoint;
        logger.info({ shardId, to: asker, checkpoint }, "handing a shard over");
        options.onAsked(shardId);
      }
    },
    /**
     * Writes the asker in as holder of a drained shard: straight to it, as released the shard
     * could be taken back by a processor that counts the asker out because it holds nothing yet.
     */
    async giveUp(shardId: string): Promise<void> {
      const asker = handingOff.get(shardId) ?? "";
      try {
        await held.write(shardId, { holder: asker, holderHeartbeat: options.hasHeartbeat(asker) });
      } catch (error) {
        // Unanswered, the write may still have landed and the asker may read the shard: stop
        // holding it; if the Lease still names us, the next sync adopts it back.
        held.lose(shardId, `the hand-over write failed: ${String(error)}`);
        throw error;
      }
      handingOff.delete(shardId);
      options.onEvent("handed_over");
      logger.info({ shardId, to: asker }, "handed a shard over");
    },
  };
}
