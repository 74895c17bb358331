// A work queue as controller-runtime's: a key is queued at most once, never processed by two
// workers at the same time, and a failed key comes back after a delay from its rate limiter.
// Events that arrive while a key is being processed mark it dirty, so it runs once more after.
// Delayed adds keep the earliest ready time per key, as client-go's delaying queue: a short
// requeue asked after a long one must not wait for the long one.
import { backoffCeiling } from "../../processor/contract.ts";

export interface WorkQueueOptions {
  workers: number;
  /** Per-key exponential failure backoff: the first retry's delay, doubling up to the cap. */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Overall retry rate of failed keys, a token bucket beside the per-key backoff (as
   * controller-runtime's default limiter). Per-key backoff alone retries every key of an outage
   * in lockstep; the bucket lets a burst retry at once and spreads the rest.
   */
  overallQps?: number;
  overallBurst?: number;
}

/**
 * controller-runtime's defaults. A reconcile here makes about ten API requests (a GET per owned
 * object, applies only when something differs, one status write), so 10 retries/s bound retries to
 * about 100 requests/s when the API server comes back from an outage; a burst of 100 retries
 * the failures of a brief blip in a cluster of up to 100 jobs without spreading them out.
 */
export const defaultOverallQps = 10;
export const defaultOverallBurst = 100;

/** What a reconcile asks for: nothing, a plain requeue after a delay, or a retry after failure. */
export type ReconcileResult = { requeueAfterMs?: number } | undefined;

export interface WorkQueue {
  add(key: string): void;
  /**
   * Adds the key after a delay. A key already waiting keeps the earlier of its two ready times,
   * so repeated calls with one delay coalesce into one run and a shorter delay is never held back.
   */
  addAfter(key: string, delayMs: number): void;
  start(
    handler: (key: string) => Promise<ReconcileResult>,
    onError: (key: string, error: unknown) => void,
  ): void;
  /** Stops taking keys and waits for the ones in progress. */
  shutdown(): Promise<void>;
  readonly length: number;
}

export function failureDelayMs(
  failures: number,
  options: Pick<WorkQueueOptions, "baseDelayMs" | "maxDelayMs">,
): number {
  return backoffCeiling({ baseMs: options.baseDelayMs, maxMs: options.maxDelayMs }, failures);
}

/** A token bucket's state: tokens left (negative when reservations wait) at a monotonic time. */
export interface TokenBucket {
  tokens: number;
  atMs: number;
}

/**
 * Takes one token at `nowMs` and says how long its holder waits for it, as golang.org/x/time/rate's
 * `Reserve`: tokens refill at `qps` up to `burst`, and a reservation may drive them below zero.
 */
export function reserveToken(
  bucket: TokenBucket,
  nowMs: number,
  qps: number,
  burst: number,
): { bucket: TokenBucket; delayMs: number } {
  const refilled = Math.min(burst, bucket.tokens + ((nowMs - bucket.atMs) * qps) / 1_000);
  const tokens = refilled - 1;
  return { bucket: { tokens, atMs: nowMs }, delayMs: tokens < 0 ? (-tokens * 1_000) / qps : 0 };
}

export function createWorkQueue(options: WorkQueueOptions): WorkQueue {
  const qps = options.overallQps ?? defaultOverallQps;
  const burst = options.overallBurst ?? defaultOverallBurst;
  const queue: string[] = [];
  const queued = new Set<string>();
  const processing = new Set<string>();
  const dirty = new Set<string>();
  const failures = new Map<string, number>();
  const waiting = new Map<string, { readyAtMs: number; timer: NodeJS.Timeout }>();
  let bucket: TokenBucket = { tokens: burst, atMs: performance.now() };
  let handle: ((key: string) => Promise<ReconcileResult>) | undefined;
  let report: (key: string, error: unknown) => void = () => undefined;
  let stopped = false;
  let active = 0;
  let idle: (() => void) | undefined;

  const addAfter = (key: string, delayMs: number): void => {
    if (stopped) return;
    if (delayMs <= 0) {
      add(key);
      return;
    }
    const readyAtMs = performance.now() + delayMs;
    const current = waiting.get(key);
    if (current !== undefined) {
      if (current.readyAtMs <= readyAtMs) return;
      clearTimeout(current.timer);
    }
    const timer = setTimeout(() => {
      waiting.delete(key);
      add(key);
    }, delayMs);
    waiting.set(key, { readyAtMs, timer });
  };

  /** The delay before a failed key's retry: the longer of its own backoff and the overall rate's. */
  const retryDelayMs = (key: string): number => {
    const count = (failures.get(key) ?? 0) + 1;
    failures.set(key, count);
    const reservation = reserveToken(bucket, performance.now(), qps, burst);
    bucket = reservation.bucket;
    return Math.max(failureDelayMs(count, options), reservation.delayMs);
  };

  const work = async (key: string): Promise<void> => {
    processing.add(key);
    active++;
    try {
      const result = await (handle as (key: string) => Promise<ReconcileResult>)(key);
      failures.delete(key);
      if (result?.requeueAfterMs !== undefined) addAfter(key, result.requeueAfterMs);
    } catch (error) {
      report(key, error);
      addAfter(key, retryDelayMs(key));
    } finally {
      processing.delete(key);
      active--;
      if (dirty.delete(key)) add(key);
      pump();
      if (active === 0 && stopped) idle?.();
    }
  };

  const pump = (): void => {
    while (!stopped && handle !== undefined && active < options.workers && queue.length > 0) {
      const key = queue.shift() as string;
      queued.delete(key);
      void work(key);
    }
  };

  const add = (key: string): void => {
    if (stopped) return;
    if (processing.has(key)) {
      dirty.add(key);
      return;
    }
    if (queued.has(key)) return;
    queued.add(key);
    queue.push(key);
    pump();
  };

  return {
    add,
    addAfter,
    start(handler, onError) {
      handle = handler;
      report = onError;
      pump();
    },
    async shutdown() {
      stopped = true;
      for (const { timer } of waiting.values()) clearTimeout(timer);
      waiting.clear();
      if (active > 0) await new Promise<void>((resolve) => (idle = resolve));
    },
    get length() {
      return queue.length;
    },
  };
}
