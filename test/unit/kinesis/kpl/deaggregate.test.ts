// De-aggregation against the reference KPL-format writer (awslabs aws-kinesis-agg) and against
// damaged aggregates: what KCL reads as user records, this reads the same, byte for byte; what is
// not a sound aggregate passes whole, with the reason.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { createAggregator } from "../../../../processor/kinesis/kpl/aggregator.ts";
import { deaggregate } from "../../../../processor/kinesis/kpl/deaggregate.ts";
import { kplMagic, sealEnvelope } from "../../../../processor/kinesis/kpl/envelope.ts";
import { encodeAggregatedRecord } from "../../../../processor/kinesis/kpl/messages.ts";
import { awsAggregate } from "./aws-kinesis-agg.ts";
import { everyByte, randomRecords, type TestRecord } from "./records.ts";

const sequenceNumber = "49590338271490256608559692538361571095921575989136588898";

function readBack(written: { data: Uint8Array; partitionKey: string }) {
  return deaggregate({ ...written, sequenceNumber });
}

function assertSameRecords(actual: ReturnType<typeof readBack>, expected: readonly TestRecord[]) {
  assert.equal(actual.rejected, undefined);
  assert.equal(actual.records.length, expected.length);
  actual.records.forEach((record, index) => {
    const want = expected[index];
    assert.ok(want !== undefined);
    assert.deepEqual(Buffer.from(record.data), Buffer.from(want.data), `data of ${index}`);
    assert.equal(record.partitionKey, want.partitionKey);
    assert.equal(record.explicitHashKey, want.explicitHashKey);
    assert.equal(record.subSequenceNumber, index);
    assert.equal(record.subRecordCount, expected.length);
    assert.equal(record.sequenceNumber, sequenceNumber);
    assert.equal(record.aggregated, true);
  });
}

for (const count of [1, 50, 1_000]) {
  test(`an aggregate of ${count} user records from aws-kinesis-agg reads back byte-exact`, () => {
    const records = randomRecords(count, count, { keys: 7, maxDataBytes: 300 });
    const [aggregate, ...rest] = awsAggregate(records);
    assert.ok(aggregate !== undefined);
    assert.equal(rest.length, 0);
    assertSameRecords(readBack(aggregate), records);
  });
}

for (const count of [50, 1_000]) {
  test(`an aggregate of ${count} user records from the aggregator reads back in order`, () => {
    const records = randomRecords(count + 1, count, { keys: 1, maxDataBytes: 300 });
    const aggregator = createAggregator<TestRecord>({ maxBytes: 1_048_576, maxRecords: count });
    const entries = records.flatMap((record) => aggregator.add(record));
    assert.equal(entries.length, 1);
    assert.ok(entries[0] !== undefined);
    assertSameRecords(readBack(entries[0]), records);
  });
}

test("user records holding every byte value, and empty ones, stay byte-exact", () => {
  const records = [
    { data: everyByte, partitionKey: "binary" },
    { data: new Uint8Array(), partitionKey: "empty" },
    { data: kplMagic, partitionKey: "magic inside" },
  ];
  const [aggregate] = awsAggregate(records);
  assert.ok(aggregate !== undefined);
  assertSameRecords(readBack(aggregate), records);
});

test("explicit hash keys come from the table, and a record without one has none", () => {
  const records = [
    { data: Buffer.from("a"), partitionKey: "p", explicitHashKey: "0" },
    { data: Buffer.from("b"), partitionKey: "p" },
    {
      data: Buffer.from("c"),
      partitionKey: "q",
      explicitHashKey: "340282366920938463463374607431768211455",
    },
    { data: Buffer.from("d"), partitionKey: "p", explicitHashKey: "0" },
  ];
  const body = encodeAggregatedRecord({
    partitionKeyTable: ["p", "q"],
    explicitHashKeyTable: ["0", "340282366920938463463374607431768211455"],
    records: [
      { partitionKeyIndex: 0n, explicitHashKeyIndex: 0n, data: Buffer.from("a"), tags: [] },
      { partitionKeyIndex: 0n, explicitHashKeyIndex: undefined, data: Buffer.from("b"), tags: [] },
      { partitionKeyIndex: 1n, explicitHashKeyIndex: 1n, data: Buffer.from("c"), tags: [] },
      { partitionKeyIndex: 0n, explicitHashKeyIndex: 0n, data: Buffer.from("d"), tags: [] },
    ],
  });
  assertSameRecords(readBack({ data: sealEnvelope(body), partitionKey: "p" }), records);
});

test("explicit hash keys written by aws-kinesis-agg read back", () => {
  const records = randomRecords(3, 20, { keys: 3, maxDataBytes: 40, explicitHashKeys: true });
  const [aggregate] = awsAggregate(records);
  assert.ok(aggregate !== undefined);
  assertSameRecords(readBack(aggregate), records);
});

test("tags and unknown fields are skipped", () => {
  const body = encodeAggregatedRecord({
    partitionKeyTable: ["p"],
    explicitHashKeyTable: [],
    records: [
      {
        partitionKeyIndex: 0n,
        explicitHashKeyIndex: undefined,
        data: Buffer.from("x"),
        tags: [
          { key: "k", value: "v" },
          { key: "only key", value: undefined },
        ],
      },
    ],
  });
  // Field 15, varint 1: a field a later format version might add.
  const extended = Buffer.concat([body, Buffer.from([0x78, 0x01])]);
  const result = readBack({ data: sealEnvelope(extended), partitionKey: "outer" });
  assertSameRecords(result, [{ data: Buffer.from("x"), partitionKey: "p" }]);
});

test("a record without the magic bytes is one plain record, as it came", () => {
  const data = Buffer.from("hello");
  const result = deaggregate({ data, partitionKey: "k", sequenceNumber, explicitHashKey: "5" });
  assert.deepEqual(result, {
    records: [
      {
        data,
        partitionKey: "k",
        explicitHashKey: "5",
        sequenceNumber,
        subSequenceNumber: undefined,
        subRecordCount: 1,
        aggregated: false,
      },
    ],
    rejected: undefined,
  });
});

function assertPassedWhole(data: Uint8Array, reason: string) {
  const result = readBack({ data, partitionKey: "outer" });
  assert.equal(result.rejected, reason);
  const [record, ...others] = result.records;
  assert.equal(others.length, 0);
  assert.ok(record !== undefined);
  assert.equal(record.data, data);
  assert.equal(record.partitionKey, "outer");
  assert.equal(record.aggregated, false);
  assert.equal(record.subSequenceNumber, undefined);
}

function validAggregate(): Uint8Array {
  const [aggregate] = awsAggregate(randomRecords(9, 10, { keys: 2, maxDataBytes: 50 }));
  assert.ok(aggregate !== undefined);
  return aggregate.data;
}

test("a bad checksum passes the record whole, counted as bad_checksum", () => {
  const data = Uint8Array.from(validAggregate());
  data[data.length - 1] = (data[data.length - 1] ?? 0) ^ 0x01;
  assertPassedWhole(data, "bad_checksum");
});

test("a flipped body byte fails the checksum", () => {
  const data = Uint8Array.from(validAggregate());
  data[10] = (data[10] ?? 0) ^ 0x80;
  assertPassedWhole(data, "bad_checksum");
});

test("a truncated aggregate passes whole: its last 16 bytes are not the checksum any more", () => {
  const data = validAggregate();
  assertPassedWhole(data.subarray(0, data.length - 7), "bad_checksum");
});

test("a truncated body with a matching checksum is unreadable_body", () => {
  const data = validAggregate();
  const body = data.subarray(kplMagic.length, data.length - 16);
  assertPassedWhole(sealEnvelope(body.subarray(0, body.length - 3)), "unreadable_body");
});

test("the magic bytes without a body or checksum are truncated", () => {
  assertPassedWhole(kplMagic, "truncated");
  assertPassedWhole(Buffer.concat([kplMagic, Buffer.alloc(15)]), "truncated");
});

test("the magic bytes and the checksum of an empty body are an aggregate of no user records", () => {
  const result = readBack({ data: sealEnvelope(new Uint8Array()), partitionKey: "outer" });
  assert.deepEqual(result, { records: [], rejected: undefined });
});

test("bytes that are not protobuf, with a matching checksum, are unreadable_body", () => {
  assertPassedWhole(sealEnvelope(Buffer.from([0xff, 0xff, 0xff])), "unreadable_body");
});

test("a user record missing a required field is unreadable_body, as protobuf-java finds it", () => {
  // records { data: "x" } without partition_key_index.
  const body = Buffer.from([0x1a, 0x03, 0x1a, 0x01, 0x78]);
  assertPassedWhole(sealEnvelope(body), "unreadable_body");
});

test("a partition key index outside the table is index_out_of_range", () => {
  const body = encodeAggregatedRecord({
    partitionKeyTable: ["p"],
    explicitHashKeyTable: [],
    records: [{ partitionKeyIndex: 1n, explicitHashKeyIndex: undefined, data: kplMagic, tags: [] }],
  });
  assertPassedWhole(sealEnvelope(body), "index_out_of_range");
});

test("an explicit hash key index outside the table is index_out_of_range", () => {
  const body = encodeAggregatedRecord({
    partitionKeyTable: ["p"],
    explicitHashKeyTable: ["1"],
    records: [
      { partitionKeyIndex: 0n, explicitHashKeyIndex: 2n ** 64n - 1n, data: kplMagic, tags: [] },
    ],
  });
  assertPassedWhole(sealEnvelope(body), "index_out_of_range");
});

test("an explicit hash key that is not a 128-bit decimal is bad_explicit_hash_key", () => {
  for (const key of ["-1", "0x10", "340282366920938463463374607431768211456", "01", ""]) {
    const body = encodeAggregatedRecord({
      partitionKeyTable: ["p"],
      explicitHashKeyTable: [key],
      records: [{ partitionKeyIndex: 0n, explicitHashKeyIndex: 0n, data: kplMagic, tags: [] }],
    });
    assertPassedWhole(sealEnvelope(body), "bad_explicit_hash_key");
  }
});

test("the checksum is the MD5 of the body alone", () => {
  const data = validAggregate();
  const body = data.subarray(kplMagic.length, data.length - 16);
  assert.deepEqual(
    Buffer.from(data.subarray(data.length - 16)),
    createHash("md5").update(body).digest(),
  );
  assert.deepEqual(Buffer.from(sealEnvelope(body)), Buffer.from(data));
});
