// The processor config: defaults, and every bad field named by its path.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig, validateConfig } from "../../processor/config/load.ts";

const minimal = {
  source: { stream: "orders" },
  sink: { stream: "out" },
  deadLetter: { stream: "dead" },
  endpoint: { url: "http://scoring:8080/score" },
};

const problems = (raw: unknown): readonly string[] => {
  try {
    validateConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

test("a minimal config gets the documented defaults", () => {
  const config = validateConfig(minimal);
  assert.equal(config.capacity, 10);
  assert.equal(config.ordering, "ordered");
  assert.equal(config.failurePolicy, "deadLetter");
  assert.deepEqual(config.source.startPosition, { type: "TRIM_HORIZON" });
  assert.deepEqual(config.endpoint.retry, {
    maxAttempts: 3,
    initialBackoffMs: 100,
    maxBackoffMs: 10_000,
  });
  assert.equal(config.sink.maxBatchRecords, 500);
});

test("an invalid config names every bad field and what was expected", () => {
  const found = problems({
    ...minimal,
    source: { stream: "has spaces" },
    endpoint: { url: "ftp://x", timeoutMs: 0 },
    capacity: 0,
    capcity: 3,
  });
  for (const path of ["source.stream", "endpoint.url", "endpoint.timeoutMs", "capacity"]) {
    assert.ok(
      found.some((problem) => problem.startsWith(`${path}: `)),
      `${path} in ${JSON.stringify(found)}`,
    );
  }
  assert.ok(
    found.some((problem) => problem.includes('Unrecognized key: "capcity"')),
    "unknown keys are refused",
  );
});

test("cross-field rules name their field", () => {
  assert.ok(
    problems({ ...minimal, deadLetter: undefined }).some((problem) =>
      problem.startsWith("deadLetter: "),
    ),
  );
  assert.ok(
    problems({
      ...minimal,
      endpoint: { url: "http://s", timeoutMs: 9_000, deadlineMs: 1_000 },
    }).some((problem) => problem.startsWith("endpoint.deadlineMs: ")),
  );
  assert.ok(
    problems({ ...minimal, endpoint: { url: "http://s", method: "GET" } }).some((problem) =>
      problem.startsWith("endpoint.body: "),
    ),
  );
  assert.ok(
    problems({ ...minimal, endpoint: { url: "http://s", headers: [{ name: "a" }] } }).some(
      (problem) => problem.includes("exactly one of value or fromEnv"),
    ),
  );
});

test("a stream ARN is accepted", () => {
  assert.deepEqual(
    problems({
      ...minimal,
      source: { stream: "arn:aws:kinesis:eu-west-1:123456789012:stream/orders" },
    }),
    [],
  );
});

test("file, PROCESSOR_CONFIG and single-field variables combine, later ones winning", () => {
  const file = join(mkdtempSync(join(tmpdir(), "config-")), "config.json");
  writeFileSync(file, JSON.stringify({ ...minimal, capacity: 5 }));
  const config = loadConfig({
    file,
    env: {
      PROCESSOR_CONFIG: JSON.stringify({ capacity: 7 }),
      PROCESSOR_WORKER_ID: "pod-a",
      PROCESSOR_METRICS_PORT: "9500",
      PROCESSOR_METRICS_HOST: "10.0.0.5",
    },
  });
  assert.equal(config.capacity, 7);
  assert.equal(config.workerId, "pod-a");
  assert.deepEqual(config.metrics, { host: "10.0.0.5", port: 9500 });
});

test("a missing file, bad JSON or no config at all is a clear ConfigError", () => {
  assert.throws(
    () => loadConfig({ file: "/nonexistent/config.json", env: {} }),
    /config file \/nonexistent\/config\.json: ENOENT/,
  );
  assert.throws(
    () => loadConfig({ env: { PROCESSOR_CONFIG: "{not json" } }),
    /PROCESSOR_CONFIG: not valid JSON/,
  );
  assert.throws(() => loadConfig({ env: {} }), /no config given: pass --config/);
});
