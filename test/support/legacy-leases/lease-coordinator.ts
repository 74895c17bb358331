// The previous release's shard Lease protocol (every shard Lease its own heartbeat), kept as it
// shipped (commit 50426c5) to test and measure a rolling upgrade from it, and to measure its API
// writes beside the heartbeat protocol's. Not used by the processor.
// Processors of one job share its shards through one coordination.k8s.io Lease per shard, as the
// KCL shares them through its DynamoDB lease table. At every sync a processor renews its Leases,
// lists them all, creates those of new shards, and takes free or expired ones up to its fair
// share. Every write carries the resourceVersion it read, so a processor that lost a Lease cannot
// move its checkpoint: the API server refuses the update (fencing), and the shard is dropped at
// once. To rebalance, a processor below its share asks a busier one for shards (an annotation);
// the holder drains them, checkpoints and writes the asker in as holder, so a rebalance replays
// nothing; a request not honoured within a lease duration becomes a plain steal. Expiry is judged
// by how long this processor has seen a Lease unchanged, as client-go's leader election does, so
// clocks need not agree. docs/leases.md tells the whole protocol.
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import {
  LeaseLostError,
  type ShardCoordinator,
  type ShardCounters,
} from "../../../processor/checkpoint/coordinator.ts";
import { SHARD_END } from "../../../processor/checkpoint/store.ts";
import type { LeaseCoordinationConfig } from "../../../processor/config/schema.ts";
import { readableShards, type ShardInfo } from "../../../processor/kinesis/shard-lineage.ts";
import { planAcquisitions } from "./balance.ts";
import {
  changedLease,
  newShardLease,
  toShardLease,
  type LeaseChange,
  type ShardLease,
  type ShardProgress,
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
  /** The reader's counters of a shard, reported on its Lease at each write. */
  counters(shardId: string): ShardCounters | undefined;
  logger: Logger;
  observer?: LeaseObserver;
  /** Monotonic milliseconds; a test may replace it. */
  now?: () => number;
}

const statusCode = (error: unknown): number | undefined => (error as { code?: number }).code;

export function createLegacyLeaseCoordinator(options: LeaseCoordinatorOptions): ShardCoordinator & {
  renew(): Promise<void>;
  /** Shards whose Lease this processor holds. */
  held(): string[];
} {
  const { api, config, workerId: me, logger } = options;
  const observer = options.observer ?? { event: () => undefined, held: () => undefined };
  const { namespace } = config;
  const now = options.now ?? (() => performance.now());
  const labelSelector = Object.entries(config.labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(",");
  const held = new Map<string, ShardLease>();
  const lastWrite = new Map<string, number>();
  const lastCounters = new Map<string, { counters: ShardCounters; at: number }>();
  const observed = new Map<string, { resourceVersion: string; since: number }>();
  const writing = new Map<string, Promise<unknown>>();
  const lostListeners: ((shardId: string, reason: string) => void)[] = [];
  const handoffListeners: ((shardId: string) => void)[] = [];
  /** Shards this processor asked for, and when. */
  const requested = new Map<string, number>();
  /** Held shards being drained, with the processor that asked for each. */
  const handingOff = new Map<string, string>();

  const lose = (shardId: string, reason: string): void => {
    if (!held.delete(shardId)) return;
    lastWrite.delete(shardId);
    handingOff.delete(shardId);
    observer.event("lost");
    observer.held(held.size);
    logger.warn({ shardId, reason }, "shard lease lost; stopped reading the shard");
    for (const listener of lostListeners) listener(shardId, reason);
  };

  const progress = (shardId: string): ShardProgress | undefined => {
    const counters = options.counters(shardId);
    if (counters === undefined) return undefined;
    const at = now();
    const previous = lastCounters.get(shardId);
    lastCounters.set(shardId, { counters, at });
    const seconds = previous === undefined ? 0 : (at - previous.at) / 1000;
    const rate = (current: number, before: number | undefined): number =>
      before === undefined || seconds <= 0 ? 0 : Math.max(0, (current - before) / seconds);
    return {
      worker: me,
      recordsIn: counters.recordsIn,
      recordsOut: counters.recordsOut,
      inPerSecond: Math.round(rate(counters.recordsIn, previous?.counters.recordsIn)),
      outPerSecond: Math.round(rate(counters.recordsOut, previous?.counters.recordsOut)),
      failedPerSecond: Math.round(rate(counters.failed, previous?.counters.failed)),
      lastFailure: counters.lastFailure,
      millisBehindLatest: counters.millisBehindLatest,
      lastError: counters.lastError,
      endpointOutage: counters.endpointOutage,
      at: new Date().toISOString(),
    };
  };

  /**
   * Bounds an API call: client-node sets no timeout, and one hung request would stop every
   * renewal behind it. The request itself may still land; the next write's resourceVersion
   * check tells.
   */
  const deadlineMs = config.leaseDurationSeconds * 500;
  const bounded = async <T>(call: Promise<T>, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`${what} got no answer within ${String(deadlineMs)} ms`));
      }, deadlineMs);
    });
    try {
      return await Promise.race([call, late]);
    } finally {
      clearTimeout(timer);
    }
  };

  const replace = async (lease: ShardLease, change: LeaseChange): Promise<ShardLease> => {
    const body = changedLease(lease, change, config.leaseDurationSeconds, new Date());
    const updated = toShardLease(
      await bounded(
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
            await bounded(
              api.readNamespacedLease({ name: current.name, namespace }),
              `reading Lease ${current.name}`,
            ).catch((readError: unknown) => {
              throw asLost(shardId, readError);
            }),
          );
          if (reread?.holder !== me) throw asLost(shardId, error);
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
    // Timed from before the request: the API server applies it, and others start timing its
    // expiry, no earlier than that.
    const sent = now();
    const updated = await replace(lease, { ...change, progress: progress(lease.shardId) });
    if (updated.holder === me) held.set(lease.shardId, updated);
    else held.delete(lease.shardId);
    lastWrite.set(lease.shardId, sent);
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

  const listLeases = async (): Promise<Map<string, ShardLease>> => {
    const list = await bounded(
      api.listNamespacedLease({
        namespace,
        ...(labelSelector === "" ? {} : { labelSelector }),
      }),
      "listing the shard Leases",
    );
    const leases = new Map<string, ShardLease>();
    for (const item of list.items) {
      const lease = toShardLease(item);
      if (lease?.name.startsWith(`${config.leasePrefix}-`) === true)
        leases.set(lease.shardId, lease);
    }
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
            await bounded(api.createNamespacedLease({ namespace, body }), "creating a Lease"),
          );
          if (created !== undefined) leases.set(shard.shardId, created);
        } catch (error) {
          // Another processor created it first: it is in the next list.
          if (statusCode(error) !== 409) throw error;
        }
      }),
    );
  };

  const observe = (leases: Map<string, ShardLease>): void => {
    const at = now();
    for (const lease of leases.values()) {
      const seen = observed.get(lease.name);
      if (seen?.resourceVersion !== lease.resourceVersion) {
        observed.set(lease.name, { resourceVersion: lease.resourceVersion, since: at });
      }
    }
  };

  const expired = (lease: ShardLease): boolean =>
    lease.holder !== "" &&
    lease.holder !== me &&
    now() - (observed.get(lease.name)?.since ?? now()) >= lease.leaseDurationSeconds * 1000;

  // Notices Leases taken from us, and adopts ours from a previous run of this same pod (or ones
  // dropped as unrenewed that nobody took meanwhile).
  const reconcileHeld = (leases: Map<string, ShardLease>, listSent: number): void => {
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
    for (const lease of leases.values()) {
      if (lease.holder === me && !held.has(lease.shardId) && lease.checkpoint !== SHARD_END) {
        held.set(lease.shardId, lease);
        // Its last write happened before the list was sent, at the latest.
        lastWrite.set(lease.shardId, listSent);
        if (requested.delete(lease.shardId)) {
          observer.event("taken");
          logger.info(
            { shardId: lease.shardId, how: "handed over", checkpoint: lease.checkpoint },
            "took a shard lease",
          );
        } else {
          logger.info({ shardId: lease.shardId }, "adopted a shard lease this pod held before");
        }
      }
    }
  };

  const acquire = async (lease: ShardLease, how: string): Promise<void> => {
    try {
      const sent = now();
      const taken = await replace(lease, { holder: me });
      held.set(lease.shardId, taken);
      lastWrite.set(lease.shardId, sent);
      observer.event("taken");
      logger.info(
        {
          shardId: lease.shardId,
          how,
          from: lease.holder === "" ? undefined : lease.holder,
          checkpoint: lease.checkpoint,
        },
        "took a shard lease",
      );
    } catch (error) {
      // Someone else took it between our list and our write.
      if (statusCode(error) !== 409) throw error;
    }
  };

  // Syncs are at least renewIntervalMs apart, so a Lease written at one is renewed at the next,
  // and one whose checkpoint was written since is not written twice.
  const renewDue = async (): Promise<void> => {
    const due = [...held.keys()].filter(
      (shardId) => now() - (lastWrite.get(shardId) ?? 0) >= config.renewIntervalMs,
    );
    await Promise.all(
      due.map((shardId) =>
        writeHeld(shardId, {}).catch((error: unknown) => {
          if (!(error instanceof LeaseLostError)) {
            logger.warn({ shardId, err: String(error) }, "renewing the shard lease failed");
          }
        }),
      ),
    );
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

  /** Forgets settled requests; returns those not honoured within a lease duration. */
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
      } else if (now() - at >= lease.leaseDurationSeconds * 1000) {
        requested.delete(shardId);
        overdue.push(lease);
      }
    }
    return overdue;
  };

  /**
   * Drops the shards whose last successful write was sent almost a lease duration ago (API server
   * unreachable, calls hanging, process paused): another processor may take them once the
   * duration has passed. A timer of its own runs it, since a sync can wait on API deadlines; the
   * margin covers the timer's period and the reader's reaction.
   */
  const leaseMs = config.leaseDurationSeconds * 1000;
  const dropMarginMs = leaseMs / 10;
  const dropUnrenewed = (): void => {
    for (const shardId of held.keys()) {
      if (now() - (lastWrite.get(shardId) ?? now()) >= leaseMs - dropMarginMs) {
        lose(shardId, "not renewed within the lease duration");
      }
    }
  };
  const watchdog = setInterval(dropUnrenewed, leaseMs / 20);
  watchdog.unref();

  return {
    syncIntervalMs: config.renewIntervalMs,
    async sync(listed) {
      dropUnrenewed();
      const listSent = now();
      // Renewals need no list: a slow list must not let held Leases expire.
      const [leases] = await Promise.all([listLeases(), renewDue()]);
      await createMissing(listed, leases);
      observe(leases);
      reconcileHeld(leases, listSent);
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
      await Promise.all([
        ...plan.take.map((lease) =>
          acquire(leases.get(lease.shardId) ?? lease, lease.holder === "" ? "free" : "expired"),
        ),
        ...plan.steal.map((lease) => requestHandoff(lease)),
        ...overdue.map((lease) => acquire(lease, "stolen: hand-over not done in time")),
      ]);
      for (const [shardId, lease] of held) checkpoints.set(shardId, lease.checkpoint);
      observer.held(held.size);
      return { checkpoints, owned: new Set(held.keys()) };
    },
    renew: renewDue,
    async put(shardId, checkpoint) {
      // A finished shard needs no owner: release it with its SHARD_END.
      await writeHeld(
        shardId,
        checkpoint === SHARD_END ? { checkpoint, holder: "" } : { checkpoint },
      );
    },
    async release() {
      clearInterval(watchdog);
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
    },
    onLost(listener) {
      lostListeners.push(listener);
    },
    onHandoffRequested(listener) {
      handoffListeners.push(listener);
    },
    async handOver(shardId) {
      // Straight to the asker: released, the shard could be taken back by a processor that
      // counts the asker out because it holds nothing yet.
      const asker = handingOff.get(shardId) ?? "";
      await writeHeld(shardId, { holder: asker });
      handingOff.delete(shardId);
      observer.event("handed_over");
      observer.held(held.size);
      logger.info({ shardId, to: asker }, "handed a shard over");
    },
    held: () => [...held.keys()],
  };
}
