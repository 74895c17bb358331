// The pod's gate to the endpoint under a job-wide rate limit: each HTTP attempt waits here for a
// token of the pod's share, first come first served. A waiting record keeps its in-flight slot,
// so a pod over its share stops taking records: the wait is the back-pressure.
import { Fifo } from "../engine/fifo.ts";
import { createTokenBucket } from "./token-bucket.ts";

export interface RateGate {
  /** Undefined when a token was taken at once, else a promise that resolves once one was. */
  admit(): Promise<void> | undefined;
  /** The pod's share now: requests per second and burst (bucket depth). */
  setShare(requestsPerSecond: number, burst: number): void;
  readonly requestsPerSecond: number;
  readonly burst: number;
  /** Attempts waiting for a token. */
  readonly waiting: number;
}

export interface RateGateOptions {
  /** Seconds each admitted waiter waited, for the metrics. */
  onWaited?(seconds: number): void;
  /** Monotonic milliseconds; a test may replace it. */
  now?: () => number;
}

export function createRateGate(options: RateGateOptions = {}): RateGate {
  const now = options.now ?? (() => performance.now());
  const bucket = createTokenBucket(now);
  const waiters = new Fifo<{ since: number; resolve: () => void }>();
  let timer: NodeJS.Timeout | undefined;

  const drain = (): void => {
    clearTimeout(timer);
    timer = undefined;
    while (waiters.size > 0 && bucket.tryTake()) {
      const waiter = waiters.shift();
      if (waiter === undefined) break;
      options.onWaited?.((now() - waiter.since) / 1000);
      waiter.resolve();
    }
    if (waiters.size === 0) return;
    const wait = bucket.msUntilToken();
    // No token comes at rate 0: the next setShare wakes the waiters.
    if (Number.isFinite(wait)) {
      timer = setTimeout(drain, Math.max(1, Math.ceil(wait)));
      timer.unref();
    }
  };

  return {
    admit() {
      if (waiters.size === 0 && bucket.tryTake()) return undefined;
      return new Promise<void>((resolve) => {
        waiters.push({ since: now(), resolve });
        if (timer === undefined) drain();
      });
    },
    setShare(requestsPerSecond, burst) {
      bucket.set(requestsPerSecond, burst);
      if (waiters.size > 0) drain();
    },
    get requestsPerSecond() {
      return bucket.rate;
    },
    get burst() {
      return bucket.depth;
    },
    get waiting() {
      return waiters.size;
    },
  };
}
