// Mutual TLS to the endpoint on the real control plane and a real node: the operator mounts the
// CA ConfigMap and the client certificate Secret into the processor pod, which calls an mTLS
// endpoint on this machine (through a relay, by serverName). Given the wrong CA, the job pauses
// and its status says to set spec.endpoint.tls.ca; once the ConfigMap holds the right CA, the
// kubelet swaps the mounted files and the same pod, not restarted, resumes and drains the stream.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { V1Pod } from "@kubernetes/client-node";
import { startKinesisEmulator, type KinesisEmulator } from "../../demo/kinesis-emulator.ts";
import { produceRecords, readAllRecords } from "../../demo/stream-tools.ts";
import { crdPath } from "../../operator/api/crd.ts";
import { nodeUnsupported } from "../cluster/node-support.ts";
import { startCluster, type TestCluster } from "../cluster/test-cluster.ts";
import { startOperator, type Operator } from "../support/operator-process.ts";
import { createStreams, type Streams } from "../support/test-bed.ts";
import { createTestCa } from "../support/test-pki.ts";
import { waitFor } from "../support/wait-for.ts";
import { createEmulatorSecret, emulatorSecretName } from "../support/emulator-secret.ts";

const total = 300;

interface JobView {
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
}

describe("endpoint mutual TLS in pods", { skip: nodeUnsupported() }, () => {
  let cluster: TestCluster;
  let emulator: KinesisEmulator;
  let operator: Operator;
  let streams: Streams;
  let server: Server;
  let podUrls: { emulator: string; endpoint: string };
  const serverCa = createTestCa("endpoint-ca");
  const clientCa = createTestCa("processor-client-ca");
  const wrongCa = createTestCa("some-other-ca");

  const kubectl = (...args: string[]): Promise<string> => cluster.kubectlAsync(...args);
  const apply = async (manifest: object): Promise<void> => {
    const folder = join(cluster.directory, "manifests");
    mkdirSync(folder, { recursive: true });
    const file = join(folder, `${String(Date.now())}-${String(Math.random()).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(manifest));
    await kubectl("apply", "-f", file);
  };
  const caConfigMap = (pem: string) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "scoring-ca", namespace: "default" },
    data: { "ca.crt": pem },
  });
  const processorPods = async (): Promise<V1Pod[]> =>
    (
      JSON.parse(
        await kubectl(
          "get",
          "pods",
          "-l",
          "asyncenrichment.dev/job=orders,app.kubernetes.io/component=processor",
          "-o",
          "json",
        ),
      ) as { items: V1Pod[] }
    ).items;

  before(async () => {
    cluster = await startCluster({ name: "endpoint-tls" });
    cluster.installCrds(crdPath);
    emulator = await startKinesisEmulator();
    streams = await createStreams(emulator, 1);
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
    const endpointUrl = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
    podUrls = {
      emulator: (await cluster.relay(emulator.endpoint)).url,
      endpoint: (await cluster.relay(endpointUrl)).url,
    };
    operator = await startOperator(cluster, "operator-tls", { PROCESSOR_IMAGE: cluster.image });
    await createEmulatorSecret(kubectl);
    const client = clientCa.client("processor");
    await apply({
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/tls",
      metadata: { name: "processor-client-tls", namespace: "default" },
      stringData: { "tls.crt": client.cert, "tls.key": client.key },
    });
    await apply(caConfigMap(wrongCa.cert));
  });

  after(async () => {
    await operator.stop();
    await cluster.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await emulator.stop();
  });

  test("the wrong CA pauses the job with a status that says to set spec.endpoint.tls.ca; the right CA in the ConfigMap resumes the same pod", async () => {
    await produceRecords(
      emulator.client,
      streams.source,
      Array.from({ length: total }, (_, id) => ({
        data: Buffer.from(JSON.stringify({ id })),
        partitionKey: `k${String(id % 10)}`,
      })),
    );
    await apply({
      apiVersion: "asyncenrichment.dev/v1alpha1",
      kind: "AsyncEnrichmentJob",
      metadata: { name: "orders", namespace: "default" },
      spec: {
        aws: {
          region: "us-east-1",
          endpoint: podUrls.emulator,
          credentialsSecretRef: { name: emulatorSecretName },
        },
        source: { stream: streams.source },
        sink: { stream: streams.sink },
        deadLetter: { stream: streams.deadLetter },
        endpoint: {
          url: `${podUrls.endpoint}/enrich`,
          timeoutMs: 2_000,
          outage: { probeIntervalMs: 500, maxProbeIntervalMs: 2_000 },
          tls: {
            ca: { configMapKeyRef: { name: "scoring-ca", key: "ca.crt" } },
            clientCertificate: { secretName: "processor-client-tls" },
            serverName: "scoring.internal",
          },
        },
        parallelism: 1,
        capacity: 10,
        checkpointIntervalMs: 1_000,
        leases: { leaseDurationSeconds: 10, renewIntervalMs: 1_000 },
      },
    });
    const degraded = await waitFor(
      async () =>
        (
          JSON.parse(await kubectl("get", "aej", "orders", "-o", "json")) as JobView
        ).status?.conditions?.find((condition) => condition.type === "Degraded"),
      (condition) => condition?.reason === "EndpointUnavailable",
      { timeoutMs: 180_000, what: "Degraded EndpointUnavailable", intervalMs: 1_000 },
    );
    assert.match(degraded?.message ?? "", /fails the TLS handshake/);
    assert.match(degraded?.message ?? "", /unknown authority: set endpoint\.tls\.ca/);
    const [pod] = await processorPods();
    const podName = pod?.metadata?.name ?? "";
    assert.match(
      await kubectl("logs", podName, "-c", "processor"),
      /"level":50.*set endpoint\.tls\.ca/,
      "an error log line says what to set",
    );
    const configMap = await kubectl("get", "configmap", "orders-processor", "-o", "json");
    assert.doesNotMatch(
      configMap,
      /BEGIN|processor-client-tls/,
      "no certificate, key or Secret name",
    );

    await apply(caConfigMap(serverCa.cert));
    const written = await waitFor(
      async () => (await readAllRecords(emulator.client, streams.sink)).length,
      (count) => count >= total,
      { timeoutMs: 180_000, what: `${String(total)} records in the sink`, intervalMs: 2_000 },
    );
    assert.ok(written >= total);
    assert.deepEqual(await readAllRecords(emulator.client, streams.deadLetter), []);
    const [afterFix] = await processorPods();
    assert.equal(afterFix?.metadata?.name, podName, "the same pod");
    assert.equal(afterFix.status?.containerStatuses?.[0]?.restartCount, 0, "not restarted");
    assert.match(
      await kubectl("logs", podName, "-c", "processor"),
      /endpoint TLS files changed: new connections use them/,
    );
  });
});
