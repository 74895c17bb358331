// endpoint.tls and endpoint.http in the processor config and the job API: bad combinations are
// refused naming the field, and the defaults are the documented ones.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { jobSpecSchema } from "../../../operator/api/job-schema.ts";
import { ConfigError, validateConfig } from "../../../processor/config/load.ts";

const config = (endpoint: Record<string, unknown>) => ({
  source: { stream: "orders" },
  sink: { stream: "enriched" },
  failurePolicy: "drop",
  endpoint: { url: "https://scoring:8443/score", ...endpoint },
});

const problems = (raw: unknown): readonly string[] => {
  try {
    validateConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

const jobIssues = (endpoint: Record<string, unknown>): string[] => {
  const result = jobSpecSchema.safeParse({
    aws: { region: "eu-west-1" },
    source: { stream: "orders" },
    sink: { stream: "enriched" },
    failurePolicy: "drop",
    endpoint: { url: "https://scoring:8443/score", ...endpoint },
  });
  return result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
};

describe("endpoint transport config", () => {
  test("HTTP/1.1 is the default, without a connection bound of its own", () => {
    assert.deepEqual(validateConfig(config({})).endpoint.http, { version: "1.1" });
  });

  test("tls on an http:// URL is refused, naming endpoint.tls", () => {
    assert.deepEqual(problems(config({ url: "http://scoring/score", tls: { caFile: "/ca" } })), [
      "endpoint.tls: tls applies only to an https:// URL",
    ]);
    assert.deepEqual(
      jobIssues({ url: "http://scoring/score", tls: { serverName: "scoring.internal" } }),
      ["endpoint.tls: tls applies only to an https:// URL"],
    );
  });

  test("maxConnections with HTTP/1.1 is refused, naming endpoint.http.maxConnections", () => {
    assert.deepEqual(problems(config({ http: { maxConnections: 4 } })), [
      'endpoint.http.maxConnections: maxConnections applies only to version "2" (HTTP/1.1 opens capacity connections)',
    ]);
    assert.deepEqual(problems(config({ http: { version: "2", maxConnections: 4 } })), []);
  });

  test("a certificate without its key is refused, naming endpoint.tls.keyFile", () => {
    assert.deepEqual(problems(config({ tls: { certFile: "/tls.crt" } })), [
      "endpoint.tls.keyFile: certFile and keyFile go together",
    ]);
  });

  test("the job's CA comes from exactly one of a ConfigMap or a Secret key", () => {
    const ref = { name: "scoring-ca", key: "ca.crt" };
    assert.deepEqual(jobIssues({ tls: { ca: { configMapKeyRef: ref, secretKeyRef: ref } } }), [
      "endpoint.tls.ca: set exactly one of configMapKeyRef or secretKeyRef",
    ]);
    assert.deepEqual(jobIssues({ tls: { ca: {} } }), [
      "endpoint.tls.ca: set exactly one of configMapKeyRef or secretKeyRef",
    ]);
    assert.deepEqual(jobIssues({ tls: { ca: { secretKeyRef: ref } } }), []);
  });

  test("a server name must be a DNS name; a client certificate defaults to kubernetes.io/tls keys", () => {
    assert.deepEqual(jobIssues({ tls: { serverName: "not a name" } }), [
      "endpoint.tls.serverName: expected a DNS name",
    ]);
    const parsed = jobSpecSchema.parse({
      aws: { region: "eu-west-1" },
      source: { stream: "orders" },
      sink: { stream: "enriched" },
      failurePolicy: "drop",
      endpoint: { url: "https://s/x", tls: { clientCertificate: { secretName: "client" } } },
    });
    assert.deepEqual(parsed.endpoint.tls?.clientCertificate, {
      secretName: "client",
      certificateKey: "tls.crt",
      privateKeyKey: "tls.key",
    });
  });
});
