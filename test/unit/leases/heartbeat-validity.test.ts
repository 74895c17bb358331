// The window in which a processor may read its shards: it closes at the send time of the latest
// acknowledged renewal plus the duration, less a tenth of it, and a lapse is reported once. A
// seeded random run lets acknowledgements arrive late and out of order, with lapses forced in
// between (a conflict, a deletion), and checks both at every step.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  createHeartbeatValidity,
  guardPeriodMs,
  marginMs,
  readableUntil,
} from "../../../processor/leases/heartbeat-validity.ts";
import { seededRandom } from "../seeded-random.ts";

const durationMs = 5_000;

function windowOnClock() {
  let clock = 0;
  const lapses: { at: number; reason: string }[] = [];
  const validity = createHeartbeatValidity({
    durationMs,
    now: () => clock,
    onLapse: (reason) => lapses.push({ at: clock, reason }),
  });
  const at = (ms: number): void => {
    clock = ms;
  };
  return { validity, lapses, at };
}

describe("the heartbeat's validity window", () => {
  test("arithmetic: a 5 s heartbeat may be read 4.5 s after its renewal was sent; the guard runs twice per margin", () => {
    assert.equal(marginMs(durationMs), 500);
    assert.equal(readableUntil(2_000, durationMs), 6_500);
    assert.equal(guardPeriodMs(durationMs), 250);
    assert.equal(2 * guardPeriodMs(durationMs), marginMs(durationMs));
    assert.equal(readableUntil(Number.NEGATIVE_INFINITY, durationMs), Number.NEGATIVE_INFINITY);
  });

  test("closed until a renewal is acknowledged; open until its send time + 4.5 s, then one lapse", () => {
    const { validity, lapses, at } = windowOnClock();
    assert.equal(validity.live(), false);
    assert.deepEqual(lapses, [], "a window never opened does not lapse");
    at(1_200);
    assert.equal(validity.acknowledged(1_000), true, "the first acknowledgement opens it");
    at(5_499);
    assert.equal(validity.live(), true);
    at(5_500);
    assert.equal(validity.live(), false, "closed at send time + duration - margin");
    validity.check();
    assert.equal(validity.live(), false);
    assert.deepEqual(lapses, [{ at: 5_500, reason: "heartbeat not renewed within 4500 ms" }]);
  });

  test("an acknowledgement that arrives after its own window ended does not open it", () => {
    const { validity, lapses, at } = windowOnClock();
    at(4_600);
    assert.equal(validity.acknowledged(100), false);
    assert.equal(validity.live(), false);
    assert.deepEqual(lapses, []);
  });

  test("a late answer to an older renewal does not move the window back", () => {
    const { validity, at } = windowOnClock();
    at(3_100);
    validity.acknowledged(3_000);
    at(3_200);
    assert.equal(validity.acknowledged(1_000), false, "already open");
    at(7_400);
    assert.equal(validity.live(), true, "still open until 3 000 + 4 500");
    at(7_500);
    assert.equal(validity.live(), false);
  });

  test("a forced lapse is reported once and closes the window until the next acknowledgement; closing reports none", () => {
    const { validity, lapses, at } = windowOnClock();
    at(100);
    validity.acknowledged(0);
    validity.lapse("the heartbeat Lease was deleted");
    validity.lapse("another client wrote the heartbeat Lease");
    assert.equal(validity.live(), false);
    assert.deepEqual(
      lapses.map((l) => l.reason),
      ["the heartbeat Lease was deleted"],
    );
    at(200);
    assert.equal(validity.acknowledged(150), true, "a renewal after the lapse opens it again");
    validity.close();
    assert.equal(validity.live(), false);
    at(10_000);
    validity.check();
    assert.equal(lapses.length, 1, "closing at stop is no lapse");
  });

  test("seeded random runs: acknowledgements late and out of order never keep it open past the latest acknowledged send time + 4.5 s, and each lapse is reported once", () => {
    for (let seed = 1; seed <= 50; seed++) {
      const random = seededRandom(seed);
      const { validity, lapses, at } = windowOnClock();
      let clock = 0;
      /** Renewals sent and not answered yet, by send time. */
      const pending: number[] = [];
      let latestAcknowledged = Number.NEGATIVE_INFINITY;
      /** What the window reported, in order: it must alternate, opened first. */
      const reports: ("opened" | "lapsed")[] = [];
      let lapsesSeen = 0;
      const context = (): string => `seed ${String(seed)} at ${String(clock)} ms`;
      for (let step = 0; step < 400; step++) {
        clock += Math.floor(random() * 700);
        at(clock);
        const choice = random();
        if (choice < 0.3) {
          pending.push(clock);
        } else if (choice < 0.65 && pending.length > 0) {
          // Any pending renewal may be answered next, however long ago it was sent.
          const [sent] = pending.splice(Math.floor(random() * pending.length), 1) as [number];
          latestAcknowledged = Math.max(latestAcknowledged, sent);
          if (validity.acknowledged(sent)) {
            assert.ok(
              clock < readableUntil(latestAcknowledged, durationMs),
              `opened late: ${context()}`,
            );
            reports.push("opened");
          }
        } else if (choice < 0.7) {
          validity.lapse("another client wrote the heartbeat Lease");
        } else if (choice < 0.85) {
          validity.check();
        }
        const live = validity.live();
        if (clock >= readableUntil(latestAcknowledged, durationMs)) {
          assert.equal(live, false, `live past its window: ${context()}`);
        }
        for (; lapsesSeen < lapses.length; lapsesSeen++) reports.push("lapsed");
        const expected = reports.map((_, index) => (index % 2 === 0 ? "opened" : "lapsed"));
        assert.deepEqual(reports, expected, `reports alternate: ${context()}`);
        assert.equal(live, reports.at(-1) === "opened", `live as last reported: ${context()}`);
      }
      assert.ok(
        reports.length > 10,
        `seed ${String(seed)}: only ${String(reports.length)} reports`,
      );
    }
  });
});
