// One record's trip: request mapping, the call, response mapping and the output partition key.
// Every way it can fail ends as a Failure with a reason and a kind.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createShardTracker } from "../../../processor/checkpoint/tracker.ts";
import { endpointSchema, sinkSchema } from "../../../processor/config/schema.ts";
import type { CallOutcome, Caller } from "../../../processor/http/caller.ts";
import type { PreparedRequest } from "../../../processor/http/request-mapping.ts";
import { createRequestMapper } from "../../../processor/http/request-mapping.ts";
import { createResponseMapper } from "../../../processor/http/response-mapping.ts";
import type { SourceRecord } from "../../../processor/kinesis/shard-reader.ts";
import { createEnricher, type Enrichment } from "../../../processor/pipeline/enrich.ts";

/** A caller that answers every call with the outcome the test chose, recording the requests. */
function scriptedCaller(outcome: CallOutcome) {
  const requests: PreparedRequest[] = [];
  const caller: Caller = {
    call: (request) => {
      requests.push(request);
      return Promise.resolve(outcome);
    },
    close: () => Promise.resolve(),
    destroy: () => Promise.resolve(),
  };
  return { caller, requests };
}

const succeed = (body: string): CallOutcome => ({ ok: true, body: Buffer.from(body), attempts: 2 });

function enricher(
  outcome: CallOutcome,
  options: { endpoint?: Record<string, unknown>; partitionKey?: unknown } = {},
) {
  const endpoint = endpointSchema.parse({ url: "http://scoring/score", ...options.endpoint });
  const sink = sinkSchema.parse({ stream: "out", partitionKey: options.partitionKey });
  const { caller, requests } = scriptedCaller(outcome);
  const enrich = createEnricher({
    requests: createRequestMapper(endpoint),
    caller,
    responses: createResponseMapper(endpoint.response),
    partitionKey: sink.partitionKey,
  });
  return { enrich, requests };
}

const tracker = createShardTracker("shard-0");
let sequence = 0;
const record = (data: string, partitionKey = "customer-42"): SourceRecord => {
  const sequenceNumber = String(++sequence);
  return {
    shardId: "shard-0",
    sequenceNumber,
    partitionKey,
    data: Buffer.from(data),
    arrivedAt: undefined,
    receipt: tracker.track(sequenceNumber),
  };
};

const success = (enrichment: Enrichment) => {
  if (!enrichment.ok)
    assert.fail(`expected a success, got ${enrichment.kind}: ${enrichment.reason}`);
  return enrichment;
};

const failure = (enrichment: Enrichment) => {
  if (enrichment.ok) assert.fail("expected a failure");
  return enrichment;
};

describe("enrich", () => {
  test("replace mode outputs the response body under the source record's partition key", async () => {
    const { enrich, requests } = enricher(succeed('{"score":0.9}'));
    const result = success(await enrich(record('{"id":1}')));
    assert.equal(Buffer.from(result.data).toString(), '{"score":0.9}');
    assert.equal(result.partitionKey, "customer-42");
    assert.equal(requests.length, 1);
    assert.equal(Buffer.from(requests[0]?.body ?? []).toString(), '{"id":1}');
  });

  test("merge mode outputs the record with the response under the field", async () => {
    const { enrich } = enricher(succeed('{"tier":"gold"}'), {
      endpoint: { response: { mode: "merge", field: "customer" } },
    });
    const result = success(await enrich(record('{"id":1}')));
    assert.deepEqual(JSON.parse(Buffer.from(result.data).toString()), {
      id: 1,
      customer: { tier: "gold" },
    });
  });

  test("a random partition key is a fresh UUID per record", async () => {
    const { enrich } = enricher(succeed("{}"), { partitionKey: "random" });
    const first = success(await enrich(record("{}")));
    const second = success(await enrich(record("{}")));
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    assert.match(first.partitionKey, uuid);
    assert.match(second.partitionKey, uuid);
    assert.notEqual(first.partitionKey, second.partitionKey);
  });

  test("a field partition key is read from the output JSON, numbers included", async () => {
    const byString = enricher(succeed('{"region":"eu-1"}'), { partitionKey: { field: "region" } });
    assert.equal(success(await byString.enrich(record("{}"))).partitionKey, "eu-1");
    const byNumber = enricher(succeed('{"region":7}'), { partitionKey: { field: "region" } });
    assert.equal(success(await byNumber.enrich(record("{}"))).partitionKey, "7");
  });

  test("an output without a usable partition key field is a mapping failure", async () => {
    for (const body of [
      '{"other":1}',
      '{"region":""}',
      `{"region":"${"k".repeat(257)}"}`,
      "nope",
    ]) {
      const { enrich } = enricher(succeed(body), { partitionKey: { field: "region" } });
      const result = failure(await enrich(record("{}")));
      assert.equal(result.kind, "mapping", body);
      assert.equal(result.attempts, 2, "the call's attempts are kept");
      assert.match(result.reason, /no usable partition key/);
    }
  });

  test("a record the URL template cannot use fails as mapping without a call", async () => {
    const { enrich, requests } = enricher(succeed("{}"), {
      endpoint: { url: "http://lookup/customers/{id}", method: "GET", body: "none" },
    });
    const before = Date.now();
    const result = failure(await enrich(record("not json")));
    assert.equal(result.kind, "mapping");
    assert.equal(result.attempts, 0);
    assert.match(result.reason, /needs fields id/);
    assert.ok(result.startedAt >= before && result.startedAt <= Date.now());
    assert.equal(requests.length, 0, "the endpoint is not called");
  });

  test("a failed call keeps its kind, reason, attempts and status", async () => {
    const { enrich } = enricher({
      ok: false,
      kind: "status",
      reason: "HTTP 404: no such customer",
      attempts: 1,
      status: 404,
    });
    const result = failure(await enrich(record("{}")));
    assert.deepEqual(
      { ...result, startedAt: 0 },
      {
        ok: false,
        kind: "status",
        reason: "HTTP 404: no such customer",
        attempts: 1,
        status: 404,
        startedAt: 0,
      },
    );
  });

  test("a failure without a status has no status field", async () => {
    const { enrich } = enricher({ ok: false, kind: "timeout", reason: "no answer", attempts: 3 });
    const result = failure(await enrich(record("{}")));
    assert.equal("status" in result, false);
    assert.equal(result.kind, "timeout");
  });

  test("a non-JSON answer in merge mode fails as mapping", async () => {
    const { enrich } = enricher(succeed("<html>"), { endpoint: { response: { mode: "merge" } } });
    const result = failure(await enrich(record('{"id":1}')));
    assert.equal(result.kind, "mapping");
    assert.match(result.reason, /response body is not JSON/);
  });
});
