// Processor pods get requests and a memory limit when their job names none, sized by what a
// processor holds (calls in flight, records being batched), never by the stream's backlog.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { defaultResources } from "../../../operator/reconcile/default-resources.ts";

const mebibytes = (quantity: string | undefined): number => {
  const match = /^(\d+)Mi$/.exec(quantity ?? "");
  assert.ok(match !== null, `a quantity in Mi: ${String(quantity)}`);
  return Number(match[1]);
};

describe("default processor resources", () => {
  test("the defaults (capacity 10, batches of 500) get 209Mi requested and as the limit, and 100m CPU", () => {
    const resources = defaultResources({ capacity: 10, batching: { maxRecords: 500 } });
    assert.deepEqual(resources, {
      requests: { cpu: "100m", memory: "209Mi" },
      limits: { memory: "209Mi" },
    });
  });

  test("memory grows with capacity and batch size, and the request always equals the limit", () => {
    const small = defaultResources({ capacity: 10, batching: { maxRecords: 10 } });
    const wide = defaultResources({ capacity: 1_000, batching: { maxRecords: 10 } });
    const batched = defaultResources({ capacity: 10, batching: { maxRecords: 500 } });
    assert.ok(mebibytes(wide.limits?.memory) > mebibytes(small.limits?.memory));
    assert.ok(mebibytes(batched.limits?.memory) > mebibytes(small.limits?.memory));
    assert.equal(mebibytes(wide.limits?.memory) - mebibytes(small.limits?.memory), 62);
    for (const resources of [small, wide, batched]) {
      assert.equal(resources.requests?.memory, resources.limits?.memory);
      assert.equal(resources.limits?.cpu, undefined, "no CPU limit: throttling only adds lag");
    }
  });
});
