// Turning a record into an HTTP request: the record as the body by default, or a URL template
// filled from the record's JSON fields.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { endpointSchema } from "../../../processor/config/schema.ts";
import {
  createRequestMapper,
  type Preparation,
  type PreparedRequest,
} from "../../../processor/http/request-mapping.ts";

const mapper = (url: string, overrides: Record<string, unknown> = {}) =>
  createRequestMapper(endpointSchema.parse({ url, ...overrides }));

const getLookup = (url: string) => mapper(url, { method: "GET", body: "none" });

const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));

const request = (preparation: Preparation): PreparedRequest => {
  if (!preparation.ok) assert.fail(`expected a request, got: ${preparation.reason}`);
  return preparation.request;
};

const reason = (preparation: Preparation): string => {
  if (preparation.ok) assert.fail(`expected a refusal, got path ${preparation.request.path}`);
  return preparation.reason;
};

describe("request mapping", () => {
  test("by default the record's bytes are POSTed to the URL's path and query", () => {
    const requests = mapper("http://scoring:8080/v1/score?model=7");
    assert.equal(requests.origin, "http://scoring:8080");
    const data = Buffer.from("not even JSON \u00ff");
    const prepared = request(requests.prepare(data));
    assert.equal(prepared.path, "/v1/score?model=7");
    assert.deepEqual(prepared.body, data);
    assert.equal(prepared.json, undefined, "the record is not parsed when nothing needs it");
  });

  test("a URL without a path is sent to /", () => {
    const requests = mapper("http://scoring:8080");
    assert.equal(requests.origin, "http://scoring:8080");
    assert.equal(request(requests.prepare(json({}))).path, "/");
  });

  test("a URL with a query and no path gets / before the query", () => {
    const requests = getLookup("http://lookup?id={id}");
    assert.equal(requests.origin, "http://lookup");
    assert.equal(request(requests.prepare(json({ id: 5 }))).path, "/?id=5");
  });

  test("the origin drops a default port and keeps https", () => {
    assert.equal(mapper("https://api.example.com:443/score").origin, "https://api.example.com");
  });

  test("{field} and nested {a.b} placeholders are filled from the record and URL-encoded", () => {
    const requests = getLookup(
      "http://lookup:80/customers/{customer.id}/orders?tier={tier}&vip={vip}",
    );
    const prepared = request(
      requests.prepare(json({ customer: { id: "a b/c?d&e" }, tier: "gold é", vip: true })),
    );
    assert.equal(prepared.path, "/customers/a%20b%2Fc%3Fd%26e/orders?tier=gold%20%C3%A9&vip=true");
    assert.equal(prepared.body, undefined, "body none sends no body");
    assert.deepEqual(prepared.json, { customer: { id: "a b/c?d&e" }, tier: "gold é", vip: true });
  });

  test("numbers fill placeholders, and a placeholder used twice is filled twice", () => {
    const requests = getLookup("http://lookup/{id}/again/{id}");
    assert.equal(request(requests.prepare(json({ id: 42 }))).path, "/42/again/42");
  });

  test("a placeholder URL may still send the record as a POST body", () => {
    const requests = mapper("http://scoring/score/{kind}");
    const data = json({ kind: "fraud", amount: 3 });
    const prepared = request(requests.prepare(data));
    assert.equal(prepared.path, "/score/fraud");
    assert.deepEqual(prepared.body, data);
  });

  test("a record read from the middle of a larger buffer is parsed from its own bytes", () => {
    const whole = Buffer.from('garbage{"id":"x1"}garbage');
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 7, 11);
    assert.equal(request(getLookup("http://lookup/{id}").prepare(view)).path, "/x1");
  });

  test("a missing field is refused with a reason naming the field", () => {
    const requests = getLookup("http://lookup/customers/{customer.id}");
    assert.equal(
      reason(requests.prepare(json({ customer: {} }))),
      'record field "customer.id" is missing or not a string, number or boolean; the URL template needs it',
    );
    assert.match(reason(requests.prepare(json({ customer: "c1" }))), /"customer\.id"/);
  });

  test("a field holding an object or null is refused, naming the field", () => {
    const requests = getLookup("http://lookup/{id}");
    assert.match(reason(requests.prepare(json({ id: { nested: 1 } }))), /record field "id"/);
    assert.match(reason(requests.prepare(json({ id: null }))), /record field "id"/);
  });

  test("a record that is not a JSON object is refused, naming the fields the URL needs", () => {
    const requests = getLookup("http://lookup/{region}/{id}");
    for (const data of [Buffer.from("plain text"), json([1, 2]), json("id"), json(null)]) {
      assert.equal(
        reason(requests.prepare(data)),
        "record is not a JSON object; the URL template needs fields region, id",
      );
    }
  });

  test("a placeholder in the host or port is refused when the mapper is built", () => {
    for (const url of ["http://{host}/score", "http://scoring:{port}/score", "http://{host}"]) {
      assert.throws(
        () => mapper(url),
        /endpoint\.url: placeholders may appear in the path and query, not the host/,
        url,
      );
    }
  });

  test("merge mode needs the record to be a JSON object", () => {
    const requests = mapper("http://scoring/score", { response: { mode: "merge" } });
    assert.equal(
      reason(requests.prepare(Buffer.from("plain text"))),
      "record is not a JSON object; response mode merge needs one",
    );
    assert.equal(
      reason(requests.prepare(json([{ id: 1 }]))),
      "record is not a JSON object; response mode merge needs one",
    );
    const prepared = request(requests.prepare(json({ id: 1 })));
    assert.deepEqual(prepared.json, { id: 1 }, "the parsed record is kept for the merge");
  });
});
