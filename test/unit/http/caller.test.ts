// The HTTP caller against a real local HTTP server: success, retries, Retry-After, per-attempt
// timeouts, the deadline, the response size cap, refused connections and headers.
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, test } from "node:test";
import { endpointSchema, type EndpointConfig } from "../../../processor/config/schema.ts";
import {
  createCaller,
  resolveHeaders,
  type CallOutcome,
  type Caller,
  type FailureKind,
} from "../../../processor/http/caller.ts";

interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** performance.now() when the request was complete. */
  at: number;
}

interface Answer {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Never answer. */
  hang?: true;
  /** Cut the connection without an answer. */
  reset?: true;
}

/** A real HTTP server on 127.0.0.1 whose answers the current test scripts. */
async function startServer() {
  let script: (request: SeenRequest, index: number) => Answer = () => ({});
  const requests: SeenRequest[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const seen: SeenRequest = {
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: performance.now(),
      };
      requests.push(seen);
      const answer = script(seen, requests.length - 1);
      if (answer.reset === true) {
        request.socket.destroy();
        return;
      }
      open.add(response);
      response.on("close", () => open.delete(response));
      if (answer.hang === true) return;
      response.writeHead(answer.status ?? 200, answer.headers);
      response.end(answer.body ?? "");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    answer(next: (request: SeenRequest, index: number) => Answer) {
      script = next;
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of open) response.destroy();
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** A port on 127.0.0.1 that nothing listens on: taken, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return port;
}

const endpointConfig = (url: string, overrides: Record<string, unknown> = {}): EndpointConfig =>
  endpointSchema.parse({
    url,
    timeoutMs: 2_000,
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5 },
    ...overrides,
  });

/** The one element of a list, failing the test if there is not exactly one. */
function only<T>(list: readonly T[]): T {
  assert.equal(list.length, 1, `expected exactly one, got ${list.length}`);
  const [item] = list;
  return item as T;
}

const failure = (outcome: CallOutcome) => {
  if (outcome.ok) assert.fail(`expected a failure, got a success after ${outcome.attempts}`);
  return outcome;
};

describe("HTTP caller", () => {
  let server: Awaited<ReturnType<typeof startServer>>;
  const callers: Caller[] = [];
  before(async () => {
    server = await startServer();
  });
  afterEach(async () => {
    for (const caller of callers.splice(0)) await caller.close();
  });
  after(async () => {
    await server.close();
  });

  /** Calls the server once with a fresh caller, recording what the observer saw. */
  const call = async (
    overrides: Record<string, unknown> = {},
    options: { env?: NodeJS.ProcessEnv; body?: Uint8Array | undefined; origin?: string } = {},
  ) => {
    const origin = options.origin ?? server.origin;
    const endpoint = endpointConfig(`${origin}/score`, overrides);
    const attempts: { seconds: number; result: FailureKind | "success" }[] = [];
    let retries = 0;
    const caller = createCaller({
      endpoint,
      origin,
      connections: 2,
      env: options.env ?? {},
      observer: {
        attempt: (seconds, result) => attempts.push({ seconds, result }),
        retry: () => retries++,
      },
    });
    callers.push(caller);
    const body = "body" in options ? options.body : Buffer.from('{"id":1}');
    const started = performance.now();
    const outcome = await caller.call({ path: "/score?x=1", body, json: undefined });
    return {
      outcome,
      elapsed: performance.now() - started,
      attempts,
      results: attempts.map((attempt) => attempt.result),
      retries: () => retries,
    };
  };

  describe("success and what is sent", () => {
    test("a 2xx answer succeeds at the first attempt with the response body", async () => {
      server.answer(() => ({ status: 201, body: '{"score":0.9}' }));
      const { outcome, results, retries } = await call();
      assert.deepEqual(outcome, { ok: true, body: Buffer.from('{"score":0.9}'), attempts: 1 });
      assert.deepEqual(results, ["success"]);
      assert.equal(retries(), 0);
    });

    test("the record is POSTed to the path with the configured content-type", async () => {
      server.answer(() => ({}));
      await call({ contentType: "application/x-ndjson" });
      const seen = only(server.requests);
      assert.equal(seen.method, "POST");
      assert.equal(seen.url, "/score?x=1");
      assert.equal(seen.body, '{"id":1}');
      assert.equal(seen.headers["content-type"], "application/x-ndjson");
    });

    test("a GET without a body sends no body and no content-type", async () => {
      server.answer(() => ({ body: "found" }));
      const { outcome } = await call({ method: "GET", body: "none" }, { body: undefined });
      assert.equal(outcome.ok, true);
      const seen = only(server.requests);
      assert.equal(seen.method, "GET");
      assert.equal(seen.body, "");
      assert.equal(seen.headers["content-type"], undefined);
      assert.ok(
        seen.headers["content-length"] === undefined || seen.headers["content-length"] === "0",
      );
      assert.equal(seen.headers["transfer-encoding"], undefined);
    });

    test("configured headers are sent, values from the environment included", async () => {
      server.answer(() => ({}));
      const headers = [
        { name: "Authorization", fromEnv: "SCORING_TOKEN" },
        { name: "X-Tenant", value: "acme" },
      ];
      const { outcome } = await call({ headers }, { env: { SCORING_TOKEN: "Bearer s3cret" } });
      assert.equal(outcome.ok, true);
      const seen = only(server.requests);
      assert.equal(seen.headers.authorization, "Bearer s3cret");
      assert.equal(seen.headers["x-tenant"], "acme");
    });
  });

  describe("retries", () => {
    test("a 503 then a 200 succeeds after 2 attempts, and the observer sees the retry", async () => {
      server.answer((_request, index) => (index === 0 ? { status: 503 } : { body: "ok" }));
      const { outcome, results, retries } = await call();
      assert.deepEqual(outcome, { ok: true, body: Buffer.from("ok"), attempts: 2 });
      assert.deepEqual(results, ["status", "success"]);
      assert.equal(retries(), 1);
      assert.equal(server.requests.length, 2);
    });

    test("a 5xx on every attempt fails as status after maxAttempts", async () => {
      server.answer(() => ({ status: 500, body: "database down" }));
      const { outcome, retries } = await call();
      assert.deepEqual(outcome, {
        ok: false,
        kind: "status",
        status: 500,
        attempts: 3,
        reason: "HTTP 500: database down",
      });
      assert.equal(retries(), 2);
      assert.equal(server.requests.length, 3);
    });

    test("a 404 is not retried: kind status, status 404, one attempt", async () => {
      server.answer(() => ({ status: 404, body: "no such customer" }));
      const { outcome, retries } = await call();
      assert.deepEqual(outcome, {
        ok: false,
        kind: "status",
        status: 404,
        attempts: 1,
        reason: "HTTP 404: no such customer",
      });
      assert.equal(retries(), 0);
      assert.equal(server.requests.length, 1);
    });

    test("the failure reason quotes at most 200 bytes of the response body", async () => {
      server.answer(() => ({ status: 400, body: "x".repeat(1_000) }));
      const { reason } = failure((await call()).outcome);
      assert.equal(reason, `HTTP 400: ${"x".repeat(200)}`);
    });

    test("a 429 with Retry-After: 0 is retried at once", async () => {
      server.answer((_request, index) =>
        index === 0 ? { status: 429, headers: { "retry-after": "0" } } : { body: "ok" },
      );
      const { outcome, elapsed } = await call();
      assert.equal(outcome.ok && outcome.attempts, 2);
      assert.ok(elapsed < 900, `took ${elapsed} ms`);
    });

    test("a 429 with Retry-After: 1 waits a second before the next attempt", async () => {
      server.answer((_request, index) =>
        index === 0 ? { status: 429, headers: { "retry-after": "1" } } : { body: "ok" },
      );
      const { outcome } = await call();
      assert.equal(outcome.ok && outcome.attempts, 2);
      assert.equal(server.requests.length, 2);
      const gap = (server.requests[1]?.at ?? Number.NaN) - (server.requests[0]?.at ?? Number.NaN);
      assert.ok(gap >= 990, `the retry came ${gap} ms after the 429, not after the second asked`);
    });

    test("a connection cut without an answer is a network failure, retried", async () => {
      server.answer((_request, index) => (index === 0 ? { reset: true } : { body: "ok" }));
      const { outcome, results } = await call();
      assert.equal(outcome.ok && outcome.attempts, 2);
      assert.deepEqual(results, ["network", "success"]);
    });

    test("a refused connection fails as network after every attempt", async () => {
      const port = await closedPort();
      const { outcome, retries, results } = await call({}, { origin: `http://127.0.0.1:${port}` });
      const { kind, attempts, reason } = failure(outcome);
      assert.equal(kind, "network");
      assert.equal(attempts, 3);
      assert.match(reason, /ECONNREFUSED/);
      assert.equal(retries(), 2);
      assert.deepEqual(results, ["network", "network", "network"]);
    });
  });

  describe("every call ends", () => {
    test("an endpoint that never answers times out each attempt, then fails as timeout", async () => {
      server.answer(() => ({ hang: true }));
      const { outcome, attempts, elapsed } = await call({ timeoutMs: 50 });
      assert.deepEqual(failure(outcome), {
        ok: false,
        kind: "timeout",
        attempts: 3,
        reason: "no answer within 50 ms",
      });
      assert.equal(server.requests.length, 3, "each attempt reached the server");
      for (const { seconds, result } of attempts) {
        assert.equal(result, "timeout");
        assert.ok(seconds >= 0.045 && seconds < 0.5, `an attempt took ${seconds} s`);
      }
      assert.ok(elapsed < 1_000, `three 50 ms attempts took ${elapsed} ms`);
    });

    test("a backoff that would pass the deadline ends the call as deadline without waiting", async () => {
      server.answer(() => ({ status: 503, headers: { "retry-after": "1" }, body: "busy" }));
      const { outcome, elapsed, retries } = await call({
        timeoutMs: 100,
        deadlineMs: 200,
        retry: { maxAttempts: 5, initialBackoffMs: 1, maxBackoffMs: 5 },
      });
      assert.deepEqual(failure(outcome), {
        ok: false,
        kind: "deadline",
        status: 503,
        attempts: 1,
        reason: "deadline of 200 ms reached after 1 attempts; last: HTTP 503: busy",
      });
      assert.equal(retries(), 0);
      assert.ok(elapsed < 900, `gave up after ${elapsed} ms instead of waiting 1 s`);
    });

    test("a deadline shorter than the retries ends a hanging call as deadline, on time", async () => {
      server.answer(() => ({ hang: true }));
      const { outcome, elapsed } = await call({
        timeoutMs: 100,
        deadlineMs: 150,
        retry: { maxAttempts: 10, initialBackoffMs: 20, maxBackoffMs: 20 },
      });
      const { kind, attempts } = failure(outcome);
      assert.equal(kind, "deadline");
      assert.ok(attempts < 10, `${attempts} attempts`);
      assert.ok(elapsed >= 140 && elapsed < 900, `ended after ${elapsed} ms, deadline 150 ms`);
    });

    test("a response over maxResponseBytes fails as too-large without a retry", async () => {
      server.answer(() => ({ body: "x".repeat(5_000) }));
      const { outcome, retries } = await call({ maxResponseBytes: 1_024 });
      assert.deepEqual(failure(outcome), {
        ok: false,
        kind: "too-large",
        attempts: 1,
        reason: "response body exceeds maxResponseBytes (1024 bytes)",
      });
      assert.equal(retries(), 0);
      assert.equal(server.requests.length, 1);
    });

    test("a response of exactly maxResponseBytes is accepted", async () => {
      server.answer(() => ({ body: "y".repeat(1_024) }));
      const { outcome } = await call({ maxResponseBytes: 1_024 });
      assert.equal(outcome.ok && outcome.body.length, 1_024);
    });
  });

  describe("rate limit admission", () => {
    test("every attempt, retries included, waits for a token before its timeout and the deadline start", async () => {
      server.answer((_request, index) => (index < 2 ? { status: 503 } : { body: "ok" }));
      const admissions: number[] = [];
      let waitedFor = 0;
      const caller = createCaller({
        // Each token wait (120 ms) is longer than an attempt's timeout and the whole deadline.
        endpoint: endpointConfig(`${server.origin}/score`, {
          timeoutMs: 100,
          deadlineMs: 150,
          retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1 },
        }),
        origin: server.origin,
        connections: 1,
        env: {},
        admit: () => {
          admissions.push(performance.now());
          return new Promise((resolve) => setTimeout(resolve, 120));
        },
      });
      callers.push(caller);
      const outcome = await caller.call(
        { path: "/score", body: undefined, json: undefined },
        {
          waitFor: (waiting) => {
            waitedFor++;
            return waiting;
          },
        },
      );
      assert.deepEqual(outcome, { ok: true, body: Buffer.from("ok"), attempts: 3 });
      assert.equal(admissions.length, 3, "one admission per attempt");
      assert.equal(waitedFor, 3, "each wait goes through the engine's waitFor");
      assert.equal(server.requests.length, 3);
      server.requests.forEach((request, index) => {
        const admitted = admissions[index] as number;
        assert.ok(request.at - admitted >= 115, `attempt ${index + 1} sent before its token`);
      });
    });
  });
});

describe("resolveHeaders", () => {
  const headers = [
    { name: "Authorization", fromEnv: "SCORING_TOKEN" },
    { name: "X-Tenant", value: "acme" },
  ];

  test("takes literal values and environment variables, with lower-case names", () => {
    assert.deepEqual(
      resolveHeaders(endpointConfig("http://scoring/score", { headers }), {
        SCORING_TOKEN: "Bearer t",
      }),
      { authorization: "Bearer t", "x-tenant": "acme" },
    );
  });

  test("a missing environment variable throws, naming the header and the variable", () => {
    assert.throws(() => resolveHeaders(endpointConfig("http://scoring/score", { headers }), {}), {
      message:
        "endpoint.headers[0] (Authorization): environment variable SCORING_TOKEN is not set; check the Secret it is filled from",
    });
  });

  test("an empty environment variable is sent as an empty value", () => {
    assert.deepEqual(
      resolveHeaders(endpointConfig("http://scoring/score", { headers: [headers[0]] }), {
        SCORING_TOKEN: "",
      }),
      { authorization: "" },
    );
  });

  test("createCaller refuses to start when a header's variable is missing", () => {
    assert.throws(
      () =>
        createCaller({
          endpoint: endpointConfig("http://127.0.0.1:9/score", { headers }),
          origin: "http://127.0.0.1:9",
          connections: 1,
          env: {},
        }),
      /environment variable SCORING_TOKEN is not set/,
    );
  });
});
