// Processors of one job share its shards through one coordination.k8s.io Lease per shard, as the
// KCL shares them through its DynamoDB lease table. A shard Lease holds ownership and the
// checkpoint and is written only when either changes (held-leases.ts, fenced by the
// resourceVersion); whether its holder lives is told by the holder's heartbeat Lease, renewed on
// its own schedule (heartbeat-renewer.ts). At every sync the taker (lease-taker.ts) lists the
// job's Leases, creates those of new shards and takes free ones, and those whose holder is gone,
// up to its fair share; below it, it asks a busier processor for shards, which drains them and
// hands them over (hand-over.ts). This file only composes them and schedules a sync's steps.
// docs/leases.md tells the whole protocol.
import type { CoordinationV1Api } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Assignment, ShardCoordinator, ShardCounters } from "../checkpoint/coordinator.ts";
import { SHARD_END } from "../checkpoint/store.ts";
import type { LeaseCoordinationConfig } from "../config/schema.ts";
import type { ShardInfo } from "../kinesis/shard-lineage.ts";
import { createHandOver } from "./hand-over.ts";
import { createHeartbeatProgress } from "./heartbeat-progress.ts";
import { createHeartbeatRenewer } from "./heartbeat-renewer.ts";
import { createHeldLeases } from "./held-leases.ts";
import { createHolderLiveness } from "./holder-liveness.ts";
import { createLeaseTaker, ours, planSync, readableIds, takenFromUs } from "./lease-taker.ts";
import { shardLeaseCalls } from "./shard-lease-calls.ts";
import type { ShardLease } from "./shard-lease.ts";

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

export type LeaseCoordinator = ShardCoordinator & {
  /** Shards this processor may read now. */
  held(): string[];
  /** Name of this processor's heartbeat Lease. */
  heartbeat: string;
};

interface Listeners {
  lost: ((shardId: string, reason: string) => void)[];
  handoff: ((shardId: string) => void)[];
}

/** The coordination's parts, wired: fenced writes, heartbeat, taker, hand-over. */
function createParts(options: LeaseCoordinatorOptions, listeners: Listeners) {
  const { api, config, workerId: me, logger } = options;
  const observer = options.observer ?? { event: () => undefined, held: () => undefined };
  const now = options.now ?? (() => performance.now());
  const wallClock = options.wallClock ?? (() => new Date());
  const heartbeatMs = config.leaseDurationSeconds * 1000;
  const liveness = createHolderLiveness({
    prefix: config.leasePrefix,
    defaultDurationMs: heartbeatMs,
    now,
  });
  // Every call has a deadline, so one hung request cannot stop the syncs behind it.
  const calls = shardLeaseCalls({
    api,
    namespace: config.namespace,
    labels: config.labels,
    deadlineMs: Math.min(config.renewIntervalMs, heartbeatMs / 2),
    listDeadlineMs: heartbeatMs,
    wallClock,
  });
  const handingOff = new Map<string, string>();
  const held = createHeldLeases({
    calls,
    me,
    onLost: (shardId, reason, stillHeld) => {
      handingOff.delete(shardId);
      observer.event("lost");
      observer.held(stillHeld);
      logger.warn({ shardId, reason }, "shard lease lost; stopped reading the shard");
      for (const listener of listeners.lost) listener(shardId, reason);
    },
  });
  const renewer = createHeartbeatRenewer({
    api,
    lease: {
      namespace: config.namespace,
      prefix: config.leasePrefix,
      processor: me,
      labels: config.labels,
      owner: config.owner,
      leaseDurationSeconds: config.leaseDurationSeconds,
    },
    renewIntervalMs: config.renewIntervalMs,
    progress: createHeartbeatProgress({
      workerId: me,
      counters: (shardId) => options.counters(shardId),
      held: held.ids,
      now,
      wallClock,
    }),
    onLapse: (reason) => {
      for (const shardId of held.ids()) held.lose(shardId, reason);
    },
    logger,
    now,
    wallClock,
  });
  const onEvent = (event: ShardLeaseEvent): void => {
    observer.event(event);
  };
  const common = { calls, me, held, logger, now };
  const taker = createLeaseTaker({
    ...common,
    config,
    liveness,
    live: () => renewer.live(),
    onTaken: () => {
      onEvent("taken");
    },
  });
  const handOver = createHandOver({
    ...common,
    handingOff,
    holdMs: liveness.holdMs,
    hasHeartbeat: liveness.hasHeartbeat,
    onAsked: (shardId) => {
      for (const listener of listeners.handoff) listener(shardId);
    },
    onEvent,
  });
  return { config, me, observer, logger, held, renewer, taker, handOver };
}

type Parts = ReturnType<typeof createParts>;

/** Loses what was taken from us, drains what we were asked for, adopts what names us. */
async function reconcile(parts: Parts, leases: Map<string, ShardLease>): Promise<void> {
  const { me, held, taker, handOver } = parts;
  for (const { shardId, reason } of takenFromUs(held.entries(), leases, me)) {
    held.lose(shardId, reason);
  }
  handOver.notice(leases);
  await Promise.all(
    ours(leases, me, held.has).map((lease) =>
      taker.take(
        lease,
        handOver.received(lease.shardId) ? "handed over" : "held by this pod before",
      ),
    ),
  );
  for (const [shardId, lease] of held.entries()) leases.set(shardId, lease);
}

/** Releases held shards that may not be read (finished, or a parent not finished). */
async function releaseUnreadable(parts: Parts, readable: ReadonlySet<string>): Promise<void> {
  const { held } = parts;
  for (const shardId of held.ids()) {
    if (readable.has(shardId)) continue;
    await held.write(shardId, { holder: "" }).catch(() => undefined);
    held.forget(shardId);
  }
}

/** Takes free and expired Leases, asks for surplus, steals overdue requests: the pure plan's. */
async function takeAndAsk(
  parts: Parts,
  leases: ReadonlyMap<string, ShardLease>,
  readable: ReadonlySet<string>,
): Promise<void> {
  const { me, taker, handOver } = parts;
  const overdue = handOver.settle(leases);
  const stealing = new Set(overdue.map((lease) => lease.shardId));
  const plan = planSync(
    leases,
    (shardId) => handOver.asked(shardId) || stealing.has(shardId),
    { me, readable, expired: taker.expired },
    parts.config.maxStealsPerRenewal,
  );
  if (!parts.renewer.live()) return;
  await Promise.all([
    ...plan.take.map((lease) =>
      taker.take(leases.get(lease.shardId) ?? lease, lease.holder === "" ? "free" : "expired"),
    ),
    ...plan.steal.map((lease) => handOver.ask(lease)),
    ...overdue.map((lease) => taker.take(lease, "stolen: hand-over not done in time")),
  ]);
}

/** One sync: list, create, reconcile, release the unreadable, take and ask. */
async function sync(parts: Parts, listed: readonly ShardInfo[]): Promise<Assignment> {
  const { held } = parts;
  await parts.renewer.start();
  const leases = await parts.taker.list();
  await parts.taker.createMissing(listed, leases);
  await reconcile(parts, leases);
  const checkpoints = new Map([...leases].map(([shardId, lease]) => [shardId, lease.checkpoint]));
  const readable = readableIds(listed, checkpoints);
  await releaseUnreadable(parts, readable);
  await takeAndAsk(parts, leases, readable);
  for (const [shardId, lease] of held.entries()) checkpoints.set(shardId, lease.checkpoint);
  parts.observer.held(held.size);
  return { checkpoints, owned: new Set(held.ids()) };
}

/** Gives up every shard after the final checkpoints, then the heartbeat. */
async function release({ held, observer, logger, renewer }: Parts): Promise<void> {
  const shards = held.ids();
  await Promise.all(
    shards.map((shardId) =>
      held.write(shardId, { holder: "" }).catch((error: unknown) => {
        logger.warn({ shardId, err: error }, "releasing the shard lease failed");
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
}

export function createLeaseCoordinator(options: LeaseCoordinatorOptions): LeaseCoordinator {
  const listeners: Listeners = { lost: [], handoff: [] };
  const parts = createParts(options, listeners);
  const { held, renewer } = parts;
  return {
    syncIntervalMs: options.config.renewIntervalMs,
    heartbeat: renewer.name,
    sync: (listed) => sync(parts, listed),
    async put(shardId, checkpoint) {
      // A finished shard needs no owner: release it with its SHARD_END.
      await held.write(
        shardId,
        checkpoint === SHARD_END ? { checkpoint, holder: "" } : { checkpoint },
      );
    },
    release: () => release(parts),
    onLost(listener) {
      listeners.lost.push(listener);
    },
    onHandoffRequested(listener) {
      listeners.handoff.push(listener);
    },
    async handOver(shardId) {
      await parts.handOver.giveUp(shardId);
      parts.observer.held(held.size);
    },
    held: () => (renewer.live() ? held.ids() : []),
  };
}
