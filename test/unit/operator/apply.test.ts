import assert from "node:assert/strict";
import { test } from "node:test";
import { isSubset } from "../../../operator/reconcile/apply.ts";

test("a live object with extra fields set by others still matches what we want", () => {
  const desired = {
    metadata: { name: "a", labels: { app: "x" } },
    spec: { replicas: 2, ports: [{ port: 9400 }] },
  };
  const live = {
    metadata: { name: "a", labels: { app: "x", extra: "y" }, resourceVersion: "7" },
    spec: { replicas: 2, ports: [{ port: 9400, protocol: "TCP" }], revisionHistoryLimit: 10 },
  };
  assert.equal(isSubset(desired, live), true);
});

test("a changed value, a missing field or a list of another length differs", () => {
  assert.equal(isSubset({ spec: { replicas: 3 } }, { spec: { replicas: 2 } }), false);
  assert.equal(isSubset({ spec: { paused: false } }, { spec: {} }), false);
  assert.equal(isSubset({ args: ["a", "b"] }, { args: ["a", "b", "c"] }), false);
});

test("scalars the API server canonicalizes compare as strings", () => {
  assert.equal(isSubset({ port: 9400 }, { port: "9400" }), true);
  assert.equal(isSubset({ port: "metrics" }, { port: 9400 }), false);
});
