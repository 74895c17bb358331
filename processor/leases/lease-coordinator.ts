// Processors of one job share its shards through one coordination.k8s.io Lease per shard, as the
// KCL shares them through its DynamoDB lease table. A shard Lease holds ownership and the
// checkpoint and is written only when either changes; whether its holder lives is told by the
// holder's heartbeat Lease, renewed on its own schedule (heartbeat-renewer.ts). At every sync a
// processor lists the job's Leases, creates those of new shards, and takes free ones, and those
// whose holder's heartbeat it has seen unchanged for its duration, up to its fair share. Every
// write carries the resourceVersion it read, so a processor that lost a Lease cannot move its
// checkpoint (fencing). To rebalance, a processor below its share asks a busier one for shards
// (an annotation); the holder drains them, checkpoints and writes the asker in as holder. Holders
// of the old protocol (no heartbeat, the shard Lease renewed itself) are judged as before, by the
// shard Lease unchanged for its duration. docs/leases.md tells the whole protocol.
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import {
  LeaseLostError,
  type ShardCoordinator,
  type ShardCounters,
} from "../checkpoint/coordinator.ts";
import { SHARD_END } from "../checkpoint/store.ts";
import type { LeaseCoordinationConfig } from "../config/schema.ts";
import { readableShards, type ShardInfo } from "../kinesis/shard-lineage.ts";
import { bounded, statusCode } from "./api-deadline.ts";
import { planAcquisitions } from "./balance.ts";
import { toHeartbeat, type Heartbeat, type ProcessorProgress } from "./heartbeat-lease.ts";
import { createHeartbeatRenewer } from "./heartbeat-renewer.ts";
import { createHolderLiveness } from "./holder-liveness.ts";
import {
  HEARTBEAT_HELD_SECONDS,
  changedLease,
  newShardLease,
  toShardLease,
  type LeaseChange,
  type ShardLease,
} from "./shard-lease.ts";

export type ShardLeaseEvent = "taken" | "lost" | "asked" | "handed_over" | "released";

/** What the coordinator reports for metrics. */
export interface LeaseObserver {
  event(event: ShardLeaseEvent): void;
  held(count: number): void;
}

export interface LeaseCoordinatorOptions {
  api: CoordinationV1Api;
  config: LeaseCoordinationConfig;
  workerId: string;
  /** The reader's counters of a shard, reported on the heartbeat. */
  counters(shardId: string): ShardCounters | undefined;
  logger: Logger;
  observer?: LeaseObserver;
  /** Monotonic milliseconds; a test may replace it. */
  now?: () => number;
  /** The wall clock written as renewTime; a test may skew it. */
  wallClock?: () => Date;
}

export function createLeaseCoordinator(options: LeaseCoordinatorOptions): ShardCoordinator & {
  /** Shards this processor may read now. */
  held(): string[];
  /** Name of this processor's heartbeat Lease. */
  heartbeat: string;
} {
  const { api, config, workerId: me, logger } = options;
  const observer = options.observer ?? { event: () => undefined, held: () => undefined };
  const { namespace } = config;
  const now = options.now ?? (() => performance.now());
  const wallClock = options.wallClock ?? (() => new Date());
  const heartbeatMs = config.leaseDurationSeconds * 1000;
  const labelSelector = Object.entries(config.labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  const held = new Map<string, ShardLease>();
  const lastCounters = new Map<string, { counters: ShardCounters; at: number }>();
  const liveness = createHolderLiveness({
    prefix: config.leasePrefix,
    defaultDurationMs: heartbeatMs,
    now,
  });
  const writing = new Map<string, Promise<unknown>>();
  const lostListeners: ((shardId: string, reason: string) => void)[] = [];
  const handoffListeners: ((shardId: string) => void)[] = [];
  /** Shards this processor asked for, and when. */
  const requested = new Map<string, number>();
  /** Held shards being drained, with the processor that asked for each. */
  const handingOff = new Map<string, string>();

  const lose = (shardId: string, reason: string): void => {
    if (!held.delete(shardId)) return;
    handingOff.delete(shardId);
    observer.event("lost");
    observer.held(held.size);
    logger.warn({ shardId, reason }, "shard lease lost; stopped reading the shard");
    for (const listener of lostListeners) listener(shardId, reason);
  };

  /** The processor's figures for its heartbeat: rates summed over its shards, lag per shard. */
  const progress = (): ProcessorProgress => {
    const at = now();
    const figures: ProcessorProgress = {
      worker: me,
      inPerSecond: 0,
      outPerSecond: 0,
      failedPerSecond: 0,
      lagMillis: {},
      at: wallClock().toISOString(),
    };
    for (const shardId of lastCounters.keys()) {
      if (!held.has(shardId)) lastCounters.delete(shardId);
    }
    for (const shardId of held.keys()) {
      const counters = options.counters(shardId);
      if (counters === undefined) continue;
      const previous = lastCounters.get(shardId);
      lastCounters.set(shardId, { counters, at });
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
    figures.inPerSecond = Math.round(figures.inPerSecond);
    figures.outPerSecond = Math.round(figures.outPerSecond);
    figures.failedPerSecond = Math.round(figures.failedPerSecond);
    return figures;
  };

  const renewer = createHeartbeatRenewer({
    api,
    lease: {
      namespace,
      prefix: config.leasePrefix,
      processor: me,
      labels: config.labels,
      owner: config.owner,
      leaseDurationSeconds: config.leaseDurationSeconds,
    },
    renewIntervalMs: config.renewIntervalMs,
    progress,
    onLapse: (reason) => {
      for (const shardId of [...held.keys()]) lose(shardId, reason);
    },
    logger,
    now,
    wallClock,
  });

  // Every call has a deadline, so one hung request cannot stop the syncs behind it.
  const deadlineMs = Math.min(config.renewIntervalMs, heartbeatMs / 2);
  const call = <T>(request: Promise<T>, what: string): Promise<T> =>
    bounded(request, deadlineMs, what);

  const replace = async (lease: ShardLease, change: LeaseChange): Promise<ShardLease> => {
    const body = changedLease(lease, change, HEARTBEAT_HELD_SECONDS, wallClock());
    const updated = toShardLease(
      await call(
        api.replaceNamespacedLease({ name: lease.name, namespace, body }),
        `updating Lease ${lease.name}`,
      ),
    );
    if (updated === undefined) throw new Error(`Lease ${lease.name} lost its shard annotation`);
    return updated;
  };

  /** Writes a held Lease, one write per shard at a time so we never conflict with ourselves. */
  const writeHeld = (shardId: string, change: LeaseChange): Promise<void> => {
    const previous = writing.get(shardId) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(async () => {
        const current = held.get(shardId);
        if (current === undefined) throw new LeaseLostError(shardId, "not held");
        try {
          await writeOver(current, change);
        } catch (error) {
          if (statusCode(error) !== 409) throw asLost(shardId, error);
          // Others write a Lease we hold only to ask for it (an annotation). Read it again: if we
          // still hold it, write over the new version; if not, it was taken and fencing holds.
          const reread = toShardLease(
            await call(
              api.readNamespacedLease({ name: current.name, namespace }),
              `reading Lease ${current.name}`,
            ).catch((readError: unknown) => {
              throw asLost(shardId, readError);
            }),
          );
          if (reread?.holder !== me) throw asLost(shardId, error);
          // Dropped meanwhile (the heartbeat lapsed): only a fenced take brings it back.
          if (!held.has(shardId)) throw new LeaseLostError(shardId, "dropped");
          // Still ours: a second conflict is another request, not a loss; the next write reads
          // again.
          held.set(shardId, reread);
          await writeOver(reread, change);
        }
      });
    writing.set(shardId, next);
    return next;
  };

  const writeOver = async (lease: ShardLease, change: LeaseChange): Promise<void> => {
    const updated = await replace(lease, change);
    // Dropped meanwhile (the heartbeat lapsed): only a take brings the shard back.
    if (updated.holder === me && held.has(lease.shardId)) held.set(lease.shardId, updated);
    else held.delete(lease.shardId);
  };

  /** A failed write of a held Lease: a conflict or deletion means it is no longer ours. */
  const asLost = (shardId: string, error: unknown): unknown => {
    if (statusCode(error) !== 409 && statusCode(error) !== 404) return error;
    const reason =
      statusCode(error) === 409
        ? "another processor wrote the Lease (taken over)"
        : "the Lease was deleted";
    lose(shardId, reason);
    return new LeaseLostError(shardId, reason);
  };

  /** The job's shard Leases by shard, and its heartbeats, in one list. */
  const listLeases = async (): Promise<Map<string, ShardLease>> => {
    const sentAt = now();
    // A list of many Leases may be slow on a busy API server; it decides nothing about this
    // processor's own shards, so it may take up to a heartbeat duration.
    const list = await bounded(
      api.listNamespacedLease({
        namespace,
        ...(labelSelector === "" ? {} : { labelSelector }),
      }),
      heartbeatMs,
      "listing the job's Leases",
    );
    const leases = new Map<string, ShardLease>();
    const beats: Heartbeat[] = [];
    for (const item of list.items) {
      const lease = toShardLease(item);
      if (lease?.name.startsWith(`${config.leasePrefix}-`) === true) {
        leases.set(lease.shardId, lease);
      }
      const heartbeat = toHeartbeat(item);
      if (heartbeat !== undefined) beats.push(heartbeat);
    }
    liveness.observe(leases.values(), beats, sentAt);
    return leases;
  };

  const createMissing = async (
    listed: readonly ShardInfo[],
    leases: Map<string, ShardLease>,
  ): Promise<void> => {
    const missing = listed.filter((shard) => !leases.has(shard.shardId));
    await Promise.all(
      missing.map(async (shard) => {
        const body: V1Lease = newShardLease({
          namespace,
          prefix: config.leasePrefix,
          shardId: shard.shardId,
          parents: [shard.parentShardId, shard.adjacentParentShardId],
          labels: config.labels,
          owner: config.owner,
          leaseDurationSeconds: config.leaseDurationSeconds,
        });
        try {
          const created = toShardLease(
            await call(api.createNamespacedLease({ namespace, body }), "creating a Lease"),
          );
          if (created !== undefined) leases.set(shard.shardId, created);
        } catch (error) {
          // Another processor created it first: it is in the next list.
          if (statusCode(error) !== 409) throw error;
        }
      }),
    );
  };

  const expired = (lease: ShardLease): boolean => liveness.gone(lease, me);

  /**
   * Notices Leases taken from us and hand-over requests; returns ours to adopt: handed over to
   * us, or held by a previous run of this same pod, or dropped when our heartbeat lapsed and
   * taken by nobody meanwhile.
   */
  const reconcileHeld = (leases: Map<string, ShardLease>): ShardLease[] => {
    for (const [shardId, mine] of held) {
      const listed = leases.get(shardId);
      if (listed === undefined) lose(shardId, "the Lease was deleted");
      else if (listed.holder !== me && listed.resourceVersion !== mine.resourceVersion) {
        lose(
          shardId,
          `taken over by ${listed.holder === "" ? "nobody (released)" : listed.holder}`,
        );
      }
    }
    for (const [shardId, mine] of held) {
      const asker = leases.get(shardId)?.handoffTo ?? "";
      if (asker !== "" && asker !== me && !handingOff.has(shardId)) {
        handingOff.set(shardId, asker);
        logger.info({ shardId, to: asker, checkpoint: mine.checkpoint }, "handing a shard over");
        for (const listener of handoffListeners) listener(shardId);
      }
    }
    return [...leases.values()].filter(
      (lease) => lease.holder === me && !held.has(lease.shardId) && lease.checkpoint !== SHARD_END,
    );
  };

  /**
   * Takes a Lease with a fenced write, also one naming us already: whoever judged our heartbeat
   * expired and writes the Lease first wins, so a shard never has two readers for long.
   */
  const acquire = async (lease: ShardLease, how: string): Promise<void> => {
    if (!renewer.live()) return;
    try {
      const taken = await replace(lease, { holder: me, holderHeartbeat: true });
      if (!renewer.live()) return;
      held.set(lease.shardId, taken);
      observer.event("taken");
      logger.info(
        {
          shardId: lease.shardId,
          how,
          from: lease.holder === "" || lease.holder === me ? undefined : lease.holder,
          checkpoint: lease.checkpoint,
        },
        "took a shard lease",
      );
    } catch (error) {
      // Someone else took it between our list and our write.
      if (statusCode(error) !== 409) throw error;
    }
  };

  /** Asks the holder of a shard to hand it over to this processor. */
  const requestHandoff = async (lease: ShardLease): Promise<void> => {
    try {
      await replace(lease, { handoffTo: me });
      requested.set(lease.shardId, now());
      observer.event("asked");
      logger.info({ shardId: lease.shardId, from: lease.holder }, "asked for a shard");
    } catch (error) {
      if (statusCode(error) !== 409) throw error;
    }
  };

  /**
   * Forgets settled requests; returns those an old-protocol holder (an old or wedged processor)
   * did not honour within its lease duration, to steal. A holder with a live heartbeat is never
   * stolen from, which would make two readers until it noticed: its request is only forgotten, so
   * the next plan may ask again.
   */
  const settleRequests = (leases: Map<string, ShardLease>): ShardLease[] => {
    const overdue: ShardLease[] = [];
    for (const [shardId, at] of requested) {
      const lease = leases.get(shardId);
      if (
        lease === undefined ||
        lease.holder === me ||
        lease.holder === "" ||
        lease.handoffTo !== me
      ) {
        requested.delete(shardId);
      } else if (now() - at >= liveness.holdMs(lease)) {
        requested.delete(shardId);
        if (!lease.heartbeatHeld) overdue.push(lease);
      }
    }
    return overdue;
  };

  return {
    syncIntervalMs: config.renewIntervalMs,
    heartbeat: renewer.name,
    async sync(listed) {
      await renewer.start();
      const leases = await listLeases();
      await createMissing(listed, leases);
      const adopt = reconcileHeld(leases);
      await Promise.all(
        adopt.map((lease) =>
          acquire(
            lease,
            requested.delete(lease.shardId) ? "handed over" : "held by this pod before",
          ),
        ),
      );
      for (const [shardId, lease] of held) leases.set(shardId, lease);

      const checkpoints = new Map(
        [...leases].map(([shardId, lease]) => [shardId, lease.checkpoint]),
      );
      const isFinished = (shardId: string): boolean => checkpoints.get(shardId) === SHARD_END;
      const readable = new Set(readableShards(listed, isFinished).map((shard) => shard.shardId));
      for (const shardId of held.keys()) {
        if (!readable.has(shardId)) {
          await writeHeld(shardId, { holder: "" }).catch(() => undefined);
          held.delete(shardId);
        }
      }
      const overdue = settleRequests(leases);
      const stealing = new Set(overdue.map((lease) => lease.shardId));
      // A shard we asked for, or are about to steal, counts as ours: we neither ask for more
      // than our share nor ask again for one we steal (the request would win the race).
      const planned = [...leases.values()].map((lease) =>
        requested.has(lease.shardId) || stealing.has(lease.shardId)
          ? { ...lease, holder: me }
          : lease,
      );
      const plan = planAcquisitions({
        me,
        leases: planned,
        readable,
        expired,
        maxSteals: config.maxStealsPerRenewal,
      });
      if (renewer.live()) {
        await Promise.all([
          ...plan.take.map((lease) =>
            acquire(leases.get(lease.shardId) ?? lease, lease.holder === "" ? "free" : "expired"),
          ),
          ...plan.steal.map((lease) => requestHandoff(lease)),
          ...overdue.map((lease) => acquire(lease, "stolen: hand-over not done in time")),
        ]);
      }
      for (const [shardId, lease] of held) checkpoints.set(shardId, lease.checkpoint);
      observer.held(held.size);
      return { checkpoints, owned: new Set(held.keys()) };
    },
    async put(shardId, checkpoint) {
      // A finished shard needs no owner: release it with its SHARD_END.
      await writeHeld(
        shardId,
        checkpoint === SHARD_END ? { checkpoint, holder: "" } : { checkpoint },
      );
    },
    async release() {
      const shards = [...held.keys()];
      await Promise.all(
        shards.map((shardId) =>
          writeHeld(shardId, { holder: "" }).catch((error: unknown) => {
            logger.warn({ shardId, err: String(error) }, "releasing the shard lease failed");
          }),
        ),
      );
      shards.forEach(() => {
        observer.event("released");
      });
      observer.held(held.size);
      if (shards.length > 0) logger.info({ shards }, "released shard leases");
      // Last, so others see the shards free (released) before they see this processor gone.
      await renewer.stop();
    },
    onLost(listener) {
      lostListeners.push(listener);
    },
    onHandoffRequested(listener) {
      handoffListeners.push(listener);
    },
    async handOver(shardId) {
      // Straight to the asker: released, the shard could be taken back by a processor that
      // counts the asker out because it holds nothing yet. An asker of the old protocol has no
      // heartbeat and renews the shard Lease itself.
      const asker = handingOff.get(shardId) ?? "";
      try {
        await writeHeld(shardId, { holder: asker, holderHeartbeat: liveness.hasHeartbeat(asker) });
      } catch (error) {
        // Unanswered, the write may still have landed and the asker may read the shard: stop
        // holding it; if the Lease still names us, the next sync adopts it back.
        lose(shardId, `the hand-over write failed: ${String(error)}`);
        throw error;
      }
      handingOff.delete(shardId);
      observer.event("handed_over");
      observer.held(held.size);
      logger.info({ shardId, to: asker }, "handed a shard over");
    },
    held: () => (renewer.live() ? [...held.keys()] : []),
  };
}
