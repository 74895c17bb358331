// The hash key KCL filters on after resharding: the explicit hash key, else the partition key's
// MD5 as a 128-bit big-endian number (known MD5 values: RFC 1321's test suite).
import assert from "node:assert/strict";
import { test } from "node:test";
import { deaggregate } from "../../../../processor/kinesis/kpl/deaggregate.ts";
import {
  effectiveHashKey,
  inHashKeyRange,
  isHashKey,
  parseHashKeyRange,
  partitionKeyHash,
  withinShard,
  type HashKeyRange,
} from "../../../../processor/kinesis/kpl/hash-key.ts";
import { awsAggregate } from "./aws-kinesis-agg.ts";

const maxHashKey = 340282366920938463463374607431768211455n;
// A stream of one shard split in two halves.
const lowerHalf = parseHashKeyRange({
  StartingHashKey: "0",
  EndingHashKey: "170141183460469231731687303715884105727",
});
const upperHalf: HashKeyRange = {
  startingHashKey: 170141183460469231731687303715884105728n,
  endingHashKey: maxHashKey,
};

test("a partition key's hash key is its MD5 read as a big-endian unsigned number", () => {
  // MD5("") = d41d8cd98f00b204e9800998ecf8427e, MD5("a") = 0cc175b9c0f1b6a831c399e269772661.
  assert.equal(partitionKeyHash(""), 281949768489412648962353822266799178366n);
  assert.equal(partitionKeyHash("a"), 16955237001963240173058271559858726497n);
  assert.equal(partitionKeyHash("a"), 0x0cc175b9c0f1b6a831c399e269772661n);
});

test("the partition key is hashed as UTF-8", () => {
  // MD5 of c3 bc ("ü" in UTF-8), not of fc (Latin-1).
  assert.equal(partitionKeyHash("ü"), 255482112228542481294366945247899473731n);
});

test("an explicit hash key overrides the partition key's hash", () => {
  assert.equal(effectiveHashKey({ partitionKey: "a", explicitHashKey: "7" }), 7n);
  assert.equal(
    effectiveHashKey({ partitionKey: "a", explicitHashKey: undefined }),
    partitionKeyHash("a"),
  );
});

test("a shard's range holds both its ends", () => {
  const atStart = { partitionKey: "x", explicitHashKey: "170141183460469231731687303715884105728" };
  const beforeStart = {
    partitionKey: "x",
    explicitHashKey: "170141183460469231731687303715884105727",
  };
  assert.equal(inHashKeyRange(atStart, upperHalf), true);
  assert.equal(inHashKeyRange(atStart, lowerHalf), false);
  assert.equal(inHashKeyRange(beforeStart, lowerHalf), true);
  assert.equal(
    inHashKeyRange({ partitionKey: "x", explicitHashKey: `${maxHashKey}` }, upperHalf),
    true,
  );
  assert.equal(inHashKeyRange({ partitionKey: "x", explicitHashKey: "0" }, lowerHalf), true);
});

test("partition keys fall in the half their MD5 points to", () => {
  assert.equal(inHashKeyRange({ partitionKey: "a", explicitHashKey: undefined }, lowerHalf), true);
  // MD5("partition-1") = 94f940e6c2a31703d6be067b87d67968: its top bit is set.
  const upper = { partitionKey: "partition-1", explicitHashKey: undefined };
  assert.equal(partitionKeyHash("partition-1"), 0x94f940e6c2a31703d6be067b87d67968n);
  assert.equal(inHashKeyRange(upper, upperHalf), true);
  assert.equal(inHashKeyRange(upper, lowerHalf), false);
});

test("hash keys are decimal numbers from 0 to 2^128 - 1", () => {
  for (const key of ["0", "1", `${maxHashKey}`]) assert.equal(isHashKey(key), true, key);
  for (const key of ["", "-1", "01", "1.0", " 1", "0x1", `${maxHashKey + 1n}`, "9".repeat(40)]) {
    assert.equal(isHashKey(key), false, key);
  }
});

function readAggregate(keys: string[]) {
  const [aggregate] = awsAggregate(
    keys.map((partitionKey) => ({ data: Buffer.from(partitionKey), partitionKey })),
  );
  assert.ok(aggregate !== undefined);
  return deaggregate({ ...aggregate, sequenceNumber: "1" }).records;
}

test("after a split, an aggregate whose user records all hash into the shard is kept whole", () => {
  const records = readAggregate(["a", "a", "a"]);
  assert.equal(withinShard(records, lowerHalf), records);
});

test("after a split, an aggregate with one user record outside the shard is skipped whole", () => {
  // "partition-1" hashes into the upper half: KCL drops the aggregate, which the KPL sent again.
  const records = readAggregate(["a", "partition-1", "a"]);
  assert.deepEqual(withinShard(records, lowerHalf), []);
  assert.deepEqual(withinShard(records, upperHalf), []);
});

test("a plain record is never skipped, whatever its partition key hashes to", () => {
  const { records } = deaggregate({
    data: Buffer.from("x"),
    partitionKey: "",
    sequenceNumber: "1",
  });
  assert.equal(withinShard(records, lowerHalf), records);
});
