// An endpoint misbehaving below HTTP: answers cut mid-body, headers that never finish, bytes that
// are not HTTP, an answer of 100 MB. A record whose attempt meets one is retried or dead-lettered
// with its reason; none is lost and the processor never reads more than maxResponseBytes.
import assert from "node:assert/strict";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { readAllRecords } from "../../demo/stream-tools.ts";
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

type Misbehaviour = "cut mid-body" | "headers never finish" | "not HTTP" | "100 MB answer";

const phrase: Record<Misbehaviour, string> = {
  "cut mid-body": "an answer cut mid-body",
  "headers never finish": "headers that never finish",
  "not HTTP": "an answer that is not HTTP",
  "100 MB answer": "an answer of 100 MB",
};

const hundredMegabytes = 100 * 1024 * 1024;

/** Writes a 100 MB answer as fast as the client reads it; resolves with the bytes it got out. */
function answerHugely(response: ServerResponse): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, "x");
  let sent = 0;
  response.writeHead(200, { "content-length": hundredMegabytes });
  return new Promise((resolve) => {
    const more = (): void => {
      while (sent < hundredMegabytes && !response.destroyed) {
        sent += chunk.length;
        if (!response.write(chunk)) {
          response.once("drain", more);
          return;
        }
      }
      response.end();
    };
    response.once("close", () => {
      resolve(sent);
    });
    more();
  });
}

/** A real HTTP server whose first answer to every third record misbehaves, then answers well. */
async function startMisbehavingEndpoint(misbehaviour: Misbehaviour) {
  const seen = new Map<number, number>();
  const hugeAnswers: Promise<number>[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      const { id } = JSON.parse(body) as { id: number };
      const attempt = (seen.get(id) ?? 0) + 1;
      seen.set(id, attempt);
      if (misbehaviour === "100 MB answer" && id % 50 === 7) {
        hugeAnswers.push(answerHugely(response));
        return;
      }
      if (id % 3 !== 0 || attempt > 1 || misbehaviour === "100 MB answer") {
        response.writeHead(200, { "content-type": "application/json" }).end(body);
        return;
      }
      const socket = response.socket;
      if (socket === null) return;
      if (misbehaviour === "cut mid-body") {
        response.writeHead(200, { "content-type": "application/json", "content-length": 1_000 });
        response.write(body);
        setImmediate(() => socket.destroy());
      } else if (misbehaviour === "headers never finish") {
        socket.write("HTTP/1.1 200 OK\r\nContent-Ty");
      } else {
        socket.end("HELLO THERE\r\n\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    hugeAnswers,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe("an endpoint misbehaving below HTTP", () => {
  let emulator: KinesisEmulator;

  before(async () => {
    emulator = await startKinesisEmulator();
  });
  after(async () => {
    await emulator.stop();
  });

  for (const misbehaviour of ["cut mid-body", "headers never finish", "not HTTP"] as const) {
    test(`${phrase[misbehaviour]}: the attempt fails, the retry succeeds, every record once`, async () => {
      const endpoint = await startMisbehavingEndpoint(misbehaviour);
      const streams = await createStreams(emulator, 2);
      await produce(emulator, streams.source, jsonRecords(300));
      const processor = runProcessor(emulator, streams, {
        endpoint: {
          url: endpoint.url,
          timeoutMs: 500,
          retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 50 },
        },
        capacity: 20,
      });
      await waitForOutput(processor, 300);
      await processor.stop();
      await endpoint.close();

      const sunk = (await readAllRecords(emulator.client, streams.sink)).map(
        (record) => (JSON.parse(Buffer.from(record.data).toString()) as { id: number }).id,
      );
      assert.deepEqual(
        sunk.sort((a, b) => a - b),
        Array.from({ length: 300 }, (_, index) => index),
      );
      assert.equal((await readAllRecords(emulator.client, streams.deadLetter)).length, 0);
      assert.ok(
        (await metricValue(processor.metrics.registry, "aej_request_retries_total")) >= 100,
        "each misbehaving first attempt was retried",
      );
    });
  }

  test("an answer of 100 MB: the record goes to the dead letter as too large after at most maxResponseBytes is read; the rest pass", async (t) => {
    const endpoint = await startMisbehavingEndpoint("100 MB answer");
    const streams = await createStreams(emulator, 2);
    await produce(emulator, streams.source, jsonRecords(300));
    const rssBefore = process.memoryUsage().rss;
    const processor = runProcessor(emulator, streams, {
      endpoint: { url: endpoint.url, maxResponseBytes: 64 * 1024 },
      capacity: 20,
    });
    await waitForOutput(processor, 300);
    await processor.stop();
    const sentPerAnswer = await Promise.all(endpoint.hugeAnswers);
    await endpoint.close();

    const rssGrowth = process.memoryUsage().rss - rssBefore;
    t.diagnostic(
      `bytes out per 100 MB answer: ${sentPerAnswer.join(", ")}; RSS growth ${rssGrowth}`,
    );
    const dead = (await readAllRecords(emulator.client, streams.deadLetter)).map(
      (record) =>
        JSON.parse(Buffer.from(record.data).toString()) as { errorKind: string; error: string },
    );
    assert.equal(dead.length, 6, "ids 7, 57, ..., 257");
    assert.ok(dead.every((letter) => letter.errorKind === "too-large"));
    assert.match(dead[0]?.error ?? "", /exceeds maxResponseBytes \(65536 bytes\)/);
    assert.equal((await readAllRecords(emulator.client, streams.sink)).length, 294);
    // The server stops at the first write the closed connection refuses: socket buffers, not 100 MB.
    assert.ok(
      sentPerAnswer.every((sent) => sent < 16 * 1024 * 1024),
      `bytes the server got out per 100 MB answer: ${sentPerAnswer.join(", ")}`,
    );
    assert.ok(rssGrowth < 100 * 1024 * 1024, "the answers were never held in memory");
  });
});
