// A circuit breaker for endpoint outages. Fed by every attempt: `failuresToOpen` attempts in a
// row failing with an outage error (connection refused or reset, timeout, 429, 5xx) open it; while
// open, no call starts, so readers stop taking records and the backlog waits in Kinesis instead of
// filling the dead-letter stream. After `probeIntervalMs` one waiting call goes through as a probe
// (the interval doubles up to `maxProbeIntervalMs` while probes fail); any answer from the
// endpoint, a probe's or a call's still in flight, closes it and lets every waiting call go.
// An answer that is a failure of the record's own (another 4xx, a bad body) counts as an answer.

import type { CallObserver } from "./caller.ts";

export type BreakerState = "closed" | "open" | "probing";
export type Verdict = "answered" | "outage" | "unknown";

export interface OutageBreakerOptions {
  failuresToOpen: number;
  probeIntervalMs: number;
  maxProbeIntervalMs: number;
  /** Monotonic milliseconds. */
  now?: () => number;
  onChange?(state: BreakerState, reason: string | undefined): void;
}

export interface OutageBreaker {
  /** Every attempt's outcome: whether it failed as an outage does, and why. */
  attempt(outage: boolean, reason?: string): void;
  /**
   * Undefined while closed: the call may start. Otherwise a promise that resolves once the call
   * may start (as the probe, or because the breaker closed); it never resolves after `stop`.
   */
  admit(): Promise<void> | undefined;
  /**
   * What became of the endpoint after a call failed as an outage does, at `failedAt` (monotonic
   * milliseconds): "answered" once another attempt got an answer after it (the failure was the
   * record's own), "outage" once the breaker is open, "unknown" if neither within `withinMs`.
   */
  verdictAfter(failedAt: number, withinMs: number): Promise<Verdict>;
  readonly state: BreakerState;
  /** Why it is open: the last outage error. */
  readonly reason: string | undefined;
  /** Calls waiting to start. */
  readonly waiting: number;
  stop(): void;
}

export function createOutageBreaker(options: OutageBreakerOptions): OutageBreaker {
  const now = options.now ?? (() => performance.now());
  let state: BreakerState = "closed";
  let reason: string | undefined;
  let failuresInRow = 0;
  let lastAnswerAt = Number.NEGATIVE_INFINITY;
  let interval = options.probeIntervalMs;
  let probeTimer: NodeJS.Timeout | undefined;
  /** Probing, and no call has taken the probe's place yet. */
  let probeFree = false;
  let stopped = false;
  const waiters: (() => void)[] = [];
  const verdicts = new Set<{ since: number; settle: (verdict: Verdict) => void }>();

  const settleVerdicts = (verdict: Verdict, answeredAt?: number): void => {
    for (const pending of verdicts) {
      if (answeredAt === undefined || answeredAt > pending.since) pending.settle(verdict);
    }
  };

  const change = (next: BreakerState): void => {
    state = next;
    options.onChange?.(next, reason);
  };

  // Every interval while not closed, one more call goes through: a probe whose record never
  // reaches the endpoint (its request cannot be built) cannot keep the others waiting.
  const armProbe = (): void => {
    clearTimeout(probeTimer);
    probeTimer = setTimeout(() => {
      if (stopped || state === "closed") return;
      if (state === "open") change("probing");
      const next = waiters.shift();
      if (next === undefined) probeFree = true;
      else next();
      armProbe();
    }, interval);
  };

  const open = (why: string | undefined): void => {
    reason = why;
    probeFree = false;
    change("open");
    armProbe();
    settleVerdicts("outage");
  };

  const close = (): void => {
    clearTimeout(probeTimer);
    interval = options.probeIntervalMs;
    reason = undefined;
    probeFree = false;
    change("closed");
    for (const admit of waiters.splice(0)) admit();
  };

  return {
    attempt(outage, why) {
      if (!outage) {
        failuresInRow = 0;
        lastAnswerAt = now();
        settleVerdicts("answered", lastAnswerAt);
        if (state !== "closed") close();
        return;
      }
      failuresInRow++;
      if (state === "probing") {
        // A probe failed: wait longer before the next one.
        interval = Math.min(interval * 2, options.maxProbeIntervalMs);
        open(why);
      } else if (state === "closed" && failuresInRow >= options.failuresToOpen) {
        open(why);
      } else if (state === "open") {
        reason = why;
      }
    },
    admit() {
      if (state === "closed" && !stopped) return undefined;
      return new Promise<void>((resolve) => {
        if (stopped) return;
        if (probeFree) {
          probeFree = false;
          resolve();
        } else {
          waiters.push(resolve);
        }
      });
    },
    verdictAfter(failedAt, withinMs) {
      if (lastAnswerAt > failedAt) return Promise.resolve("answered");
      if (state !== "closed") return Promise.resolve("outage");
      return new Promise<Verdict>((resolve) => {
        const pending = {
          since: failedAt,
          settle: (verdict: Verdict) => {
            clearTimeout(timer);
            verdicts.delete(pending);
            resolve(verdict);
          },
        };
        const timer = setTimeout(() => {
          pending.settle("unknown");
        }, withinMs);
        verdicts.add(pending);
      });
    },
    get state() {
      return state;
    },
    get reason() {
      return reason;
    },
    get waiting() {
      return waiters.length;
    },
    stop() {
      stopped = true;
      clearTimeout(probeTimer);
      waiters.length = 0;
      settleVerdicts("unknown");
    },
  };
}

/** Feeds the breaker from the caller's attempts: which failures look like an outage. */
export function observeOutages(breaker: OutageBreaker): CallObserver["attempt"] {
  return (_seconds, result, failure) => {
    const status = failure?.status;
    const outage =
      result === "network" ||
      result === "timeout" ||
      (result === "status" && status !== undefined && (status === 429 || status >= 500));
    breaker.attempt(outage, failure?.reason);
  };
}
