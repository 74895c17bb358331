// The Lease API over client-node against a local HTTP server playing the API server: a request
// that never gets an answer ends at the caller's deadline, and statuses reach the election as codes.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { CoordinationV1Api, KubeConfig } from "@kubernetes/client-node";
import { withDeadline } from "../../../operator/leader/leader-election.ts";
import { coordinationLeaseApi, type LeaseApi } from "../../../operator/leader/lease-api.ts";
import { apiStatusCode } from "../../../processor/util/api-status.ts";

let answer: (request: IncomingMessage, response: ServerResponse) => void = () => undefined;
const server = createServer((request, response) => {
  answer(request, response);
});
let leases: LeaseApi;

const status = (response: ServerResponse, code: number, reason: string): void => {
  response.writeHead(code, { "content-type": "application/json" });
  response.end(
    JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason, code }),
  );
};

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: "test",
        server: `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: "test" }],
    contexts: [{ name: "test", cluster: "test", user: "test" }],
    currentContext: "test",
  });
  leases = coordinationLeaseApi(kubeConfig.makeApiClient(CoordinationV1Api), "default", "leader");
});

after(() => {
  server.closeAllConnections();
  server.close();
});

test("a Lease call the API server never answers ends at its deadline", async () => {
  const closed = new Promise<void>((resolve) => {
    answer = (request) => {
      // Never answers; the client's abort closes the connection.
      request.socket.once("close", resolve);
    };
  });
  const started = performance.now();
  await assert.rejects(
    withDeadline((signal) => leases.read(signal), 200, "reading the leader Lease"),
    /no answer within 200 ms/,
  );
  const took = performance.now() - started;
  assert.ok(took >= 195 && took < 500, `ended after ${String(took)} ms`);
  await closed;
});

test("a missing Lease reads as none, and a stale write fails with 409", async () => {
  answer = (request, response) => {
    if (request.method === "GET") status(response, 404, "NotFound");
    else status(response, 409, "Conflict");
  };
  const signal = AbortSignal.timeout(2_000);
  assert.equal(await leases.read(signal), undefined);
  const lease = { metadata: { name: "leader", namespace: "default", resourceVersion: "1" } };
  const error: unknown = await leases.replace(lease, signal).catch((caught: unknown) => caught);
  assert.equal(apiStatusCode(error), 409);
});
