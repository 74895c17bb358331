// Keeps the README's first command true: the demo runs start to end and checks its own output.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";

test("npm run demo produces, runs sync and async, prints the table and finds every record", async () => {
  const child = spawn(
    process.execPath,
    [
      join(import.meta.dirname, "../../demo/run.ts"),
      "--records",
      "300",
      "--latency-ms",
      "10",
      "--capacity",
      "20",
      "--sync-seconds",
      "2",
      "--error-rate",
      "0.05",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  assert.match(stdout, /\| run +\| capacity \| records \| seconds \| records\/s/);
  assert.match(stdout, /\| sync +\| 1 +\|/);
  assert.match(stdout, /\| async +\| 20 +\| 300 +\|/);
  assert.match(stdout, /async: OK, 300\/300 checkpointed records found in sink or dead letter/);
  assert.match(stdout, /speed-up of capacity 20 over capacity 1: \d+\.\dx/);
  assert.match(stderr, /in flight \d+\/20/, "live progress is shown");
});

test("the demo refuses a bad flag, naming it and what was expected", async () => {
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "../../demo/run.ts"), "--capacity", "0"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  assert.equal(code, 2);
  assert.match(stderr, /--capacity: expected a number from 1 to 10000, got 0/);
});
