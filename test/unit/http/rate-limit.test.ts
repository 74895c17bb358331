// The pod's rate gate on real timers, and its share of the job's limit: waiters pass in arrival
// order at the share's rate, wait through a share of 0 until one is set, and report their waits.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createRateGate } from "../../../processor/http/rate-limit.ts";
import { rateShare } from "../../../processor/http/rate-share.ts";
import { seededRandom } from "../seeded-random.ts";

describe("rate gate", () => {
  test("waiters pass in arrival order, at the share's rate, and report how long they waited", async () => {
    const waits: number[] = [];
    const gate = createRateGate({ onWaited: (seconds) => waits.push(seconds) });
    gate.setShare(200, 1);
    const order: number[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 20 }, async (_, index) => {
        const admitted = gate.admit();
        assert.ok(admitted !== undefined, "a new gate starts without tokens");
        await admitted;
        order.push(index);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    assert.deepEqual(
      order,
      Array.from({ length: 20 }, (_, index) => index),
    );
    // 20 tokens at 200/s take 100 ms; timers add a little.
    assert.ok(seconds >= 0.095 && seconds < 0.5, `20 admissions took ${seconds} s`);
    assert.equal(waits.length, 20);
    assert.ok((waits.at(-1) ?? 0) >= 0.09, `the last waited ${waits.at(-1)} s`);
    assert.equal(gate.waiting, 0);
  });

  test("with a token free and nobody waiting, admit takes it at once (no promise)", async () => {
    const gate = createRateGate();
    gate.setShare(1_000, 5);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(gate.admit(), undefined);
  });

  test("at a share of 0 waiters wait until a share is set, then pass", async () => {
    const gate = createRateGate();
    let passed = false;
    const admitted = gate.admit();
    void admitted?.then(() => {
      passed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(passed, false);
    assert.equal(gate.waiting, 1);
    gate.setShare(500, 1);
    await admitted;
    assert.equal(gate.waiting, 0);
  });

  test("a lowered share slows the waiters at once", async () => {
    const gate = createRateGate();
    gate.setShare(1_000, 1);
    const admissions = Array.from({ length: 6 }, () => gate.admit() ?? Promise.resolve());
    await admissions[0];
    gate.setShare(20, 1);
    const from = performance.now();
    await Promise.all(admissions);
    // Five more tokens at 20/s: at least 200 ms (250 less the one that may be half made).
    assert.ok(performance.now() - from >= 190, `took ${performance.now() - from} ms`);
  });
});

describe("rate share", () => {
  const limit = { requestsPerSecond: 300, burst: 30 };

  test("a pod's share is the limit times its share of the open shards, burst alike", () => {
    assert.deepEqual(rateShare(limit, 2, 6), { requestsPerSecond: 100, burst: 10 });
    assert.deepEqual(rateShare(limit, 6, 6), { requestsPerSecond: 300, burst: 30 });
  });

  test("a pod holding nothing, or before any shard is listed, gets nothing", () => {
    assert.deepEqual(rateShare(limit, 0, 6), { requestsPerSecond: 0, burst: 0 });
    assert.deepEqual(rateShare(limit, 0, 0), { requestsPerSecond: 0, burst: 0 });
  });

  test("a pod counting more shards than it sees open (a stale listing) gets the whole limit, no more", () => {
    assert.deepEqual(rateShare(limit, 7, 6), { requestsPerSecond: 300, burst: 30 });
  });

  test("a burst share below one token is one token, so the pod can send at all", () => {
    assert.deepEqual(rateShare({ requestsPerSecond: 10, burst: 2 }, 1, 8), {
      requestsPerSecond: 1.25,
      burst: 1,
    });
  });

  test("pods holding disjoint shards have shares summing to at most the limit (seeded)", () => {
    const random = seededRandom(7);
    for (let round = 0; round < 1_000; round++) {
      const open = 1 + Math.floor(random() * 64);
      const pods = 1 + Math.floor(random() * 12);
      const held = Array.from({ length: pods }, () => 0);
      // Some shards are held by nobody (changing hands): they only lower the sum.
      for (let shard = 0; shard < open; shard++) {
        const pod = Math.floor(random() * (pods + 1));
        if (pod < pods) held[pod] = (held[pod] ?? 0) + 1;
      }
      const total = held.reduce(
        (sum, count) => sum + rateShare(limit, count, open).requestsPerSecond,
        0,
      );
      assert.ok(
        total <= limit.requestsPerSecond + 1e-9,
        `${total} over ${pods} pods, ${open} shards`,
      );
    }
  });
});
