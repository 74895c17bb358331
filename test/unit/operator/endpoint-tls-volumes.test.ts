// The endpoint's TLS material reaches the pods as read-only volumes of whole keys, and the
// processor config names only their files: no certificate, key or Secret name in the ConfigMap.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { processorConfigSchema } from "../../../processor/config/schema.ts";
import { desiredConfigMap, podTemplateHash } from "../../../operator/reconcile/desired-config.ts";
import { desiredDeployment } from "../../../operator/reconcile/desired-workload.ts";
import { jobWith } from "./job-fixture.ts";

const settings = { defaultImage: "ghcr.io/async-enrichment/async-enrichment:0.1.0" };

const tlsJob = (tls: Record<string, unknown>, http?: Record<string, unknown>) =>
  jobWith({
    endpoint: {
      url: "https://scoring.shop.svc:8443/score",
      tls,
      ...(http === undefined ? {} : { http }),
    },
  });

const configOf = (job: ReturnType<typeof jobWith>) =>
  processorConfigSchema.parse(JSON.parse(desiredConfigMap(job).data?.["config.json"] ?? ""));

describe("endpoint TLS volumes", () => {
  const mtls = tlsJob({
    ca: { configMapKeyRef: { name: "scoring-ca", key: "ca.crt" } },
    clientCertificate: { secretName: "processor-client-tls" },
    serverName: "scoring.internal",
  });

  test("the CA ConfigMap and the client certificate Secret are mounted read-only, key by key", () => {
    const pod = desiredDeployment(mtls, settings).spec?.template.spec;
    const volumes = pod?.volumes?.filter((volume) => volume.name.startsWith("endpoint-"));
    assert.deepEqual(volumes, [
      {
        name: "endpoint-ca",
        configMap: {
          name: "scoring-ca",
          items: [{ key: "ca.crt", path: "ca.crt" }],
          defaultMode: 0o440,
        },
      },
      {
        name: "endpoint-client-certificate",
        secret: {
          secretName: "processor-client-tls",
          items: [
            { key: "tls.crt", path: "tls.crt" },
            { key: "tls.key", path: "tls.key" },
          ],
          defaultMode: 0o440,
        },
      },
    ]);
    const mounts = pod?.containers[0]?.volumeMounts ?? [];
    for (const name of ["endpoint-ca", "endpoint-client-certificate"]) {
      const mount = mounts.find((candidate) => candidate.name === name);
      assert.equal(mount?.readOnly, true, `${name} is mounted read-only`);
      assert.equal(mount.subPath, undefined, "a subPath mount would never see an update");
    }
    assert.equal(
      pod?.securityContext?.fsGroup,
      65532,
      "the processor's group reads the 0440 files",
    );
    const env = JSON.stringify(pod.containers[0]?.env);
    assert.doesNotMatch(
      env,
      /processor-client-tls|scoring-ca/,
      "no TLS material in the environment",
    );
  });

  test("the processor config names the mounted files and the server name, and nothing secret", () => {
    const data = desiredConfigMap(mtls).data?.["config.json"] ?? "";
    assert.deepEqual(configOf(mtls).endpoint.tls, {
      caFile: "/etc/endpoint-tls/ca/ca.crt",
      includePublicRoots: false,
      certFile: "/etc/endpoint-tls/client/tls.crt",
      keyFile: "/etc/endpoint-tls/client/tls.key",
      serverName: "scoring.internal",
      reloadIntervalMs: 10_000,
    });
    assert.doesNotMatch(data, /processor-client-tls/, "not even the Secret's name");
    const pod = desiredDeployment(mtls, settings).spec?.template.spec;
    const mounted = (pod?.containers[0]?.volumeMounts ?? []).map((mount) => mount.mountPath);
    for (const file of ["/etc/endpoint-tls/ca/ca.crt", "/etc/endpoint-tls/client/tls.key"]) {
      assert.ok(
        mounted.some((path) => file.startsWith(`${path}/`)),
        `${file} lies in a mounted volume`,
      );
    }
  });

  test("a CA from a Secret key is a secret volume; custom client keys are mapped to tls.crt and tls.key", () => {
    const job = tlsJob({
      ca: { secretKeyRef: { name: "scoring-ca", key: "root.pem" } },
      clientCertificate: {
        secretName: "client",
        certificateKey: "cert.pem",
        privateKeyKey: "key.pem",
      },
    });
    const volumes = desiredDeployment(job, settings).spec?.template.spec?.volumes ?? [];
    assert.deepEqual(volumes.find((volume) => volume.name === "endpoint-ca")?.secret?.items, [
      { key: "root.pem", path: "ca.crt" },
    ]);
    assert.deepEqual(
      volumes.find((volume) => volume.name === "endpoint-client-certificate")?.secret?.items,
      [
        { key: "cert.pem", path: "tls.crt" },
        { key: "key.pem", path: "tls.key" },
      ],
    );
  });

  test("a job without tls gets no TLS volume, no fsGroup and no tls or http in its config", () => {
    const plain = jobWith({});
    const pod = desiredDeployment(plain, settings).spec?.template.spec;
    assert.deepEqual(
      pod?.volumes?.map((volume) => volume.name),
      ["config"],
    );
    assert.equal(pod.securityContext?.fsGroup, undefined);
    const raw = JSON.parse(desiredConfigMap(plain).data?.["config.json"] ?? "") as {
      endpoint: Record<string, unknown>;
    };
    assert.equal(raw.endpoint.tls, undefined);
    assert.equal(raw.endpoint.http, undefined, "an operator upgrade rolls no pod of such a job");
  });

  test("HTTP/2 reaches the processor config and rolls the pods", () => {
    const h2 = tlsJob({ serverName: "scoring.internal" }, { version: "2", maxConnections: 4 });
    assert.deepEqual(configOf(h2).endpoint.http, { version: "2", maxConnections: 4 });
    assert.notEqual(
      podTemplateHash(h2),
      podTemplateHash(tlsJob({ serverName: "scoring.internal" })),
    );
  });
});
