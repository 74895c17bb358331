// Loading the processor config: a file and/or PROCESSOR_CONFIG, single-field environment
// overrides, and clear errors for a missing file, bad JSON or no config at all.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ConfigError, loadConfig } from "../../../processor/config/load.ts";

const minimal = {
  source: { stream: "orders" },
  sink: { stream: "enriched" },
  deadLetter: { stream: "dead" },
  endpoint: { url: "http://scoring:8080/score" },
};

const directory = mkdtempSync(join(tmpdir(), "config-load-"));
after(() => {
  rmSync(directory, { recursive: true, force: true });
});

let files = 0;
const configFile = (content: string): string => {
  const file = join(directory, `config-${++files}.json`);
  writeFileSync(file, content);
  return file;
};

/** The ConfigError that loading throws; fails the test if it throws anything else or nothing. */
const configError = (load: () => unknown): ConfigError => {
  try {
    load();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the config to be refused");
};

describe("loadConfig", () => {
  test("reads a config file given by path", () => {
    const file = configFile(JSON.stringify({ ...minimal, capacity: 25 }));
    const config = loadConfig({ file });
    assert.equal(config.capacity, 25);
    assert.equal(config.source.stream, "orders");
  });

  test("reads the file named by PROCESSOR_CONFIG_FILE when no path is given, and a path wins over it", () => {
    const fromEnv = configFile(JSON.stringify({ ...minimal, capacity: 3 }));
    const fromFlag = configFile(JSON.stringify({ ...minimal, capacity: 4 }));
    assert.equal(loadConfig({ env: { PROCESSOR_CONFIG_FILE: fromEnv } }).capacity, 3);
    assert.equal(
      loadConfig({ file: fromFlag, env: { PROCESSOR_CONFIG_FILE: fromEnv } }).capacity,
      4,
    );
  });

  test("reads inline JSON from PROCESSOR_CONFIG alone", () => {
    const config = loadConfig({ env: { PROCESSOR_CONFIG: JSON.stringify(minimal) } });
    assert.equal(config.sink.stream, "enriched");
  });

  test("PROCESSOR_CONFIG merges over the file: its fields win, the file's others stay", () => {
    const file = configFile(JSON.stringify({ ...minimal, capacity: 5, ordering: "unordered" }));
    const config = loadConfig({
      file,
      env: { PROCESSOR_CONFIG: JSON.stringify({ capacity: 7, jobName: "orders-job" }) },
    });
    assert.equal(config.capacity, 7);
    assert.equal(config.jobName, "orders-job");
    assert.equal(config.ordering, "unordered", "kept from the file");
    assert.equal(config.endpoint.url, "http://scoring:8080/score", "kept from the file");
  });

  test("PROCESSOR_WORKER_ID, PROCESSOR_METRICS_HOST, PROCESSOR_METRICS_PORT and PROCESSOR_LOG_LEVEL override single fields", () => {
    const file = configFile(
      JSON.stringify({
        ...minimal,
        workerId: "from-file",
        metrics: { host: "127.0.0.1", port: 1234 },
        logLevel: "warn",
      }),
    );
    const config = loadConfig({
      file,
      env: {
        PROCESSOR_CONFIG: JSON.stringify({ workerId: "from-inline-json" }),
        PROCESSOR_WORKER_ID: "pod-a",
        PROCESSOR_METRICS_HOST: "10.0.0.5",
        PROCESSOR_METRICS_PORT: "9500",
        PROCESSOR_LOG_LEVEL: "debug",
      },
    });
    assert.equal(config.workerId, "pod-a", "the variable wins over file and PROCESSOR_CONFIG");
    assert.deepEqual(config.metrics, { host: "10.0.0.5", port: 9500 }, "the port is a number");
    assert.equal(config.logLevel, "debug");
  });

  test("an override fills in a section the config left out, keeping that section's defaults", () => {
    const config = loadConfig({
      env: { PROCESSOR_CONFIG: JSON.stringify(minimal), PROCESSOR_METRICS_PORT: "0" },
    });
    assert.deepEqual(config.metrics, { host: "0.0.0.0", port: 0 });
  });

  test("an empty override variable is ignored", () => {
    const config = loadConfig({
      env: {
        PROCESSOR_CONFIG: JSON.stringify({ ...minimal, workerId: "from-json" }),
        PROCESSOR_WORKER_ID: "",
        PROCESSOR_METRICS_PORT: "",
      },
    });
    assert.equal(config.workerId, "from-json");
    assert.equal(config.metrics.port, 9400);
  });

  test("a PROCESSOR_METRICS_PORT that is not a number is refused, naming metrics.port", () => {
    const error = configError(() =>
      loadConfig({
        env: { PROCESSOR_CONFIG: JSON.stringify(minimal), PROCESSOR_METRICS_PORT: "http" },
      }),
    );
    assert.equal(error.problems.length, 1);
    assert.match(error.problems[0] ?? "", /^metrics\.port: /);
  });

  test("a missing file is a ConfigError naming the file and the cause", () => {
    const missing = join(directory, "does-not-exist.json");
    const error = configError(() => loadConfig({ file: missing, env: {} }));
    assert.equal(error.problems.length, 1);
    assert.ok(error.problems[0]?.startsWith(`config file ${missing}: ENOENT`), error.message);
  });

  test("a file that is not JSON is a ConfigError naming the file", () => {
    const file = configFile("source:\n  stream: orders\n");
    const error = configError(() => loadConfig({ file }));
    const problem = error.problems[0] ?? "";
    assert.ok(problem.startsWith(`config file ${file}: not valid JSON (`), problem);
  });

  test("PROCESSOR_CONFIG that is not JSON, or not an object, is a ConfigError naming it", () => {
    assert.match(
      configError(() => loadConfig({ env: { PROCESSOR_CONFIG: "{not json" } })).problems[0] ?? "",
      /^PROCESSOR_CONFIG: not valid JSON \(/,
    );
    assert.deepEqual(
      configError(() => loadConfig({ env: { PROCESSOR_CONFIG: "[1, 2]" } })).problems,
      ["PROCESSOR_CONFIG: expected a JSON object"],
    );
    assert.deepEqual(
      configError(() => loadConfig({ env: { PROCESSOR_CONFIG: "null" } })).problems,
      ["PROCESSOR_CONFIG: expected a JSON object"],
    );
  });

  test("no config at all is a ConfigError saying how to give one", () => {
    const error = configError(() => loadConfig({ env: { PROCESSOR_WORKER_ID: "pod-a" } }));
    assert.match(error.problems[0] ?? "", /^no config given: pass --config <file\.json>/);
  });

  test("a loaded config that breaks the schema is refused with every bad field", () => {
    const file = configFile(JSON.stringify({ ...minimal, capacity: 0, ordering: "random" }));
    const error = configError(() => loadConfig({ file }));
    assert.deepEqual(error.problems.map((problem) => problem.split(":")[0]).sort(), [
      "capacity",
      "ordering",
    ]);
  });
});
