// The dead-letter record: the original record and why it failed, as JSON a person or a replay job
// can act on.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createShardTracker } from "../../../processor/checkpoint/tracker.ts";
import type { SourceRecord } from "../../../processor/kinesis/shard-reader.ts";
import { deadLetterRecord } from "../../../processor/pipeline/dead-letter.ts";
import type { Failure } from "../../../processor/pipeline/enrich.ts";

const tracker = createShardTracker("shardId-000000000003");

const sourceRecord = (data: Uint8Array, arrivedAt?: Date): SourceRecord => ({
  shardId: "shardId-000000000003",
  sequenceNumber: "49590338271490256608559692538361571095921575989136588898",
  partitionKey: "customer-42",
  data,
  arrivedAt,
  receipt: tracker.track("49590338271490256608559692538361571095921575989136588898"),
});

const startedAt = Date.parse("2025-06-01T12:00:00.000Z");

const statusFailure: Failure = {
  ok: false,
  reason: "HTTP 503: busy",
  kind: "status",
  attempts: 3,
  status: 503,
  startedAt,
};

const parse = (buffer: Buffer): Record<string, unknown> =>
  JSON.parse(buffer.toString("utf8")) as Record<string, unknown>;

describe("dead-letter record", () => {
  test("the envelope names the error, its kind, status, attempts, times and source record", () => {
    const arrivedAt = new Date("2025-06-01T11:59:58.500Z");
    const before = Date.now();
    const envelope = parse(
      deadLetterRecord(
        sourceRecord(Buffer.from('{"id":1}'), arrivedAt),
        statusFailure,
        "orders",
        1_048_576,
      ),
    );
    assert.equal(envelope.error, "HTTP 503: busy");
    assert.equal(envelope.errorKind, "status");
    assert.equal(envelope.status, 503);
    assert.equal(envelope.attempts, 3);
    assert.equal(envelope.firstAttemptAt, "2025-06-01T12:00:00.000Z");
    const failedAt = Date.parse(String(envelope.failedAt));
    assert.ok(failedAt >= before - 1 && failedAt <= Date.now() + 1, String(envelope.failedAt));
    assert.deepEqual(envelope.source, {
      stream: "orders",
      shardId: "shardId-000000000003",
      sequenceNumber: "49590338271490256608559692538361571095921575989136588898",
      partitionKey: "customer-42",
      approximateArrivalTimestamp: "2025-06-01T11:59:58.500Z",
    });
    assert.equal(envelope.dataOmitted, undefined);
  });

  test("the original bytes round-trip through base64, binary included", () => {
    const data = Uint8Array.from([0, 1, 2, 0xfe, 0xff, 0x7b, 0x22]);
    const envelope = parse(
      deadLetterRecord(sourceRecord(data), statusFailure, "orders", 1_048_576),
    );
    assert.equal(typeof envelope.data, "string");
    assert.deepEqual(Buffer.from(String(envelope.data), "base64"), Buffer.from(data));
  });

  test("a failure without an HTTP status has no status field, and no arrival time is left out", () => {
    const timeout: Failure = {
      ok: false,
      reason: "no answer within 50 ms",
      kind: "timeout",
      attempts: 2,
      startedAt,
    };
    const envelope = parse(
      deadLetterRecord(sourceRecord(Buffer.from("x")), timeout, "orders", 1_048_576),
    );
    assert.equal("status" in envelope, false);
    assert.equal(envelope.errorKind, "timeout");
    assert.equal("approximateArrivalTimestamp" in (envelope.source as object), false);
  });

  test("data that would push the record past maxRecordBytes is omitted, with an explanation", () => {
    const data = Buffer.alloc(4_000, "a");
    const buffer = deadLetterRecord(sourceRecord(data), statusFailure, "orders", 2_048);
    const envelope = parse(buffer);
    assert.ok(buffer.length <= 2_048, `the dead-letter record is ${buffer.length} bytes`);
    assert.equal("data" in envelope, false);
    assert.equal(
      envelope.dataOmitted,
      "the original record (4000 bytes) does not fit the dead-letter stream's record limit; read it from the source stream by shardId and sequenceNumber",
    );
    assert.equal(envelope.error, "HTTP 503: busy", "the rest of the envelope is kept");
    assert.equal(
      (envelope.source as Record<string, unknown>).sequenceNumber,
      sourceRecord(data).sequenceNumber,
    );
  });

  test("the limit counts the partition key: data is kept exactly up to maxRecordBytes", () => {
    const record = sourceRecord(Buffer.alloc(500, "b"));
    const full = deadLetterRecord(record, statusFailure, "orders", 1_048_576);
    const limit = full.length + Buffer.byteLength(record.partitionKey);
    assert.equal("data" in parse(deadLetterRecord(record, statusFailure, "orders", limit)), true);
    assert.equal(
      "data" in parse(deadLetterRecord(record, statusFailure, "orders", limit - 1)),
      false,
    );
  });
});
