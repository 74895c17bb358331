// Flink's unorderedWait queue: an element leaves as soon as its call ends, in completion order.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { QueueEntry } from "../../../processor/engine/result-queue.ts";
import { createUnorderedQueue } from "../../../processor/engine/unordered-queue.ts";

const entry = (input: string): QueueEntry<string, string> => ({
  input,
  done: false,
  output: undefined,
});

describe("unordered queue", () => {
  test("poll gives nothing until some call has ended", () => {
    const queue = createUnorderedQueue<string, string>();
    queue.push(entry("1"));
    assert.equal(queue.poll(), undefined);
    assert.equal(queue.size, 1);
  });

  test("completed elements leave in completion order, not input order", () => {
    const queue = createUnorderedQueue<string, string>();
    const [first, second, third] = [entry("1"), entry("2"), entry("3")];
    for (const item of [first, second, third]) queue.push(item);
    for (const item of [third, first]) {
      item.done = true;
      queue.complete(item);
    }
    assert.equal(queue.poll(), third);
    assert.equal(queue.poll(), first);
    assert.equal(queue.poll(), undefined, "the second is still running");
  });

  test("size counts elements pushed and not yet polled, completed or not", () => {
    const queue = createUnorderedQueue<string, string>();
    const [first, second] = [entry("1"), entry("2")];
    queue.push(first);
    queue.push(second);
    first.done = true;
    queue.complete(first);
    assert.equal(queue.size, 2, "a completed element not yet polled is still held");
    queue.poll();
    assert.equal(queue.size, 1);
    second.done = true;
    queue.complete(second);
    queue.poll();
    assert.equal(queue.size, 0);
  });
});
