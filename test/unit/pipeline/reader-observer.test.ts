// What a reader reports lands on its shard's reading and in the processor's metrics.
import assert from "node:assert/strict";
import { test } from "node:test";
import { pino } from "pino";
import { createProcessorMetrics } from "../../../processor/metrics/processor-metrics.ts";
import { readerObserver } from "../../../processor/pipeline/reader-observer.ts";
import type { ShardReadings } from "../../../processor/pipeline/shard-readings.ts";
import { newReading } from "../../../processor/pipeline/start-reading.ts";
import { metricValue } from "../../support/metric-value.ts";

test("a fetch adds to the shard's figures and clears the error a failed read left", async () => {
  const metrics = createProcessorMetrics("test", { defaultMetrics: false });
  const reading = newReading("shard-0", undefined);
  const readings: ShardReadings = new Map([["shard-0", reading]]);
  const observer = readerObserver(readings, metrics, pino({ level: "silent" }));
  observer.failed("shard-0", new Error("throttled"), 1);
  assert.equal(reading.status.lastError, "Error: throttled");
  observer.fetched("shard-0", 5, 1_200);
  observer.fetched("shard-0", 3, 0);
  assert.equal(reading.status.recordsRead, 8);
  assert.equal(reading.status.millisBehindLatest, 0);
  assert.equal(reading.status.lastError, undefined);
  assert.equal(await metricValue(metrics.registry, "aej_records_in_total"), 8);
  assert.equal(await metricValue(metrics.registry, "aej_source_errors_total"), 1);
});

test("a reader of a shard no longer read here changes no reading; its fetches are not counted, its errors are", async () => {
  const metrics = createProcessorMetrics("test", { defaultMetrics: false });
  const readings: ShardReadings = new Map();
  const observer = readerObserver(readings, metrics, pino({ level: "silent" }));
  observer.fetched("shard-0", 5, 1_200);
  observer.failed("shard-0", new Error("throttled"), 1);
  assert.equal(readings.size, 0);
  assert.equal(await metricValue(metrics.registry, "aej_records_in_total"), 0);
  assert.equal(await metricValue(metrics.registry, "aej_source_errors_total"), 1);
});
