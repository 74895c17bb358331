// docs/processor-config.md is generated from the config schema; this fails when it is stale.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { configReference } from "../../../processor/config/reference.ts";

test("docs/processor-config.md matches the config schema (run `npm run docs` after changing it)", () => {
  const written = readFileSync(
    join(import.meta.dirname, "../../../docs/processor-config.md"),
    "utf8",
  );
  assert.equal(written, configReference());
});
