// Aggregation on write in the processor config and the job API: off by default, bounds and the
// rule against maxRecordBytes named by field, and the operator passing it on only when it is on.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobSpecInput } from "../../../operator/api/job-schema.ts";
import type { Job } from "../../../operator/reconcile/job.ts";
import { jobWith } from "./job-fixture.ts";
import { processorConfig } from "../../../operator/reconcile/processor-config.ts";
import { ConfigError, validateConfig } from "../../../processor/config/load.ts";

const config = (sink: Record<string, unknown>, deadLetter: Record<string, unknown> = {}) => ({
  source: { stream: "orders" },
  sink: { stream: "enriched", ...sink },
  deadLetter: { stream: "dead", ...deadLetter },
  endpoint: { url: "http://scoring:8080/score" },
});

const problems = (raw: unknown): readonly string[] => {
  try {
    validateConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

const job = (spec: Partial<JobSpecInput>): Job =>
  jobWith({ deadLetter: { stream: "orders-dead" }, failurePolicy: "deadLetter", ...spec });

describe("sink aggregation config", () => {
  test("is off by default, with the KPL's size limit and 1,000 records", () => {
    const parsed = validateConfig(config({}));
    assert.deepEqual(parsed.sink.aggregation, {
      enabled: false,
      maxBytes: 51_200,
      maxRecords: 1_000,
    });
    assert.equal(parsed.deadLetter?.aggregation.enabled, false);
  });

  test("bounds are refused by field: above 1 MiB, below 64 bytes, no records", () => {
    assert.deepEqual(
      problems(
        config(
          { aggregation: { enabled: true, maxBytes: 2 * 1024 * 1024 } },
          { aggregation: { maxBytes: 10, maxRecords: 0 } },
        ),
      ).map((problem) => problem.slice(0, problem.indexOf(": "))),
      [
        "sink.aggregation.maxBytes",
        "deadLetter.aggregation.maxBytes",
        "deadLetter.aggregation.maxRecords",
      ],
    );
    assert.deepEqual(problems(config({ aggregation: { enabled: "yes" } })).length, 1);
    assert.match(problems(config({ aggregation: { size: 1 } }))[0] ?? "", /sink\.aggregation/);
  });

  test("an aggregate larger than the stream's record limit is refused only when aggregation is on", () => {
    assert.deepEqual(
      problems(config({ maxRecordBytes: 32 * 1024, aggregation: { enabled: true } })),
      [
        "sink.aggregation.maxBytes: aggregation.maxBytes must be at most maxRecordBytes (an aggregate is one record)",
      ],
    );
    assert.deepEqual(problems(config({ maxRecordBytes: 32 * 1024 })), []);
    assert.deepEqual(
      problems(
        config({ maxRecordBytes: 32 * 1024, aggregation: { enabled: true, maxBytes: 32 * 1024 } }),
      ),
      [],
    );
  });

  test("the operator passes a job's aggregation to its processors only when it is on", () => {
    const off = validateConfig(processorConfig(job({})));
    assert.equal(off.sink.aggregation.enabled, false);
    assert.equal(
      "aggregation" in (processorConfig(job({})).sink as object),
      false,
      "a job without aggregation keeps the config it had",
    );
    const on = validateConfig(
      processorConfig(
        job({
          sink: { stream: "orders-enriched", aggregation: { enabled: true, maxRecords: 500 } },
          deadLetter: { stream: "orders-dead", aggregation: { enabled: true } },
        }),
      ),
    );
    assert.deepEqual(on.sink.aggregation, { enabled: true, maxBytes: 51_200, maxRecords: 500 });
    assert.deepEqual(on.deadLetter?.aggregation, {
      enabled: true,
      maxBytes: 51_200,
      maxRecords: 1_000,
    });
    assert.throws(
      () => job({ sink: { stream: "out", aggregation: { enabled: true, maxBytes: 2_000_000 } } }),
      /maxBytes/,
    );
  });
});
