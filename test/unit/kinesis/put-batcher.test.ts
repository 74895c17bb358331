// The sink batcher against a scripted Kinesis client: partial failures and throttling are what the
// real service does under load and the emulator cannot be made to do on demand.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { createShardTracker, type Receipt } from "../../../processor/checkpoint/tracker.ts";
import { createPutBatcher } from "../../../processor/kinesis/put-batcher.ts";

interface PutInput {
  Records: { Data: Uint8Array; PartitionKey: string }[];
}

function putClient(answer: (input: PutInput, call: number) => unknown) {
  const calls: string[][] = [];
  const client = {
    send(command: { input: PutInput }) {
      calls.push(command.input.Records.map((entry) => Buffer.from(entry.Data).toString()));
      const call = calls.length;
      return Promise.resolve().then(() => answer(command.input, call));
    },
  };
  return { client: client as unknown as KinesisClient, calls };
}

const ok = (input: PutInput) => ({ Records: input.Records.map(() => ({ SequenceNumber: "1" })) });
const silentObserver = { written: () => undefined, failed: () => undefined };

function entries(count: number) {
  const tracker = createShardTracker("shardId-0");
  const list = Array.from({ length: count }, (_, index) => ({
    data: Buffer.from(`r${index}`),
    partitionKey: "key",
    receipt: tracker.track(String(index)),
  }));
  return { tracker, list };
}

const acknowledged = (receipts: Receipt[]): number =>
  receipts.filter((receipt) => receipt.acknowledged).length;

test("a partial failure retries only the failed entries, then acknowledges everything", async () => {
  const { client, calls } = putClient((input, call) =>
    call === 1
      ? {
          FailedRecordCount: 1,
          Records: input.Records.map((_, index) =>
            index === 1
              ? { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "slow down" }
              : { SequenceNumber: "1" },
          ),
        }
      : ok(input),
  );
  const failures: { entries: number; throttled: boolean }[] = [];
  const sink = createPutBatcher({
    client,
    stream: "out",
    maxBatchRecords: 500,
    maxBatchBytes: 1_000_000,
    lingerMs: 1,
    maxInFlightBatches: 1,
    observer: {
      written: () => undefined,
      failed: (count, _reason, throttled) => failures.push({ entries: count, throttled }),
    },
  });
  const { list, tracker } = entries(3);
  for (const entry of list) assert.equal(sink.add(entry), undefined);
  await sink.flush();
  assert.deepEqual(calls, [["r0", "r1", "r2"], ["r1"]]);
  assert.deepEqual(failures, [{ entries: 1, throttled: true }]);
  assert.equal(acknowledged(list.map((entry) => entry.receipt)), 3);
  assert.equal(tracker.checkpointable, "2");
  assert.equal(sink.unacknowledged, 0);
});

test("batches hold at most maxBatchRecords records and maxBatchBytes bytes", async () => {
  const { client, calls } = putClient(ok);
  const sink = createPutBatcher({
    client,
    stream: "out",
    maxBatchRecords: 4,
    maxBatchBytes: 15,
    lingerMs: 1,
    maxInFlightBatches: 2,
    observer: silentObserver,
  });
  const { list } = entries(10);
  for (const entry of list) await sink.add(entry);
  await sink.flush();
  // Each entry is 2-3 data bytes plus a 3-byte key: at most 15 bytes means at most 2-3 per batch.
  assert.ok(calls.every((batch) => batch.length <= 4));
  assert.ok(
    calls.every((batch) => batch.reduce((sum, data) => sum + data.length + 3, 0) <= 15),
    JSON.stringify(calls),
  );
  assert.deepEqual(
    calls.flat(),
    list.map((entry) => Buffer.from(entry.data).toString()),
    "every record once, in order",
  );
});

test("add pushes back once the buffer is full, and frees space as batches are acknowledged", async () => {
  let release: () => void = () => undefined;
  const { client, calls } = putClient(
    (input) =>
      new Promise((resolve) => {
        release = () => {
          resolve(ok(input));
        };
      }),
  );
  const sink = createPutBatcher({
    client,
    stream: "out",
    maxBatchRecords: 2,
    maxBatchBytes: 1_000,
    lingerMs: 1,
    maxInFlightBatches: 1,
    observer: silentObserver,
  });
  const { list } = entries(4);
  assert.equal(sink.add(list[0] as (typeof list)[0]), undefined);
  assert.equal(sink.add(list[1] as (typeof list)[0]), undefined);
  assert.equal(sink.add(list[2] as (typeof list)[0]), undefined);
  const full = sink.add(list[3] as (typeof list)[0]);
  assert.ok(
    full instanceof Promise,
    "the fourth record (2 batches of 2 in flight or buffered) waits",
  );
  let resolved = false;
  void full.then(() => (resolved = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(resolved, false);
  release();
  await full;
  while (calls.length < 2) await new Promise((resolve) => setImmediate(resolve));
  release();
  await sink.flush();
  assert.equal(acknowledged(list.map((entry) => entry.receipt)), 4);
});

test("a failing stream is retried until it works; abort gives up and leaves records unacknowledged", async () => {
  const { client, calls } = putClient(() => {
    const error = new Error("Stream out not found");
    error.name = "ResourceNotFoundException";
    throw error;
  });
  const sink = createPutBatcher({
    client,
    stream: "out",
    maxBatchRecords: 10,
    maxBatchBytes: 1_000,
    lingerMs: 1,
    maxInFlightBatches: 1,
    observer: silentObserver,
  });
  const { list } = entries(2);
  for (const entry of list) void sink.add(entry);
  const flushed = sink.flush();
  const deadline = Date.now() + 5_000;
  while (calls.length < 3 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(calls.length >= 3, `retried, ${calls.length} calls`);
  sink.abort();
  await flushed;
  assert.equal(
    acknowledged(list.map((entry) => entry.receipt)),
    0,
    "nothing acknowledged that was not written",
  );
});
