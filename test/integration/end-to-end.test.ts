// The processor against the real Kinesis emulator and a real HTTP endpoint, when nothing fails.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startDemoEndpoint, type DemoEndpoint } from "../../demo/endpoint.ts";
import { readAllRecords } from "../../demo/stream-tools.ts";
import { createMemoryCheckpointStore, SHARD_END } from "../../processor/checkpoint/store.ts";
import { metricValue } from "../support/metric-value.ts";
import {
  createStreams,
  jsonRecords,
  produce,
  runProcessor,
  splitShard,
  startKinesisEmulator,
  waitForOutput,
  type KinesisEmulator,
} from "../support/test-bed.ts";
import { waitFor } from "../support/wait-for.ts";

interface Output {
  id: number;
  key: string;
  score: number;
}

const decode = (data: Uint8Array): Output => JSON.parse(Buffer.from(data).toString()) as Output;

describe("end to end against the Kinesis emulator", () => {
  let emulator: KinesisEmulator;
  let endpoint: DemoEndpoint;

  before(async () => {
    emulator = await startKinesisEmulator();
    endpoint = await startDemoEndpoint({ latencyMs: 5, jitterMs: 8 });
  });
  after(async () => {
    await endpoint.close();
    await emulator.stop();
  });

  test("every input record is in the sink exactly once, in order per partition key, when nothing fails", async () => {
    const streams = await createStreams(emulator, 4);
    await produce(emulator, streams.source, jsonRecords(2_000));
    const processor = runProcessor(emulator, streams, {
      endpoint: { url: `${endpoint.url}/enrich` },
      capacity: 40,
      ordering: "ordered",
    });
    await waitForOutput(processor, 2_000);
    await processor.stop();
    assert.deepEqual(await processor.done, { exitCode: 0, reason: undefined });

    const output = (await readAllRecords(emulator.client, streams.sink)).map((record) => ({
      ...decode(record.data),
      partitionKey: record.partitionKey,
      shardId: record.shardId,
    }));
    const ids = output.map((record) => record.id).sort((a, b) => a - b);
    assert.deepEqual(
      ids,
      Array.from({ length: 2_000 }, (_, index) => index),
      "each id exactly once",
    );
    assert.ok(
      output.every((record) => typeof record.score === "number"),
      "records were enriched",
    );
    assert.ok(
      output.every((record) => record.partitionKey === record.key),
      "source partition key kept",
    );
    // Sink shards keep write order; per key, ids were produced in increasing order.
    const lastIdByKey = new Map<string, number>();
    for (const record of output) {
      const last = lastIdByKey.get(record.key) ?? -1;
      assert.ok(record.id > last, `key ${record.key}: id ${record.id} came after ${last}`);
      lastIdByKey.set(record.key, record.id);
    }
    assert.equal((await readAllRecords(emulator.client, streams.deadLetter)).length, 0);
    assert.ok(
      endpoint.stats.maxInFlight <= 40,
      `at most capacity in flight, saw ${endpoint.stats.maxInFlight}`,
    );
  });

  test("a restarted processor resumes after its checkpoint and re-reads nothing after a clean stop", async () => {
    const streams = await createStreams(emulator, 2);
    const store = createMemoryCheckpointStore();
    await produce(emulator, streams.source, jsonRecords(300));
    const first = runProcessor(
      emulator,
      streams,
      { endpoint: { url: endpoint.url }, capacity: 20 },
      { checkpointStore: store },
    );
    await waitForOutput(first, 300);
    await first.stop();
    assert.equal(store.checkpoints.size, 2, "one checkpoint per shard");

    await produce(emulator, streams.source, jsonRecords(200, 20, 300));
    const second = runProcessor(
      emulator,
      streams,
      { endpoint: { url: endpoint.url }, capacity: 20 },
      { checkpointStore: store },
    );
    await waitForOutput(second, 200);
    // Give the second processor time to show it does not re-read: its input count stays at 200.
    await waitFor(
      () => second.status().shards.every((shard) => shard.millisBehindLatest === 0),
      Boolean,
      {
        timeoutMs: 10_000,
        what: "both shards caught up",
      },
    );
    assert.equal(await metricValue(second.metrics.registry, "aej_records_in_total"), 200);
    await second.stop();

    const ids = (await readAllRecords(emulator.client, streams.sink)).map(
      (record) => decode(record.data).id,
    );
    assert.equal(ids.length, 500);
    assert.equal(new Set(ids).size, 500, "no duplicates across a clean restart");
  });

  test("after a shard split, the children are read only after the parent is finished, and nothing is lost", async () => {
    const streams = await createStreams(emulator, 1);
    const store = createMemoryCheckpointStore();
    await produce(emulator, streams.source, jsonRecords(300));
    const processor = runProcessor(
      emulator,
      streams,
      {
        endpoint: { url: endpoint.url },
        capacity: 20,
      },
      { checkpointStore: store },
    );
    await waitForOutput(processor, 300);
    await splitShard(emulator, streams.source);
    await produce(emulator, streams.source, jsonRecords(300, 20, 300));
    await waitForOutput(processor, 600);
    const status = processor.status();
    await processor.stop();

    assert.equal(
      store.checkpoints.get("shardId-000000000000"),
      SHARD_END,
      "parent checkpointed at SHARD_END",
    );
    const children = status.shards.filter((shard) => shard.shardId !== "shardId-000000000000");
    assert.equal(children.length, 2, `both children read: ${JSON.stringify(status.shards)}`);
    const ids = (await readAllRecords(emulator.client, streams.sink)).map(
      (record) => decode(record.data).id,
    );
    assert.deepEqual(
      [...new Set(ids)].sort((a, b) => a - b),
      Array.from({ length: 600 }, (_, index) => index),
    );
  });
});
