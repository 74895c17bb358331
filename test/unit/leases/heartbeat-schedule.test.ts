// The heartbeat's schedule on simulated time: a renewal at once, then one every interval counted
// from the start of the one before, one at a time; the guard checking in between, also while a
// renewal hangs; stopping cuts the wait short and waits for the renewal under way.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, mock, test } from "node:test";
import { createRenewalSchedule } from "../../../processor/leases/heartbeat-schedule.ts";

describe("the heartbeat's renewal schedule", () => {
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout", "setInterval"] });
  });
  afterEach(() => {
    mock.timers.reset();
  });

  /** A schedule whose renewals take the given times (simulated), then none. */
  const setup = (takesMs: number[]) => {
    let clock = 0;
    const started: number[] = [];
    let checks = 0;
    let running = 0;
    let overlapped = false;
    const schedule = createRenewalSchedule({
      intervalMs: 2_000,
      guardPeriodMs: 250,
      now: () => clock,
      renew: async () => {
        started.push(clock);
        running++;
        overlapped ||= running > 1;
        await new Promise((resolve) => setTimeout(resolve, takesMs.shift() ?? 0));
        running--;
      },
      check: () => {
        checks++;
      },
    });
    const advance = async (ms: number): Promise<void> => {
      for (let step = 0; step < ms / 100; step++) {
        clock += 100;
        mock.timers.tick(100);
        for (let turn = 0; turn < 10; turn++) await new Promise((r) => setImmediate(r));
      }
    };
    return {
      schedule,
      started,
      advance,
      checks: () => checks,
      overlapped: () => overlapped,
      now: () => clock,
    };
  };

  test("renews at once, then an interval after each renewal started; one that overran is followed at once", async () => {
    const { schedule, started, advance, overlapped } = setup([0, 1_500, 3_000, 0]);
    void schedule.start();
    await advance(10_000);
    await schedule.stop();
    assert.deepEqual(started, [0, 2_000, 4_000, 7_000, 9_000]);
    assert.equal(overlapped(), false, "one renewal at a time");
  });

  test("the guard checks every period, also while a renewal hangs", async () => {
    const { schedule, advance, checks } = setup([0, 60_000]);
    void schedule.start();
    await advance(5_000);
    assert.equal(checks(), 20);
    const stopped = schedule.stop();
    await advance(1_000);
    assert.equal(checks(), 20, "none after stop");
    await advance(60_000);
    await stopped;
  });

  test("starting twice starts once; stopping cuts the wait short and waits for the renewal under way", async () => {
    const { schedule, started, advance, now } = setup([0, 1_000]);
    const first = schedule.start();
    assert.equal(schedule.start(), first);
    await advance(500);
    await first;
    let stoppedAt: number | undefined;
    void schedule.stop().then(() => (stoppedAt = now()));
    for (let turn = 0; turn < 10; turn++) await new Promise((r) => setImmediate(r));
    assert.equal(stoppedAt, 500, "the wait is cut short at once");
    assert.deepEqual(started, [0]);

    const busy = setup([1_000]);
    void busy.schedule.start();
    await busy.advance(300);
    let busyStoppedAt: number | undefined;
    void busy.schedule.stop().then(() => (busyStoppedAt = busy.now()));
    await busy.advance(1_500);
    assert.equal(busyStoppedAt, 1_000, "after the renewal under way ended");
    assert.deepEqual(busy.started, [0], "and none after it");
  });
});
