// When the heartbeat is renewed: on a schedule of its own, apart from the taker's syncs, as the
// KCL's LeaseRenewer runs apart from its LeaseTaker. One renewal at a time, each an interval after
// the start of the one before (a slow answer does not push the next one back), and a guard timer
// that checks the validity window in between, since a renewal may hang until its deadline.
import { aborted, pause } from "../util/pause.ts";

export interface RenewalScheduleOptions {
  intervalMs: number;
  guardPeriodMs: number;
  /** Monotonic milliseconds. */
  now: () => number;
  /** One renewal; it never rejects. */
  renew: () => Promise<void>;
  /** What the guard timer runs. */
  check: () => void;
}

export type RenewalSchedule = ReturnType<typeof createRenewalSchedule>;

export function createRenewalSchedule(options: RenewalScheduleOptions) {
  const stopping = new AbortController();
  /** Set by the first start. */
  let running: { first: Promise<void>; loop: Promise<void>; guard: NodeJS.Timeout } | undefined;
  return {
    /** Starts renewing; resolves after the first renewal. Starting again changes nothing. */
    start(): Promise<void> {
      if (running !== undefined) return running.first;
      const guard = setInterval(options.check, options.guardPeriodMs);
      guard.unref();
      const first = options.renew();
      running = { first, guard, loop: renewAfter(first, options, stopping.signal) };
      return first;
    },
    /** Stops renewing, cutting the wait short; resolves once a renewal under way has ended. */
    async stop(): Promise<void> {
      stopping.abort();
      clearInterval(running?.guard);
      await running?.loop;
    },
  };
}

/** Renews every interval after the first renewal, until the signal aborts. */
async function renewAfter(
  first: Promise<void>,
  options: RenewalScheduleOptions,
  signal: AbortSignal,
): Promise<void> {
  let started = options.now();
  await first;
  while (!aborted(signal)) {
    await pause(options.intervalMs - (options.now() - started), signal);
    if (aborted(signal)) break;
    started = options.now();
    await options.renew();
  }
}
