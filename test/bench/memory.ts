// Peak RSS of a processor pod (the real entry point, in a process of its own) while it drains a
// backlog: memory must follow capacity and batch sizes, not the number of records waiting.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  emulatorCredentials,
  freePort,
  type KinesisEmulator,
} from "../../demo/kinesis-emulator.ts";
import { produceRecords } from "../../demo/stream-tools.ts";
import { waitFor } from "../support/wait-for.ts";

const sourceShards = 20;
const maxRecordsPerFetch = 500;

export interface DrainResult {
  records: number;
  seconds: number;
  maxRssBytes: number;
}

export async function drainBacklog(
  emulator: KinesisEmulator,
  endpointUrl: string,
  records: number,
  capacity: number,
  /** The heap the processor gets, as a pod's memory limit would size it. */
  nodeOptions: string,
  progress: (line: string) => void,
): Promise<DrainResult> {
  const names = { source: `drain-source-${records}`, sink: `drain-sink-${records}` };
  // The emulator slows down as a shard grows; many shards keep producing the backlog fast.
  await emulator.createStream(names.source, sourceShards);
  await emulator.createStream(names.sink, 4);
  const payload = "x".repeat(200);
  await produceRecords(
    emulator.client,
    names.source,
    Array.from({ length: records }, (_, id) => ({
      data: Buffer.from(JSON.stringify({ id, payload })),
      partitionKey: `k-${id % 1000}`,
    })),
    (written) => {
      if (written % 50_000 === 0) progress(`  produced ${written}/${records}`);
    },
  );
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "drain-"));
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({
      jobName: "drain",
      aws: { endpoint: emulator.endpoint },
      // Records held by readers are at most shards x maxRecordsPerFetch: that, with capacity and
      // the sink's batches, is what bounds memory; the backlog stays in the stream.
      source: { stream: names.source, maxRecordsPerFetch },
      sink: { stream: names.sink },
      endpoint: { url: endpointUrl },
      capacity,
      failurePolicy: "drop",
      metrics: { host: "127.0.0.1", port },
    }),
  );
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "../../processor/main.ts"), "--config", join(dir, "config.json")],
    {
      env: {
        PATH: process.env.PATH ?? "",
        NODE_OPTIONS: nodeOptions,
        AWS_ACCESS_KEY_ID: emulatorCredentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: emulatorCredentials.secretAccessKey,
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      resolve();
    }),
  );
  let lastReport = 0;
  await waitFor(
    async () => {
      const text = await (
        await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined)
      )?.text();
      const written = Number(
        /aej_sink_records_written_total\{[^}]*role="sink"[^}]*\} (\d+)/.exec(text ?? "")?.[1] ?? 0,
      );
      if (performance.now() - lastReport > 5_000) {
        lastReport = performance.now();
        progress(`  drained ${written}/${records}`);
      }
      return written;
    },
    (written) => written >= records,
    { timeoutMs: 600_000, what: `${records} records drained`, intervalMs: 250 },
  );
  const seconds = (performance.now() - started) / 1000;
  child.kill("SIGTERM");
  await exited;
  const stopped = output
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { msg?: string; maxRssBytes?: number })
    .find((line) => line.msg === "processor stopped");
  if (stopped?.maxRssBytes === undefined)
    throw new Error(`the processor did not report its peak RSS:\n${output}`);
  return { records, seconds, maxRssBytes: stopped.maxRssBytes };
}
