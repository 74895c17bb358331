// The shard reader's reactions to what only the real service does on its own schedule (expired
// iterators, throttling): a scripted Kinesis client plays those answers, since the emulator
// cannot be made to produce them on demand.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import {
  acknowledge,
  createShardTracker,
  type Receipt,
} from "../../../processor/checkpoint/tracker.ts";
import { readShard, type SourceRecord } from "../../../processor/kinesis/shard-reader.ts";

interface Call {
  command: string;
  input: Record<string, unknown>;
}

function kinesisError(name: string): Error {
  const error = new Error(`${name} from the script`);
  error.name = name;
  return error;
}

/** A client that answers each command from a script, in order, and records every call. */
function scriptedClient(script: ((call: Call) => unknown)[]) {
  const calls: Call[] = [];
  const client = {
    send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const call = { command: command.constructor.name, input: command.input };
      calls.push(call);
      const step = script.shift();
      if (step === undefined) return Promise.reject(new Error(`unscripted call ${call.command}`));
      return Promise.resolve().then(() => step(call));
    },
  };
  return { client: client as unknown as KinesisClient, calls };
}

const record = (sequence: string) => ({
  SequenceNumber: sequence,
  PartitionKey: "key",
  Data: Buffer.from(sequence),
});

const observer = {
  fetched: () => undefined,
  deaggregated: () => undefined,
  failed: () => undefined,
};

test("an expired iterator resumes right after the last record handed to the engine", async () => {
  const { client, calls } = scriptedClient([
    () => ({ ShardIterator: "it-1" }),
    () => ({
      Records: [record("1"), record("2")],
      NextShardIterator: "it-2",
      MillisBehindLatest: 5,
    }),
    () => {
      throw kinesisError("ExpiredIteratorException");
    },
    () => ({ ShardIterator: "it-3" }),
    () => ({ Records: [record("3")], NextShardIterator: undefined, MillisBehindLatest: 0 }),
  ]);
  const submitted: string[] = [];
  const tracker = createShardTracker("shardId-1");
  const ending = await readShard({
    client,
    stream: "orders",
    tracker,
    startAfter: undefined,
    hashKeyRange: undefined,
    startPosition: { type: "TRIM_HORIZON" },
    maxRecordsPerFetch: 100,
    maxPendingRecords: 1_000,
    idleTimeBetweenReadsMs: 200,
    submit: (input: SourceRecord) => {
      submitted.push(input.sequenceNumber);
      return undefined;
    },
    observer,
    signal: new AbortController().signal,
  });
  assert.equal(ending, "ended", "a shard without a next iterator is closed and read to its end");
  assert.deepEqual(submitted, ["1", "2", "3"], "nothing skipped, nothing read twice");
  assert.deepEqual(calls[3]?.input, {
    StreamName: "orders",
    ShardId: "shardId-1",
    ShardIteratorType: "AFTER_SEQUENCE_NUMBER",
    StartingSequenceNumber: "2",
  });
  assert.equal(tracker.pending, 3);
});

test("a shard with a checkpoint starts after it; throttling backs off and retries the same iterator", async () => {
  const failures: string[] = [];
  const { client, calls } = scriptedClient([
    () => ({ ShardIterator: "it-1" }),
    () => {
      throw kinesisError("ProvisionedThroughputExceededException");
    },
    () => ({ Records: [record("11")], NextShardIterator: undefined }),
  ]);
  const started = performance.now();
  await readShard({
    client,
    stream: "arn:aws:kinesis:eu-west-1:123456789012:stream/orders",
    tracker: createShardTracker("shardId-2", "10"),
    startAfter: "10",
    hashKeyRange: undefined,
    startPosition: { type: "TRIM_HORIZON" },
    maxRecordsPerFetch: 100,
    maxPendingRecords: 1_000,
    idleTimeBetweenReadsMs: 200,
    submit: () => undefined,
    observer: {
      fetched: () => undefined,
      deaggregated: () => undefined,
      failed: (_shard, error) => failures.push((error as Error).name),
    },
    signal: new AbortController().signal,
  });
  assert.deepEqual(failures, ["ProvisionedThroughputExceededException"]);
  assert.ok(
    performance.now() - started >= 250,
    "waited at least half the first throttling backoff",
  );
  const [iteratorCall] = calls;
  const recordsCall = calls.at(1);
  assert.equal(iteratorCall?.input.StartingSequenceNumber, "10");
  assert.equal(
    iteratorCall.input.StreamARN,
    "arn:aws:kinesis:eu-west-1:123456789012:stream/orders",
  );
  assert.equal(
    recordsCall?.input.StreamARN,
    "arn:aws:kinesis:eu-west-1:123456789012:stream/orders",
  );
  assert.deepEqual(
    calls.map((call) => call.command),
    ["GetShardIteratorCommand", "GetRecordsCommand", "GetRecordsCommand"],
    "no new iterator after throttling",
  );
  assert.equal(calls.at(2)?.input.ShardIterator, "it-1");
});

test("errors before the first record never move the start: other errors retry the iterator, an expired one re-opens at the fixed start", async () => {
  const start = "2026-11-30T10:00:00.000Z";
  const { client, calls } = scriptedClient([
    () => ({ ShardIterator: "it-1" }),
    () => {
      throw kinesisError("InternalFailure");
    },
    () => {
      throw kinesisError("ExpiredIteratorException");
    },
    () => ({ ShardIterator: "it-2" }),
    () => ({ Records: [record("1")], NextShardIterator: undefined }),
  ]);
  const submitted: string[] = [];
  await readShard({
    client,
    stream: "orders",
    tracker: createShardTracker("shardId-4"),
    startAfter: undefined,
    hashKeyRange: undefined,
    startPosition: { type: "AT_TIMESTAMP", timestamp: start },
    maxRecordsPerFetch: 100,
    maxPendingRecords: 1_000,
    idleTimeBetweenReadsMs: 200,
    submit: (input) => {
      submitted.push(input.sequenceNumber);
      return undefined;
    },
    observer,
    signal: new AbortController().signal,
  });
  assert.deepEqual(
    calls.map((call) => [call.command, call.input.ShardIterator ?? call.input.ShardIteratorType]),
    [
      ["GetShardIteratorCommand", "AT_TIMESTAMP"],
      ["GetRecordsCommand", "it-1"],
      ["GetRecordsCommand", "it-1"],
      ["GetShardIteratorCommand", "AT_TIMESTAMP"],
      ["GetRecordsCommand", "it-2"],
    ],
  );
  assert.equal((calls.at(3)?.input.Timestamp as Date).toISOString(), start);
  assert.deepEqual(submitted, ["1"]);
});

test("reading pauses while maxPendingRecords of the shard's records are unacknowledged", async () => {
  const { client } = scriptedClient([
    () => ({ ShardIterator: "it-1" }),
    () => ({ Records: ["1", "2", "3", "4"].map(record), NextShardIterator: undefined }),
  ]);
  const tracker = createShardTracker("shardId-5");
  const receipts: Receipt[] = [];
  const reading = readShard({
    client,
    stream: "orders",
    tracker,
    startAfter: undefined,
    hashKeyRange: undefined,
    startPosition: { type: "TRIM_HORIZON" },
    maxRecordsPerFetch: 100,
    maxPendingRecords: 2,
    idleTimeBetweenReadsMs: 200,
    submit: (input) => {
      receipts.push(input.receipt);
      return undefined;
    },
    observer,
    signal: new AbortController().signal,
  });
  const turns = async () => {
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
  };
  await turns();
  assert.equal(receipts.length, 2, "the third record waits");
  acknowledge(receipts[1] as Receipt);
  await turns();
  assert.equal(receipts.length, 2, "an acknowledgement behind the oldest frees nothing");
  acknowledge(receipts[0] as Receipt);
  await turns();
  assert.equal(receipts.length, 4, "two acknowledged in order: two more are read");
  for (const receipt of receipts) acknowledge(receipt);
  assert.equal(await reading, "ended");
  assert.equal(tracker.checkpointable, "4");
});

test("a reader waits for the engine's slot before handing over the next record, and stops on abort", async () => {
  const { client } = scriptedClient([
    () => ({ ShardIterator: "it-1" }),
    () => ({ Records: [record("1"), record("2"), record("3")], NextShardIterator: "it-2" }),
  ]);
  const aborter = new AbortController();
  const submitted: string[] = [];
  let release: () => void = () => undefined;
  const reading = readShard({
    client,
    stream: "orders",
    tracker: createShardTracker("shardId-3"),
    startAfter: undefined,
    hashKeyRange: undefined,
    startPosition: { type: "AT_TIMESTAMP", timestamp: "2026-11-01T00:00:00Z" },
    maxRecordsPerFetch: 100,
    maxPendingRecords: 1_000,
    idleTimeBetweenReadsMs: 200,
    submit: (input) => {
      submitted.push(input.sequenceNumber);
      // The engine is full: the next record must wait for this promise.
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    observer,
    signal: aborter.signal,
  });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(submitted, ["1"], "the second record waits for a free slot");
  aborter.abort();
  release();
  assert.equal(await reading, "stopped");
  assert.deepEqual(submitted, ["1"], "after abort nothing more is handed over");
});
