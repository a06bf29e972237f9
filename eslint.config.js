// @ts-check
// ESLint with typescript-eslint's strictTypeChecked rules, typed by the
// project's tsconfig.json. `npm run lint` runs it with prettier and solhint;
// `npm test` runs the same as its `lint` suite.
//
// Each relaxation of the preset below says why the code's habit is deliberate.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import tseslint from "typescript-eslint";

export default defineConfig(
  // Installed, generated or written by the tools: never the project's code.
  { ignores: ["node_modules/", ".tools/", ".venv/", ".run/", "artifacts/", "cache/", "coverage/", "types/", "dist/", "test-results/"] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: "./tsconfig.json", tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers, bigints and booleans read well in messages (`proposal #${n}`,
      // `${fee} wei`); objects, nullish values and unions with them stay
      // flagged, since they print as "[object Object]" or "undefined".
      "@typescript-eslint/restrict-template-expressions": ["error", { allowNumber: true, allowBoolean: true }],
      // With noUncheckedIndexedAccess every index read is optional; `!` is how
      // the code states an invariant the types cannot see (an index in bounds,
      // a key just set, a row an aggregate query always returns). A wrong `!`
      // still fails loudly, and no-unnecessary-type-assertion (kept) flags a
      // `!` on a value that cannot be missing.
      "@typescript-eslint/no-non-null-assertion": "off",
      // An `async` function that awaits nothing still turns a throw into a
      // rejected promise: the Store implementations and the ports' fakes keep
      // `async` so that callers see one failure mode. Dropping it would
      // change behaviour.
      "@typescript-eslint/require-await": "off",
      // `(x) => void-call(x)` as a callback is the idiom for handlers and
      // timers; the rule still flags a void value used anywhere else.
      "@typescript-eslint/no-confusing-void-expression": ["error", { ignoreArrowShorthand: true }],
      // A leading `_` names a parameter a signature requires but the body does
      // not use (express tells error handlers by their four parameters), and
      // `const { a: _, ...rest } = x` is how the code drops a key.
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", ignoreRestSiblings: true }],
    },
  },
  {
    // Tests, benchmarks and the dev scripts (harness, demo) drive the
    // contracts through ethers' `Contract`, whose methods are `any` by design
    // when no bindings are generated (the project generates none: the ABI is
    // the contract; `connect()` returns a BaseContract that ethers' own docs
    // cast back to `Contract`), read raw Matrix event contents (`any` in
    // matrix-js-sdk) and use vitest's asymmetric matchers (`any` too). Every
    // value read there is checked by an assertion or printed. The bot itself
    // (src/) keeps these rules: its chain client types each result.
    files: ["test/**", "bench/**", "scripts/**"],
    rules: {
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      "@typescript-eslint/no-unsafe-class-instance-assignment": "off",
    },
  },
  // This file and other plain JavaScript: not in tsconfig.json, so untyped.
  { files: ["**/*.js"], extends: [tseslint.configs.disableTypeChecked] },
);
