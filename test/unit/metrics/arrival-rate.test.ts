// A shard's arrivals counted by arrival time: exact however fast records are read, robust to
// records that share an arrival time, to a reader that waits, and to a new reading of the shard.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  minimumSpanMs,
  nextArrival,
  podArrivalRate,
  type Taken,
} from "../../../processor/metrics/arrival-rate.ts";
import { seededRandom } from "../seeded-random.ts";

const t0 = Date.parse("2026-11-30T12:00:00Z");
const first = {};
const taken = (records: number, seconds: number | undefined, reading: unknown = first): Taken => ({
  records,
  lastArrivedAt: seconds === undefined ? undefined : t0 + seconds * 1000,
  reading,
});

test("records handed on over the arrival times they span, however fast they were read", () => {
  const start = nextArrival(taken(100, 0), false, undefined);
  assert.equal(start.rate, undefined, "a new reading has no span yet");
  const burst = nextArrival(taken(400, 30), false, start);
  assert.equal(burst.rate, 10, "300 records that arrived over 30 s, read in one second");
});

test("records sharing an arrival time keep the baseline until a span opens", () => {
  const start = nextArrival(taken(100, 0), false, undefined);
  const measured = nextArrival(taken(200, 10), false, start);
  // A batch of 50 records put at once, handed on across two samples: no span at first.
  const sameTime = nextArrival(taken(250, 10), false, measured);
  assert.equal(sameTime.rate, 10, "the last rate stands");
  assert.equal(sameTime.base.records, 200, "the baseline stays");
  const next = nextArrival(taken(300, 20), false, sameTime);
  assert.equal(next.rate, 100 / 10, "the batch counted once the span opens");
});

test("a burst over a short span is measured only once the span reaches 5 s", () => {
  assert.equal(minimumSpanMs, 5_000);
  const start = nextArrival(taken(0, 0), false, undefined);
  const measured = nextArrival(taken(100, 10), false, start);
  // A producer that fell behind catches up: 40 records within 2 s.
  const burst = nextArrival(taken(140, 12), false, measured);
  assert.equal(burst.rate, 10, "the last rate stands");
  assert.equal(burst.base, measured.base);
  const settled = nextArrival(taken(200, 20), false, burst);
  assert.equal(settled.rate, 10, "the burst and the quiet after it, over 10 s");
});

test("nothing handed on: 0 when idle at the tip, the last rate while the reader waits", () => {
  const start = nextArrival(taken(100, 0), false, undefined);
  const measured = nextArrival(taken(200, 10), false, start);
  assert.equal(nextArrival(taken(200, 10), false, measured).rate, 10, "waiting: stands");
  assert.equal(nextArrival(taken(200, 10), true, measured).rate, 0, "idle at the tip");
  assert.equal(nextArrival(taken(0, undefined), true, undefined).rate, 0, "new, idle, nothing");
  assert.equal(nextArrival(taken(5, 1), true, undefined).rate, undefined, "new, handed on some");
});

test("a new reading of the shard (handed over and back) counts from its own start", () => {
  const start = nextArrival(taken(1_000, 0), false, undefined);
  const measured = nextArrival(taken(1_100, 10), false, start);
  const again = nextArrival(taken(20, 12, {}), false, measured);
  assert.equal(again.rate, undefined, "no comparison with the old reading's counts");
  assert.equal(again.base.records, 20);
});

test("a new reading sampled before its first record counts from that record's arrival time", () => {
  // Taken over with a backlog: the first heartbeat comes before anything is handed on.
  const start = nextArrival(taken(0, undefined, {}), false, undefined);
  const firstRecords = nextArrival(taken(40, 4, start.base.reading), false, start);
  assert.equal(firstRecords.rate, undefined, "no span yet");
  assert.equal(firstRecords.base.lastArrivedAt, t0 + 4_000, "the baseline moved to them");
  const measured = nextArrival(taken(140, 14, start.base.reading), false, firstRecords);
  assert.equal(measured.rate, 10, "100 records that arrived over 10 s");
});

test("a pod's arrivals are its shards' sum, unknown while one shard's is", () => {
  assert.equal(podArrivalRate([10, 2.54]), 12.5);
  assert.equal(podArrivalRate([10, undefined]), undefined);
  assert.equal(podArrivalRate([]), 0);
});

test("seeded random batches: every record handed on is counted once, none is lost", () => {
  for (let seed = 1; seed <= 50; seed++) {
    const random = seededRandom(seed);
    // Some readings start with nothing handed on yet, so without an arrival time.
    let records = random() < 0.3 ? 0 : Math.floor(random() * 100);
    let arrivedMs = 0;
    let sample = nextArrival(taken(records, records === 0 ? undefined : 0), false, undefined);
    /** The first baseline with an arrival time: counting starts there. */
    let initial = sample.base.lastArrivedAt === undefined ? undefined : sample.base;
    let counted = 0;
    for (let step = 0; step < 80; step++) {
      // Batches of records sharing an arrival time; some heartbeats see no new arrival time.
      const batches = Math.floor(random() * 3);
      for (let batch = 0; batch < batches; batch++) {
        arrivedMs += 1 + Math.floor(random() * 3_000);
        records += 1 + Math.floor(random() * 20);
      }
      if (random() < 0.3) records += Math.floor(random() * 5);
      const now = taken(records, arrivedMs / 1000);
      const before = sample;
      sample = nextArrival(now, false, before);
      if (before.base.lastArrivedAt === undefined) {
        initial ??= sample.base;
      } else if (sample.base !== before.base) {
        const seconds = ((now.lastArrivedAt ?? 0) - before.base.lastArrivedAt) / 1000;
        counted += (sample.rate ?? 0) * seconds;
      } else {
        assert.ok(
          (now.lastArrivedAt ?? 0) - before.base.lastArrivedAt < minimumSpanMs,
          "held back only over a span under the least",
        );
      }
    }
    const since = sample.base.records - (initial?.records ?? Number.NaN);
    assert.ok(
      Math.abs(counted - since) < 1e-6,
      `seed ${String(seed)}: counted ${String(counted)} of ${String(since)}`,
    );
    assert.notEqual(sample.rate, undefined, `seed ${String(seed)}: a rate measured`);
  }
});
