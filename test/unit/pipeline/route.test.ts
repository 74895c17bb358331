// Where each result goes: an enriched record to the sink, a failed one where the failure policy
// says, and the receipt acknowledged only once the record's fate is settled.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { pino } from "pino";
import { createShardTracker } from "../../../processor/checkpoint/tracker.ts";
import { validateConfig } from "../../../processor/config/load.ts";
import type { RecordSink, SinkEntry } from "../../../processor/kinesis/put-batcher.ts";
import type { SourceRecord } from "../../../processor/kinesis/shard-reader.ts";
import { createProcessorMetrics } from "../../../processor/metrics/processor-metrics.ts";
import type { Failure } from "../../../processor/pipeline/enrich.ts";
import { createRouter } from "../../../processor/pipeline/route.ts";
import { metricValue } from "../../support/metric-value.ts";

/** A sink that keeps what it was given; `pushBack` makes add return that promise. */
function recordingSink(pushBack?: Promise<void>) {
  const entries: SinkEntry[] = [];
  const sink: RecordSink = {
    add: (entry) => {
      entries.push(entry);
      return pushBack;
    },
    flush: () => Promise.resolve(),
    abort: () => undefined,
    get unacknowledged() {
      return entries.length;
    },
  };
  return { sink, entries };
}

function router(
  failurePolicy: "deadLetter" | "drop" | "fail",
  options: { pushBack?: Promise<void>; withDeadLetterSink?: boolean } = {},
) {
  const config = validateConfig({
    jobName: "orders-job",
    source: { stream: "orders" },
    sink: { stream: "enriched", maxRecordBytes: 1_024 },
    deadLetter: { stream: "dead", maxRecordBytes: 1_024 },
    endpoint: { url: "http://scoring/score" },
    failurePolicy,
  });
  const metrics = createProcessorMetrics("orders-job", { defaultMetrics: false });
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "debug" },
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        callback();
      },
    }),
  );
  const sink = recordingSink(options.pushBack);
  const deadLetter = recordingSink();
  const failed: { record: SourceRecord; failure: Failure }[] = [];
  const route = createRouter({
    config,
    sink: sink.sink,
    deadLetter: options.withDeadLetterSink === false ? undefined : deadLetter.sink,
    metrics,
    logger,
    fail: (record, failure) => failed.push({ record, failure }),
  });
  const tracker = createShardTracker("shard-0");
  let sequence = 0;
  const record = (data = '{"id":1}'): SourceRecord => {
    const sequenceNumber = String(++sequence);
    return {
      shardId: "shard-0",
      sequenceNumber,
      partitionKey: "customer-42",
      data: Buffer.from(data),
      arrivedAt: undefined,
      receipt: tracker.track(sequenceNumber),
    };
  };
  const counter = (name: string, labels: Record<string, string> = {}) =>
    metricValue(metrics.registry, name, labels);
  return {
    route,
    sink: sink.entries,
    deadLetter: deadLetter.entries,
    failed,
    lines,
    tracker,
    record,
    counter,
  };
}

/** The one element of a list, failing the test if there is not exactly one. */
function only<T>(list: readonly T[]): T {
  assert.equal(list.length, 1, `expected exactly one, got ${list.length}`);
  const [item] = list;
  return item as T;
}

const timeout: Failure = {
  ok: false,
  reason: "no answer within 50 ms",
  kind: "timeout",
  attempts: 3,
  startedAt: Date.parse("2025-06-01T12:00:00Z"),
};

const success = (data: string, partitionKey = "customer-42") => ({
  ok: true as const,
  data: Buffer.from(data),
  partitionKey,
});

describe("route", () => {
  test("a success goes to the sink with its partition key and the record's receipt", async () => {
    const { route, sink, deadLetter, record, counter } = router("deadLetter");
    const input = record();
    assert.equal(route(input, success('{"score":1}')), undefined);
    const entry = only(sink);
    assert.equal(Buffer.from(entry.data).toString(), '{"score":1}');
    assert.equal(entry.partitionKey, "customer-42");
    assert.equal(entry.receipt, input.receipt);
    assert.equal(input.receipt.acknowledged, false, "the sink acknowledges once it is written");
    assert.equal(deadLetter.length, 0);
    assert.equal(await counter("aej_records_out_total"), 1);
  });

  test("the sink's push-back is handed to the caller", () => {
    const pushBack = Promise.resolve();
    const { route, record } = router("deadLetter", { pushBack });
    assert.equal(route(record(), success("{}")), pushBack);
  });

  test("an output of exactly sink.maxRecordBytes, key included, goes to the sink", () => {
    const { route, sink, deadLetter, record } = router("deadLetter");
    const key = "customer-42";
    assert.equal(route(record(), success("x".repeat(1_024 - key.length), key)), undefined);
    assert.equal(sink.length, 1);
    assert.equal(deadLetter.length, 0);
  });

  test("an output over sink.maxRecordBytes goes to the failure policy as too-large", async () => {
    const { route, sink, deadLetter, record, counter } = router("deadLetter");
    const input = record();
    assert.equal(route(input, success("x".repeat(1_100))), undefined);
    assert.equal(sink.length, 0);
    const envelope = JSON.parse(Buffer.from(only(deadLetter).data).toString()) as Record<
      string,
      unknown
    >;
    assert.equal(envelope.errorKind, "too-large");
    assert.match(
      String(envelope.error),
      /^output record of 1111 bytes exceeds sink\.maxRecordBytes \(1024\)$/,
    );
    assert.equal(await counter("aej_records_out_total"), 0);
    assert.equal(await counter("aej_records_failed_total", { outcome: "deadLetter" }), 1);
  });

  test("deadLetter policy writes a dead-letter entry with the same receipt and partition key", async () => {
    const { route, sink, deadLetter, record, counter } = router("deadLetter");
    const input = record('{"id":7}');
    assert.equal(route(input, timeout), undefined);
    assert.equal(sink.length, 0);
    const entry = only(deadLetter);
    assert.equal(entry.receipt, input.receipt);
    assert.equal(entry.partitionKey, "customer-42");
    assert.equal(input.receipt.acknowledged, false, "acknowledged once the dead letter is written");
    const envelope = JSON.parse(Buffer.from(entry.data).toString()) as {
      error: string;
      errorKind: string;
      attempts: number;
      data: string;
      source: { stream: string; shardId: string; sequenceNumber: string };
    };
    assert.equal(envelope.error, "no answer within 50 ms");
    assert.equal(envelope.errorKind, "timeout");
    assert.equal(envelope.attempts, 3);
    assert.equal(envelope.source.stream, "orders");
    assert.equal(envelope.source.sequenceNumber, input.sequenceNumber);
    assert.equal(Buffer.from(envelope.data, "base64").toString(), '{"id":7}');
    assert.equal(await counter("aej_records_failed_total", { outcome: "deadLetter" }), 1);
  });

  test("the dead-letter record respects the dead-letter stream's maxRecordBytes", () => {
    const { route, deadLetter, record } = router("deadLetter");
    assert.equal(route(record("z".repeat(2_000)), timeout), undefined);
    const envelope = JSON.parse(Buffer.from(only(deadLetter).data).toString()) as Record<
      string,
      unknown
    >;
    assert.equal("data" in envelope, false);
    assert.match(String(envelope.dataOmitted), /2000 bytes/);
  });

  test("deadLetter policy without a dead-letter sink throws", () => {
    const { route, record } = router("deadLetter", { withDeadLetterSink: false });
    assert.throws(
      () => route(record(), timeout),
      /failurePolicy deadLetter without a dead-letter sink/,
    );
  });

  test("drop acknowledges the receipt, counts the record as dropped and logs a warning", async () => {
    const { route, sink, deadLetter, record, tracker, counter, lines } = router("drop");
    const input = record();
    assert.equal(route(input, timeout), undefined);
    assert.equal(input.receipt.acknowledged, true);
    assert.equal(tracker.checkpointable, input.sequenceNumber, "the checkpoint may move past it");
    assert.equal(sink.length + deadLetter.length, 0);
    assert.equal(await counter("aej_records_failed_total", { outcome: "dropped" }), 1);
    const warning = lines.find((line) => line.msg === "record dropped by failure policy");
    assert.ok(warning, JSON.stringify(lines));
    assert.equal(warning.level, 40);
    assert.equal(warning.shardId, "shard-0");
    assert.equal(warning.sequenceNumber, input.sequenceNumber);
    assert.equal(warning.reason, "no answer within 50 ms");
  });

  test("fail calls fail with the record and failure, and leaves the receipt unacknowledged", async () => {
    const { route, sink, deadLetter, record, tracker, counter, failed } = router("fail");
    const input = record();
    assert.equal(route(input, timeout), undefined);
    const call = only(failed);
    assert.equal(call.record, input);
    assert.equal(call.failure, timeout);
    assert.equal(input.receipt.acknowledged, false);
    assert.equal(tracker.checkpointable, undefined, "the record will be read again");
    assert.equal(sink.length + deadLetter.length, 0);
    assert.equal(await counter("aej_records_failed_total", { outcome: "failed" }), 1);
  });
});
