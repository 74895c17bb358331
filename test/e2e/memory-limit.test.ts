// A processor pod under a 256Mi memory limit drains a 50,000-record backlog at capacity 100 without
// an OOMKill and without losing a record: a backlog waits in Kinesis, not in the pod, and the
// processor's heap limit (set by the operator from the memory limit) stays under the container's.
// The endpoint is called by its Service DNS name, as the examples do.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { readAllRecords } from "../../demo/stream-tools.ts";
import { crdPath } from "../../operator/api/crd.ts";
import { exposeHostService } from "../cluster/host-service.ts";
import { nodeUnsupported } from "../cluster/node-support.ts";
import { startCluster, type TestCluster } from "../cluster/test-cluster.ts";
import { startOperator, type Operator } from "../support/operator-process.ts";
import { startScriptedEndpoint } from "../support/scripted-endpoint.ts";
import {
  createStreams,
  jsonRecords,
  produce,
  startKinesisEmulator,
  type KinesisEmulator,
  type Streams,
} from "../support/test-bed.ts";
import { waitFor } from "../support/wait-for.ts";
import { createEmulatorSecret, emulatorSecretName } from "../support/emulator-secret.ts";

const backlog = 50_000;
const memoryLimit = 256 * 1024 * 1024;

describe("a processor under a 256Mi memory limit", { skip: nodeUnsupported() }, () => {
  let cluster: TestCluster;
  let emulator: KinesisEmulator;
  let endpoint: Awaited<ReturnType<typeof startScriptedEndpoint>>;
  let operator: Operator;
  let streams: Streams;
  const kubectl = (...args: string[]): Promise<string> => cluster.kubectlAsync(...args);

  before(async () => {
    cluster = await startCluster({ name: "memory-limit" });
    cluster.installCrds(crdPath);
    emulator = await startKinesisEmulator();
    streams = await createStreams(emulator, 4);
    await produce(emulator, streams.source, jsonRecords(backlog, 100));
    endpoint = await startScriptedEndpoint(() => ({ delayMs: 5 }));
    operator = await startOperator(cluster, "operator-memory", { PROCESSOR_IMAGE: cluster.image });
    await createEmulatorSecret(kubectl);
  });

  after(async () => {
    await operator.stop();
    await cluster.stop();
    await endpoint.close();
    await emulator.stop();
  });

  test("drains a 50,000-record backlog at capacity 100: no OOMKill, no record lost, heap within the limit", async (t: TestContext) => {
    const folder = join(cluster.directory, "manifests");
    const scoring = await exposeHostService(kubectl, folder, {
      name: "scoring",
      namespace: "default",
      port: 8080,
      relay: await cluster.relay(endpoint.url),
    });
    const job = {
      apiVersion: "asyncenrichment.dev/v1alpha1",
      kind: "AsyncEnrichmentJob",
      metadata: { name: "backlog", namespace: "default" },
      spec: {
        aws: {
          region: "us-east-1",
          endpoint: (await cluster.relay(emulator.endpoint)).url,
          credentialsSecretRef: { name: emulatorSecretName },
        },
        source: { stream: streams.source },
        sink: { stream: streams.sink },
        deadLetter: { stream: streams.deadLetter },
        endpoint: { url: `${scoring}/score`, timeoutMs: 2_000 },
        parallelism: 1,
        capacity: 100,
        pod: {
          resources: {
            requests: { cpu: "100m", memory: "256Mi" },
            limits: { memory: "256Mi" },
          },
        },
      },
    };
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, "backlog-job.json"), JSON.stringify(job));
    const started = performance.now();
    await kubectl("apply", "-f", join(folder, "backlog-job.json"));

    const pod = async (): Promise<V1Pod | undefined> =>
      (
        JSON.parse(
          await kubectl("get", "pods", "-l", "asyncenrichment.dev/job=backlog", "-o", "json"),
        ) as { items: V1Pod[] }
      ).items[0];
    const written = async (): Promise<number> => {
      const ip = (await pod())?.status?.podIP;
      if (ip === undefined) return 0;
      const text = await fetch(`http://${ip}:9400/metrics`)
        .then((response) => response.text())
        .catch(() => "");
      return [...text.matchAll(/^aej_sink_records_written_total(?:\{[^}]*\})? (\d+)$/gm)].reduce(
        (sum, match) => sum + Number(match[1]),
        0,
      );
    };
    await waitFor(written, (count) => count >= backlog, {
      // The emulator, not the processor, sets the pace: about 150-250 records/s on 2 cores.
      timeoutMs: 600_000,
      what: `${String(backlog)} records written by the processor`,
      intervalMs: 2_000,
    });
    const seconds = (performance.now() - started) / 1000;

    const ids = new Set(
      [
        ...(await readAllRecords(emulator.client, streams.sink)),
        ...(await readAllRecords(emulator.client, streams.deadLetter)),
      ].map((record) => (JSON.parse(Buffer.from(record.data).toString()) as { id: number }).id),
    );
    assert.equal(ids.size, backlog, "every record of the backlog in the sink or dead letter");

    const status = (await pod())?.status?.containerStatuses?.[0];
    assert.equal(status?.restartCount, 0, JSON.stringify(status?.lastState));
    const running = await pod();
    const name = running?.metadata?.name ?? "";
    // The processor's Node flags (those before its script), as the operator set them.
    const args = running?.spec?.containers[0]?.args ?? [];
    const flags = args.slice(0, args.indexOf("processor/main.js"));
    const exec = async (script: string, ...options: string[]): Promise<number> =>
      Number(
        (
          await kubectl("exec", name, "-c", "processor", "--", "node", ...options, "-p", script)
        ).trim(),
      );
    // A Node process with the processor's flags in the same container: the heap limit it runs with.
    const heapLimit = await exec("v8.getHeapStatistics().heap_size_limit", ...flags);
    assert.ok(heapLimit < memoryLimit, `heap limit ${String(heapLimit)} under the 256Mi limit`);
    // The same without the young generation's flag: what V8 derives from this container's memory.
    const ownYoung = await exec(
      "v8.getHeapStatistics().heap_size_limit",
      ...flags.filter((flag) => !flag.startsWith("--max-semi-space-size")),
    );
    const peak = await exec(
      `["/sys/fs/cgroup/memory.peak", "/sys/fs/cgroup/memory/memory.max_usage_in_bytes"]
        .filter((file) => fs.existsSync(file)).map((file) => Number(fs.readFileSync(file, "utf8")))[0]`,
    );
    assert.ok(peak > 0 && peak < memoryLimit, `peak ${String(peak)}`);
    t.diagnostic(
      `${String(backlog)} records in ${seconds.toFixed(1)} s (${(backlog / seconds).toFixed(0)}/s), ` +
        `container memory peak ${(peak / 1024 / 1024).toFixed(0)} MiB of 256, heap limit ${(heapLimit / 1024 / 1024).toFixed(0)} MiB ` +
        `(${(ownYoung / 1024 / 1024).toFixed(0)} MiB with V8's own young generation), flags ${flags.join(" ")}`,
    );
  });
});
