// Writes the ABIs the bot uses at run time (src/governance/abi/*.json) from
// the compiled artifacts, so the bot needs no compiler. A test checks that the
// committed files match the contracts.
//
// usage: node scripts/export-abi.ts [--check]
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mergeGroupAbi } from "../src/governance/abi.ts";

const root = join(import.meta.dirname, "..");
const artifact = (file: string, name: string) =>
  (JSON.parse(readFileSync(join(root, "artifacts", "contracts", file, `${name}.json`), "utf8")) as { abi: unknown[] }).abi;

const bytecode = (file: string, name: string) =>
  (JSON.parse(readFileSync(join(root, "artifacts", "contracts", file, `${name}.json`), "utf8")) as { bytecode: string }).bytecode;

export function currentAbis(): Record<string, unknown> {
  return {
    // The bot deploys a factory itself when its config says chain.factory: deploy
    // (three creations: the extension, the group implementation, the factory).
    "factory.bytecode.json": {
      extension: bytecode("GroupExtension.sol", "GroupExtension"),
      group: bytecode("Group.sol", "Group"),
      factory: bytecode("GroupFactory.sol", "GroupFactory"),
    },
    "group.json": mergeGroupAbi(artifact("Group.sol", "Group"), artifact("GroupExtension.sol", "GroupExtension")),
    "factory.json": artifact("GroupFactory.sol", "GroupFactory"),
  };
}

if (import.meta.main) {
  const check = process.argv.includes("--check");
  let stale = false;
  for (const [file, abi] of Object.entries(currentAbis())) {
    const path = join(root, "src", "governance", "abi", file);
    const text = JSON.stringify(abi, null, 2) + "\n";
    if (check) {
      let old = "";
      try {
        old = readFileSync(path, "utf8");
      } catch {
        /* missing counts as stale */
      }
      if (old !== text) {
        console.error(`stale: ${path} (run: node scripts/export-abi.ts)`);
        stale = true;
      }
    } else {
      writeFileSync(path, text);
    }
  }
  process.exit(stale ? 1 : 0);
}
