// Writes the README's command table from the command table
// (src/bot/commands/table.ts), between its two markers. A unit test
// (test/unit/commands-doc.test.ts) checks that the README matches.
//
// usage: node scripts/docs-commands.ts [--check]
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commandTableMarkdown } from "../src/bot/commands/help.ts";

export const BEGIN = "<!-- commands: made by npm run docs:commands from src/bot/commands/table.ts; do not edit -->";
export const END = "<!-- /commands -->";

/** `readme` with the table between the markers made anew. */
export function withCommandTable(readme: string): string {
  const a = readme.indexOf(BEGIN);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${BEGIN} … ${END} markers`);
  return `${readme.slice(0, a + BEGIN.length)}\n${commandTableMarkdown()}\n${readme.slice(b)}`;
}

if (import.meta.main) {
  const path = join(import.meta.dirname, "..", "README.md");
  const before = readFileSync(path, "utf8");
  const after = withCommandTable(before);
  if (process.argv.includes("--check")) {
    if (after !== before) {
      console.error("README.md: the command table differs from src/bot/commands/table.ts; run npm run docs:commands");
      process.exit(1);
    }
  } else if (after !== before) {
    writeFileSync(path, after);
    console.log("README.md: command table written");
  }
}
