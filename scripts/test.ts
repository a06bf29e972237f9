// Runs every test suite of the project and prints one closing line,
// `N passed, N failed`, summed over the suites. Exit code 0 only when every
// suite ran and nothing failed.
//
// usage: node scripts/test.ts [--only=typecheck|lint|solidity|vitest|e2e-anvil] [vitest args...]
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

interface SuiteResult {
  name: string;
  passed: number;
  failed: number;
  exitCode: number;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      process.stdout.write(d);
    });
    child.stderr.on("data", (d: Buffer) => {
      out += d.toString();
      process.stderr.write(d);
    });
    child.on("close", (code) => resolve({ code: code ?? 1, out }));
  });
}

/** The TypeScript compiler in strict mode over src, test, scripts and bench. */
async function typecheck(): Promise<SuiteResult> {
  const { code, out } = await run("npx", ["tsc", "-p", "."]);
  const errors = (out.match(/error TS\d+/g) ?? []).length;
  return { name: "typecheck", passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : Math.max(errors, 1), exitCode: code };
}

/**
 * The code habits, over every file of the project: prettier (formatting),
 * ESLint with typescript-eslint's strictTypeChecked rules, and solhint over
 * the contracts. One check per tool, failed when the tool reports anything,
 * warnings included. `npm run lint` runs this suite alone.
 */
async function lint(): Promise<SuiteResult> {
  const tools: [name: string, args: string[]][] = [
    ["prettier", ["prettier", "--check", "."]],
    ["eslint", ["eslint", "--max-warnings=0", "."]],
    // --disc: no look-up of newer solhint versions.
    ["solhint", ["solhint", "--disc", "--noPoster", "--max-warnings=0", "contracts/**/*.sol"]],
  ];
  let passed = 0;
  let failed = 0;
  for (const [name, args] of tools) {
    const { code } = await run("npx", args);
    if (code === 0) passed++;
    else {
      failed++;
      console.log(`lint: ${name} reported problems (above)`);
    }
  }
  return { name: "lint", passed, failed, exitCode: 0 };
}

/** Hardhat's Solidity test runner prints mocha-style "N passing" / "N failing". */
async function solidity(): Promise<SuiteResult> {
  const { code, out } = await run("npx", ["hardhat", "test", "solidity"]);
  // eslint-disable-next-line no-control-regex -- the ESC of the terminal colour codes is the point
  const plain = out.replace(/\x1b\[[0-9;]*m/g, "");
  const passed = Number(/(\d+) passing/.exec(plain)?.[1] ?? 0);
  const failed = Number(/(\d+) failing/.exec(plain)?.[1] ?? 0);
  return { name: "solidity", passed, failed, exitCode: code };
}

async function vitest(extra: string[], name = "vitest", env: NodeJS.ProcessEnv = process.env): Promise<SuiteResult> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-vitest-"));
  const report = join(dir, "report.json");
  try {
    const { code } = await run("npx", ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...extra], env);
    let passed = 0;
    let failed = 0;
    try {
      const json = JSON.parse(readFileSync(report, "utf8")) as {
        numPassedTests: number;
        numFailedTests: number;
        testResults: { status: string; assertionResults: { status: string }[] }[];
      };
      passed = json.numPassedTests;
      // A file that fails without a failed test (it did not load, or a hook failed) counts once.
      const fileFailures = json.testResults.filter((f) => f.status === "failed" && !f.assertionResults.some((a) => a.status === "failed")).length;
      failed = json.numFailedTests + fileFailures;
    } catch {
      failed = 1;
    }
    return { name, passed, failed, exitCode: code };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
const only = args.find((a) => a.startsWith("--only="))?.slice("--only=".length);
const rest = args.filter((a) => !a.startsWith("--only="));

const results: SuiteResult[] = [];
// Every suite reads compiled artifacts; a compile error fails the run here.
// (The lint suite alone needs no build.)
if (only !== "lint") {
  const build = await run("npx", ["hardhat", "build", "--quiet"]);
  if (build.code !== 0) results.push({ name: "build", passed: 0, failed: 1, exitCode: build.code });
}
if (!only || only === "typecheck") results.push(await typecheck());
if (!only || only === "lint") results.push(await lint());
if (!only || only === "solidity") results.push(await solidity());
if (!only || only === "vitest") {
  // The store tests start a real PostgreSQL: install Debian's when missing
  // (as root), or say loudly what is missing.
  const pg = await run("bash", ["scripts/postgres-install.sh"]);
  if (pg.code !== 0) results.push({ name: "postgres", passed: 0, failed: 1, exitCode: pg.code });
  // The browser tests drive Debian's Chromium: installed the same way.
  const chromium = await run("bash", ["scripts/chromium-install.sh"]);
  if (chromium.code !== 0) results.push({ name: "chromium", passed: 0, failed: 1, exitCode: chromium.code });
  results.push(await vitest(rest));
}
// The end-to-end suite once more against a second node implementation
// (Foundry's anvil, from npm): nothing may depend on Hardhat's node.
if (!only || only === "e2e-anvil") {
  results.push(await vitest(["test/e2e", ...(only ? rest : [])], "e2e on anvil", { ...process.env, CONCLAVE_CHAIN: "anvil" }));
}

let passed = 0;
let failed = 0;
for (const r of results) {
  // A suite that exits non-zero without reporting a failure still failed.
  const f = r.exitCode !== 0 && r.failed === 0 ? 1 : r.failed;
  console.log(`${r.name}: ${r.passed} passed, ${f} failed`);
  passed += r.passed;
  failed += f;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
