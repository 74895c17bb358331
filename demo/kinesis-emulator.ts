// Starts the local Kinesis emulator (npm package kinesis-local) on free loopback ports and waits
// until it answers, for the demo, the tests and the benchmarks. No cloud account is involved.
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname } from "node:path";
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  ListStreamsCommand,
  type KinesisClient,
} from "@aws-sdk/client-kinesis";
import { createKinesisClient } from "../processor/kinesis/client.ts";

/** The emulator accepts any signed request; these are placeholders, not secrets. */
export const emulatorCredentials = { accessKeyId: "000000000000", secretAccessKey: "emulator" };
export const emulatorRegion = "us-east-1";

export interface KinesisEmulator {
  endpoint: string;
  client: KinesisClient;
  createStream(name: string, shards: number): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => {
        resolve(port);
      });
    });
  });
}

async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `${what} not ready within ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ""}`,
  );
}

export async function startKinesisEmulator(): Promise<KinesisEmulator> {
  const main = createRequire(import.meta.url).resolve("kinesis-local/main.js");
  const [plainPort, tlsPort] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(process.execPath, [main], {
    // main.js loads its certificate (server.json) from the working directory.
    cwd: dirname(main),
    env: {
      ...process.env,
      KINESIS_MOCK_PLAIN_PORT: String(plainPort),
      KINESIS_MOCK_TLS_PORT: String(tlsPort),
      LOG_LEVEL: "WARN",
      CREATE_STREAM_DURATION: "0ms",
      SPLIT_SHARD_DURATION: "0ms",
      MERGE_SHARDS_DURATION: "0ms",
      SHARD_LIMIT: "1000",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      resolve();
    });
  });
  const endpoint = `http://127.0.0.1:${plainPort}`;
  const client = createKinesisClient({
    region: emulatorRegion,
    endpoint,
    credentials: emulatorCredentials,
  });
  const stop = async (): Promise<void> => {
    client.destroy();
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  try {
    await waitUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`emulator exited: ${stderr}`);
        await client.send(new ListStreamsCommand({}));
        return true;
      },
      30_000,
      "Kinesis emulator",
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    endpoint,
    client,
    async createStream(name, shards) {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
      await waitUntil(
        async () => {
          const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
          return summary.StreamDescriptionSummary?.StreamStatus === "ACTIVE";
        },
        30_000,
        `stream ${name}`,
      );
    },
    stop,
  };
}
