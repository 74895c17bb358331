// Every way a record can fail ends in the sink, the dead-letter stream, or a counted drop: never lost.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { readAllRecords } from "../../demo/stream-tools.ts";
import { createMemoryCheckpointStore } from "../../processor/checkpoint/store.ts";
import { metricValue } from "../support/metric-value.ts";
import { startScriptedEndpoint } from "../support/scripted-endpoint.ts";
import {
  createStreams,
  jsonRecords,
  memoryLogger,
  produce,
  runProcessor,
  startKinesisEmulator,
  waitForOutput,
  type KinesisEmulator,
} from "../support/test-bed.ts";
import { waitFor } from "../support/wait-for.ts";

interface DeadLetter {
  error: string;
  errorKind: string;
  attempts: number;
  status?: number;
  data?: string;
  source: { shardId: string; sequenceNumber: string; partitionKey: string };
}

const idOf = (body: string): number => (JSON.parse(body) as { id: number }).id;
const parse = <T>(data: Uint8Array): T => JSON.parse(Buffer.from(data).toString()) as T; // eslint-disable-line @typescript-eslint/no-unnecessary-type-parameters -- callers name the shape they expect

describe("failures against the Kinesis emulator", () => {
  let emulator: KinesisEmulator;

  before(async () => {
    emulator = await startKinesisEmulator();
  });
  after(async () => {
    await emulator.stop();
  });

  test("with an endpoint that times out and fails a share of calls, every record is in the sink or the dead letter", async () => {
    const endpoint = await startScriptedEndpoint(({ body, seen }) => {
      const id = idOf(body);
      if (id % 10 === 0) return { status: 500, body: "boom" };
      if (id % 10 === 1) return { hang: true };
      if (id % 10 === 2 && seen === 1) return { status: 503, headers: { "retry-after": "0" } };
      return { delayMs: id % 3 };
    });
    const streams = await createStreams(emulator, 3);
    await produce(emulator, streams.source, jsonRecords(600));
    const processor = runProcessor(emulator, streams, {
      endpoint: {
        url: endpoint.url,
        timeoutMs: 300,
        deadlineMs: 2_000,
        retry: { maxAttempts: 3, initialBackoffMs: 5, maxBackoffMs: 20 },
        // At the end of the stream only failing records are left, which pause would take for an
        // outage and wait out; this test is about where failures go.
        outage: { policy: "failurePolicy" },
      },
      capacity: 60,
    });
    await waitForOutput(processor, 600);
    await processor.stop();
    await endpoint.close();

    const sunk = (await readAllRecords(emulator.client, streams.sink)).map((record) =>
      idOf(Buffer.from(record.data).toString()),
    );
    const dead = (await readAllRecords(emulator.client, streams.deadLetter)).map((record) =>
      parse<DeadLetter>(record.data),
    );
    const deadIds = dead.map((letter) => idOf(Buffer.from(letter.data ?? "", "base64").toString()));
    assert.equal(sunk.length + dead.length, 600, "every record once, in one place or the other");
    assert.deepEqual(
      [...sunk, ...deadIds].sort((a, b) => a - b),
      Array.from({ length: 600 }, (_, index) => index),
    );
    assert.ok(
      deadIds.every((id) => id % 10 === 0 || id % 10 === 1),
      "only the failing records are dead letters",
    );
    assert.equal(dead.length, 120);
    for (const letter of dead) {
      const id = idOf(Buffer.from(letter.data ?? "", "base64").toString());
      if (id % 10 === 0) {
        assert.equal(letter.errorKind, "status");
        assert.equal(letter.status, 500);
        assert.equal(letter.attempts, 3);
      } else {
        assert.equal(letter.errorKind, "timeout");
        assert.match(letter.error, /no answer within 300 ms/);
      }
      assert.match(letter.source.sequenceNumber, /^\d+$/);
    }
    // Every attempt at a hanging record times out; on a loaded machine a slow answer may too.
    assert.ok(
      (await metricValue(processor.metrics.registry, "aej_request_timeouts_total")) >= 60 * 3,
    );
    assert.ok(
      (await metricValue(processor.metrics.registry, "aej_request_retries_total")) >=
        60 * 2 * 2 + 60,
    );
  });

  test("bad input goes to the dead letter with its reason: non-JSON in merge mode, endpoint 4xx, oversized response", async () => {
    const endpoint = await startScriptedEndpoint(({ body }) => {
      const id = idOf(body);
      if (id % 5 === 1) return { status: 404, body: "no such customer" };
      if (id % 5 === 2) return { body: JSON.stringify({ padding: "x".repeat(4_000) }) };
      return { body: JSON.stringify({ tier: id % 2 === 0 ? "gold" : "silver" }) };
    });
    const streams = await createStreams(emulator, 2);
    const good = jsonRecords(100);
    const notJson = Array.from({ length: 10 }, (_, index) => ({
      data: Buffer.from(`plain text ${index}`),
      partitionKey: "p",
    }));
    await produce(emulator, streams.source, [...good, ...notJson]);
    const processor = runProcessor(emulator, streams, {
      endpoint: {
        url: endpoint.url,
        maxResponseBytes: 1_024,
        response: { mode: "merge", field: "customer" },
      },
      capacity: 10,
    });
    await waitForOutput(processor, 110);
    await processor.stop();
    await endpoint.close();

    const sunk = (await readAllRecords(emulator.client, streams.sink)).map((record) =>
      parse<{ id: number; customer: { tier: string } }>(record.data),
    );
    assert.equal(sunk.length, 60);
    assert.ok(
      sunk.every((record) => record.customer.tier === (record.id % 2 === 0 ? "gold" : "silver")),
      "merged under customer",
    );
    const dead = (await readAllRecords(emulator.client, streams.deadLetter)).map((record) =>
      parse<DeadLetter>(record.data),
    );
    const byKind = Map.groupBy(dead, (letter) => letter.errorKind);
    assert.equal(byKind.get("mapping")?.length, 10, "non-JSON records");
    assert.match(byKind.get("mapping")?.[0]?.error ?? "", /not a JSON object/);
    assert.equal(byKind.get("mapping")?.[0]?.attempts, 0, "never sent to the endpoint");
    assert.equal(byKind.get("status")?.length, 20, "404s");
    assert.ok(
      byKind.get("status")?.every((letter) => letter.attempts === 1 && letter.status === 404),
      "4xx is not retried",
    );
    assert.match(byKind.get("status")?.[0]?.error ?? "", /HTTP 404: no such customer/);
    assert.equal(byKind.get("too-large")?.length, 20, "oversized responses");
    assert.match(byKind.get("too-large")?.[0]?.error ?? "", /maxResponseBytes \(1024 bytes\)/);
    const notFoundCalls = endpoint.requests.filter(
      (request) => !request.body.startsWith("plain") && idOf(request.body) % 5 === 1,
    );
    assert.equal(notFoundCalls.length, 20, "one call per 404 record");
  });

  test("the drop policy acknowledges failed records, counts them and logs each one", async () => {
    const endpoint = await startScriptedEndpoint(({ body }) =>
      idOf(body) % 4 === 0 ? { status: 400, body: "bad" } : {},
    );
    const streams = await createStreams(emulator, 1);
    const store = createMemoryCheckpointStore();
    await produce(emulator, streams.source, jsonRecords(200));
    const { logger, lines } = memoryLogger();
    const processor = runProcessor(
      emulator,
      streams,
      { endpoint: { url: endpoint.url }, failurePolicy: "drop", deadLetter: undefined },
      { checkpointStore: store, logger },
    );
    await waitForOutput(processor, 150);
    await waitFor(
      () =>
        metricValue(processor.metrics.registry, "aej_records_failed_total", { outcome: "dropped" }),
      (dropped) => dropped === 50,
      {
        timeoutMs: 10_000,
        what: "50 drops",
      },
    );
    await processor.stop();
    await endpoint.close();
    const source = await readAllRecords(emulator.client, streams.source);
    assert.equal(
      store.checkpoints.get("shardId-000000000000"),
      source.at(-1)?.sequenceNumber,
      "checkpoint past the dropped records",
    );
    const drops = lines.filter((line) => line.msg === "record dropped by failure policy");
    assert.equal(drops.length, 50);
    assert.match(String(drops[0]?.reason), /HTTP 400/);
    assert.equal((await readAllRecords(emulator.client, streams.sink)).length, 150);
  });

  test("the fail policy stops the processor with exit code 1 and never checkpoints past the failed record", async () => {
    const endpoint = await startScriptedEndpoint(({ body }) =>
      idOf(body) === 120 ? { status: 422, body: "unprocessable" } : {},
    );
    const streams = await createStreams(emulator, 1);
    const store = createMemoryCheckpointStore();
    await produce(emulator, streams.source, jsonRecords(300));
    const processor = runProcessor(
      emulator,
      streams,
      {
        endpoint: { url: endpoint.url },
        failurePolicy: "fail",
        deadLetter: undefined,
        capacity: 5,
      },
      { checkpointStore: store },
    );
    const result = await processor.done;
    await endpoint.close();
    assert.equal(result.exitCode, 1);
    assert.match(result.reason ?? "", /failurePolicy is fail: HTTP 422/);
    const source = await readAllRecords(emulator.client, streams.source);
    const failedSequence = BigInt(source[120]?.sequenceNumber ?? "0");
    const checkpoint = store.checkpoints.get("shardId-000000000000");
    assert.ok(
      checkpoint === undefined || BigInt(checkpoint) < failedSequence,
      `checkpoint ${checkpoint ?? "none"} is before the failed record`,
    );
  });

  test("a sink stream that does not exist yet slows the job down but loses no record", async () => {
    const endpoint = await startScriptedEndpoint(() => ({}));
    const streams = await createStreams(emulator, 1);
    const missingSink = `${streams.sink}-late`;
    await produce(emulator, streams.source, jsonRecords(100));
    const processor = runProcessor(
      emulator,
      { ...streams, sink: missingSink },
      { endpoint: { url: endpoint.url } },
    );
    await waitFor(
      () => metricValue(processor.metrics.registry, "aej_sink_failed_entries_total"),
      (failed) => failed > 0,
      { timeoutMs: 10_000, what: "PutRecords failing against the missing stream" },
    );
    assert.equal(
      await metricValue(processor.metrics.registry, "aej_sink_records_written_total"),
      0,
    );
    await emulator.createStream(missingSink, 1);
    await waitForOutput(processor, 100);
    await processor.stop();
    await endpoint.close();
    const ids = (await readAllRecords(emulator.client, missingSink)).map((record) =>
      idOf(Buffer.from(record.data).toString()),
    );
    assert.deepEqual(
      ids,
      Array.from({ length: 100 }, (_, index) => index),
    );
  });
});
