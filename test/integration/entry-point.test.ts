// The processor as a pod runs it: `node processor/main.ts` with a config file, probes, SIGTERM.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startDemoEndpoint, type DemoEndpoint } from "../../demo/endpoint.ts";
import { emulatorCredentials, freePort } from "../../demo/kinesis-emulator.ts";
import { readAllRecords } from "../../demo/stream-tools.ts";
import {
  createStreams,
  jsonRecords,
  produce,
  startKinesisEmulator,
  type KinesisEmulator,
} from "../support/test-bed.ts";
import { waitFor } from "../support/wait-for.ts";

const mainPath = join(import.meta.dirname, "../../processor/main.ts");

function runMain(config: unknown, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "processor-"));
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, [mainPath, "--config", file], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      resolve(code);
    }),
  );
  return {
    child,
    exited,
    output: () => output,
    lines: () =>
      output
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe("the processor entry point", () => {
  let emulator: KinesisEmulator;
  let endpoint: DemoEndpoint;

  before(async () => {
    emulator = await startKinesisEmulator();
    endpoint = await startDemoEndpoint({ latencyMs: 20 });
  });
  after(async () => {
    await endpoint.close();
    await emulator.stop();
  });

  test("an invalid config exits with code 2 and names every bad field and what was expected", async () => {
    const run = runMain({
      source: { stream: "has spaces" },
      sink: { stream: "ok", maxBatchRecords: 501 },
      endpoint: { url: "ftp://example", timeoutMs: 0 },
      capacity: 0,
      ordering: "sorted",
      failurePolicy: "deadLetter",
    });
    assert.equal(await run.exited, 2);
    const [line] = run.lines();
    const problems = (line?.problems ?? []) as string[];
    for (const path of [
      "source.stream",
      "sink.maxBatchRecords",
      "endpoint.url",
      "endpoint.timeoutMs",
      "capacity",
      "ordering",
    ]) {
      assert.ok(
        problems.some((problem) => problem.startsWith(`${path}: `)),
        `${path} named in ${JSON.stringify(problems)}`,
      );
    }
    assert.match(String(line?.msg), /Fix the fields above/);
  });

  test("serves probes and metrics, and on SIGTERM drains, checkpoints and exits 0", async () => {
    const streams = await createStreams(emulator, 2);
    await produce(emulator, streams.source, jsonRecords(400));
    const port = await freePort();
    const run = runMain(
      {
        jobName: "entry",
        aws: { endpoint: emulator.endpoint },
        source: { stream: streams.source, idleTimeBetweenReadsMs: 200 },
        sink: { stream: streams.sink },
        deadLetter: { stream: streams.deadLetter },
        endpoint: { url: endpoint.url },
        capacity: 4,
        metrics: { host: "127.0.0.1", port },
      },
      {
        AWS_ACCESS_KEY_ID: emulatorCredentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: emulatorCredentials.secretAccessKey,
        PROCESSOR_WORKER_ID: "pod-a",
      },
    );
    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.status,
      (status) => status === 200,
      { timeoutMs: 15_000, what: "/readyz to answer 200" },
    );
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /aej_records_in_total\{job_name="entry"\}/);
    assert.match(metrics, /aej_capacity\{job_name="entry"\} 4/);
    // Capacity 4 at 20 ms: about 200 records/s, so records are still in flight when SIGTERM comes.
    const inFlight = await waitFor(
      async () =>
        (await (await fetch(`${base}/status`)).json()) as { inFlight: number; workerId: string },
      (status) => status.inFlight > 0,
      { timeoutMs: 10_000, what: "records in flight" },
    );
    assert.equal(inFlight.workerId, "pod-a");
    run.child.kill("SIGTERM");
    assert.equal(await run.exited, 0, run.output());
    const lines = run.lines();
    const stopped = lines.find((line) => line.msg === "processor stopped");
    assert.ok(stopped !== undefined, "logged its final checkpoints");
    // A shard with nothing acknowledged yet has no checkpoint: null in the JSON log line.
    const checkpoints = stopped.checkpoints as [string, string | null][];
    assert.equal(checkpoints.length, 2);
    // Drained: everything read before SIGTERM was written, so the sink holds at least as many
    // records as the checkpoints cover, and none was lost or failed.
    const sink = await readAllRecords(emulator.client, streams.sink);
    const source = await readAllRecords(emulator.client, streams.source);
    const covered = source.filter((record) =>
      checkpoints.some(
        ([shard, sequence]) =>
          shard === record.shardId &&
          sequence !== null &&
          BigInt(record.sequenceNumber) <= BigInt(sequence),
      ),
    );
    assert.ok(sink.length > 0 && sink.length < 400, `stopped mid-stream (${sink.length} written)`);
    assert.equal(
      sink.length,
      covered.length,
      "every checkpointed record is in the sink, and nothing beyond was written",
    );
  });
});
