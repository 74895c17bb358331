// Leader election on a coordination.k8s.io Lease, as client-go's LeaderElector:
// - A candidate judges the Lease expired by how long it has itself seen the Lease unchanged (the
//   same resourceVersion) on its own monotonic clock, never by the holder's renewTime against its
//   wall clock: replicas' wall clocks may be minutes apart.
// - Every write carries the resourceVersion it read, so of two racing writers one gets a 409.
// - Every API call has a deadline, so a hung call cannot stall renewal.
// - The leader keeps leading through transient errors, but once renewDeadline has passed since its
//   last successful renewal was sent it stops acting at once, on a timer, whether or not a call is
//   still pending. A candidate starts counting no earlier than that renewal landed, so with
//   renewDeadline < leaseDuration the old leader stops before any candidate may take over.
// - A stopping leader releases the Lease (holder cleared), so a standby takes over at once.
import { V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiStatusCode, pause } from "../../processor/contract.ts";
import type { LeaseApi } from "./lease-api.ts";

export interface LeaderElectionTimings {
  /** How long candidates wait, after they last saw the Lease change, before taking it. */
  leaseDurationMs: number;
  /** How long the leader keeps acting after sending its last successful renewal. */
  renewDeadlineMs: number;
  /** Time between attempts to acquire or renew; also each API call's deadline. */
  retryPeriodMs: number;
}

/** client-go's and controller-runtime's defaults. */
export const defaultTimings: LeaderElectionTimings = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export interface LeaderElectionOptions extends LeaderElectionTimings {
  leases: LeaseApi;
  identity: string;
  logger: Logger;
  /** The wall clock, used only for the Lease's informational acquireTime and renewTime. */
  wallClock?: () => Date;
}

/** The Lease as this replica last saw it, and when (performance.now()) it first saw that version. */
export interface Observation {
  lease: V1Lease | undefined;
  sinceMs: number;
}

/** Why runLeaderElection returned: `stop` aborted, or leadership was lost (or never began). */
export type ElectionOutcome = "stopped" | "lost";

export function checkTimings(timings: LeaderElectionTimings): void {
  if (!(timings.renewDeadlineMs < timings.leaseDurationMs))
    throw new Error("leader election: renewDeadlineMs must be shorter than leaseDurationMs");
  if (!(timings.retryPeriodMs < timings.renewDeadlineMs))
    throw new Error("leader election: retryPeriodMs must be shorter than renewDeadlineMs");
}

/** Keeps the time of the first sight of a version: only a change of the Lease restarts the wait. */
export function observe(
  previous: Observation | undefined,
  lease: V1Lease | undefined,
  nowMs: number,
): Observation {
  const version = lease?.metadata?.resourceVersion;
  if (previous !== undefined && previous.lease?.metadata?.resourceVersion === version)
    return previous;
  return { lease, sinceMs: nowMs };
}

/**
 * True if `identity` may write itself into the observed Lease at `nowMs`: it is free, already
 * ours, or has not changed for its holder's lease duration as timed on this replica's clock.
 */
export function mayTake(observation: Observation, identity: string, nowMs: number): boolean {
  const spec = observation.lease?.spec;
  const holder = spec?.holderIdentity ?? "";
  if (holder === "" || holder === identity) return true;
  return nowMs - observation.sinceMs >= (spec?.leaseDurationSeconds ?? 15) * 1_000;
}

/** The Lease naming `identity` as holder, built on the current one (whose resourceVersion it keeps). */
export function heldLease(
  current: V1Lease | undefined,
  identity: string,
  leaseDurationMs: number,
  now: Date,
): V1Lease {
  const spec = current?.spec ?? {};
  const ours = spec.holderIdentity === identity;
  return {
    metadata: current?.metadata ?? {},
    spec: {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1_000),
      // MicroTime: the API server refuses a Date serialized with milliseconds only.
      acquireTime: new V1MicroTime(ours ? (spec.acquireTime ?? now) : now),
      renewTime: new V1MicroTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
    },
  };
}

/** The Lease given up by its holder, as client-go's release: no holder, a one-second duration. */
export function releasedLease(current: V1Lease, now: Date): V1Lease {
  return {
    metadata: current.metadata,
    spec: {
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: new V1MicroTime(now),
      renewTime: new V1MicroTime(now),
      leaseTransitions: current.spec?.leaseTransitions ?? 0,
    },
  };
}

/**
 * One API call with a deadline: the signal cancels the request, and the race ends the wait even if
 * some layer ignores the signal. A write that timed out may still have landed; the next write's
 * resourceVersion tells.
 */
export async function withDeadline<T>(
  call: (signal: AbortSignal) => Promise<T>,
  deadlineMs: number,
  what: string,
): Promise<T> {
  const cancel = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`${what} got no answer within ${String(deadlineMs)} ms`);
      cancel.abort(error);
      reject(error);
    }, deadlineMs);
  });
  try {
    return await Promise.race([call(cancel.signal), late]);
  } finally {
    clearTimeout(timer);
  }
}

interface Leadership {
  acting: AbortController;
  done: Promise<void>;
  deadline: NodeJS.Timeout | undefined;
}

/**
 * Campaigns until elected, then calls `lead` with a signal that aborts the moment leadership ends:
 * no successful renewal within renewDeadlineMs, another holder seen on the Lease, or `stop`.
 * Resolves once `lead` has returned: "lost" after a loss (client-go's Run returns then too; the
 * caller decides whether to campaign again), "stopped" after `stop`, with the Lease released.
 */
export async function runLeaderElection(
  options: LeaderElectionOptions,
  lead: (acting: AbortSignal) => Promise<void>,
  stop: AbortSignal,
): Promise<ElectionOutcome> {
  checkTimings(options);
  const { leases, identity, logger, retryPeriodMs } = options;
  const wallClock = options.wallClock ?? (() => new Date());
  const call = <T>(what: string, request: (signal: AbortSignal) => Promise<T>): Promise<T> =>
    withDeadline(request, retryPeriodMs, what);
  let seen: Observation | undefined;
  let leadership: Leadership | undefined;
  /** Whether the last attempt succeeded, so `seen` holds the Lease as this replica wrote it. */
  let renewedLast = false;

  const endLeadership = (reason: Error): void => {
    if (leadership === undefined || leadership.acting.signal.aborted) return;
    clearTimeout(leadership.deadline);
    leadership.acting.abort(reason);
  };

  /** Starts or moves the renew deadline: renewDeadlineMs after the last good renewal was sent. */
  const renewedAt = (sentMs: number): void => {
    // A renewal answered after leadership ended (a slow call that landed late) changes nothing.
    if (leadership?.acting.signal.aborted === true) return;
    if (leadership === undefined) {
      logger.info({ identity }, "became the leader");
      const acting = new AbortController();
      leadership = {
        acting,
        deadline: undefined,
        done: Promise.resolve()
          .then(() => lead(acting.signal))
          .catch((error: unknown) => {
            logger.error({ err: error }, "leading failed; giving up leadership");
            endLeadership(error instanceof Error ? error : new Error(String(error)));
          }),
      };
    }
    clearTimeout(leadership.deadline);
    leadership.deadline = setTimeout(
      () => {
        const error = new Error(
          `no successful renewal of the leader Lease within ${String(options.renewDeadlineMs)} ms`,
        );
        logger.error({ err: error }, "lost leadership; stopping work");
        endLeadership(error);
      },
      sentMs + options.renewDeadlineMs - performance.now(),
    );
  };

  /** Acquires or renews the Lease; returns false if another replica holds it. */
  const tryAcquireOrRenew = async (): Promise<boolean> => {
    // A leader whose last renewal succeeded writes on top of it: one call per renewal.
    if (!(leadership !== undefined && renewedLast && seen !== undefined)) {
      const lease = await call("reading the leader Lease", (signal) => leases.read(signal));
      // Timed after the answer: the version read existed by then, so the wait starts no earlier.
      seen = observe(seen, lease, performance.now());
      if (!mayTake(seen, identity, performance.now())) return false;
    }
    const desired = heldLease(seen.lease, identity, options.leaseDurationMs, wallClock());
    const sentMs = performance.now();
    const written =
      seen.lease === undefined
        ? await call("creating the leader Lease", (signal) => leases.create(desired, signal))
        : await call("renewing the leader Lease", (signal) => leases.replace(desired, signal));
    seen = { lease: written, sinceMs: performance.now() };
    renewedAt(sentMs);
    return true;
  };

  /** Clears the holder once this replica has stopped acting, so a standby need not wait. */
  const release = async (lease: V1Lease | undefined): Promise<void> => {
    if (lease?.spec?.holderIdentity !== identity) return;
    try {
      await call("releasing the leader Lease", (signal) =>
        leases.replace(releasedLease(lease, wallClock()), signal),
      );
      logger.info({ identity }, "released the leader Lease");
    } catch (error) {
      logger.warn(
        { err: error },
        "releasing the leader Lease failed; a standby takes over once it expires",
      );
    }
  };

  while (!stop.aborted && !leadership?.acting.signal.aborted) {
    try {
      const held = await tryAcquireOrRenew();
      renewedLast = held;
      if (!held && leadership !== undefined) {
        const holder = seen?.lease?.spec?.holderIdentity ?? "";
        endLeadership(new Error(`the leader Lease is held by ${holder}`));
        logger.error({ holder }, "another replica holds the leader Lease; stopping work");
      }
    } catch (error) {
      renewedLast = false;
      // A 409 is a lost race (or our own timed-out write that landed): the next read tells.
      if (apiStatusCode(error) !== 409)
        logger.warn(
          { err: error, leading: leadership !== undefined },
          "leader election: reading or writing the Lease failed",
        );
    }
    if (leadership?.acting.signal.aborted !== true) await pause(retryPeriodMs, stop);
  }

  if (leadership === undefined) return "stopped";
  const lost = leadership.acting.signal.aborted;
  endLeadership(new Error("stopping"));
  await leadership.done;
  if (lost) return "lost";
  await release(seen?.lease);
  return "stopped";
}
