// The engine's FIFO: first in, first out, with amortized O(1) shifts and a backing array that
// does not keep every shifted slot forever.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Fifo } from "../../../processor/engine/fifo.ts";
import { seededRandom } from "../seeded-random.ts";

/** The length of the private backing array: the only way to see that shifted slots are let go. */
const backingLength = (fifo: Fifo<unknown>): number =>
  (fifo as unknown as { items: unknown[] }).items.length;

describe("Fifo", () => {
  test("an empty FIFO has size 0 and peek and shift give undefined", () => {
    const fifo = new Fifo<number>();
    assert.equal(fifo.size, 0);
    assert.equal(fifo.peek(), undefined);
    assert.equal(fifo.shift(), undefined);
    assert.equal(fifo.size, 0, "shifting an empty FIFO does not make its size negative");
  });

  test("shift returns items in the order they were pushed, and peek does not remove", () => {
    const fifo = new Fifo<string>();
    for (const item of ["a", "b", "c"]) fifo.push(item);
    assert.equal(fifo.size, 3);
    assert.equal(fifo.peek(), "a");
    assert.equal(fifo.peek(), "a");
    assert.equal(fifo.size, 3);
    assert.deepEqual([fifo.shift(), fifo.shift()], ["a", "b"]);
    fifo.push("d");
    assert.equal(fifo.size, 2);
    assert.deepEqual([fifo.shift(), fifo.shift(), fifo.shift()], ["c", "d", undefined]);
  });

  test("order and size stay right across the compaction after 1024 shifts", () => {
    const fifo = new Fifo<number>();
    for (let item = 0; item < 2_048; item++) fifo.push(item);
    for (let expected = 0; expected < 1_024; expected++) assert.equal(fifo.shift(), expected);
    // Exactly here the FIFO compacts (1024 shifted of 2048): nothing may be lost or repeated.
    assert.equal(fifo.size, 1_024);
    assert.equal(fifo.peek(), 1_024);
    fifo.push(2_048);
    const rest: number[] = [];
    for (let item = fifo.shift(); item !== undefined; item = fifo.shift()) rest.push(item);
    assert.deepEqual(
      rest,
      Array.from({ length: 1_025 }, (_, index) => 1_024 + index),
    );
    assert.equal(fifo.size, 0);
  });

  test("interleaved pushes and shifts match a plain array over many compactions", () => {
    const random = seededRandom(42);
    const fifo = new Fifo<number>();
    const reference: number[] = [];
    let next = 0;
    for (let step = 0; step < 50_000; step++) {
      // Slightly more pushes than shifts, so the FIFO grows past several compaction points.
      if (random() < 0.52) {
        fifo.push(next);
        reference.push(next);
        next++;
      } else {
        assert.equal(fifo.shift(), reference.shift(), `shift at step ${step}`);
      }
      assert.equal(fifo.size, reference.length, `size at step ${step}`);
      assert.equal(fifo.peek(), reference[0], `peek at step ${step}`);
    }
    assert.ok(next > 20_000, `the run pushed ${next} items, well past 1024`);
  });

  test("a long-lived FIFO that stays short does not keep its shifted slots", () => {
    const fifo = new Fifo<number>();
    for (let item = 0; item < 100_000; item++) {
      fifo.push(item);
      fifo.push(item);
      fifo.shift();
      fifo.shift();
    }
    assert.equal(fifo.size, 0);
    assert.ok(
      backingLength(fifo) <= 2_048,
      `backing array holds ${backingLength(fifo)} slots for an empty FIFO`,
    );
  });
});
