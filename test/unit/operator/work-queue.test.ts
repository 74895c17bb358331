import assert from "node:assert/strict";
import { test } from "node:test";
import { createWorkQueue, failureDelayMs } from "../../../operator/controller/work-queue.ts";

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
