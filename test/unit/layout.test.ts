/**
 * The layout of src/ as ARCHITECTURE.md describes it, read from the import
 * statements themselves (TypeScript's parser, not regular expressions):
 * - no import cycle between the top-level parts of src/ (folders, and
 *   main.ts), type imports included;
 * - pure logic (ports, parsing, ids, rendering, desired state, the store's
 *   and the chain's vocabulary) imports no SDK, not even through another
 *   module;
 * - each SDK is imported only by its adapter.
 */
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const SRC = resolve(import.meta.dirname, "../../src");

interface Import {
  /** a path relative to src/ for our own modules, else the package name */
  target: string;
  local: boolean;
  /** `import type …` / `export type …`: erased, never loaded at run time */
  typeOnly: boolean;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return files(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

/** The package an import names: `@scope/pkg` or `pkg` (subpaths dropped), or `node:x`. */
function packageOf(spec: string): string {
  if (spec.startsWith("node:")) return spec;
  const parts = spec.split("/");
  return spec.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? spec);
}

function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const out: Import[] = [];
  const add = (spec: string, typeOnly: boolean) => {
    const local = spec.startsWith(".");
    out.push({ target: local ? relative(SRC, resolve(dirname(file), spec)) : packageOf(spec), local, typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.importClause?.phaseModifier === ts.SyntaxKind.TypeKeyword);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      add(node.moduleSpecifier.text, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteral(arg)) add(arg.text, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal.text, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** The top-level part of src/ a module belongs to: its first folder, or the file itself. */
function part(path: string): string {
  const first = path.split("/")[0] ?? path;
  return path.includes("/") ? first : first.replace(/\.ts$/, "");
}

/** A cycle in `graph` as a path `a → b → … → a`, or undefined. */
export function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const walk = (n: string): string[] | undefined => {
    state.set(n, "open");
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === "open") return [...stack.slice(stack.indexOf(m)), m];
      if (state.get(m) === undefined) {
        const c = walk(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const n of [...graph.keys()].sort()) {
    if (state.get(n) === undefined) {
      const c = walk(n);
      if (c) return c;
    }
  }
  return undefined;
}

const modules = new Map(files(SRC).map((f) => [relative(SRC, f), importsOf(f)]));

/** SDKs: only adapters import them. */
const SDKS = ["matrix-js-sdk", "@matrix-org/matrix-sdk-crypto-wasm", "fake-indexeddb", "ethers", "express", "node:sqlite", "pg"];

/** Pure logic: no I/O, no SDK. A folder ends with "/". */
const PURE = [
  "ports/",
  "text/",
  "bot/commands/parse.ts",
  "bot/commands/table.ts",
  "bot/commands/help.ts",
  "bot/commands/args.ts",
  "bot/commands/options.ts",
  "bot/commands/hygiene.ts",
  "bot/ids.ts",
  "bot/plan.ts",
  "bridge/desired.ts",
  "store/store.ts",
  "governance/types.ts",
];
const isPure = (m: string) => PURE.some((p) => (p.endsWith("/") ? m.startsWith(p) : m === p));

/** Where each SDK may be imported (directly). */
const ALLOWED: Record<string, string[]> = {
  "matrix-js-sdk": ["matrix/"],
  "@matrix-org/matrix-sdk-crypto-wasm": ["matrix/"],
  "fake-indexeddb": ["matrix/"],
  "node:sqlite": ["store/"],
  pg: ["store/"],
  express: ["web/"],
};

describe("the layout of src/", () => {
  it("reads the imports it checks", () => {
    // The checks below mean something only if the reader sees the imports.
    expect(modules.size).toBeGreaterThan(20);
    expect(modules.get("matrix/adapter.ts")?.some((i) => i.target === "matrix-js-sdk")).toBe(true);
    expect(modules.get("bot/context.ts")?.some((i) => i.local && i.target === "ports/chain.ts" && i.typeOnly)).toBe(true);
    expect(modules.get("main.ts")?.some((i) => i.local && i.target === "bridge/bridge.ts" && !i.typeOnly)).toBe(true);
  });

  it("finds a cycle when there is one", () => {
    const g = new Map([
      ["bot", new Set(["ports", "bridge"])],
      ["bridge", new Set(["ports", "bot"])],
      ["ports", new Set<string>()],
    ]);
    expect(findCycle(g)).toEqual(["bot", "bridge", "bot"]);
    g.get("bridge")!.delete("bot");
    expect(findCycle(g)).toBeUndefined();
  });

  it("has no import cycle between its top-level parts", () => {
    const graph = new Map<string, Set<string>>();
    for (const [m, imports] of modules) {
      const from = part(m);
      const edges = graph.get(from) ?? new Set<string>();
      graph.set(from, edges);
      for (const i of imports) if (i.local && part(i.target) !== from) edges.add(part(i.target));
    }
    expect(findCycle(graph)).toBeUndefined();
    // Nothing imports the entry point.
    expect([...graph].filter(([, to]) => to.has("main")).map(([from]) => from)).toEqual([]);
  });

  it("keeps SDKs out of pure logic, also through other modules", () => {
    const pure = [...modules.keys()].filter(isPure);
    expect(pure.length).toBeGreaterThanOrEqual(PURE.length);
    const problems: string[] = [];
    for (const start of pure) {
      // Every module this one loads at run time, and what they load.
      const seen = new Set<string>([start]);
      const queue = [start];
      while (queue.length > 0) {
        const m = queue.shift()!;
        for (const i of modules.get(m) ?? []) {
          if (i.typeOnly) continue;
          if (!i.local) {
            if (SDKS.includes(i.target) && m !== start) problems.push(`${start} loads ${i.target} through ${m}`);
          } else if (!seen.has(i.target)) {
            seen.add(i.target);
            queue.push(i.target);
          }
        }
      }
      // Type imports of an SDK are a dependency too.
      for (const i of modules.get(start) ?? []) if (!i.local && SDKS.includes(i.target)) problems.push(`${start} imports ${i.target}`);
    }
    expect(problems).toEqual([]);
  });

  it("lets only each SDK's adapter import it", () => {
    const problems: string[] = [];
    for (const [m, imports] of modules) {
      for (const i of imports) {
        const allowed = ALLOWED[i.target];
        if (!i.local && allowed && !allowed.some((p) => m.startsWith(p))) problems.push(`${m} imports ${i.target}`);
        if (!i.local && i.target === "ethers" && /^(matrix|store|ports|text|web)\//.test(m)) problems.push(`${m} imports ethers`);
      }
    }
    expect(problems).toEqual([]);
  });
});
