// The calls' last-resort timeouts in one list behind one timer: each expires about its length
// after it was set, cleared ones never do, a re-set one starts afresh, and nothing holds the
// event loop once no deadline is set.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  createDeadlines,
  deadlineNode,
  type DeadlineNode,
} from "../../../processor/engine/deadlines.ts";

interface Named extends DeadlineNode {
  name: string;
}
const named = (name: string): Named => ({ ...deadlineNode(), name });

describe("deadlines", () => {
  test("nodes expire in the order they were set, about the length after, cleared ones never", async () => {
    const expired: { name: string; afterMs: number }[] = [];
    const started = performance.now();
    const deadlines = createDeadlines<Named>(40, (node) => {
      expired.push({ name: node.name, afterMs: performance.now() - started });
    });
    const [a, b, c] = [named("a"), named("b"), named("c")];
    deadlines.set(a);
    await sleep(10);
    deadlines.set(b);
    deadlines.set(c);
    deadlines.clear(b);
    await sleep(80);
    assert.deepEqual(
      expired.map((entry) => entry.name),
      ["a", "c"],
    );
    assert.ok((expired[0]?.afterMs ?? 0) >= 39, `a expired after ${expired[0]?.afterMs} ms`);
    assert.ok((expired[1]?.afterMs ?? 0) >= 49, `c expired after ${expired[1]?.afterMs} ms`);
  });

  test("a node set again expires its length after the later set, once", async () => {
    const expired: string[] = [];
    const deadlines = createDeadlines<Named>(40, (node) => expired.push(node.name));
    const node = named("again");
    deadlines.set(node);
    await sleep(25);
    deadlines.set(node);
    await sleep(25);
    assert.deepEqual(expired, [], "the first deadline was replaced");
    await sleep(40);
    assert.deepEqual(expired, ["again"]);
  });

  test("a node may set another from its expiry, which then expires in turn", async () => {
    const expired: string[] = [];
    const next = named("next");
    const deadlines = createDeadlines<Named>(20, (node) => {
      expired.push(node.name);
      if (node.name === "first") deadlines.set(next);
    });
    deadlines.set(named("first"));
    await sleep(70);
    assert.deepEqual(expired, ["first", "next"]);
  });

  test("with every deadline cleared, the timer no longer holds the event loop", () => {
    const deadlines = createDeadlines<Named>(60_000, () => undefined);
    const node = named("cleared");
    deadlines.set(node);
    const active = () =>
      process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length;
    const before = active();
    deadlines.clear(node);
    assert.equal(active(), before - 1);
  });
});
