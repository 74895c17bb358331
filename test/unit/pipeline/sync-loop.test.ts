// The supervisor's loop: a failed sync is kept for the status and retried soon, a wake-up cuts the
// pause short, and the processor stopping ends the loop, also in the middle of a pause.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createSyncLoop, syncPauseMs } from "../../../processor/pipeline/sync-loop.ts";
import { waitFor } from "../../support/wait-for.ts";

test("until a sync succeeds the pause is at most a second; after, one sync interval", () => {
  assert.equal(syncPauseMs(false, 10_000), 1_000);
  assert.equal(syncPauseMs(false, 200), 200);
  assert.equal(syncPauseMs(true, 10_000), 10_000);
});

test("a failed sync is kept for the status until a sync succeeds; one failing as the loop stops is none", async () => {
  const stop = new AbortController();
  const failures: string[] = [];
  const loop = createSyncLoop({
    syncIntervalMs: 10,
    signal: stop.signal,
    onFailure: (error) => failures.push(error),
  });
  const outcomes = [new Error("stream not found"), undefined, new Error("no answer")];
  const seen: ReturnType<typeof loop.health>[] = [];
  const running = loop.run(() => {
    seen.push(loop.health());
    const outcome = outcomes.shift();
    if (outcomes.length === 0) stop.abort();
    return outcome === undefined ? Promise.resolve() : Promise.reject(outcome);
  });
  await running;
  seen.push(loop.health());
  assert.deepEqual(
    failures,
    ["Error: stream not found"],
    "a sync failing as the loop stops is no failure",
  );
  assert.deepEqual(seen, [
    { discovered: false, discoveryError: undefined },
    { discovered: false, discoveryError: "Error: stream not found" },
    { discovered: true, discoveryError: undefined },
    { discovered: true, discoveryError: undefined },
  ]);
});

test("a wake-up ends the pause at once; the processor stopping ends the loop mid-pause", async () => {
  const stop = new AbortController();
  const loop = createSyncLoop({
    syncIntervalMs: 60_000,
    signal: stop.signal,
    onFailure: () => undefined,
  });
  let syncs = 0;
  const running = loop.run(() => {
    syncs++;
    return Promise.resolve();
  });
  await waitFor(
    () => syncs,
    (count) => count === 1,
    { timeoutMs: 1_000, what: "a first sync" },
  );
  loop.wake();
  await waitFor(
    () => syncs,
    (count) => count === 2,
    {
      timeoutMs: 1_000,
      what: "a second sync a minute early",
    },
  );
  const started = performance.now();
  stop.abort();
  await running;
  assert.ok(performance.now() - started < 1_000, "the pause of a minute did not hold the stop");
  assert.equal(syncs, 2);
});
