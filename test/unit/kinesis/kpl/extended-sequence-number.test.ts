// Checkpoints inside an aggregate: sequence number plus sub-sequence number, as KCL's
// ExtendedSequenceNumber, written so that a plain record's checkpoint stays the bare sequence number.
import assert from "node:assert/strict";
import { test } from "node:test";
import { deaggregate } from "../../../../processor/kinesis/kpl/deaggregate.ts";
import {
  checkpointAfter,
  compareExtendedSequenceNumbers,
  formatCheckpoint,
  isAfterCheckpoint,
  laterCheckpoint,
  parseCheckpoint,
  resumePosition,
  type ExtendedSequenceNumber,
} from "../../../../processor/kinesis/kpl/extended-sequence-number.ts";
import { awsAggregate } from "./aws-kinesis-agg.ts";
import { randomRecords } from "./records.ts";

const sequence = "49590338271490256608559692538361571095921575989136588898";
const at = (sequenceNumber: string, subSequenceNumber?: number): ExtendedSequenceNumber => ({
  sequenceNumber,
  subSequenceNumber,
});

test("a plain record checkpoints as its bare sequence number, as before aggregation", () => {
  const [record] = deaggregate({
    data: Buffer.from("x"),
    partitionKey: "k",
    sequenceNumber: sequence,
  }).records;
  assert.ok(record !== undefined);
  assert.equal(formatCheckpoint(checkpointAfter(record)), sequence);
});

test("a user record inside an aggregate checkpoints as sequence/sub-sequence", () => {
  const position = checkpointAfter({
    sequenceNumber: sequence,
    subSequenceNumber: 17,
    subRecordCount: 1_000,
  });
  assert.equal(formatCheckpoint(position), `${sequence}/17`);
  assert.deepEqual(parseCheckpoint(`${sequence}/17`), position);
});

test("the last user record of an aggregate checkpoints the whole record, bare", () => {
  const position = checkpointAfter({
    sequenceNumber: sequence,
    subSequenceNumber: 999,
    subRecordCount: 1_000,
  });
  assert.deepEqual(position, at(sequence));
  assert.equal(formatCheckpoint(position), sequence);
});

test("checkpoints written before aggregation parse as whole records", () => {
  assert.deepEqual(parseCheckpoint(sequence), at(sequence));
  assert.deepEqual(parseCheckpoint("0"), at("0"));
});

test("text that names no position parses as none", () => {
  for (const text of [
    "SHARD_END",
    "",
    "12/",
    "/3",
    "12/3/4",
    "012",
    "12/03",
    "12/-1",
    "1e5",
    "12/99999999999",
  ]) {
    assert.equal(parseCheckpoint(text), undefined, text);
  }
});

test("sequence numbers compare as numbers, not as text", () => {
  assert.equal(compareExtendedSequenceNumbers(at("9"), at("10")), -1);
  assert.equal(compareExtendedSequenceNumbers(at("10", 5), at("9")), 1);
  assert.equal(compareExtendedSequenceNumbers(at(sequence, 3), at(sequence, 3)), 0);
});

test("within a record, sub-sequence numbers order it, and the whole record comes last", () => {
  const ordered = [at("5"), at("6", 0), at("6", 1), at("6", 10), at("6"), at("7", 0)];
  const shuffled = [ordered[3], ordered[0], ordered[5], ordered[2], ordered[4], ordered[1]].filter(
    (position) => position !== undefined,
  );
  assert.deepEqual(shuffled.sort(compareExtendedSequenceNumbers), ordered);
});

test("resuming inside an aggregate reads it again and skips exactly the user records done", () => {
  const records = randomRecords(4, 1_000, { keys: 10, maxDataBytes: 30 });
  const [aggregate] = awsAggregate(records);
  assert.ok(aggregate !== undefined);
  const read = deaggregate({ ...aggregate, sequenceNumber: sequence }).records;
  const checkpoint = parseCheckpoint(formatCheckpoint(checkpointAfter(read[499] ?? assert.fail())));
  assert.ok(checkpoint !== undefined);
  assert.deepEqual(resumePosition(checkpoint), {
    ShardIteratorType: "AT_SEQUENCE_NUMBER",
    StartingSequenceNumber: sequence,
  });
  const again = read.filter((record) => isAfterCheckpoint(record, checkpoint));
  assert.deepEqual(
    again.map((record) => record.subSequenceNumber),
    Array.from({ length: 500 }, (_, index) => 500 + index),
  );
  assert.equal(
    isAfterCheckpoint(
      at("49590338271490256608559692538361571095921575989136588899", 0),
      checkpoint,
    ),
    true,
  );
});

test("resuming after a whole record starts after it, and skips nothing of the next", () => {
  const checkpoint = at(sequence);
  assert.deepEqual(resumePosition(checkpoint), {
    ShardIteratorType: "AFTER_SEQUENCE_NUMBER",
    StartingSequenceNumber: sequence,
  });
  assert.equal(isAfterCheckpoint(at(sequence, 999), checkpoint), false);
  assert.equal(isAfterCheckpoint(at(`${BigInt(sequence) + 1n}`, 0), checkpoint), true);
});

test("laterCheckpoint takes the later position, either missing, and SHARD_END over any", () => {
  assert.equal(laterCheckpoint(undefined, undefined), undefined);
  assert.equal(laterCheckpoint("10", undefined), "10");
  assert.equal(laterCheckpoint(undefined, "10/3"), "10/3");
  assert.equal(laterCheckpoint("9", "10/0"), "10/0");
  assert.equal(laterCheckpoint("10/3", "10"), "10", "a whole record comes after its sub-records");
  assert.equal(laterCheckpoint("100", "99"), "100", "numeric, not by string");
  assert.equal(laterCheckpoint("SHARD_END", "99"), "SHARD_END");
});
