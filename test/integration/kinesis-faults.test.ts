// Kinesis misbehaving between the processor and the emulator, in the service's own error shapes:
// throttled and expired reads, partial and reset writes. Nothing may be lost, nothing may go to
// the dead letter for it, and duplicates come only from writes the service did but never answered.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { startDemoEndpoint, type DemoEndpoint } from "../../demo/endpoint.ts";
import { emulatorCredentials, emulatorRegion } from "../../demo/kinesis-emulator.ts";
import { readAllRecords } from "../../demo/stream-tools.ts";
import { createKinesisClient } from "../../processor/kinesis/client.ts";
import {
  startKinesisFaultProxy,
  type KinesisCall,
  type KinesisFault,
} from "../support/kinesis-fault-proxy.ts";
import { metricValue } from "../support/metric-value.ts";
import {
  createStreams,
  jsonRecords,
  produce,
  runProcessor,
  startKinesisEmulator,
  waitForOutput,
  type KinesisEmulator,
} from "../support/test-bed.ts";

const idOf = (data: Uint8Array): number =>
  (JSON.parse(Buffer.from(data).toString()) as { id: number }).id;

const countsOf = (ids: readonly number[]): Map<number, number> => {
  const counts = new Map<number, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
};

describe("Kinesis faults between the processor and the emulator", () => {
  let emulator: KinesisEmulator;
  let endpoint: DemoEndpoint;
  const clients: KinesisClient[] = [];

  /** The processor's client, through a proxy injecting `plan`'s faults. */
  const throughProxy = async (plan: (call: KinesisCall) => KinesisFault | undefined) => {
    const proxy = await startKinesisFaultProxy(emulator.endpoint, plan);
    const client = createKinesisClient({
      region: emulatorRegion,
      endpoint: proxy.endpoint,
      credentials: emulatorCredentials,
    });
    clients.push(client);
    return { proxy, client };
  };

  before(async () => {
    emulator = await startKinesisEmulator();
    endpoint = await startDemoEndpoint({ latencyMs: 2, jitterMs: 3 });
  });
  after(async () => {
    for (const client of clients) client.destroy();
    await endpoint.close();
    await emulator.stop();
  });

  test("reads throttled, iterators expired and connections reset: every record once, none dead-lettered", async () => {
    const streams = await createStreams(emulator, 3);
    await produce(emulator, streams.source, jsonRecords(450));
    const readFaults: (KinesisFault | undefined)[] = [
      undefined,
      { error: "ProvisionedThroughputExceededException" },
      { error: "ExpiredIteratorException" },
      { reset: "before" },
      undefined,
    ];
    const { proxy, client } = await throughProxy(({ operation, index }) =>
      operation === "GetRecords" ? readFaults[index % readFaults.length] : undefined,
    );
    const processor = runProcessor(
      emulator,
      streams,
      { endpoint: { url: `${endpoint.url}/enrich` }, capacity: 20, ordering: "ordered" },
      { kinesis: client },
    );
    await waitForOutput(processor, 450, 60_000);
    await produce(emulator, streams.source, jsonRecords(450, 20, 450));
    await waitForOutput(processor, 900, 60_000);
    await processor.stop();
    await proxy.close();

    const kinds = new Set(proxy.injected.map(({ fault }) => JSON.stringify(fault)));
    assert.equal(kinds.size, 3, `every kind of read fault was injected: ${[...kinds].join(", ")}`);
    const sunk = (await readAllRecords(emulator.client, streams.sink)).map((record) =>
      idOf(record.data),
    );
    assert.deepEqual(
      [...sunk].sort((a, b) => a - b),
      Array.from({ length: 900 }, (_, index) => index),
      "every record exactly once: a read fault re-reads from where the reader was",
    );
    assert.equal((await readAllRecords(emulator.client, streams.deadLetter)).length, 0);
    const expired = proxy.injected.filter(
      ({ fault }) => "error" in fault && fault.error === "ExpiredIteratorException",
    ).length;
    assert.ok(
      (proxy.counts.get("GetShardIterator") ?? 0) >= 3 + expired,
      "each expired iterator was opened again, after the last record read",
    );
  });

  test("writes partly failed, throttled and reset: nothing lost or dead-lettered, order per key kept; duplicates only from writes done but never answered", async () => {
    const streams = await createStreams(emulator, 2);
    await produce(emulator, streams.source, jsonRecords(1_200));
    /** Entries of the PutRecords calls the service did but whose answer was cut. */
    let unanswered = 0;
    const { proxy, client } = await throughProxy(({ operation, index, body }) => {
      if (operation !== "PutRecords") return undefined;
      const entries = (body.Records as unknown[]).length;
      if (index % 3 === 1) {
        return {
          failEntries: Array.from({ length: entries }, (_, entry) => entry).filter(
            (entry) => entry % 3 === 0,
          ),
        };
      }
      if (index % 5 === 2) return { error: "ProvisionedThroughputExceededException" };
      if (index % 7 === 4) return { reset: "before" };
      if (index % 11 === 6) {
        unanswered += entries;
        return { reset: "after" };
      }
      return undefined;
    });
    const processor = runProcessor(
      emulator,
      streams,
      {
        endpoint: { url: `${endpoint.url}/enrich` },
        capacity: 20,
        ordering: "ordered",
        sink: { stream: streams.sink, maxBatchRecords: 50, lingerMs: 20 },
      },
      { kinesis: client },
    );
    await waitForOutput(processor, 1_200, 90_000);
    await processor.stop();
    await proxy.close();

    const kinds = new Set(proxy.injected.map(({ fault }) => Object.keys(fault)[0]));
    assert.deepEqual([...kinds].sort(), ["error", "failEntries", "reset"]);
    const sunk = (await readAllRecords(emulator.client, streams.sink)).map((record) => ({
      id: idOf(record.data),
      key: record.partitionKey,
    }));
    const counts = countsOf(sunk.map((record) => record.id));
    assert.deepEqual(
      [...counts.keys()].sort((a, b) => a - b),
      Array.from({ length: 1_200 }, (_, index) => index),
      "every record reached the sink",
    );
    const firstSeen = sunk.filter(
      (record, index) => sunk.findIndex((other) => other.id === record.id) === index,
    );
    for (const key of new Set(firstSeen.map((record) => record.key))) {
      const ids = firstSeen.filter((record) => record.key === key).map((record) => record.id);
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => a - b),
        `order of key ${key}`,
      );
    }
    const duplicates = [...counts.values()].reduce((sum, count) => sum + count - 1, 0);
    assert.ok(
      duplicates <= unanswered,
      `${duplicates} duplicates, at most the ${unanswered} entries written but not answered`,
    );
    assert.equal((await readAllRecords(emulator.client, streams.deadLetter)).length, 0);
    assert.ok((await metricValue(processor.metrics.registry, "aej_sink_failed_entries_total")) > 0);
  });
});
