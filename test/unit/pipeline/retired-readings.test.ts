// What is left of a dropped shard's reading: its tracker goes on counting what was in flight, a
// shard granted back waits until that settled and then resumes after it, and stop waits for every
// reader to wind down. Seeded random runs check that a shard dropped and granted back, however
// the acknowledgements interleave, resumes exactly after the last record it read: none read
// twice, none skipped.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { acknowledge, type Receipt } from "../../../processor/checkpoint/tracker.ts";
import { createRetiredReadings } from "../../../processor/pipeline/retired-readings.ts";
import type { Reading } from "../../../processor/pipeline/shard-readings.ts";
import { newReading } from "../../../processor/pipeline/start-reading.ts";
import { seededRandom } from "../seeded-random.ts";

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A reading of shard-0 that read `sequenceNumbers` after `startAfter`. */
function readingOf(startAfter: string | undefined, sequenceNumbers: string[]) {
  const reading = newReading("shard-0", startAfter);
  const receipts = sequenceNumbers.map((sequenceNumber) => reading.tracker.track(sequenceNumber));
  return { reading, receipts };
}

describe("retired readings", () => {
  test("a shard granted back while records are in flight settles once they are acknowledged, then resumes after them", async () => {
    const retired = createRetiredReadings();
    const { reading, receipts } = readingOf("10", ["11", "12", "13"]);
    const [r11, r12, r13] = receipts as [Receipt, Receipt, Receipt];
    acknowledge(r11);
    retired.keep("shard-0", reading);
    let settled = false;
    void retired.settling("shard-0", new AbortController().signal)?.then(() => {
      settled = true;
    });
    acknowledge(r13);
    await tick();
    assert.equal(settled, false, "12 is still in flight");
    acknowledge(r12);
    await tick();
    assert.equal(settled, true);
    assert.equal(retired.settling("shard-0", new AbortController().signal), undefined);
    assert.equal(retired.takeWritten("shard-0"), "13", "resume after the last record read");
    assert.equal(retired.takeWritten("shard-0"), undefined, "taken over by the new reading");
  });

  test("a shard never read here, or with nothing in flight, has nothing to settle", () => {
    const retired = createRetiredReadings();
    const signal = new AbortController().signal;
    assert.equal(retired.settling("shard-0", signal), undefined);
    retired.keep("shard-0", readingOf("10", []).reading);
    assert.equal(retired.settling("shard-0", signal), undefined);
    assert.equal(retired.takeWritten("shard-0"), "10");
  });

  test("the processor stopping ends the wait for records in flight", async () => {
    const retired = createRetiredReadings();
    retired.keep("shard-0", readingOf(undefined, ["1"]).reading);
    const stopping = new AbortController();
    const settling = retired.settling("shard-0", stopping.signal);
    assert.ok(settling);
    stopping.abort();
    await settling;
  });

  test("a shard that left the stream's listing is forgotten", () => {
    const retired = createRetiredReadings();
    const { reading } = readingOf("10", []);
    retired.keep("shard-0", reading);
    retired.keep("shard-1", { ...reading, tracker: newReading("shard-1", "20").tracker });
    retired.keepListed(new Set(["shard-1"]));
    assert.equal(retired.takeWritten("shard-0"), undefined);
    assert.equal(retired.takeWritten("shard-1"), "20");
  });

  test("winding down waits for every reader kept, and only those still running", async () => {
    const retired = createRetiredReadings();
    let finish: () => void = () => undefined;
    const running: Reading = {
      ...readingOf(undefined, []).reading,
      done: new Promise((resolve) => {
        finish = resolve;
      }),
    };
    retired.keep("shard-0", running);
    retired.keep("shard-1", readingOf(undefined, []).reading);
    let woundDown = false;
    void retired.woundDown().then(() => {
      woundDown = true;
    });
    await tick();
    assert.equal(woundDown, false, "shard-0's reader still runs");
    finish();
    await tick();
    assert.equal(woundDown, true);
  });
});

/** Resumes a shard granted back; the broken one does not wait for its records to settle. */
type Resume = (
  retired: ReturnType<typeof createRetiredReadings>,
  shardId: string,
) => { startAfter: string | undefined } | undefined;

const resume: Resume = (retired, shardId) =>
  retired.settling(shardId, new AbortController().signal) === undefined
    ? { startAfter: retired.takeWritten(shardId) }
    : undefined;

/**
 * Shards read, dropped and granted back at random while their records are acknowledged out of
 * order, as a sink answers; the Lease's checkpoint stays frozen (the API server does not answer),
 * so only what the retired reading wrote tells where to resume. Returns the first broken rule.
 */
function run(seed: number, steps: number, resumeShard: Resume): string | undefined {
  const random = seededRandom(seed);
  const retired = createRetiredReadings();
  const shardIds = ["shard-0", "shard-1", "shard-2"];
  const current = new Map<string, Reading>();
  const lastRead = new Map<string, number>();
  const inFlight: Receipt[] = [];
  for (let step = 0; step < steps; step++) {
    const shardId = shardIds[Math.floor(random() * shardIds.length)] as string;
    const reading = current.get(shardId);
    const action = random();
    if (action < 0.4 && reading !== undefined) {
      const sequenceNumber = (lastRead.get(shardId) ?? 0) + 1;
      lastRead.set(shardId, sequenceNumber);
      inFlight.push(reading.tracker.track(String(sequenceNumber)));
    } else if (action < 0.7 && inFlight.length > 0) {
      const [receipt] = inFlight.splice(Math.floor(random() * inFlight.length), 1);
      if (receipt !== undefined) acknowledge(receipt);
    } else if (action < 0.8 && reading !== undefined) {
      retired.keep(shardId, reading);
      current.delete(shardId);
    } else if (reading === undefined) {
      const resumed = resumeShard(retired, shardId);
      if (resumed === undefined) continue;
      const expected = lastRead.get(shardId);
      const startAfter = resumed.startAfter === undefined ? undefined : Number(resumed.startAfter);
      if (startAfter !== expected) {
        return `step ${String(step)}: ${shardId} resumed after ${String(startAfter)}, its last record read was ${String(expected)}`;
      }
      current.set(shardId, newReading(shardId, resumed.startAfter));
    }
  }
  return undefined;
}

describe("retired readings under random drops, grants and acknowledgements", () => {
  test("100 seeded runs: a shard granted back resumes exactly after the last record it read", () => {
    for (let seed = 1; seed <= 100; seed++) {
      assert.equal(run(seed, 1_000, resume), undefined, `seed ${String(seed)}`);
    }
  });

  test("the random runs catch a shard resumed before its records in flight settled", () => {
    const eager: Resume = (retired, shardId) => ({ startAfter: retired.takeWritten(shardId) });
    const failures = [1, 2, 3, 4, 5].map((seed) => run(seed, 1_000, eager));
    assert.ok(failures.some((failure) => failure?.includes("resumed after") === true));
  });
});
