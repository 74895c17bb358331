// The generated CRD against a real API server: it installs, documents every field for kubectl
// explain, defaults what the schema defaults, and refuses bad jobs at apply time with messages
// that name the field and the rule.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { crdPath } from "../../operator/api/crd.ts";
import { startControlPlane, type ControlPlane } from "../cluster/control-plane.ts";
import { waitFor } from "../support/wait-for.ts";

const example = join(import.meta.dirname, "../../examples/minimal-job.yaml");

/** Applies a job from JSON; returns the API server's refusal, or undefined if it was accepted. */
function apply(cluster: ControlPlane, job: unknown): string | undefined {
  try {
    execFileSync(
      join(cluster.bin, "kubectl"),
      [`--kubeconfig=${cluster.kubeconfig}`, "apply", "-f", "-"],
      {
        input: JSON.stringify(job),
        encoding: "utf8",
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    return undefined;
  } catch (error) {
    return String((error as { stderr?: string }).stderr);
  }
}

const job = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "asyncenrichment.dev/v1alpha1",
  kind: "AsyncEnrichmentJob",
  metadata: { name },
  spec: {
    aws: { region: "eu-west-1" },
    source: { stream: "orders" },
    sink: { stream: "out" },
    deadLetter: { stream: "dead" },
    endpoint: { url: "http://scoring:8080/score" },
    ...spec,
  },
});

describe("the AsyncEnrichmentJob CRD on a real API server", () => {
  let cluster: ControlPlane;

  before(async () => {
    cluster = await startControlPlane({ name: "crd-test" });
    cluster.installCrds(crdPath);
  });
  after(async () => {
    await cluster.stop();
  });

  test("kubectl explain documents the fields", async () => {
    // The API server publishes a new CRD's OpenAPI a moment after it is established.
    const explained = await waitFor(
      () => {
        try {
          return cluster.kubectl("explain", "aej.spec.endpoint");
        } catch {
          return "";
        }
      },
      (text) => text !== "",
      { timeoutMs: 30_000, what: "kubectl explain to know the kind" },
    );
    assert.match(explained, /The HTTP service and how it is called/);
    assert.match(explained, /timeoutMs\s+<integer>/);
    assert.match(cluster.kubectl("explain", "aej.spec.capacity"), /Requests in flight per pod/);
    assert.match(
      cluster.kubectl("explain", "aej.spec.endpoint.rateLimit"),
      /A job-wide limit on requests per second/,
    );
    assert.match(
      cluster.kubectl("explain", "aej.spec.autoscaling"),
      /Sizes parallelism from lag and Little's law/,
    );
  });

  test("the example job is accepted and defaulted by the API server", () => {
    cluster.kubectl("apply", "-f", example);
    const stored = JSON.parse(cluster.kubectl("get", "aej", "orders", "-o", "json")) as {
      spec: {
        ordering: string;
        failurePolicy: string;
        endpoint: { timeoutMs: number; retry: { maxAttempts: number } };
      };
    };
    assert.equal(stored.spec.ordering, "ordered");
    assert.equal(stored.spec.failurePolicy, "deadLetter");
    assert.equal(stored.spec.endpoint.timeoutMs, 5000);
    assert.equal(stored.spec.endpoint.retry.maxAttempts, 3);
    assert.match(
      cluster.kubectl("get", "aej"),
      /NAME\s+PHASE\s+PARALLELISM\s+RECOMMENDED\s+READY\s+SHARDS\s+LAG\s+RECORDS\/S\s+AGE/,
    );
  });

  test("kubectl scale sets parallelism through the scale subresource", () => {
    cluster.kubectl("apply", "-f", example);
    cluster.kubectl("scale", "aej/orders", "--replicas=5");
    assert.equal(
      cluster.kubectl("get", "aej", "orders", "-o", "jsonpath={.spec.parallelism}"),
      "5",
    );
  });

  const refusals: [string, Record<string, unknown>, RegExp][] = [
    [
      "capacity 0",
      { capacity: 0 },
      /spec\.capacity: Invalid value: 0: spec\.capacity in body should be greater than or equal to 1/,
    ],
    [
      "capacity over 10000",
      { capacity: 10_001 },
      /spec\.capacity: Invalid value: 10001: .*less than or equal to 10000/,
    ],
    [
      "an ftp URL",
      { endpoint: { url: "ftp://scoring/score" } },
      /spec\.endpoint\.url: Invalid value: "ftp:\/\/scoring\/score"/,
    ],
    [
      "a URL with a space in its host",
      { endpoint: { url: "http://svc 8080/x" } },
      /spec\.endpoint\.url: Invalid value: .*must be a valid URL/,
    ],
    [
      "outage probes whose ceiling is below their start",
      {
        endpoint: {
          url: "http://s",
          outage: { probeIntervalMs: 5_000, maxProbeIntervalMs: 1_000 },
        },
      },
      /spec\.endpoint\.outage\.maxProbeIntervalMs: Invalid value: .*must be at least probeIntervalMs/,
    ],
    [
      "a lease renewed no sooner than it expires",
      { leases: { leaseDurationSeconds: 5, renewIntervalMs: 5_000 } },
      /spec\.leases\.renewIntervalMs: Invalid value: .*must be shorter than spec\.leases\.leaseDurationSeconds/,
    ],
    [
      "a timeout past the deadline",
      { endpoint: { url: "http://s", timeoutMs: 60_000, deadlineMs: 1_000 } },
      /spec\.endpoint\.deadlineMs: Invalid value: .*must be at least spec\.endpoint\.timeoutMs/,
    ],
    [
      "a GET with a body",
      { endpoint: { url: "http://s/{id}", method: "GET" } },
      /spec\.endpoint\.body must be "none" when method is GET/,
    ],
    [
      "the dead-letter policy without a dead-letter stream",
      { deadLetter: undefined },
      /spec\.deadLetter is required when spec\.failurePolicy is deadLetter/,
    ],
    [
      "a header with both a value and a Secret",
      {
        endpoint: {
          url: "http://s",
          headers: [
            { name: "a", value: "b", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
          ],
        },
      },
      /exactly one of value or valueFrom/,
    ],
    [
      "AT_TIMESTAMP without a timestamp",
      { source: { stream: "orders", startPosition: { type: "AT_TIMESTAMP" } } },
      /timestamp is required with type AT_TIMESTAMP/,
    ],
    [
      "tls on an http URL",
      { endpoint: { url: "http://s/x", tls: { serverName: "scoring.internal" } } },
      /spec\.endpoint\.tls: Invalid value: .*spec\.endpoint\.tls applies only to an https:\/\/ URL/,
    ],
    [
      "maxConnections with HTTP/1.1",
      { endpoint: { url: "https://s/x", http: { maxConnections: 4 } } },
      /spec\.endpoint\.http\.maxConnections: Invalid value: .*applies only to version "2"/,
    ],
    [
      "a CA from both a ConfigMap and a Secret",
      {
        endpoint: {
          url: "https://s/x",
          tls: {
            ca: {
              configMapKeyRef: { name: "ca", key: "ca.crt" },
              secretKeyRef: { name: "ca", key: "ca.crt" },
            },
          },
        },
      },
      /spec\.endpoint\.tls\.ca: Invalid value: .*exactly one of configMapKeyRef or secretKeyRef/,
    ],
    [
      "a rate limit of no requests",
      { endpoint: { url: "http://s", rateLimit: { requestsPerSecond: 0, burst: 10 } } },
      /spec\.endpoint\.rateLimit\.requestsPerSecond: Invalid value: .*should be greater than 0/,
    ],
    [
      "autoscaling whose minimum is above its maximum",
      { autoscaling: { minParallelism: 4, maxParallelism: 2 } },
      /spec\.autoscaling\.minParallelism: Invalid value: .*must be at most maxParallelism/,
    ],
    [
      "autoscaling at a utilization of 0",
      { autoscaling: { maxParallelism: 2, targetUtilization: 0 } },
      /spec\.autoscaling\.targetUtilization: Invalid value: 0: .*should be greater than 0/,
    ],
    [
      "an endpoint budget below one pod's capacity",
      { capacity: 10, autoscaling: { maxParallelism: 4, maxEndpointConcurrency: 5 } },
      /spec\.autoscaling\.maxEndpointConcurrency: Invalid value: .*must admit minParallelism x spec\.capacity/,
    ],
    ["an unknown field", { capcity: 10 }, /unknown field "spec\.capcity"/],
  ];
  for (const [what, spec, message] of refusals) {
    test(`a job with ${what} is refused at apply with a message naming the field`, () => {
      const refusal = apply(
        cluster,
        job(
          `bad-${what
            .replaceAll(/[^a-z0-9]+/g, "-")
            .slice(0, 40)
            .replace(/-$/, "")}`,
          spec,
        ),
      );
      assert.ok(refusal !== undefined, "the API server accepted it");
      assert.match(refusal, message);
    });
  }

  test("a job with mutual TLS and HTTP/2 to an https endpoint is accepted", () => {
    const refusal = apply(
      cluster,
      job("endpoint-tls", {
        endpoint: {
          url: "https://scoring.shop.svc:8443/score",
          http: { version: "2", maxConnections: 4 },
          tls: {
            ca: { configMapKeyRef: { name: "scoring-ca", key: "ca.crt" } },
            clientCertificate: { secretName: "processor-client-tls" },
            serverName: "scoring.internal",
          },
        },
      }),
    );
    assert.equal(refusal, undefined);
  });

  test("a URL template with placeholders in its path and query is a valid URL for the API server", () => {
    const refusal = apply(
      cluster,
      job("url-template", {
        endpoint: { url: "https://scoring.shop.svc:8080/c/{customer.id}/score?q={q}" },
      }),
    );
    assert.equal(refusal, undefined);
  });

  test("a job whose name cannot be a label value is refused at apply", () => {
    const refusal = apply(cluster, job("a".repeat(64), {}));
    assert.ok(refusal !== undefined, "the API server accepted it");
    assert.match(refusal, /metadata.name must be at most 63 characters/);
  });
});
