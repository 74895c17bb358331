// From one GetRecords answer to the user records the engine gets, and the checkpoint of each.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { _Record } from "@aws-sdk/client-kinesis";
import { userRecordsOf } from "../../../processor/kinesis/user-records.ts";
import { awsAggregate } from "./kpl/aws-kinesis-agg.ts";

const kinesisRecord = (sequence: string, data: Uint8Array, partitionKey = "p"): _Record => ({
  SequenceNumber: sequence,
  Data: data,
  PartitionKey: partitionKey,
});
const aggregate = (count: number) => {
  const [written] = awsAggregate(
    Array.from({ length: count }, (_, index) => ({
      data: Buffer.from(`user ${index}`),
      partitionKey: `key-${index}`,
    })),
  );
  assert.ok(written !== undefined);
  return written.data;
};

test("user records checkpoint inside their aggregate, the last one and plain records as the bare sequence number", () => {
  const { batches, userRecords } = userRecordsOf(
    [kinesisRecord("10", Buffer.from("plain")), kinesisRecord("20", aggregate(3))],
    undefined,
    undefined,
  );
  assert.equal(userRecords, 4);
  assert.deepEqual(
    batches.map((batch) => [
      batch.position.sequenceNumber,
      batch.records.map((user) => user.checkpoint),
    ]),
    [
      ["10", ["10"]],
      ["20", ["20/0", "20/1", "20"]],
    ],
  );
  assert.deepEqual(
    batches[1]?.records.map((user) => [user.partitionKey, Buffer.from(user.data).toString()]),
    [
      ["key-0", "user 0"],
      ["key-1", "user 1"],
      ["key-2", "user 2"],
    ],
  );
});

test("resuming inside an aggregate skips its user records up to the checkpoint, and nothing of later records", () => {
  const { batches, userRecords } = userRecordsOf(
    [kinesisRecord("20", aggregate(5)), kinesisRecord("30", aggregate(2))],
    undefined,
    { sequenceNumber: "20", subSequenceNumber: 2 },
  );
  assert.equal(userRecords, 4);
  assert.deepEqual(
    batches.flatMap((batch) => batch.records.map((user) => user.checkpoint)),
    ["20/3", "20", "30/0", "30"],
  );
});

test("an aggregate with a user record outside the shard's range is skipped whole and counted; a plain record never is", () => {
  const empty = { startingHashKey: 0n, endingHashKey: 0n };
  const { batches, stats } = userRecordsOf(
    [kinesisRecord("1", aggregate(4)), kinesisRecord("2", Buffer.from("plain"))],
    empty,
    undefined,
  );
  assert.deepEqual(
    batches.map((batch) => batch.records.length),
    [0, 1],
  );
  assert.deepEqual(stats, { aggregates: 1, rejected: [], outOfRange: 4 });
});
