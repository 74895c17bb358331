// The processor config schema, through validateConfig: documented defaults, and every bad field
// named by its dotted path in one ConfigError.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError, validateConfig } from "../../../processor/config/load.ts";

const minimal = {
  source: { stream: "orders" },
  sink: { stream: "enriched" },
  deadLetter: { stream: "dead" },
  endpoint: { url: "http://scoring:8080/score" },
};

const withEndpoint = (endpoint: Record<string, unknown>) => ({
  ...minimal,
  endpoint: { url: "http://scoring:8080/score", ...endpoint },
});

const withoutDeadLetter = {
  source: minimal.source,
  sink: minimal.sink,
  endpoint: minimal.endpoint,
};

/** The problems a config is refused with; [] when it is valid. */
const problems = (raw: unknown): readonly string[] => {
  try {
    validateConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

/** The dotted paths named by the problems ("(config)" for the top level). */
const paths = (raw: unknown): string[] =>
  problems(raw).map((problem) => problem.slice(0, problem.indexOf(": ")));

describe("processor config schema", () => {
  test("a minimal config gets the documented defaults", () => {
    const config = validateConfig(minimal);
    assert.equal(config.jobName, "local");
    assert.equal(config.workerId, undefined);
    assert.deepEqual(config.aws, { region: "us-east-1" });
    assert.deepEqual(config.source, {
      stream: "orders",
      startPosition: { type: "TRIM_HORIZON" },
      maxRecordsPerFetch: 10_000,
      idleTimeBetweenReadsMs: 1_000,
      shardDiscoveryIntervalMs: 10_000,
    });
    assert.deepEqual(config.sink, {
      stream: "enriched",
      partitionKey: "source",
      maxBatchRecords: 500,
      maxBatchBytes: 10 * 1024 * 1024,
      maxRecordBytes: 1024 * 1024,
      lingerMs: 50,
      aggregation: { enabled: false, maxBytes: 51_200, maxRecords: 1_000 },
    });
    assert.deepEqual(config.endpoint, {
      url: "http://scoring:8080/score",
      method: "POST",
      body: "record",
      contentType: "application/json",
      timeoutMs: 5_000,
      deadlineMs: 30_000,
      maxResponseBytes: 1024 * 1024,
      retry: { maxAttempts: 3, initialBackoffMs: 100, maxBackoffMs: 10_000 },
      response: { mode: "replace" },
      outage: {
        policy: "pause",
        failuresToOpen: 5,
        probeIntervalMs: 5_000,
        maxProbeIntervalMs: 15_000,
      },
      http: { version: "1.1" },
      headers: [],
    });
    assert.equal(config.capacity, 10);
    assert.equal(config.ordering, "ordered");
    assert.equal(config.failurePolicy, "deadLetter");
    assert.equal(config.checkpointIntervalMs, 10_000);
    assert.deepEqual(config.coordination, { type: "memory" });
    assert.equal(config.shutdownGraceMs, 25_000);
    assert.deepEqual(config.metrics, { host: "0.0.0.0", port: 9400 });
    assert.equal(config.logLevel, "info");
  });

  test("merge response mode defaults its field to enrichment", () => {
    const config = validateConfig(withEndpoint({ response: { mode: "merge" } }));
    assert.deepEqual(config.endpoint.response, { mode: "merge", field: "enrichment" });
  });

  test("an invalid config raises one ConfigError naming every bad field by its dotted path", () => {
    const raw = {
      ...minimal,
      source: { stream: "has spaces" },
      endpoint: { url: "ftp://scoring/score", timeoutMs: 0 },
      capacity: 0,
      ordering: "sideways",
    };
    assert.throws(() => validateConfig(raw), ConfigError);
    assert.deepEqual(paths(raw).sort(), [
      "capacity",
      "endpoint.timeoutMs",
      "endpoint.url",
      "ordering",
      "source.stream",
    ]);
  });

  test("the ConfigError message lists each problem on a line of its own", () => {
    const error = (() => {
      try {
        validateConfig({ ...minimal, capacity: 0, endpoint: { url: "nope" } });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    assert.ok(error instanceof ConfigError);
    assert.equal(error.name, "ConfigError");
    assert.match(error.message, /^invalid processor config:\n {2}- /);
    for (const problem of error.problems) assert.ok(error.message.includes(`\n  - ${problem}`));
    assert.ok(
      error.problems.some((problem) => problem.startsWith("capacity: ")),
      JSON.stringify(error.problems),
    );
  });

  test("missing required sections are each named", () => {
    const named = paths({});
    for (const section of ["source", "sink", "endpoint"]) {
      assert.ok(named.includes(section), `${section} in ${JSON.stringify(named)}`);
    }
  });

  test("unknown keys are refused, at the top level and nested, next to other errors", () => {
    const found = problems({
      ...minimal,
      capcity: 3,
      source: { stream: "orders", shard: "0" },
      capacity: 0,
    });
    assert.ok(
      found.includes('(config): Unrecognized key: "capcity"'),
      `top-level unknown key in ${JSON.stringify(found)}`,
    );
    assert.ok(
      found.includes('source: Unrecognized key: "shard"'),
      `nested unknown key in ${JSON.stringify(found)}`,
    );
    assert.ok(
      found.some((problem) => problem.startsWith("capacity: ")),
      `the other error in ${JSON.stringify(found)}`,
    );
  });

  test('failurePolicy "deadLetter" without a deadLetter stream is refused, naming deadLetter', () => {
    assert.deepEqual(problems(withoutDeadLetter), [
      'deadLetter: failurePolicy "deadLetter" needs a deadLetter stream',
    ]);
    assert.deepEqual(problems({ ...withoutDeadLetter, failurePolicy: "drop" }), []);
    assert.deepEqual(problems({ ...withoutDeadLetter, failurePolicy: "fail" }), []);
  });

  test("cross-field rules are still reported when another field has the wrong type", () => {
    assert.deepEqual(
      paths({ ...withoutDeadLetter, capacity: "ten" }).sort(),
      ["capacity", "deadLetter"],
      "the missing deadLetter stream is named next to the type error",
    );
    assert.deepEqual(
      paths(withEndpoint({ timeoutMs: 9_000, deadlineMs: 1_000, contentType: 5 })).sort(),
      ["endpoint.contentType", "endpoint.deadlineMs"],
      "the deadline rule is named next to the type error",
    );
  });

  test("a deadlineMs shorter than timeoutMs is refused, naming endpoint.deadlineMs", () => {
    assert.deepEqual(problems(withEndpoint({ timeoutMs: 9_000, deadlineMs: 1_000 })), [
      "endpoint.deadlineMs: deadlineMs must be at least timeoutMs",
    ]);
    assert.deepEqual(problems(withEndpoint({ timeoutMs: 1_000, deadlineMs: 1_000 })), []);
  });

  test("an endpoint URL a client cannot call is refused, naming endpoint.url; URL templates are not", () => {
    assert.deepEqual(problems(withEndpoint({ url: "http://svc 8080/x" })), [
      "endpoint.url: expected a valid URL (no spaces; host, then path)",
    ]);
    assert.deepEqual(
      problems(withEndpoint({ url: "https://scoring.shop.svc:8080/c/{customer.id}?q={q}" })),
      [],
    );
  });

  test("a rate limit needs a positive rate and a whole burst of at least 1, each named", () => {
    assert.deepEqual(
      paths(withEndpoint({ rateLimit: { requestsPerSecond: 0, burst: 0.5 } })).sort(),
      ["endpoint.rateLimit.burst", "endpoint.rateLimit.requestsPerSecond"],
    );
    assert.deepEqual(paths(withEndpoint({ rateLimit: { requestsPerSecond: 10 } })), [
      "endpoint.rateLimit.burst",
    ]);
    assert.deepEqual(paths(withEndpoint({ rateLimit: { requestsPerSecond: 0.5, burst: 1 } })), []);
  });

  test("an outage maxProbeIntervalMs below probeIntervalMs is refused, naming it", () => {
    assert.deepEqual(
      paths(withEndpoint({ outage: { probeIntervalMs: 5_000, maxProbeIntervalMs: 1_000 } })),
      ["endpoint.outage.maxProbeIntervalMs"],
    );
  });

  test("a GET that would send the record as its body is refused, naming endpoint.body", () => {
    assert.deepEqual(problems(withEndpoint({ method: "GET" })), [
      'endpoint.body: a GET request carries no body: set body to "none"',
    ]);
    assert.deepEqual(problems(withEndpoint({ method: "GET", body: "none" })), []);
  });

  test("a retry maxBackoffMs below initialBackoffMs is refused, naming it", () => {
    assert.deepEqual(paths(withEndpoint({ retry: { initialBackoffMs: 500, maxBackoffMs: 100 } })), [
      "endpoint.retry.maxBackoffMs",
    ]);
  });

  test("a header needs exactly one of value and fromEnv", () => {
    const headers = (...list: Record<string, unknown>[]) => withEndpoint({ headers: list });
    assert.deepEqual(problems(headers({ name: "X-Api-Key" })), [
      "endpoint.headers.0: set exactly one of value or fromEnv",
    ]);
    assert.deepEqual(
      problems(
        headers({ name: "X-Ok", value: "1" }, { name: "X-Api-Key", value: "a", fromEnv: "KEY" }),
      ),
      ["endpoint.headers.1: set exactly one of value or fromEnv"],
    );
    assert.deepEqual(problems(headers({ name: "X-Api-Key", fromEnv: "API_KEY" })), []);
    assert.deepEqual(paths(headers({ name: "bad name", value: "1" })), ["endpoint.headers.0.name"]);
    assert.deepEqual(paths(headers({ name: "X-Api-Key", fromEnv: "1-not-a-var" })), [
      "endpoint.headers.0.fromEnv",
    ]);
  });

  test("a stream may be given by name or by Kinesis stream ARN", () => {
    const arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/orders";
    assert.equal(validateConfig({ ...minimal, source: { stream: arn } }).source.stream, arn);
    assert.deepEqual(
      problems({
        ...minimal,
        sink: { stream: "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/out" },
      }),
      [],
    );
    assert.deepEqual(
      paths({ ...minimal, sink: { stream: "arn:aws:kinesis:eu-west-1:12345:stream/out" } }),
      ["sink.stream"],
      "an ARN with a malformed account id is refused",
    );
    assert.deepEqual(paths({ ...minimal, source: { stream: "x".repeat(129) } }), ["source.stream"]);
  });

  test("AT_TIMESTAMP needs an ISO timestamp, and other start positions take none", () => {
    const at = (startPosition: unknown) => ({
      ...minimal,
      source: { stream: "orders", startPosition },
    });
    assert.deepEqual(problems(at({ type: "AT_TIMESTAMP", timestamp: "2025-01-01T00:00:00Z" })), []);
    assert.deepEqual(paths(at({ type: "AT_TIMESTAMP" })), ["source.startPosition.timestamp"]);
    assert.deepEqual(paths(at({ type: "LATEST", timestamp: "2025-01-01T00:00:00Z" })), [
      "source.startPosition",
    ]);
  });

  test("sink partitionKey accepts source, random or a field, and nothing else", () => {
    const key = (partitionKey: unknown) => ({
      ...minimal,
      sink: { stream: "enriched", partitionKey },
    });
    assert.deepEqual(problems(key("random")), []);
    assert.deepEqual(problems(key({ field: "customerId" })), []);
    assert.deepEqual(paths(key("sequence")), ["sink.partitionKey"]);
  });
});
