// A work queue as controller-runtime's: a key is queued at most once, never processed by two
// workers at the same time, and a failed key comes back after a per-key exponential delay.
// Events that arrive while a key is being processed mark it dirty, so it runs once more after.

export interface WorkQueueOptions {
  workers: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** What a reconcile asks for: nothing, a plain requeue after a delay, or a retry after failure. */
export type ReconcileResult = { requeueAfterMs?: number } | undefined;

export interface WorkQueue {
  add(key: string): void;
  /** Adds the key after a delay; further calls before then change nothing (coalescing). */
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
  return Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, failures - 1));
}

export function createWorkQueue(options: WorkQueueOptions): WorkQueue {
  const queue: string[] = [];
  const queued = new Set<string>();
  const processing = new Set<string>();
  const dirty = new Set<string>();
  const failures = new Map<string, number>();
  const timers = new Map<string, NodeJS.Timeout>();
  let handle: ((key: string) => Promise<ReconcileResult>) | undefined;
  let report: (key: string, error: unknown) => void = () => undefined;
  let stopped = false;
  let active = 0;
  let idle: (() => void) | undefined;

  const later = (key: string, delayMs: number): void => {
    if (timers.has(key)) return;
    timers.set(
      key,
      setTimeout(() => {
        timers.delete(key);
        add(key);
      }, delayMs),
    );
  };

  const work = async (key: string): Promise<void> => {
    processing.add(key);
    active++;
    try {
      const result = await (handle as (key: string) => Promise<ReconcileResult>)(key);
      failures.delete(key);
      if (result?.requeueAfterMs !== undefined) later(key, result.requeueAfterMs);
    } catch (error) {
      const count = (failures.get(key) ?? 0) + 1;
      failures.set(key, count);
      report(key, error);
      later(key, failureDelayMs(count, options));
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
    addAfter: later,
    start(handler, onError) {
      handle = handler;
      report = onError;
      pump();
    },
    async shutdown() {
      stopped = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      if (active > 0) await new Promise<void>((resolve) => (idle = resolve));
    },
    get length() {
      return queue.length;
    },
  };
}
