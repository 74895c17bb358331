// Turning the endpoint's answer into the output record: replace or merge.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createResponseMapper, type Mapping } from "../../../processor/http/response-mapping.ts";

const output = (mapping: Mapping): string => {
  if (!mapping.ok) assert.fail(`expected an output record, got: ${mapping.reason}`);
  return Buffer.from(mapping.data).toString("utf8");
};

describe("response mapping", () => {
  test("replace returns the response body as the output record, whatever it holds", () => {
    const replace = createResponseMapper({ mode: "replace" });
    const body = Buffer.from("<html>not json</html>");
    const mapping = replace(body, { id: 1 });
    assert.ok(mapping.ok);
    assert.equal(mapping.data, body, "the body itself, not a copy");
  });

  test("merge puts the response JSON under the configured field of the input object", () => {
    const merge = createResponseMapper({ mode: "merge", field: "score" });
    const merged = output(merge(Buffer.from('{"value":0.93,"model":"v2"}'), { id: 1, amount: 9 }));
    assert.deepEqual(JSON.parse(merged), { id: 1, amount: 9, score: { value: 0.93, model: "v2" } });
  });

  test("merge replaces an input field of the same name", () => {
    const merge = createResponseMapper({ mode: "merge", field: "enrichment" });
    const merged = output(merge(Buffer.from("[1,2]"), { id: 1, enrichment: "old" }));
    assert.deepEqual(JSON.parse(merged), { id: 1, enrichment: [1, 2] });
  });

  test("merge accepts any JSON value as the response", () => {
    const merge = createResponseMapper({ mode: "merge", field: "tier" });
    assert.deepEqual(JSON.parse(output(merge(Buffer.from('"gold"'), { id: 1 }))), {
      id: 1,
      tier: "gold",
    });
  });

  test("a response that is not JSON fails the merge with a reason", () => {
    const merge = createResponseMapper({ mode: "merge", field: "enrichment" });
    for (const body of ["<html>", "", '{"open":']) {
      const mapping = merge(Buffer.from(body), { id: 1 });
      assert.deepEqual(
        mapping,
        { ok: false, reason: "response body is not JSON; response mode merge needs JSON" },
        JSON.stringify(body),
      );
    }
  });
});
