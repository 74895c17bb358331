// The data path's promises against the real Kinesis emulator: LATEST skips nothing that arrives
// after the job's start (across a split, a restart of a shard without a checkpoint), and a record
// stuck ahead of the checkpoint bounds what a shard holds instead of letting it grow with the
// backlog, and loses nothing once it moves.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { GetRecordsCommand } from "@aws-sdk/client-kinesis";
import { readAllRecords } from "../../demo/stream-tools.ts";
import { createMemoryCheckpointStore } from "../../processor/checkpoint/store.ts";
import { metricValue } from "../support/metric-value.ts";
import { startScriptedEndpoint } from "../support/scripted-endpoint.ts";
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

const idOf = (data: Uint8Array): number =>
  (JSON.parse(Buffer.from(data).toString()) as { id: number }).id;
const sortedIds = (records: { data: Uint8Array }[]): number[] =>
  [...new Set(records.map((record) => idOf(record.data)))].sort((a, b) => a - b);
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from }, (_, index) => from + index);

describe("data path against the Kinesis emulator", () => {
  let emulator: KinesisEmulator;
  let endpoint: Awaited<ReturnType<typeof startScriptedEndpoint>>;

  before(async () => {
    emulator = await startKinesisEmulator();
    endpoint = await startScriptedEndpoint(() => ({}));
  });
  after(async () => {
    await endpoint.close();
    await emulator.stop();
  });

  test("LATEST reads every record that arrives after the start, the children of a split included, and none from before", async () => {
    const streams = await createStreams(emulator, 1);
    await produce(emulator, streams.source, jsonRecords(50, 20, 10_000));
    await sleep(50);
    const processor = runProcessor(emulator, streams, {
      endpoint: { url: endpoint.url },
      source: {
        stream: streams.source,
        startPosition: { type: "LATEST" },
        idleTimeBetweenReadsMs: 200,
        shardDiscoveryIntervalMs: 1_000,
      },
    });
    await waitFor(
      () => Promise.resolve(processor.status().shards.length),
      (reading) => reading === 1,
      { timeoutMs: 10_000, what: "the shard being read" },
    );
    await produce(emulator, streams.source, jsonRecords(100));
    await waitForOutput(processor, 100);
    await splitShard(emulator, streams.source);
    // Written at once, before the children are listed and read.
    await produce(emulator, streams.source, jsonRecords(200, 20, 100));
    await waitForOutput(processor, 300);
    await waitFor(
      () => Promise.resolve(processor.status().shards.map((shard) => shard.shardId)),
      (reading) => !reading.includes("shardId-000000000000"),
      { timeoutMs: 10_000, what: "the finished parent gone from the processor's shards" },
    );
    const lag = await processor.metrics.registry.getSingleMetricAsString(
      "aej_millis_behind_latest",
    );
    assert.doesNotMatch(lag, /shardId-000000000000/, "the parent's lag gauge removed");
    await processor.stop();
    assert.deepEqual(sortedIds(await readAllRecords(emulator.client, streams.sink)), range(0, 300));
  });

  test("LATEST with a read error before the first record retries the same iterator and skips nothing written meanwhile", async () => {
    const streams = await createStreams(emulator, 1);
    let failed = false;
    // The real emulator, with one GetRecords failing after records arrived behind the iterator.
    const client = new Proxy(emulator.client, {
      get(target, property, receiver) {
        if (property !== "send") return Reflect.get(target, property, receiver) as unknown;
        return async (command: unknown, options?: unknown) => {
          if (!failed && command instanceof GetRecordsCommand) {
            failed = true;
            await produce(emulator, streams.source, jsonRecords(50));
            throw Object.assign(new Error("socket hang up"), { name: "TimeoutError" });
          }
          return (target.send as (command: unknown, options?: unknown) => Promise<unknown>)(
            command,
            options,
          );
        };
      },
    });
    const processor = runProcessor({ ...emulator, client }, streams, {
      endpoint: { url: endpoint.url },
      source: {
        stream: streams.source,
        startPosition: { type: "LATEST" },
        idleTimeBetweenReadsMs: 200,
        shardDiscoveryIntervalMs: 1_000,
      },
    });
    await waitForOutput(processor, 50);
    await processor.stop();
    assert.equal(failed, true);
    assert.deepEqual(sortedIds(await readAllRecords(emulator.client, streams.sink)), range(0, 50));
  });

  test("a LATEST shard without a checkpoint, restarted, resumes from the job's start and skips nothing", async () => {
    const streams = await createStreams(emulator, 1);
    const latestFrom = new Date().toISOString();
    const store = createMemoryCheckpointStore();
    const config = {
      endpoint: { url: endpoint.url },
      source: {
        stream: streams.source,
        startPosition: { type: "LATEST" as const },
        latestFrom,
        idleTimeBetweenReadsMs: 200,
        shardDiscoveryIntervalMs: 1_000,
      },
    };
    const first = runProcessor(emulator, streams, config, { checkpointStore: store });
    await waitFor(
      () => Promise.resolve(first.status().shards.length),
      (reading) => reading === 1,
      { timeoutMs: 10_000, what: "the shard being read" },
    );
    await first.stop();
    assert.equal(store.checkpoints.size, 0, "nothing read, so no checkpoint");
    await produce(emulator, streams.source, jsonRecords(100));
    const second = runProcessor(emulator, streams, config, { checkpointStore: store });
    await waitForOutput(second, 100);
    await second.stop();
    assert.deepEqual(sortedIds(await readAllRecords(emulator.client, streams.sink)), range(0, 100));
  });

  test("a stop past its grace period abandons calls still running instead of waiting out their deadline", async () => {
    const hanging = await startScriptedEndpoint(() => ({ hang: true }));
    const streams = await createStreams(emulator, 1);
    await produce(emulator, streams.source, jsonRecords(5));
    const processor = runProcessor(emulator, streams, {
      endpoint: {
        url: hanging.url,
        timeoutMs: 20_000,
        deadlineMs: 20_000,
        outage: { policy: "failurePolicy" },
      },
      shutdownGraceMs: 300,
    });
    await waitFor(
      () => Promise.resolve(hanging.requests.length),
      (calls) => calls >= 5,
      { timeoutMs: 10_000, what: "the calls running" },
    );
    const stopping = performance.now();
    await processor.stop();
    const took = performance.now() - stopping;
    await hanging.close();
    assert.ok(took < 3_000, `stopped in ${took.toFixed(0)} ms, not after the 20 s deadline`);
    assert.deepEqual(await readAllRecords(emulator.client, streams.sink), []);
    assert.deepEqual(await readAllRecords(emulator.client, streams.deadLetter), []);
  });

  test("a dead-letter stream refusing writes holds a shard at maxPendingRecordsPerShard, not the backlog, and loses nothing once it exists", async () => {
    // Every tenth record fails (no retries) and goes to a dead-letter stream that does not exist.
    const failing = await startScriptedEndpoint((request) =>
      idOf(Buffer.from(request.body)) % 10 === 5 ? { status: 400, body: "refused" } : {},
    );
    const streams = await createStreams(emulator, 1);
    const missingDeadLetter = `${streams.deadLetter}-late`;
    const total = 3_000;
    const bound = 300;
    await produce(emulator, streams.source, jsonRecords(total));
    const processor = runProcessor(
      emulator,
      { ...streams, deadLetter: missingDeadLetter },
      {
        endpoint: { url: failing.url, retry: { maxAttempts: 1 } },
        capacity: 20,
        maxPendingRecordsPerShard: bound,
        ordering: "unordered",
        source: {
          stream: streams.source,
          maxRecordsPerFetch: 100,
          idleTimeBetweenReadsMs: 200,
          shardDiscoveryIntervalMs: 1_000,
        },
      },
    );
    const pending = () => processor.status().shards[0]?.pending ?? 0;
    await waitFor(
      () => Promise.resolve(pending()),
      (held) => held >= bound,
      {
        timeoutMs: 20_000,
        what: `${bound} records pending behind the stuck dead letter`,
      },
    );
    const readAtBound = await metricValue(processor.metrics.registry, "aej_records_in_total");
    let most = 0;
    for (let sample = 0; sample < 20; sample++) {
      most = Math.max(most, pending());
      await sleep(50);
    }
    const readLater = await metricValue(processor.metrics.registry, "aej_records_in_total");
    assert.equal(most, bound, "pending never passes the bound");
    assert.equal(readLater, readAtBound, "reading paused");
    assert.ok(readLater <= bound + 100, `at most the bound plus one fetch read, read ${readLater}`);

    await emulator.createStream(missingDeadLetter, 1);
    await waitForOutput(processor, total, 60_000);
    await processor.stop();
    await failing.close();
    const written = [
      ...(await readAllRecords(emulator.client, streams.sink)).map((record) => idOf(record.data)),
      ...(await readAllRecords(emulator.client, missingDeadLetter)).map((record) => {
        const letter = JSON.parse(Buffer.from(record.data).toString()) as { data: string };
        return idOf(Buffer.from(letter.data, "base64"));
      }),
    ];
    assert.deepEqual(
      [...new Set(written)].sort((a, b) => a - b),
      range(0, total),
    );
  });
});
