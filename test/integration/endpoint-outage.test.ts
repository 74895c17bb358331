// An endpoint outage under load, against the real Kinesis emulator and a real HTTP server that
// stops listening (connections refused) and comes back on the same port. With outage policy
// pause, the job waits it out: no record goes to the dead-letter stream for it and none is lost.
// With policy failurePolicy, the same outage fills the dead-letter stream (today's behaviour).
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { after, afterEach, before, describe, test } from "node:test";
import { readAllRecords } from "../../demo/stream-tools.ts";
import { metricValue } from "../support/metric-value.ts";
import { startRestartableEndpoint } from "../support/restartable-endpoint.ts";
import {
  createStreams,
  jsonRecords,
  produce,
  runProcessor,
  startKinesisEmulator,
  waitForOutput,
  type KinesisEmulator,
} from "../support/test-bed.ts";
import { waitFor } from "../support/wait-for.ts";

const idOf = (data: Uint8Array): number =>
  (JSON.parse(Buffer.from(data).toString()) as { id: number }).id;

describe("endpoint outage against the Kinesis emulator", () => {
  let emulator: KinesisEmulator;
  /** Stops what a test started, also when it failed half-way. */
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    emulator = await startKinesisEmulator();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  after(async () => {
    await emulator.stop();
  });

  const endpointConfig = (url: string, policy: "pause" | "failurePolicy") => ({
    url,
    timeoutMs: 500,
    deadlineMs: 2_000,
    retry: { maxAttempts: 3, initialBackoffMs: 50, maxBackoffMs: 200 },
    outage: { policy, probeIntervalMs: 300, maxProbeIntervalMs: 1_000 },
  });

  test("with policy pause, an endpoint down for 8 s under load sends nothing to the dead letter, loses nothing, and the job catches up", async () => {
    const endpoint = await startRestartableEndpoint(10);
    const streams = await createStreams(emulator, 2);
    const total = 3_000;
    await produce(emulator, streams.source, jsonRecords(total));
    const processor = runProcessor(emulator, streams, {
      endpoint: endpointConfig(endpoint.url, "pause"),
      capacity: 10,
    });
    cleanups.push(endpoint.down, () => processor.stop());
    await waitForOutput(processor, 300);
    await endpoint.down();
    await waitFor(
      () => Promise.resolve(processor.status().endpoint.state),
      (state) => state !== "closed",
      { timeoutMs: 5_000, what: "calls paused" },
    );
    // What the sink still held when calls stopped lands within its linger; nothing after that.
    await sleep(1_000);
    const writtenWhileDown = await metricValue(
      processor.metrics.registry,
      "aej_sink_records_written_total",
    );
    await sleep(7_000);
    assert.equal(
      await metricValue(processor.metrics.registry, "aej_sink_records_written_total"),
      writtenWhileDown,
      "nothing written while the endpoint is down: the records wait",
    );
    assert.equal(await metricValue(processor.metrics.registry, "aej_endpoint_paused"), 1);
    await endpoint.up();
    await waitForOutput(processor, total, 60_000);
    await processor.stop();

    assert.equal(await metricValue(processor.metrics.registry, "aej_endpoint_paused"), 0);
    assert.ok((await metricValue(processor.metrics.registry, "aej_endpoint_outages_total")) >= 1);
    assert.deepEqual(await readAllRecords(emulator.client, streams.deadLetter), []);
    const ids = new Set(
      (await readAllRecords(emulator.client, streams.sink)).map((record) => idOf(record.data)),
    );
    assert.equal(ids.size, total, "every record reached the sink");
  });

  test("with policy failurePolicy, the same kind of outage sends records to the dead letter", async () => {
    const endpoint = await startRestartableEndpoint(10);
    const streams = await createStreams(emulator, 1);
    await produce(emulator, streams.source, jsonRecords(1_000));
    const processor = runProcessor(emulator, streams, {
      endpoint: endpointConfig(endpoint.url, "failurePolicy"),
      capacity: 10,
    });
    cleanups.push(endpoint.down, () => processor.stop());
    await waitForOutput(processor, 100);
    await endpoint.down();
    await waitFor(
      () => metricValue(processor.metrics.registry, "aej_records_failed_total"),
      (failed) => failed >= 20,
      { timeoutMs: 15_000, what: "records failing to the dead letter" },
    );
    await endpoint.up();
    await waitForOutput(processor, 1_000, 60_000);
    await processor.stop();
    assert.ok((await readAllRecords(emulator.client, streams.deadLetter)).length >= 20);
  });
});
