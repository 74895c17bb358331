import assert from "node:assert/strict";
import { test } from "node:test";
import {
  createWorkQueue,
  failureDelayMs,
  reserveToken,
} from "../../../operator/controller/work-queue.ts";
import { within } from "../../support/within.ts";

const deferred = () => {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
};

test("a key is never processed by two workers at once; events during processing run it once more", async () => {
  const queue = createWorkQueue({ workers: 4, baseDelayMs: 5, maxDelayMs: 100 });
  const gate = deferred();
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const finished = deferred();
  queue.start(
    async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      if (runs === 1) await gate.promise;
      running--;
      if (runs === 2) finished.resolve();
      return undefined;
    },
    () => undefined,
  );
  queue.add("shop/orders");
  queue.add("shop/orders");
  queue.add("shop/orders");
  gate.resolve();
  await finished.promise;
  await queue.shutdown();
  assert.equal(maxRunning, 1);
  assert.equal(runs, 2, "three adds during one run collapse into one more run");
});

test("a failing key is retried with a growing delay and its error reported", async () => {
  const queue = createWorkQueue({ workers: 1, baseDelayMs: 10, maxDelayMs: 1_000 });
  const attempts: number[] = [];
  const errors: string[] = [];
  const done = deferred();
  queue.start(
    () => {
      attempts.push(performance.now());
      if (attempts.length < 3) return Promise.reject(new Error(`attempt ${attempts.length}`));
      done.resolve();
      return Promise.resolve(undefined);
    },
    (_key, error) => errors.push((error as Error).message),
  );
  queue.add("shop/orders");
  await done.promise;
  await queue.shutdown();
  assert.deepEqual(errors, ["attempt 1", "attempt 2"]);
  const [first = 0, second = 0, third = 0] = attempts;
  assert.ok(
    second - first >= 9 && third - second >= 19,
    `delays ${second - first}, ${third - second}`,
  );
});

test("failure delays double up to the cap", () => {
  const options = { baseDelayMs: 100, maxDelayMs: 1_000 };
  assert.deepEqual(
    [1, 2, 3, 4, 5, 9].map((failures) => failureDelayMs(failures, options)),
    [100, 200, 400, 800, 1_000, 1_000],
  );
});

/** Records the time of every run of a handler, and resolves `runs(n)` once n runs happened. */
const recorder = (
  result: (run: number) => Promise<{ requeueAfterMs?: number } | undefined> = () =>
    Promise.resolve(undefined),
) => {
  const times: number[] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  return {
    times,
    handler: async (): Promise<{ requeueAfterMs?: number } | undefined> => {
      times.push(performance.now());
      try {
        return await result(times.length);
      } finally {
        for (const wait of waiting.filter((entry) => times.length >= entry.count)) wait.resolve();
      }
    },
    runs: (count: number): Promise<void> =>
      new Promise<void>((resolve) => {
        if (times.length >= count) resolve();
        else waiting.push({ count, resolve });
      }),
  };
};

test("a short addAfter after a long one runs at the short delay: the earliest time wins", async () => {
  const queue = createWorkQueue({ workers: 1, baseDelayMs: 5, maxDelayMs: 1_000 });
  const runs = recorder();
  queue.start(runs.handler, () => undefined);
  const start = performance.now();
  queue.addAfter("shop/orders", 3_000);
  queue.addAfter("shop/orders", 20);
  await within(runs.runs(1), 1_000, "the 20 ms addAfter");
  await queue.shutdown();
  const [ran = 0] = runs.times;
  assert.ok(ran - start >= 19, `ran after ${String(ran - start)} ms, before its delay`);
});

test("a longer addAfter for a waiting key neither postpones it nor adds a run", async () => {
  const queue = createWorkQueue({ workers: 1, baseDelayMs: 5, maxDelayMs: 1_000 });
  const runs = recorder();
  queue.start(runs.handler, () => undefined);
  queue.addAfter("shop/orders", 20);
  queue.addAfter("shop/orders", 30);
  queue.addAfter("shop/orders", 2_000);
  await within(runs.runs(1), 1_000, "the 20 ms addAfter");
  await queue.shutdown();
  assert.equal(runs.times.length, 1);
});

test("a reconcile's requeueAfter runs the key again after that delay", async () => {
  const queue = createWorkQueue({ workers: 1, baseDelayMs: 5, maxDelayMs: 1_000 });
  const runs = recorder((run) => Promise.resolve(run === 1 ? { requeueAfterMs: 50 } : undefined));
  queue.start(runs.handler, () => undefined);
  queue.add("shop/orders");
  await within(runs.runs(2), 1_000, "the requeue");
  await queue.shutdown();
  const [first = 0, second = 0] = runs.times;
  assert.ok(second - first >= 49, `requeued after ${String(second - first)} ms`);
});

test("a short addAfter after a long requeueAfter is not held back by it", async () => {
  const queue = createWorkQueue({ workers: 1, baseDelayMs: 5, maxDelayMs: 1_000 });
  const runs = recorder((run) =>
    Promise.resolve(run === 1 ? { requeueAfterMs: 3_000 } : undefined),
  );
  queue.start(runs.handler, () => undefined);
  queue.add("shop/orders");
  await runs.runs(1);
  // The reconcile's requeue is recorded once its handler's promise settles.
  await new Promise<void>((resolve) => setImmediate(resolve));
  const asked = performance.now();
  queue.addAfter("shop/orders", 200);
  await within(runs.runs(2), 1_500, "the 200 ms addAfter after a 3 s requeue");
  await queue.shutdown();
  const [, second = 0] = runs.times;
  assert.ok(second - asked >= 199, `ran ${String(second - asked)} ms after the addAfter`);
});

test("a failure's retry is not held back by an earlier, longer requeueAfter", async () => {
  const queue = createWorkQueue({ workers: 1, baseDelayMs: 10, maxDelayMs: 1_000 });
  const runs = recorder((run) => {
    if (run === 1) return Promise.resolve({ requeueAfterMs: 3_000 });
    if (run === 2) return Promise.reject(new Error("conflict"));
    return Promise.resolve(undefined);
  });
  const errors: unknown[] = [];
  queue.start(runs.handler, (_key, error) => errors.push(error));
  queue.add("shop/orders");
  await runs.runs(1);
  await new Promise<void>((resolve) => setImmediate(resolve));
  queue.add("shop/orders");
  await within(runs.runs(3), 1_000, "the retry after the failure");
  await queue.shutdown();
  const [, failed = 0, retried = 0] = runs.times;
  assert.equal(errors.length, 1);
  assert.ok(retried - failed >= 9, `retried after ${String(retried - failed)} ms`);
});

test("many keys failing at once are retried no faster than the overall rate once the burst is spent", async () => {
  const keys = ["a", "b", "c", "d", "e", "f", "g", "h"].map((name) => `shop/${name}`);
  const queue = createWorkQueue({
    workers: 8,
    baseDelayMs: 1,
    maxDelayMs: 1_000,
    overallQps: 20,
    overallBurst: 3,
  });
  const attempts = new Map<string, number[]>();
  let retries = 0;
  const allRetried = deferred();
  queue.start(
    (key) => {
      const times = attempts.get(key) ?? [];
      times.push(performance.now());
      attempts.set(key, times);
      if (times.length === 1) return Promise.reject(new Error("API server unavailable"));
      if (++retries === keys.length) allRetried.resolve();
      return Promise.resolve(undefined);
    },
    () => undefined,
  );
  const start = performance.now();
  for (const key of keys) queue.add(key);
  await within(allRetried.promise, 2_000, "every key's retry");
  await queue.shutdown();
  const retryTimes = keys.map((key) => (attempts.get(key)?.[1] ?? 0) - start).sort((a, b) => a - b);
  // Three tokens of burst, then one every 50 ms: the 4th retry at 50 ms ... the 8th at 250 ms.
  retryTimes.slice(3).forEach((at, index) => {
    assert.ok(at >= (index + 1) * 50 - 2, `retries at ${retryTimes.map(Math.round).join(", ")} ms`);
  });
});

test("the overall token bucket lets a burst through at once, then one token per 1/qps", () => {
  let bucket = { tokens: 2, atMs: 0 };
  const delays = [0, 0, 0, 0, 1_000].map((nowMs) => {
    const reservation = reserveToken(bucket, nowMs, 10, 2);
    bucket = reservation.bucket;
    return reservation.delayMs;
  });
  // Two from the burst, then 100 ms and 200 ms; a second later the bucket has refilled past zero.
  assert.deepEqual(delays, [0, 0, 100, 200, 0]);
});

test("an idle bucket refills only up to its burst", () => {
  const { delayMs, bucket } = reserveToken({ tokens: 0, atMs: 0 }, 60_000, 10, 3);
  assert.equal(delayMs, 0);
  assert.equal(bucket.tokens, 2);
});
