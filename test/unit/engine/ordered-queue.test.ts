// Flink's orderedWait queue: only the oldest element may leave, and only once its call ended.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createOrderedQueue } from "../../../processor/engine/ordered-queue.ts";
import type { QueueEntry } from "../../../processor/engine/result-queue.ts";

const entry = (input: string): QueueEntry<string, string> => ({
  input,
  done: false,
  output: undefined,
});

const finish = (target: QueueEntry<string, string>, output: string): void => {
  target.done = true;
  target.output = output;
};

describe("ordered queue", () => {
  test("poll gives nothing while the oldest element's call is still running", () => {
    const queue = createOrderedQueue<string, string>();
    const [first, second] = [entry("1"), entry("2")];
    queue.push(first);
    queue.push(second);
    finish(second, "two");
    queue.complete(second);
    assert.equal(queue.poll(), undefined, "the second waits for the first");
    assert.equal(queue.size, 2);
  });

  test("completed elements leave in input order once the head completes", () => {
    const queue = createOrderedQueue<string, string>();
    const entries = ["1", "2", "3"].map(entry);
    for (const item of entries) queue.push(item);
    for (const index of [2, 1, 0]) {
      const item = entries[index];
      assert.ok(item !== undefined);
      finish(item, `out-${item.input}`);
      queue.complete(item);
    }
    const left: string[] = [];
    for (let item = queue.poll(); item !== undefined; item = queue.poll()) left.push(item.input);
    assert.deepEqual(left, ["1", "2", "3"]);
    assert.equal(queue.size, 0);
  });

  test("a completed head leaves while an unfinished element behind it stays", () => {
    const queue = createOrderedQueue<string, string>();
    const [first, second] = [entry("1"), entry("2")];
    queue.push(first);
    queue.push(second);
    finish(first, "one");
    queue.complete(first);
    assert.equal(queue.poll(), first);
    assert.equal(queue.poll(), undefined);
    assert.equal(queue.size, 1, "size counts the element still in flight");
  });
});
