// The processor's Prometheus metrics: names, the job_name label, and the observers' effects.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Registry } from "prom-client";
import { createProcessorMetrics } from "../../../processor/metrics/processor-metrics.ts";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of the registry's text exposition, as Prometheus would scrape them. */
async function scrape(registry: Registry): Promise<Sample[]> {
  const text = await registry.metrics();
  return text
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert.ok(match, `not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const pair of (match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) {
        labels[pair[1] ?? ""] = pair[2] ?? "";
      }
      return { name: match[1] ?? "", labels, value: Number(match[3]) };
    });
}

/** The value of the one sample with this name and at least these labels. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, expected]) => sample.labels[key] === expected),
  );
  assert.equal(found.length, 1, `one ${name} ${JSON.stringify(labels)} sample`);
  return found[0]?.value ?? Number.NaN;
}

describe("processor metrics", () => {
  test("the registry exposes every aej_ metric, each sample labelled with job_name", async () => {
    const metrics = createProcessorMetrics("orders-job", { defaultMetrics: false });
    metrics.recordsIn.inc(3);
    metrics.recordsOut.inc(2);
    metrics.capacity.set(50);
    metrics.inFlight.set(7);
    metrics.millisBehindLatest.labels("shardId-000").set(1_500);
    metrics.sourceErrors.inc();
    metrics.checkpoints.inc(4);
    const text = await metrics.registry.metrics();
    for (const name of [
      "aej_records_in_total",
      "aej_records_out_total",
      "aej_records_failed_total",
      "aej_in_flight",
      "aej_capacity",
      "aej_request_duration_seconds",
      "aej_request_retries_total",
      "aej_request_timeouts_total",
      "aej_millis_behind_latest",
      "aej_sink_records_written_total",
      "aej_sink_failed_entries_total",
      "aej_source_errors_total",
      "aej_checkpoints_written_total",
    ]) {
      assert.ok(text.includes(`\n# TYPE ${name} `) || text.startsWith(`# HELP ${name} `), name);
    }
    const samples = await scrape(metrics.registry);
    assert.ok(samples.length >= 7);
    for (const sample of samples) {
      assert.equal(sample.labels.job_name, "orders-job", `${sample.name} carries job_name`);
    }
    assert.equal(value(samples, "aej_records_in_total"), 3);
    assert.equal(value(samples, "aej_records_out_total"), 2);
    assert.equal(value(samples, "aej_capacity"), 50);
    assert.equal(value(samples, "aej_in_flight"), 7);
    assert.equal(value(samples, "aej_millis_behind_latest", { shard_id: "shardId-000" }), 1_500);
    assert.equal(value(samples, "aej_source_errors_total"), 1);
    assert.equal(value(samples, "aej_checkpoints_written_total"), 4);
  });

  test("failure outcomes are counted under their outcome label", async () => {
    const metrics = createProcessorMetrics("orders-job", { defaultMetrics: false });
    metrics.failedOutcomes.deadLetter.inc();
    metrics.failedOutcomes.dropped.inc(2);
    metrics.failedOutcomes.failed.inc();
    const samples = await scrape(metrics.registry);
    const failed = (outcome: string) => value(samples, "aej_records_failed_total", { outcome });
    assert.deepEqual([failed("deadLetter"), failed("dropped"), failed("failed")], [1, 2, 1]);
  });

  test("every failure outcome is exported at 0 before the first failure, so increase() sees it", async () => {
    // A series that first appears at 1 shows no increase in PromQL: an alert on
    // increase(aej_records_failed_total{outcome="failed"}[5m]) > 0 would miss the first failure.
    const metrics = createProcessorMetrics("orders-job", { defaultMetrics: false });
    const samples = await scrape(metrics.registry);
    const outcomes = samples
      .filter((sample) => sample.name === "aej_records_failed_total")
      .map((sample) => `${sample.labels.outcome ?? "?"}=${sample.value}`)
      .sort();
    assert.deepEqual(outcomes, ["deadLetter=0", "dropped=0", "failed=0"]);
  });

  test("the call observer times attempts by result, and counts timeouts and retries", async () => {
    const metrics = createProcessorMetrics("orders-job", { defaultMetrics: false });
    metrics.callObserver.attempt(0.035, "success");
    metrics.callObserver.attempt(0.05, "timeout");
    metrics.callObserver.attempt(0.05, "timeout");
    metrics.callObserver.attempt(0.2, "status");
    metrics.callObserver.retry();
    const samples = await scrape(metrics.registry);
    const count = (result: string) =>
      value(samples, "aej_request_duration_seconds_count", { result });
    assert.deepEqual([count("success"), count("timeout"), count("status")], [1, 2, 1]);
    assert.equal(
      value(samples, "aej_request_duration_seconds_bucket", { result: "success", le: "0.04" }),
      1,
    );
    assert.equal(
      value(samples, "aej_request_duration_seconds_bucket", { result: "success", le: "0.03" }),
      0,
    );
    assert.equal(value(samples, "aej_request_timeouts_total"), 2, "only timeouts count there");
    assert.equal(value(samples, "aej_request_retries_total"), 1);
  });

  test("the sink observer counts written records and failed entries by role", async () => {
    const metrics = createProcessorMetrics("orders-job", { defaultMetrics: false });
    const sink = metrics.sinkObserver("sink");
    const deadLetter = metrics.sinkObserver("deadLetter");
    sink.written(500, 0.1);
    deadLetter.written(3, 0.1);
    sink.failed(7, "ProvisionedThroughputExceededException", true);
    sink.failed(1, "InternalFailure", false);
    const samples = await scrape(metrics.registry);
    assert.equal(value(samples, "aej_sink_records_written_total", { role: "sink" }), 500);
    assert.equal(value(samples, "aej_sink_records_written_total", { role: "deadLetter" }), 3);
    assert.equal(
      value(samples, "aej_sink_failed_entries_total", { role: "sink", throttled: "true" }),
      7,
    );
    assert.equal(
      value(samples, "aej_sink_failed_entries_total", { role: "sink", throttled: "false" }),
      1,
    );
  });

  test("default process metrics are collected unless turned off", async () => {
    const quiet = createProcessorMetrics("orders-job", { defaultMetrics: false });
    assert.equal(quiet.registry.getSingleMetric("process_cpu_user_seconds_total"), undefined);
    const full = createProcessorMetrics("orders-job");
    assert.ok(full.registry.getSingleMetric("process_cpu_user_seconds_total"));
    const samples = await scrape(full.registry);
    const heap = samples.find((sample) => sample.name === "nodejs_heap_size_total_bytes");
    assert.equal(heap?.labels.job_name, "orders-job");
  });

  test("two processors in one process keep separate registries", async () => {
    const first = createProcessorMetrics("job-a", { defaultMetrics: false });
    const second = createProcessorMetrics("job-b", { defaultMetrics: false });
    first.recordsIn.inc(5);
    assert.equal(
      value(await scrape(first.registry), "aej_records_in_total", { job_name: "job-a" }),
      5,
    );
    assert.equal(
      value(await scrape(second.registry), "aej_records_in_total", { job_name: "job-b" }),
      0,
    );
  });
});

describe("rate-limit metrics", () => {
  test("absent without a rate limit; with one, the share and the seconds waited, with job_name", async () => {
    const metrics = createProcessorMetrics("orders", { defaultMetrics: false });
    const without = await scrape(metrics.registry);
    assert.ok(!without.some((sample) => sample.name.startsWith("aej_rate_limit_")));
    const rate = metrics.withRateLimit();
    rate.share(33.5);
    rate.waited(0.25);
    rate.waited(0.5);
    const samples = await scrape(metrics.registry);
    assert.equal(value(samples, "aej_rate_limit_share", { job_name: "orders" }), 33.5);
    assert.equal(value(samples, "aej_rate_limit_wait_seconds_total", { job_name: "orders" }), 0.75);
  });
});
