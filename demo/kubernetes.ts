// `npm run demo:kubernetes`: the mission end to end on a local cluster (as root on Linux: a real
// node with containerd). Builds what the cluster runs and the image from the Dockerfile, installs
// the Helm chart, runs the demo endpoint as a Deployment behind the Service the example job calls
// (enrich-demo.default.svc), puts a Service named as the example's LocalStack in front of the
// Kinesis emulator (it runs on this machine: the image carries no dev dependencies), applies
// examples/emulator-job.yaml unchanged, shows `kubectl get aej` until the job is Ready and records
// flow, checks that every record reached the sink or the dead-letter stream, and cleans up.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { exposeHostService } from "../test/cluster/host-service.ts";
import { nodeUnsupported } from "../test/cluster/node-support.ts";
import { repositoryRoot } from "../test/cluster/paths.ts";
import { startCluster, type TestCluster } from "../test/cluster/test-cluster.ts";
import { startKinesisEmulator, type KinesisEmulator } from "./kinesis-emulator.ts";
import { produceRecords, readAllRecords } from "./stream-tools.ts";

const { values } = parseArgs({
  options: {
    records: { type: "string", default: "2000" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(
    "Usage: npm run demo:kubernetes -- [--records N]   (default 2000; needs root on Linux)\n",
  );
  process.exit(0);
}
const unsupported = nodeUnsupported();
if (unsupported !== undefined) {
  process.stderr.write(`${unsupported}; \`npm run demo\` runs without a cluster.\n`);
  process.exit(1);
}
const records = Number(values.records);
const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const json = (bytes: Uint8Array): Record<string, unknown> =>
  JSON.parse(Buffer.from(bytes).toString()) as Record<string, unknown>;

/** The demo endpoint as the example job expects it: enrich-demo.default.svc:8080. */
function endpointManifests(image: string): object {
  const labels = { app: "enrich-demo" };
  return {
    apiVersion: "v1",
    kind: "List",
    items: [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "enrich-demo", namespace: "default" },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
              containers: [
                {
                  name: "endpoint",
                  image,
                  args: ["demo/endpoint.ts"],
                  env: [
                    { name: "HOST", value: "0.0.0.0" },
                    { name: "PORT", value: "8080" },
                    { name: "LATENCY_MS", value: "50" },
                    { name: "ERROR_RATE", value: "0.01" },
                  ],
                  ports: [{ name: "http", containerPort: 8080 }],
                  readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 1 },
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"] },
                  },
                },
              ],
            },
          },
        },
      },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "enrich-demo", namespace: "default" },
        spec: { selector: labels, ports: [{ name: "http", port: 8080, targetPort: "http" }] },
      },
    ],
  };
}

async function watchJob(cluster: TestCluster, emulator: KinesisEmulator): Promise<number> {
  const started = Date.now();
  let lastRow = "";
  for (;;) {
    const row = (await cluster.kubectlAsync("get", "aej", "orders-local")).trim();
    const written = (await readAllRecords(emulator.client, "orders-enriched")).length;
    const line = `${row.split("\n").at(-1) ?? ""}   (sink: ${String(written)})`;
    if (lastRow === "") say(row.split("\n")[0] ?? "");
    if (line !== lastRow) say(line);
    lastRow = line;
    const dead = (await readAllRecords(emulator.client, "orders-dead-letter")).length;
    if (written + dead >= records) return (Date.now() - started) / 1000;
    if (Date.now() - started > 300_000) throw new Error("the records did not all arrive in 5 min");
    await sleep(2_000);
  }
}

const began = Date.now();
say("building and starting the cluster (a first run builds for ~20 min) ...");
const cluster = await startCluster({ name: "demo" });
const emulator = await startKinesisEmulator();
try {
  say(`cluster up (${cluster.server}), image ${cluster.image}`);
  const kubectl = (...args: string[]): Promise<string> => cluster.kubectlAsync(...args);
  const manifests = join(cluster.directory, "manifests");
  await kubectl("create", "namespace", "localstack");
  await exposeHostService(kubectl, manifests, {
    name: "localstack",
    namespace: "localstack",
    port: 4566,
    relay: await cluster.relay(emulator.endpoint),
  });
  writeFileSync(
    join(cluster.directory, "endpoint.json"),
    JSON.stringify(endpointManifests(cluster.image)),
  );
  await kubectl("apply", "-f", join(cluster.directory, "endpoint.json"));
  for (const stream of ["orders", "orders-enriched", "orders-dead-letter"]) {
    await emulator.createStream(stream, stream === "orders" ? 4 : 2);
  }
  say("helm install aej charts/async-enrichment -n async-enrichment --create-namespace");
  await cluster.helm(
    ...["install", "aej", join(repositoryRoot, "charts/async-enrichment")],
    ...["-n", "async-enrichment", "--create-namespace", "--wait", "--timeout", "180s"],
    ...[
      "--set",
      `image.tag=${cluster.image.split(":").at(-1) ?? "test"}`,
      "--set",
      "replicaCount=1",
    ],
  );
  say("kubectl apply -f examples/emulator-job.yaml");
  await kubectl("apply", "-f", join(repositoryRoot, "examples/emulator-job.yaml"));
  say(`producing ${String(records)} records to orders`);
  const producing = produceRecords(
    emulator.client,
    "orders",
    Array.from({ length: records }, (_, id) => ({
      data: Buffer.from(JSON.stringify({ id, customer: `c${String(id % 50)}` })),
      partitionKey: `c${String(id % 50)}`,
    })),
  );
  const seconds = await watchJob(cluster, emulator);
  await producing;
  const enriched = (await readAllRecords(emulator.client, "orders-enriched")).map(
    (record) => json(record.data).id,
  );
  // A dead letter carries the original record, base64, in its data field.
  const dead = (await readAllRecords(emulator.client, "orders-dead-letter")).map(
    (record) => json(Buffer.from(String(json(record.data).data), "base64")).id,
  );
  const arrived = new Set([...enriched, ...dead]);
  const lost = records - arrived.size;
  say("");
  say(
    `records in: ${String(records)}; out: ${String(enriched.length)} enriched, ${String(dead.length)} dead letters ` +
      `(${String(enriched.length + dead.length - arrived.size)} duplicates)`,
  );
  say(
    `${(records / seconds).toFixed(0)} records/s in the ${seconds.toFixed(1)} s after the job was applied`,
  );
  say(
    lost === 0
      ? "OK: every record reached the sink or the dead-letter stream"
      : `LOST: ${String(lost)} records`,
  );
  say(`demo done in ${((Date.now() - began) / 1000).toFixed(0)} s; cleaning up`);
  process.exitCode = lost === 0 ? 0 : 1;
} finally {
  await cluster.stop();
  await emulator.stop();
}
