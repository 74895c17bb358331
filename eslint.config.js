import js from "@eslint/js";
import tseslint from "typescript-eslint";

// The operator reaches processor code through its public surface only, as it would a package:
// static imports, re-exports and dynamic import() alike.
const processorInternal = "^(\\.{1,2}/)+processor/(?!contract\\.ts$)";
const boundaryMessage =
  "The operator imports the processor through processor/contract.ts only: export what it needs there.";
export const operatorBoundary = {
  files: ["operator/**/*.ts"],
  rules: {
    "no-restricted-imports": [
      "error",
      { patterns: [{ regex: processorInternal, message: boundaryMessage }] },
    ],
    "no-restricted-syntax": [
      "error",
      {
        selector: `ImportExpression[source.value=/${processorInternal.replaceAll("/", "\\/")}/]`,
        message: boundaryMessage,
      },
    ],
  },
};

export default tseslint.config(
  { ignores: ["node_modules/", ".cache/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true }],
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "describe", "it", "suite"] },
          ],
        },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      // `const { dropped, ...kept } = object` is how a key is left out of an object.
      "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true }],
      // client-node's models are classes, but the API takes (and idiom writes) plain objects.
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
    },
  },
  operatorBoundary,
  {
    files: ["**/*.js"],
    extends: [tseslint.configs.disableTypeChecked],
  },
);
