// The real processor against the Kinesis emulator and a real mutual-TLS endpoint whose CA the
// test makes. A processor given the wrong CA pauses (outage policy pause) with a reason that says
// to set endpoint.tls.ca, in its status and its log, and sends nothing to the dead letter; once
// the mounted CA file is replaced (as the kubelet replaces a Secret), it resumes without a
// restart and every record reaches the sink.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readAllRecords } from "../../demo/stream-tools.ts";
import { writeVolume } from "../support/kubelet-volume.ts";
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
import { createTestCa } from "../support/test-pki.ts";
import { waitFor } from "../support/wait-for.ts";
import { temporaryDirectory } from "../support/temporary-directory.ts";

describe("endpoint over mutual TLS against the Kinesis emulator", () => {
  let emulator: KinesisEmulator;
  let server: Server;
  let url: string;
  const directory = temporaryDirectory("aej-mtls-");
  const serverCa = createTestCa("endpoint-ca");
  const clientCa = createTestCa("processor-client-ca");
  const wrongCa = createTestCa("some-other-ca");

  before(async () => {
    emulator = await startKinesisEmulator();
    server = createServer(
      {
        ...serverCa.server(["DNS:scoring.internal"]),
        ca: clientCa.cert,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (request, response) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", () => {
          response.end(Buffer.concat(chunks));
        });
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}/enrich`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await emulator.stop();
  });

  test("with the wrong CA the job pauses, saying to set endpoint.tls.ca; the right CA mounted in place resumes it without a restart", async () => {
    const client = clientCa.client("processor");
    const caDirectory = join(directory, "ca");
    const clientDirectory = join(directory, "client");
    writeVolume(caDirectory, { "ca.crt": wrongCa.cert });
    writeVolume(clientDirectory, { "tls.crt": client.cert, "tls.key": client.key });
    const streams = await createStreams(emulator, 1);
    const total = 500;
    await produce(emulator, streams.source, jsonRecords(total));
    const { logger, lines } = memoryLogger();
    const processor = runProcessor(
      emulator,
      streams,
      {
        endpoint: {
          url,
          timeoutMs: 1_000,
          retry: { maxAttempts: 2, initialBackoffMs: 10, maxBackoffMs: 50 },
          outage: { probeIntervalMs: 200, maxProbeIntervalMs: 500 },
          tls: {
            caFile: join(caDirectory, "ca.crt"),
            certFile: join(clientDirectory, "tls.crt"),
            keyFile: join(clientDirectory, "tls.key"),
            serverName: "scoring.internal",
            reloadIntervalMs: 200,
          },
        },
        capacity: 20,
      },
      { logger },
    );
    try {
      const paused = await waitFor(
        () => Promise.resolve(processor.status().endpoint),
        (endpoint) => endpoint.state !== "closed",
        { timeoutMs: 10_000, what: "calls paused on the TLS failure" },
      );
      assert.match(
        paused.reason ?? "",
        /signed by an unknown authority: set endpoint\.tls\.ca/,
        "the status says what to set",
      );
      assert.ok(
        lines.some(
          (line) =>
            line.level === 50 &&
            typeof line.reason === "string" &&
            /set endpoint\.tls\.ca/.test(line.reason),
        ),
        "an error log line says what to set",
      );

      writeVolume(caDirectory, { "ca.crt": serverCa.cert });
      await waitForOutput(processor, total, 30_000);
      assert.equal(processor.status().endpoint.state, "closed");
      assert.ok(
        lines.some((line) => line.msg === "endpoint TLS files changed: new connections use them"),
      );
    } finally {
      await processor.stop();
    }
    assert.deepEqual(await readAllRecords(emulator.client, streams.deadLetter), []);
    assert.equal((await readAllRecords(emulator.client, streams.sink)).length, total);
  });
});
