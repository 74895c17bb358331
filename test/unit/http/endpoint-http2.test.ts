// HTTP/2 to the endpoint against real node:http2 servers: the capacity rides on at most
// maxConnections connections, over TLS (ALPN h2) and cleartext (h2c); version "1.1" stays on
// HTTP/1.1 even where the server offers h2; a server that will not speak h2 fails loudly.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import {
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, before, describe, test } from "node:test";
import { endpointSchema } from "../../../processor/config/schema.ts";
import { createCaller, type Caller } from "../../../processor/http/caller.ts";
import { createTestCa, type TestCa } from "../../support/test-pki.ts";
import { temporaryDirectory } from "../../support/temporary-directory.ts";

interface CountingServer {
  origin: string;
  /** Most connections open at once. */
  maxConnections(): number;
  /** HTTP versions of the requests served. */
  versions: Set<string>;
  close(): Promise<void>;
}

async function listen(
  server: Http2Server | Http2SecureServer,
  scheme: "http" | "https",
  answer: string | Buffer = '{"ok":true}',
): Promise<CountingServer> {
  let open = 0;
  let most = 0;
  const versions = new Set<string>();
  server.on("connection", (socket: NodeJS.EventEmitter) => {
    most = Math.max(most, ++open);
    socket.once("close", () => open--);
  });
  server.on("request", (request: Http2ServerRequest, response: Http2ServerResponse) => {
    versions.add(request.httpVersion);
    request.resume();
    request.on("end", () => {
      setTimeout(() => response.end(answer), 20);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `${scheme}://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    maxConnections: () => most,
    versions,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe("HTTP/2 to the endpoint", () => {
  let ca: TestCa;
  let caFile: string;
  const callers: Caller[] = [];
  const servers: CountingServer[] = [];

  before(() => {
    ca = createTestCa("h2-ca");
    caFile = join(temporaryDirectory("aej-h2-"), "ca.crt");
    writeFileSync(caFile, ca.cert);
  });
  afterEach(async () => {
    for (const caller of callers.splice(0)) await caller.destroy();
    for (const server of servers.splice(0)) await server.close();
  });

  const callerOf = (origin: string, endpoint: Record<string, unknown>, capacity: number) => {
    const caller = createCaller({
      endpoint: endpointSchema.parse({
        url: `${origin}/score`,
        timeoutMs: 5_000,
        retry: { maxAttempts: 1 },
        ...endpoint,
      }),
      origin,
      connections: capacity,
      env: {},
    });
    callers.push(caller);
    return caller;
  };

  /** `count` calls, `capacity` at a time as the engine would keep them. */
  const callMany = async (caller: Caller, count: number, capacity: number) => {
    const reasons: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        next++;
        const outcome = await caller.call({
          path: "/score",
          body: Buffer.from("{}"),
          json: undefined,
        });
        if (!outcome.ok) reasons.push(outcome.reason);
      }
    };
    await Promise.all(Array.from({ length: capacity }, worker));
    return reasons;
  };

  test("version 2 over TLS carries capacity 200 on at most maxConnections 2 connections", async () => {
    const server = await listen(createSecureServer(ca.server(["IP:127.0.0.1"])), "https");
    servers.push(server);
    const caller = callerOf(
      server.origin,
      { http: { version: "2", maxConnections: 2 }, tls: { caFile } },
      200,
    );
    assert.deepEqual(await callMany(caller, 1_000, 200), []);
    assert.ok(
      server.maxConnections() >= 1 && server.maxConnections() <= 2,
      `saw ${String(server.maxConnections())} connections`,
    );
    assert.deepEqual([...server.versions], ["2.0"]);
  });

  test("version 2 on an http:// URL speaks h2c within maxConnections", async () => {
    const server = await listen(createServer(), "http");
    servers.push(server);
    const caller = callerOf(server.origin, { http: { version: "2", maxConnections: 3 } }, 150);
    assert.deepEqual(await callMany(caller, 600, 150), []);
    assert.ok(server.maxConnections() <= 3, `saw ${String(server.maxConnections())} connections`);
    assert.deepEqual([...server.versions], ["2.0"]);
  });

  test("over HTTP/2 a response past maxResponseBytes fails the record as too large, as over HTTP/1.1", async () => {
    const counting = await listen(createServer(), "http", Buffer.alloc(4_096, 0x61));
    servers.push(counting);
    const caller = callerOf(
      counting.origin,
      { http: { version: "2", maxConnections: 1 }, maxResponseBytes: 1_024 },
      4,
    );
    const outcome = await caller.call({ path: "/score", body: Buffer.from("{}"), json: undefined });
    assert.equal(outcome.ok, false);
    assert.equal(outcome.kind, "too-large");
  });

  test("version 1.1 (the default) stays on HTTP/1.1 where the server offers h2 too", async () => {
    const server = await listen(
      createSecureServer({ ...ca.server(["IP:127.0.0.1"]), allowHTTP1: true }),
      "https",
    );
    servers.push(server);
    const caller = callerOf(server.origin, { tls: { caFile } }, 20);
    assert.deepEqual(await callMany(caller, 100, 20), []);
    assert.deepEqual([...server.versions], ["1.1"]);
    assert.ok(server.maxConnections() > 2, "HTTP/1.1 needs a connection per call in flight");
  });

  test("version 2 against a server that speaks only HTTP/1.1 fails, saying to set version 1.1", async () => {
    const server = createHttpsServer(ca.server(["IP:127.0.0.1"]), (_request, response) => {
      response.end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push({
      origin: "",
      maxConnections: () => 0,
      versions: new Set(),
      close: () =>
        new Promise((resolve) => {
          server.close(() => {
            resolve();
          });
        }),
    });
    const origin = `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
    const caller = callerOf(origin, { http: { version: "2" }, tls: { caFile } }, 4);
    const outcome = await caller.call({ path: "/score", body: Buffer.from("{}"), json: undefined });
    assert.equal(outcome.ok, false);
    assert.match(
      outcome.reason,
      /ERR_ENDPOINT_NOT_HTTP2: the endpoint did not agree to HTTP\/2 .*\(ALPN: (http\/1\.1|none)\): set endpoint\.http\.version to "1\.1"/,
    );
  });
});
