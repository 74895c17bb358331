// TLS to the endpoint against real node:https servers, with CAs and certificates made by the
// test: a private CA, an unknown one, a name the certificate does not hold, mutual TLS, and files
// rotated the way the kubelet rotates a mounted Secret while the caller keeps running.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, before, describe, test } from "node:test";
import type { TLSSocket } from "node:tls";
import { pino, type Logger } from "pino";
import { endpointSchema } from "../../../processor/config/schema.ts";
import { createCaller, type Caller } from "../../../processor/http/caller.ts";
import { writeVolume } from "../../support/kubelet-volume.ts";
import { createTestCa, type Issued, type TestCa } from "../../support/test-pki.ts";
import { waitFor } from "../../support/wait-for.ts";
import { temporaryDirectory } from "../../support/temporary-directory.ts";

interface TestServer {
  origin: string;
  /** Common names of the client certificates the server saw, one per request. */
  clients: string[];
  /** Serves a new certificate on new connections and drops the open ones. */
  rotate(serving: Issued): void;
  close(): Promise<void>;
}

async function startServer(
  serving: Issued,
  clientCa?: string,
  options: { requireClientCertificate?: boolean; delayMs?: number } = {},
): Promise<TestServer> {
  const clients: string[] = [];
  const server: Server = createServer(
    {
      cert: serving.cert,
      key: serving.key,
      ...(clientCa === undefined
        ? {}
        : {
            ca: clientCa,
            requestCert: true,
            rejectUnauthorized: options.requireClientCertificate ?? true,
          }),
    },
    (request, response) => {
      // Without a client certificate the peer certificate is {}, whatever its type says.
      const subject = (request.socket as TLSSocket).getPeerCertificate().subject as
        { CN?: unknown } | undefined;
      clients.push(typeof subject?.CN === "string" ? subject.CN : "");
      request.resume();
      request.on("end", () => {
        setTimeout(() => {
          response.end('{"ok":true}');
        }, options.delayMs ?? 0);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `https://127.0.0.1:${String((server.address() as AddressInfo).port)}`,
    clients,
    rotate(next) {
      server.setSecureContext({
        cert: next.cert,
        key: next.key,
        ...(clientCa === undefined ? {} : { ca: clientCa }),
      });
      server.closeAllConnections();
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

describe("TLS to the endpoint", () => {
  let privateCa: TestCa;
  let otherCa: TestCa;
  let clientCa: TestCa;
  const callers: Caller[] = [];
  const servers: TestServer[] = [];
  const directory = temporaryDirectory("aej-tls-");

  before(() => {
    privateCa = createTestCa("private-ca");
    otherCa = createTestCa("other-ca");
    clientCa = createTestCa("client-ca");
  });
  afterEach(async () => {
    for (const caller of callers.splice(0)) await caller.destroy();
    for (const server of servers.splice(0)) await server.close();
  });

  const serve = async (...args: Parameters<typeof startServer>) => {
    const server = await startServer(...args);
    servers.push(server);
    return server;
  };

  /** A caller of `origin` with endpoint.tls as given; one attempt per call. */
  const callerOf = (origin: string, tls: Record<string, unknown> | undefined, logger?: Logger) => {
    const caller = createCaller({
      ...(logger === undefined ? {} : { logger }),
      endpoint: endpointSchema.parse({
        url: `${origin}/score`,
        timeoutMs: 2_000,
        retry: { maxAttempts: 1 },
        ...(tls === undefined ? {} : { tls }),
      }),
      origin,
      connections: 4,
      env: {},
    });
    callers.push(caller);
    return (body = '{"id":1}') =>
      caller.call({ path: "/score", body: Buffer.from(body), json: undefined });
  };

  /** Files in a kubelet-style volume; returns their paths. */
  const volume = (name: string, files: Record<string, string>) => {
    writeVolume(join(directory, name), files);
    return Object.fromEntries(
      Object.keys(files).map((file) => [file, join(directory, name, file)]),
    );
  };

  test("an endpoint whose certificate a private CA signed is called with that CA as caFile", async () => {
    const server = await serve(privateCa.server(["IP:127.0.0.1"]));
    const files = volume("private-ok", { "ca.crt": privateCa.cert });
    const outcome = await callerOf(server.origin, { caFile: files["ca.crt"] })();
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
  });

  test("a certificate from an unknown CA fails with a reason that says to set endpoint.tls.ca", async () => {
    const server = await serve(otherCa.server(["IP:127.0.0.1"]));
    const files = volume("unknown-ca", { "ca.crt": privateCa.cert });
    for (const tls of [{ caFile: files["ca.crt"] }, undefined]) {
      const outcome = await callerOf(server.origin, tls)();
      assert.equal(outcome.ok, false);
      assert.equal(outcome.kind, "network");
      assert.match(
        outcome.reason,
        /UNABLE_TO_VERIFY_LEAF_SIGNATURE: TLS: the endpoint's certificate is signed by an unknown authority: set endpoint\.tls\.ca/,
      );
    }
  });

  test("a certificate for another name fails, naming serverName; serverName set to its name verifies it", async () => {
    const server = await serve(privateCa.server(["DNS:scoring.internal"]));
    const files = volume("server-name", { "ca.crt": privateCa.cert });
    const wrong = await callerOf(server.origin, { caFile: files["ca.crt"] })();
    assert.match(
      wrong.ok ? "" : wrong.reason,
      /ERR_TLS_CERT_ALTNAME_INVALID: .*endpoint\.tls\.serverName/,
    );
    const right = await callerOf(server.origin, {
      caFile: files["ca.crt"],
      serverName: "scoring.internal",
    })();
    assert.equal(right.ok, true, JSON.stringify(right));
  });

  test("an expired certificate fails with a reason that says to renew it", async () => {
    const server = await serve(privateCa.expiredServer(["IP:127.0.0.1"]));
    const files = volume("expired", { "ca.crt": privateCa.cert });
    const outcome = await callerOf(server.origin, { caFile: files["ca.crt"] })();
    assert.equal(outcome.ok, false);
    assert.match(
      outcome.reason,
      /CERT_HAS_EXPIRED: TLS: the endpoint's certificate has expired: renew it/,
    );
  });

  test("an endpoint that requires a client certificate takes the one given and refuses a call without", async () => {
    const server = await serve(privateCa.server(["IP:127.0.0.1"]), clientCa.cert);
    const client = clientCa.client("processor-1");
    const files = volume("mtls", {
      "ca.crt": privateCa.cert,
      "tls.crt": client.cert,
      "tls.key": client.key,
    });
    const withCertificate = await callerOf(server.origin, {
      caFile: files["ca.crt"],
      certFile: files["tls.crt"],
      keyFile: files["tls.key"],
    })();
    assert.equal(withCertificate.ok, true, JSON.stringify(withCertificate));
    assert.deepEqual(server.clients, ["processor-1"]);
    const without = await callerOf(server.origin, { caFile: files["ca.crt"] })();
    assert.equal(without.ok, false);
    // Under TLS 1.3 the server checks the client after the handshake and closes the connection:
    // the client sees the close, not the alert.
    assert.match(without.reason, /other side closed|client certificate/);
    assert.deepEqual(
      server.clients,
      ["processor-1"],
      "the server answered a call without a certificate",
    );
  });

  test("rotated CA and client certificate files reach new connections without a restart", async () => {
    const server = await serve(privateCa.server(["IP:127.0.0.1"]), clientCa.cert);
    const first = clientCa.client("processor-before");
    const directoryName = "rotation";
    const files = volume(directoryName, {
      "ca.crt": privateCa.cert,
      "tls.crt": first.cert,
      "tls.key": first.key,
    });
    const call = callerOf(server.origin, {
      caFile: files["ca.crt"],
      certFile: files["tls.crt"],
      keyFile: files["tls.key"],
      reloadIntervalMs: 100,
    });
    assert.equal((await call()).ok, true);
    assert.deepEqual(server.clients, ["processor-before"]);

    // The endpoint moves to a certificate of another CA; the mounted Secret follows, atomically.
    server.rotate(otherCa.server(["IP:127.0.0.1"]));
    const second = clientCa.client("processor-after");
    volume(directoryName, {
      "ca.crt": otherCa.cert,
      "tls.crt": second.cert,
      "tls.key": second.key,
    });
    await waitFor(call, (outcome) => outcome.ok, {
      timeoutMs: 5_000,
      what: "a call verified with the rotated CA",
    });
    assert.equal(server.clients.at(-1), "processor-after");
    assert.ok(!server.clients.includes(""), "a call went without a client certificate");
  });

  test("a rotation that does not make a TLS context is refused with a warning; calls go on with the previous files", async () => {
    const server = await serve(privateCa.server(["IP:127.0.0.1"]), clientCa.cert, {
      delayMs: 300,
    });
    const first = clientCa.client("processor-first");
    const files = volume("bad-rotation", {
      "ca.crt": privateCa.cert,
      "tls.crt": first.cert,
      "tls.key": first.key,
    });
    const lines: { level: number; msg: string }[] = [];
    const logger = pino(
      { level: "info" },
      {
        write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }),
      },
    );
    const call = callerOf(
      server.origin,
      {
        caFile: files["ca.crt"],
        certFile: files["tls.crt"],
        keyFile: files["tls.key"],
        reloadIntervalMs: 100,
      },
      logger,
    );
    // A call in flight across a good rotation finishes on its connection, which closes after it.
    const inFlight = call();
    const second = clientCa.client("processor-second");
    volume("bad-rotation", {
      "ca.crt": privateCa.cert,
      "tls.crt": second.cert,
      "tls.key": second.key,
    });
    await waitFor(
      () => lines.filter((line) => line.msg.startsWith("endpoint TLS files changed: new")).length,
      (count) => count === 1,
      { timeoutMs: 5_000, what: "the rotation picked up" },
    );
    assert.equal((await inFlight).ok, true, "the call in flight finished");
    assert.equal(server.clients[0], "processor-first");

    volume("bad-rotation", {
      "ca.crt": privateCa.cert,
      "tls.crt": clientCa.client("processor-third").cert,
      "tls.key": first.key,
    });
    await waitFor(
      () => lines.filter((line) => line.level === 40).map((line) => line.msg),
      (warnings) =>
        warnings.includes(
          "endpoint TLS files changed but cannot be used; new connections keep the previous ones",
        ),
      { timeoutMs: 5_000, what: "the bad rotation refused" },
    );
    server.rotate(privateCa.server(["IP:127.0.0.1"]));
    assert.equal((await call()).ok, true, "a new connection still works, with the previous files");
    assert.equal(server.clients.at(-1), "processor-second");
  });

  test("files that cannot be read or do not make a TLS context stop the caller at start, naming the field", () => {
    const stranger = otherCa.client("stranger");
    const files = volume("broken", {
      "ca.crt": "not a certificate",
      "tls.crt": clientCa.client("mismatched").cert,
      "tls.key": stranger.key,
      "good-ca.crt": privateCa.cert,
    });
    assert.throws(
      () => callerOf("https://127.0.0.1:1", { caFile: join(directory, "missing.crt") }),
      /endpoint\.tls\.caFile: cannot read .*missing\.crt/,
    );
    assert.throws(
      () => callerOf("https://127.0.0.1:1", { caFile: files["ca.crt"] }),
      /endpoint\.tls\.caFile: .*ca\.crt holds no PEM certificate/,
    );
    assert.throws(
      () =>
        callerOf("https://127.0.0.1:1", {
          caFile: files["good-ca.crt"],
          certFile: files["tls.crt"],
          keyFile: files["tls.key"],
        }),
      /endpoint\.tls: the CA, certificate and key files do not make a TLS context: .*key values mismatch/,
    );
  });
});
