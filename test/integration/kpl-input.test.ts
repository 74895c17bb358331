// KPL-aggregated input against the real Kinesis emulator, written by the awslabs reference writer
// (aws-kinesis-agg): every user record is a record of its own for the endpoint, the sink (with its
// own partition key) and the dead letter (with its sub-sequence number); a damaged aggregate passes
// whole; a crash inside a large aggregate replays only what is after the checkpoint; after a split,
// an aggregate a stale producer put on the wrong child is skipped, as the KCL does.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { readAllRecords } from "../../demo/stream-tools.ts";
import type { CheckpointStore } from "../../processor/checkpoint/store.ts";
import { inHashKeyRange } from "../../processor/kinesis/kpl/hash-key.ts";
import { metricValue } from "../support/metric-value.ts";
import { startScriptedEndpoint } from "../support/scripted-endpoint.ts";
import {
  createStreams,
  runProcessor,
  splitShard,
  startKinesisEmulator,
  waitForOutput,
  type KinesisEmulator,
} from "../support/test-bed.ts";
import { waitFor } from "../support/wait-for.ts";
import { awsAggregate, type WrittenRecord } from "../unit/kinesis/kpl/aws-kinesis-agg.ts";

const userRecord = (id: number, keys = 7): WrittenRecord => ({
  data: Buffer.from(JSON.stringify({ id })),
  partitionKey: `customer-${id % keys}`,
});
const ids = (from: number, to: number): number[] =>
  Array.from({ length: to - from }, (_, index) => from + index);
const idOf = (data: Uint8Array | string): number =>
  (JSON.parse(Buffer.from(data).toString()) as { id: number }).id;

/** Puts Kinesis records one call each, in order (one shard keeps their order). */
async function put(emulator: KinesisEmulator, stream: string, records: readonly WrittenRecord[]) {
  for (const record of records) {
    await emulator.client.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: [
          {
            Data: record.data,
            PartitionKey: record.partitionKey,
            ...(record.explicitHashKey === undefined
              ? {}
              : { ExplicitHashKey: record.explicitHashKey }),
          },
        ],
      }),
    );
  }
}

/** One aggregate of exactly these user records, as the reference writer encodes it. */
function aggregateOf(records: readonly WrittenRecord[]): WrittenRecord {
  const written = awsAggregate(records);
  assert.equal(written.length, 1, "the records fit one aggregate");
  return written[0] as WrittenRecord;
}

describe("KPL-aggregated input against the Kinesis emulator", () => {
  let emulator: KinesisEmulator;

  before(async () => {
    emulator = await startKinesisEmulator();
  });
  after(async () => {
    await emulator.stop();
  });

  test("aggregates of 1, 50 and 1,000 user records mixed with plain ones: one call and one sink record per user record, with its own key, in order per key", async () => {
    // Answers what it can read as JSON; a damaged aggregate, passed on whole, is refused.
    const endpoint = await startScriptedEndpoint((request) =>
      request.body.startsWith("{") ? {} : { status: 422, body: "not JSON" },
    );
    const streams = await createStreams(emulator, 1);
    const user = ids(0, 1_080).map((id) => userRecord(id));
    const sound = aggregateOf([userRecord(5_000), userRecord(5_001)]);
    const damagedBytes = Buffer.from(sound.data);
    damagedBytes[damagedBytes.length - 1] = (damagedBytes.at(-1) ?? 0) ^ 0xff; // MD5 mismatch
    const damaged = { ...sound, data: new Uint8Array(damagedBytes) };
    await put(emulator, streams.source, [
      ...user.slice(0, 10),
      aggregateOf(user.slice(10, 60)),
      aggregateOf(user.slice(60, 61)),
      ...user.slice(61, 70),
      aggregateOf(user.slice(70, 1_070)),
      damaged,
      ...user.slice(1_070),
    ]);
    const processor = runProcessor(emulator, streams, {
      endpoint: { url: endpoint.url },
      capacity: 50,
    });
    await waitForOutput(processor, 1_081);
    await processor.stop();
    await endpoint.close();

    const plainOnes = await readAllRecords(emulator.client, streams.sink);
    const letters = await readAllRecords(emulator.client, streams.deadLetter);
    assert.deepEqual(
      letters.map((letter) => {
        const parsed = JSON.parse(Buffer.from(letter.data).toString()) as { data: string };
        return Buffer.from(parsed.data, "base64");
      }),
      [damagedBytes],
      "the damaged aggregate passed on whole, byte-exact",
    );
    assert.equal(
      endpoint.requests.length,
      1_081,
      "one call per user record, the damaged one whole",
    );
    assert.deepEqual(
      plainOnes.map((record) => idOf(record.data)).sort((a, b) => a - b),
      ids(0, 1_080),
    );
    for (const record of plainOnes) {
      assert.equal(record.partitionKey, `customer-${idOf(record.data) % 7}`, "its own key");
    }
    for (let key = 0; key < 7; key++) {
      const order = plainOnes
        .filter((record) => record.partitionKey === `customer-${key}`)
        .map((record) => idOf(record.data));
      assert.deepEqual(
        order,
        [...order].sort((a, b) => a - b),
        `customer-${key} in order`,
      );
    }
    assert.equal(await metricValue(processor.metrics.registry, "aej_kpl_aggregates_total"), 3);
    assert.equal(
      await metricValue(processor.metrics.registry, "aej_kpl_invalid_aggregates_total", {
        reason: "bad_checksum",
      }),
      1,
    );
    assert.equal(await metricValue(processor.metrics.registry, "aej_records_in_total"), 1_081);
  });

  test("a failed user record reaches the dead letter byte-exact, named by sequence and sub-sequence number", async () => {
    const endpoint = await startScriptedEndpoint(() => ({ status: 422, body: "no" }));
    const streams = await createStreams(emulator, 1);
    const binary = Uint8Array.from({ length: 512 }, (_, index) => index % 256);
    const records = [
      { data: binary, partitionKey: "bytes-a" },
      { data: binary.slice().reverse(), partitionKey: "bytes-b" },
    ];
    await put(emulator, streams.source, [aggregateOf(records)]);
    const processor = runProcessor(emulator, streams, { endpoint: { url: endpoint.url } });
    await waitForOutput(processor, 2);
    await processor.stop();
    await endpoint.close();
    const letters = (await readAllRecords(emulator.client, streams.deadLetter)).map(
      (record) =>
        JSON.parse(Buffer.from(record.data).toString()) as {
          data: string;
          source: { sequenceNumber: string; subSequenceNumber: number; partitionKey: string };
        },
    );
    assert.deepEqual(
      letters.map((letter) => letter.source.subSequenceNumber),
      [0, 1],
    );
    assert.equal(letters[0]?.source.sequenceNumber, letters[1]?.source.sequenceNumber);
    assert.deepEqual(
      letters.map((letter) => [letter.source.partitionKey, Buffer.from(letter.data, "base64")]),
      records.map((record) => [record.partitionKey, Buffer.from(record.data)]),
    );
  });

  test("a crash inside an aggregate of 1,000 user records replays only the user records after its checkpoint", async () => {
    const endpoint = await startScriptedEndpoint(() => ({ delayMs: 2 }));
    const streams = await createStreams(emulator, 1);
    await put(emulator, streams.source, [aggregateOf(ids(0, 1_000).map((id) => userRecord(id)))]);
    // The durable state a kill -9 leaves: checkpoints written up to the moment of the crash.
    const durable = new Map<string, string>();
    let crashed = false;
    const store: CheckpointStore = {
      get: (shardId) => Promise.resolve(durable.get(shardId)),
      put: (shardId, checkpoint) => {
        if (crashed) return Promise.reject(new Error("the process is gone"));
        durable.set(shardId, checkpoint);
        return Promise.resolve();
      },
    };
    const config = { endpoint: { url: endpoint.url }, capacity: 4 };
    const first = runProcessor(emulator, streams, config, { checkpointStore: store });
    await waitFor(
      () => Promise.resolve(durable.get("shardId-000000000000") ?? ""),
      (checkpoint) => /\/([3-9]\d\d)$/.test(checkpoint),
      { timeoutMs: 30_000, what: "a checkpoint past user record 300 of the aggregate" },
    );
    crashed = true;
    const checkpoint = durable.get("shardId-000000000000") ?? "";
    await first.stop();
    const done = Number(checkpoint.split("/")[1]);
    const callsBefore = endpoint.requests.length;

    const second = runProcessor(emulator, streams, config, { checkpointStore: store });
    crashed = false;
    await waitFor(
      () => Promise.resolve(durable.get("shardId-000000000000") ?? ""),
      (written) => !written.includes("/") && written !== "",
      { timeoutMs: 30_000, what: "the aggregate checkpointed whole" },
    );
    await second.stop();
    await endpoint.close();
    const replayed = endpoint.requests.slice(callsBefore).map((request) => idOf(request.body));
    assert.deepEqual(
      replayed.sort((a, b) => a - b),
      ids(done + 1, 1_000),
      `after ${checkpoint}`,
    );
  });

  test("after a split, an aggregate a stale producer put on the wrong child is skipped, and its records are read once from where they belong", async () => {
    const endpoint = await startScriptedEndpoint(() => ({}));
    const streams = await createStreams(emulator, 1);
    const before = ids(0, 100).map((id) => userRecord(id, 100));
    await put(emulator, streams.source, [aggregateOf(before)]);
    const processor = runProcessor(emulator, streams, { endpoint: { url: endpoint.url } });
    await waitForOutput(processor, 100);
    const middle = 2n ** 127n;
    await splitShard(emulator, streams.source);
    const after = ids(100, 200).map((id) => userRecord(id, 100));
    const lower = { startingHashKey: 0n, endingHashKey: middle - 1n };
    const inLower = after.filter((record) =>
      inHashKeyRange({ ...record, explicitHashKey: undefined }, lower),
    );
    const inUpper = after.filter((record) => !inLower.includes(record));
    // The stale producer's aggregate of all 100 lands on the lower child; the KPL then sends the
    // records again, packed per child.
    await put(emulator, streams.source, [
      { ...aggregateOf(after), explicitHashKey: "0" },
      { ...aggregateOf(inLower), explicitHashKey: "0" },
      { ...aggregateOf(inUpper), explicitHashKey: middle.toString() },
    ]);
    await waitForOutput(processor, 200);
    await processor.stop();
    await endpoint.close();
    const sinkIds = (await readAllRecords(emulator.client, streams.sink)).map((record) =>
      idOf(record.data),
    );
    assert.deepEqual(
      sinkIds.sort((a, b) => a - b),
      ids(0, 200),
      "each user record once",
    );
    assert.equal(
      await metricValue(processor.metrics.registry, "aej_kpl_misplaced_records_total"),
      100,
    );
  });
});
