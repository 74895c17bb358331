// The processor's heap limit is three quarters of its container's memory limit, and each semi-space
// of its young generation the power of two at or below a 32nd of it (1 to 16 MiB), whatever unit
// the limit is written in; without a memory limit Node keeps its own defaults.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { heapFlags, quantityBytes } from "../../../operator/reconcile/heap-size.ts";

describe("processor heap size", () => {
  test("Kubernetes quantities read as bytes, binary and decimal", () => {
    assert.equal(quantityBytes("256Mi"), 256 * 2 ** 20);
    assert.equal(quantityBytes("1Gi"), 2 ** 30);
    assert.equal(quantityBytes("1.5Gi"), 1.5 * 2 ** 30);
    assert.equal(quantityBytes("500M"), 500e6);
    assert.equal(quantityBytes("268435456"), 268435456);
    assert.equal(quantityBytes("lots"), undefined);
    assert.equal(quantityBytes("1e3"), undefined);
  });

  test("a 256Mi limit gives a 192 MiB old generation and 8 MiB semi-spaces; 1Gi gives 768 and 16", () => {
    assert.deepEqual(heapFlags({ limits: { memory: "256Mi" } }), [
      "--max-old-space-size=192",
      "--max-semi-space-size=8",
    ]);
    assert.deepEqual(heapFlags({ limits: { memory: "1Gi" } }), [
      "--max-old-space-size=768",
      "--max-semi-space-size=16",
    ]);
  });

  test("semi-spaces are powers of two from 1 to 16 MiB", () => {
    const semiSpace = (memory: string) => heapFlags({ limits: { memory } })[1];
    assert.equal(semiSpace("16Mi"), "--max-semi-space-size=1");
    assert.equal(semiSpace("209Mi"), "--max-semi-space-size=4");
    assert.equal(semiSpace("512Mi"), "--max-semi-space-size=16");
    assert.equal(semiSpace("8Gi"), "--max-semi-space-size=16");
  });

  test("no memory limit, or one that cannot be read, leaves Node's default", () => {
    assert.deepEqual(heapFlags({ requests: { memory: "256Mi" } }), []);
    assert.deepEqual(heapFlags({ limits: { cpu: "1" } }), []);
    assert.deepEqual(heapFlags({ limits: { memory: "much" } }), []);
  });
});
