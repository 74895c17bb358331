// What the operator tells processors about where to start and how far to read ahead: LATEST is
// fixed to the job's creation, the pending bound is passed through only when the job sets it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { JobSpecInput } from "../../../operator/api/job-schema.ts";
import type { Job } from "../../../operator/reconcile/job.ts";
import { jobWith } from "./job-fixture.ts";
import { processorConfig } from "../../../operator/reconcile/processor-config.ts";
import { processorConfigSchema } from "../../../processor/config/schema.ts";

const job = (spec: Partial<JobSpecInput>, createdAt?: string): Job =>
  jobWith(spec, createdAt === undefined ? {} : { createdAt });

const config = (input: Job) => processorConfigSchema.parse(processorConfig(input));

describe("processor config from the job", () => {
  test("LATEST is fixed to the job's creation time, for every processor and every restart", () => {
    const created = "2026-11-30T10:00:00.000Z";
    const source = config(
      job({ source: { stream: "orders", startPosition: { type: "LATEST" } } }, created),
    ).source;
    assert.equal(source.latestFrom, created);
    assert.deepEqual(source.startPosition, { type: "LATEST" });
  });

  test("other start positions carry no LATEST anchor, so their config does not change", () => {
    const source = config(job({}, "2026-11-30T10:00:00.000Z")).source;
    assert.equal(source.latestFrom, undefined);
    assert.deepEqual(source.startPosition, { type: "TRIM_HORIZON" });
  });

  test("maxPendingRecordsPerShard reaches the processor when the job sets it, and is refused below 1 at apply", () => {
    assert.equal(
      config(job({ maxPendingRecordsPerShard: 2_000 })).maxPendingRecordsPerShard,
      2_000,
    );
    assert.equal(config(job({})).maxPendingRecordsPerShard, undefined);
    assert.throws(() => job({ maxPendingRecordsPerShard: 0 }), /maxPendingRecordsPerShard/);
  });

  test("endpoint.rateLimit reaches the processor when the job sets it, and is absent otherwise", () => {
    const rateLimit = { requestsPerSecond: 250, burst: 50 };
    assert.deepEqual(
      config(job({ endpoint: { url: "http://scoring", rateLimit } })).endpoint.rateLimit,
      rateLimit,
    );
    assert.equal(config(job({})).endpoint.rateLimit, undefined);
  });
});
