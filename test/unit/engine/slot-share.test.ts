// Capacity shared fairly between shards: a shard whose head is slow keeps its results waiting in
// its own share, so the other shards keep flowing (Flink gets this from a queue per subtask).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAsyncWait } from "../../../processor/engine/async-wait.ts";
import { createSlots, newSlotHolder, type SlotHolder } from "../../../processor/engine/slots.ts";
import { seededRandom } from "../seeded-random.ts";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("slot share", () => {
  test("in ordered mode a slow head holds back only its own shard while that shard keeps receiving records", async () => {
    const slowHead = Promise.withResolvers<string>();
    const emitted = { a: 0, b: 0 };
    const operator = createAsyncWait<string, string>({
      capacity: 10,
      ordering: "ordered",
      partitionOf: (input) => input.split(":")[0] ?? "",
      openPartitions: () => 2,
      // a:0 hangs; every other call ends after a turn of the event loop.
      invoke: (input) => (input === "a:0" ? slowHead.promise : settle().then(() => input)),
      timeoutMs: 60_000,
      onTimeout: () => "timeout",
      onError: () => "error",
      emit: (input) => {
        emitted[input.startsWith("a") ? "a" : "b"]++;
      },
      onFatal: (error) => {
        throw error;
      },
    });
    const reader = async (shard: string, records: number) => {
      for (let index = 0; index < records; index++) {
        const waiting = operator.submit(`${shard}:${index}`);
        if (waiting !== undefined) await waiting;
      }
    };
    const shardA = reader("a", 200);
    await reader("b", 200);
    for (let turn = 0; turn < 100 && emitted.b < 200; turn++) await settle();
    assert.equal(emitted.b, 200, "shard b emitted every record while a's head was slow");
    assert.equal(emitted.a, 0, "shard a emitted nothing past its slow head");
    assert.ok(operator.inFlight <= 5 + 1, `a holds at most its share, held ${operator.inFlight}`);
    slowHead.resolve("late");
    await shardA;
    await operator.drained();
    assert.equal(emitted.a, 200);
  });

  test("unordered mode lends an idle shard's share and gets it back call by call", async () => {
    const slow = Promise.withResolvers<undefined>();
    const emitted: string[] = [];
    const operator = createAsyncWait<string, string>({
      capacity: 4,
      ordering: "unordered",
      partitionOf: (input) => input.split(":")[0] ?? "",
      openPartitions: () => 2,
      invoke: (input) =>
        input.startsWith("a") ? slow.promise.then(() => input) : settle().then(() => input),
      timeoutMs: 60_000,
      onTimeout: () => "timeout",
      onError: () => "error",
      emit: (input) => {
        emitted.push(input);
      },
      onFatal: (error) => {
        throw error;
      },
    });
    for (let index = 0; index < 4; index++) {
      assert.equal(operator.submit(`a:${index}`), undefined, "a alone may use the whole capacity");
    }
    const b = operator.submit("b:0");
    assert.ok(b instanceof Promise, "b waits for a slot");
    slow.resolve(undefined);
    await b;
    for (let turn = 0; turn < 10 && emitted.length < 5; turn++) await settle();
    assert.deepEqual(emitted.sort(), ["a:0", "a:1", "a:2", "a:3", "b:0"]);
  });

  test("an idle shard's share goes back to the busy ones", () => {
    const slots = createSlots(10);
    const a = newSlotHolder();
    const b = newSlotHolder();
    assert.equal(slots.tryTake(a), true);
    assert.equal(slots.tryTake(b), true);
    assert.equal(slots.share, 5);
    slots.release(b);
    assert.equal(slots.isIdle(b), true);
    assert.equal(slots.share, 10, "a alone may use the whole capacity");
    for (let taken = 1; taken < 10; taken++) assert.equal(slots.tryTake(a), true);
    assert.equal(slots.tryTake(a), false, "capacity reached");
  });

  test("a shard above its share after another became busy takes no more until it is below", () => {
    const slots = createSlots(4);
    const a = newSlotHolder();
    const b = newSlotHolder();
    for (let taken = 0; taken < 4; taken++) assert.equal(slots.tryTake(a), true);
    const admitted: string[] = [];
    slots.wait(b, () => admitted.push("b"));
    slots.wait(a, () => admitted.push("a"));
    slots.release(a);
    assert.deepEqual(admitted, ["b"], "the freed slot goes to b, below its share of 2");
    slots.release(a);
    assert.deepEqual(admitted, ["b"], "a holds 2 = its share: the slot stays free for b");
    assert.equal(slots.tryTake(a), false, "a submit of a cannot barge past its own waiter");
    slots.release(a);
    assert.deepEqual(admitted, ["b", "a"], "a is below its share again");
  });

  test("a lowered limit takes nothing back: new takers wait until fewer than the limit are in use", () => {
    const slots = createSlots(6);
    const a = newSlotHolder();
    for (let taken = 0; taken < 6; taken++) assert.equal(slots.tryTake(a), true);
    slots.setLimit(3);
    assert.equal(slots.inUse, 6, "the six held slots stay held");
    assert.equal(slots.limit, 3);
    const admitted: number[] = [];
    slots.wait(a, () => admitted.push(1));
    for (let released = 0; released < 3; released++) slots.release(a);
    assert.deepEqual(admitted, [], "3 in use = the limit: the waiter still waits");
    slots.release(a);
    assert.deepEqual(admitted, [1], "2 in use: the waiter takes the third slot");
    assert.equal(slots.tryTake(a), false);
  });

  test("a raised limit admits waiters at once, each partition within its share, never above capacity", () => {
    const slots = createSlots(8);
    slots.setLimit(2);
    const a = newSlotHolder();
    const b = newSlotHolder();
    assert.equal(slots.tryTake(a), true);
    assert.equal(slots.tryTake(b), true);
    const admitted: string[] = [];
    for (let index = 0; index < 5; index++) {
      slots.wait(a, () => admitted.push("a"));
      slots.wait(b, () => admitted.push("b"));
    }
    slots.setLimit(6);
    assert.deepEqual(admitted.sort(), ["a", "a", "b", "b"], "shares of 3 each");
    slots.setLimit(100);
    assert.equal(slots.limit, 8, "capacity stays the ceiling");
    assert.equal(slots.inUse, 8);
    slots.setLimit(0);
    assert.equal(slots.limit, 1, "at least one slot");
    slots.setLimit(Number.NaN);
    assert.equal(slots.limit, 1, "a NaN limit is ignored");
  });

  test("the share follows the limit", () => {
    const slots = createSlots(10, () => 2);
    assert.equal(slots.share, 5);
    slots.setLimit(4);
    assert.equal(slots.share, 2);
    slots.setLimit(1);
    assert.equal(slots.share, 1);
  });

  test("seeded random schedules with a moving limit: no slot is taken at or above the limit, order is kept, nothing starves", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = seededRandom(seed);
      const capacity = 1 + Math.floor(random() * 12);
      const slots = createSlots(capacity);
      const holders: SlotHolder[] = Array.from({ length: 1 + Math.floor(random() * 6) }, () =>
        newSlotHolder(),
      );
      const submitted = holders.map(() => 0);
      const admitted = holders.map(() => 0);
      const holding: number[][] = holders.map(() => []);
      const take = (shard: number) => {
        const holder = holders[shard] as SlotHolder;
        const number = submitted[shard] ?? 0;
        submitted[shard] = number + 1;
        const admit = () => {
          assert.equal(number, admitted[shard], `seed ${seed}: shard ${shard} admitted in order`);
          assert.ok(
            slots.inUse <= slots.limit,
            `seed ${seed}: taken with ${slots.inUse} in use, limit ${slots.limit}`,
          );
          admitted[shard] = (admitted[shard] ?? 0) + 1;
          holding[shard]?.push(number);
        };
        if (slots.tryTake(holder)) admit();
        else slots.wait(holder, admit);
      };
      for (let step = 0; step < 400; step++) {
        const shard = Math.floor(random() * holders.length);
        const held = holding[shard] ?? [];
        const dice = random();
        if (dice < 0.1) slots.setLimit(1 + Math.floor(random() * capacity));
        else if (dice < 0.6) take(shard);
        else if (held.length > 0) {
          held.shift();
          slots.release(holders[shard] as SlotHolder);
        }
        assert.ok(slots.inUse <= capacity, `seed ${seed}: ${slots.inUse} in use`);
      }
      // Release everything, with the limit at its lowest: every waiter must still get its turn.
      slots.setLimit(1);
      for (let rounds = 0; slots.inUse > 0; rounds++) {
        assert.ok(rounds < 100_000, `seed ${seed}: draining did not end`);
        const shard = holding.findIndex((held) => held.length > 0);
        holding[shard]?.shift();
        slots.release(holders[shard] as SlotHolder);
      }
      assert.deepEqual(admitted, submitted, `seed ${seed}: every submission admitted`);
      assert.equal(slots.waiting, 0);
    }
  });

  test("seeded random schedules: the pool never exceeds capacity, every waiter is admitted in its shard's order, nothing starves", () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = seededRandom(seed);
      const capacity = 1 + Math.floor(random() * 12);
      const slots = createSlots(capacity);
      const holders: SlotHolder[] = Array.from({ length: 1 + Math.floor(random() * 6) }, () =>
        newSlotHolder(),
      );
      const submitted = holders.map(() => 0);
      const admitted = holders.map(() => 0);
      /** Slots each holder holds, by submission number, in the order taken. */
      const holding: number[][] = holders.map(() => []);
      const take = (shard: number) => {
        const holder = holders[shard] as SlotHolder;
        const number = submitted[shard] ?? 0;
        submitted[shard] = number + 1;
        const admit = () => {
          assert.equal(number, admitted[shard], `seed ${seed}: shard ${shard} admitted in order`);
          admitted[shard] = (admitted[shard] ?? 0) + 1;
          holding[shard]?.push(number);
        };
        if (slots.tryTake(holder)) admit();
        else slots.wait(holder, admit);
      };
      for (let step = 0; step < 400; step++) {
        const shard = Math.floor(random() * holders.length);
        const held = holding[shard] ?? [];
        if (random() < 0.55) take(shard);
        else if (held.length > 0) {
          held.shift();
          slots.release(holders[shard] as SlotHolder);
        }
        assert.ok(slots.inUse <= capacity, `seed ${seed}: ${slots.inUse} in use`);
        assert.equal(
          slots.inUse,
          holding.reduce((sum, held) => sum + held.length, 0),
        );
      }
      // Release everything: every waiter must get its turn.
      for (let rounds = 0; slots.inUse > 0; rounds++) {
        assert.ok(rounds < 100_000, `seed ${seed}: draining did not end`);
        const shard = holding.findIndex((held) => held.length > 0);
        holding[shard]?.shift();
        slots.release(holders[shard] as SlotHolder);
      }
      assert.deepEqual(admitted, submitted, `seed ${seed}: every submission admitted`);
      assert.equal(slots.waiting, 0);
      assert.ok(holders.every((holder) => slots.isIdle(holder)));
    }
  });
});
