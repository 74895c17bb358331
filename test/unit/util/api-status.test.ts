// Failed Kubernetes API calls as @kubernetes/client-node raises them (ApiException): their status
// code, "absent" on 404, and the API server's own message for Events and logs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiException } from "@kubernetes/client-node";
import {
  apiErrorMessage,
  apiStatusCode,
  unlessNotFound,
} from "../../../processor/util/api-status.ts";

const refused = new ApiException(
  422,
  "HTTP-Code: 422\nMessage: Unknown API Status Code!\nBody: ...\nHeaders: {audit-id: ...}",
  JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    message: 'asyncenrichmentjobs.asyncenrichment.dev "orders" is forbidden: denied request',
    reason: "Invalid",
    code: 422,
  }),
  { "audit-id": "2b7c643a" },
);

test("the API server's Status message, without the headers that differ on every call", () => {
  assert.equal(
    apiErrorMessage(refused),
    'asyncenrichmentjobs.asyncenrichment.dev "orders" is forbidden: denied request',
  );
  assert.match(
    apiErrorMessage(new ApiException(500, "plain", "not json", {})),
    /^HTTP-Code: 500\nMessage: plain/,
    "no Status: the exception's own message",
  );
  assert.equal(apiErrorMessage(new Error("connect ECONNREFUSED")), "connect ECONNREFUSED");
  assert.equal(apiErrorMessage("odd"), "odd");
});

test("a status code only where the API server answered; 404 reads as absent", async () => {
  assert.equal(apiStatusCode(refused), 422);
  assert.equal(apiStatusCode(new Error("socket hang up")), undefined);
  const missing = new ApiException(404, "not found", "{}", {});
  assert.equal(await unlessNotFound<string>(Promise.reject(missing)), undefined);
  await assert.rejects(unlessNotFound(Promise.reject(refused)), refused);
  assert.equal(await unlessNotFound(Promise.resolve("found")), "found");
});
