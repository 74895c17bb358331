// The HTTP caller against a real local server: retries, timeouts, deadline, limits.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { endpointSchema, type EndpointConfig } from "../../processor/config/schema.ts";
import { backoffDelay, parseRetryAfter } from "../../processor/http/backoff.ts";
import { createCaller, resolveHeaders, type FailureKind } from "../../processor/http/caller.ts";
import { createRequestMapper } from "../../processor/http/request-mapping.ts";
import { createResponseMapper } from "../../processor/http/response-mapping.ts";
import {
  startScriptedEndpoint,
  type ScriptedAnswer,
  type ScriptedRequest,
} from "../support/scripted-endpoint.ts";

const endpoint = (url: string, overrides: Record<string, unknown> = {}): EndpointConfig =>
  endpointSchema.parse({
    url,
    retry: { maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 5 },
    ...overrides,
  });

describe("the HTTP caller", () => {
  let script: (request: ScriptedRequest) => ScriptedAnswer = () => ({});
  let calls = 0;
  let server: Awaited<ReturnType<typeof startScriptedEndpoint>>;
  before(async () => {
    server = await startScriptedEndpoint((request) => script(request));
  });
  after(async () => {
    await server.close();
  });

  const call = async (overrides: Record<string, unknown> = {}, env: NodeJS.ProcessEnv = {}) => {
    const config = endpoint(`${server.url}/score`, overrides);
    const retries: number[] = [];
    const attempts: (FailureKind | "success")[] = [];
    const caller = createCaller({
      endpoint: config,
      origin: server.url,
      connections: 2,
      env,
      observer: {
        attempt: (_seconds, result) => attempts.push(result),
        retry: () => retries.push(1),
      },
    });
    // A body of its own per call: the scripted server counts repeats of the same request.
    calls++;
    const prepared = createRequestMapper(config).prepare(
      Buffer.from(JSON.stringify({ id: calls })),
    );
    assert.ok(prepared.ok);
    const outcome = await caller.call(prepared.request);
    await caller.close();
    return { outcome, retries: retries.length, attempts };
  };

  test("a 2xx answer succeeds at the first attempt", async () => {
    script = () => ({ body: '{"score":1}' });
    const { outcome, attempts } = await call();
    assert.deepEqual(outcome, { ok: true, body: Buffer.from('{"score":1}'), attempts: 1 });
    assert.deepEqual(attempts, ["success"]);
  });

  test("a 503 is retried and the next answer wins", async () => {
    script = ({ seen }) => (seen === 1 ? { status: 503 } : { body: "ok" });
    const { outcome, retries } = await call();
    assert.equal(outcome.ok, true);
    assert.equal(outcome.attempts, 2);
    assert.equal(retries, 1);
  });

  test("a 404 is not retried", async () => {
    script = () => ({ status: 404, body: "no such customer" });
    const { outcome } = await call();
    assert.deepEqual(outcome, {
      ok: false,
      kind: "status",
      status: 404,
      attempts: 1,
      reason: "HTTP 404: no such customer",
    });
  });

  test("a 429's Retry-After is honoured", async () => {
    script = ({ seen }) =>
      seen === 1 ? { status: 429, headers: { "retry-after": "1" } } : { body: "ok" };
    const started = performance.now();
    const { outcome } = await call({
      retry: { maxAttempts: 2, initialBackoffMs: 1, maxBackoffMs: 5 },
    });
    assert.equal(outcome.ok, true);
    assert.ok(performance.now() - started >= 990, "waited the second the server asked for");
  });

  test("an endpoint that never answers times out each attempt, then fails", async () => {
    script = () => ({ hang: true });
    const started = performance.now();
    const { outcome, attempts } = await call({ timeoutMs: 50 });
    assert.equal(outcome.ok ? "" : outcome.kind, "timeout");
    assert.deepEqual(attempts, ["timeout", "timeout", "timeout"]);
    assert.ok(performance.now() - started < 1_000, "each attempt is bounded");
  });

  test("the deadline ends the call even when attempts remain", async () => {
    script = () => ({ hang: true });
    const { outcome } = await call({
      timeoutMs: 100,
      deadlineMs: 150,
      retry: { maxAttempts: 10, initialBackoffMs: 100, maxBackoffMs: 100 },
    });
    assert.ok(!outcome.ok && (outcome.kind === "deadline" || outcome.kind === "timeout"));
    assert.ok(outcome.attempts <= 2);
  });

  test("a response over maxResponseBytes fails without a retry", async () => {
    script = () => ({ body: "x".repeat(5_000) });
    const { outcome } = await call({ maxResponseBytes: 1_024 });
    assert.equal(outcome.ok ? "" : outcome.kind, "too-large");
    assert.equal(outcome.attempts, 1);
  });

  test("a refused connection is a network error, retried", async () => {
    const config = endpoint("http://127.0.0.1:1/score");
    const caller = createCaller({
      endpoint: config,
      origin: "http://127.0.0.1:1",
      connections: 1,
      env: {},
    });
    const outcome = await caller.call({ path: "/score", body: Buffer.from("{}"), json: undefined });
    await caller.close();
    assert.equal(outcome.ok ? "" : outcome.kind, "network");
    assert.equal(outcome.attempts, 3);
  });

  test("headers from the environment are sent; a missing variable names the header and the variable", async () => {
    script = ({ body }) => ({ body });
    const headers = [{ name: "Authorization", fromEnv: "TOKEN" }];
    assert.deepEqual(resolveHeaders(endpoint("http://s", { headers }), { TOKEN: "Bearer t" }), {
      authorization: "Bearer t",
    });
    assert.throws(
      () => resolveHeaders(endpoint("http://s", { headers }), {}),
      /endpoint\.headers\[0\] \(Authorization\): environment variable TOKEN is not set/,
    );
    const { outcome } = await call({ headers }, { TOKEN: "Bearer t" });
    assert.equal(outcome.ok, true);
  });
});

test("backoff stays within its exponential ceiling and never under Retry-After", () => {
  const policy = { initialBackoffMs: 100, maxBackoffMs: 1_000 };
  assert.equal(
    backoffDelay(policy, 1, undefined, () => 0.999),
    99,
  );
  assert.equal(
    backoffDelay(policy, 3, undefined, () => 0.5),
    200,
  );
  assert.equal(
    backoffDelay(policy, 10, undefined, () => 0.999),
    999,
  );
  assert.equal(
    backoffDelay(policy, 1, 5_000, () => 0.5),
    5_000,
  );
  assert.equal(parseRetryAfter("3"), 3_000);
  assert.equal(
    parseRetryAfter(new Date(Date.now() + 2_000).toUTCString(), Date.now()) !== undefined,
    true,
  );
  assert.equal(parseRetryAfter("soon"), undefined);
});

test("URL templates fill fields from the record, URL-encoded; a missing field is a reason, not a call", () => {
  const mapper = createRequestMapper(
    endpoint("http://s/customers/{customer.id}?tier={tier}", { method: "GET", body: "none" }),
  );
  const prepared = mapper.prepare(
    Buffer.from(JSON.stringify({ customer: { id: "a b" }, tier: "gold" })),
  );
  assert.deepEqual(prepared.ok && prepared.request.path, "/customers/a%20b?tier=gold");
  assert.equal(prepared.ok && prepared.request.body, undefined);
  const missing = mapper.prepare(Buffer.from("{}"));
  assert.match(missing.ok ? "" : missing.reason, /record field "customer\.id" is missing/);
  assert.throws(
    () => createRequestMapper(endpoint("http://{host}/x")),
    /placeholders may appear in the path and query, not the host/,
  );
});

test("merge mode puts the response under its field; a non-JSON answer or record is a reason", () => {
  const merge = createResponseMapper({ mode: "merge", field: "customer" });
  const merged = merge(Buffer.from('{"tier":"gold"}'), { id: 1 });
  assert.deepEqual(merged.ok && JSON.parse(Buffer.from(merged.data).toString()), {
    id: 1,
    customer: { tier: "gold" },
  });
  assert.match(
    (() => {
      const result = merge(Buffer.from("<html>"), { id: 1 });
      return result.ok ? "" : result.reason;
    })(),
    /not JSON/,
  );
  const mapper = createRequestMapper(endpoint("http://s/x", { response: { mode: "merge" } }));
  const prepared = mapper.prepare(Buffer.from("plain text"));
  assert.match(
    prepared.ok ? "" : prepared.reason,
    /not a JSON object; response mode merge needs one/,
  );
});
