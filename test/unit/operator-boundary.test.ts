// The lint rule that keeps the operator to the processor's public surface: it must refuse a
// reach into processor internals (value or type import) and let the contract through.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ESLint, type Linter } from "eslint";
import tseslint from "typescript-eslint";

// The project's own lint config, loaded as ESLint loads it (a JavaScript module without types).
const lintConfigPath = "../../eslint.config.js";
const { operatorBoundary } = (await import(lintConfigPath)) as { operatorBoundary: Linter.Config };

const eslint = new ESLint({
  overrideConfigFile: true,
  overrideConfig: [
    { files: ["**/*.ts"], languageOptions: { parser: tseslint.parser } },
    operatorBoundary,
  ],
});

async function boundaryErrors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((message) => `${message.ruleId ?? ""}: ${message.message}`);
}

test("an operator file importing a processor internal is refused, naming the contract", async () => {
  const errors = await boundaryErrors(
    'import { pause } from "../../processor/util/pause.ts";\nexport const p = pause;\n',
    "operator/controller/example.ts",
  );
  assert.equal(errors.length, 1);
  assert.match(errors[0] ?? "", /no-restricted-imports: .*processor\/contract\.ts only/);
});

test("a type-only import of a processor internal is refused too", async () => {
  const errors = await boundaryErrors(
    'import type { ShardLease } from "../processor/leases/shard-lease.ts";\nexport type L = ShardLease;\n',
    "operator/example.ts",
  );
  assert.equal(errors.length, 1);
});

test("a dynamic import(), a re-export, or a path through ./ of a processor internal is refused too", async () => {
  for (const code of [
    'export const load = () => import("../processor/leases/shard-lease.ts");\n',
    'export { pause } from "../../processor/util/pause.ts";\n',
    'export * from "../processor/logger.ts";\n',
    'import { pause } from "./../processor/util/pause.ts";\nexport const p = pause;\n',
  ]) {
    const errors = await boundaryErrors(code, "operator/example.ts");
    assert.equal(errors.length, 1, code);
    assert.match(errors[0] ?? "", /processor\/contract\.ts only/, code);
  }
  assert.deepEqual(
    await boundaryErrors(
      'export const load = () => import("../processor/contract.ts");\n',
      "operator/example.ts",
    ),
    [],
  );
});

test("the contract itself, and processor files importing each other, pass", async () => {
  assert.deepEqual(
    await boundaryErrors(
      'import { pause } from "../../processor/contract.ts";\nexport const p = pause;\n',
      "operator/controller/example.ts",
    ),
    [],
  );
  assert.deepEqual(
    await boundaryErrors(
      'import { pause } from "../util/pause.ts";\nexport const p = pause;\n',
      "processor/leases/example.ts",
    ),
    [],
  );
});
