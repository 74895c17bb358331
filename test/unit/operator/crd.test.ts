// The CRD is generated from the zod schemas; these check it is fresh and structural.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { chartCrdPath, crd, crdPath, crdYaml } from "../../../operator/api/crd.ts";

test("crds/ and the Helm chart's copy match the schema (run `npm run crds` after changing operator/api)", () => {
  assert.equal(readFileSync(crdPath, "utf8"), crdYaml());
  assert.equal(readFileSync(chartCrdPath, "utf8"), crdYaml());
});

test("the schema is structural: no additionalProperties false, no oneOf or anyOf", () => {
  const text = JSON.stringify(crd());
  assert.doesNotMatch(text, /"additionalProperties":false/);
  assert.doesNotMatch(text, /"(oneOf|anyOf|\$ref|\$schema)"/);
});

test("scale maps to parallelism and conditions are a list-map keyed by type", () => {
  const version = (crd().spec as { versions: Record<string, unknown>[] }).versions[0] as {
    subresources: { scale: Record<string, string> };
    schema: {
      openAPIV3Schema: {
        properties: { status: { properties: { conditions: Record<string, unknown> } } };
      };
    };
  };
  assert.deepEqual(version.subresources.scale, {
    specReplicasPath: ".spec.parallelism",
    statusReplicasPath: ".status.replicas",
    labelSelectorPath: ".status.selector",
  });
  const conditions = version.schema.openAPIV3Schema.properties.status.properties.conditions;
  assert.equal(conditions["x-kubernetes-list-type"], "map");
  assert.deepEqual(conditions["x-kubernetes-list-map-keys"], ["type"]);
});
