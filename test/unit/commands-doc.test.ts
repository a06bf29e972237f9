/**
 * The README's command table is made from the command table
 * (`npm run docs:commands`): this keeps the two equal, and the table
 * complete (every command parsed, helped and documented from one place).
 */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BEGIN, END, withCommandTable } from "../../scripts/docs-commands.ts";
import { commandTableMarkdown, helpAnswer, helpText } from "../../src/bot/commands/help.ts";
import { COMMAND_TABLE, usageOf } from "../../src/bot/commands/table.ts";
import { COMMANDS, parseCommand } from "../../src/bot/commands/parse.ts";

const README = readFileSync(join(import.meta.dirname, "../../README.md"), "utf8");

describe("the command table", () => {
  it("is the README's command table, as npm run docs:commands writes it", () => {
    expect(README).toContain(BEGIN);
    expect(README).toContain(END);
    expect(withCommandTable(README)).toBe(README);
    const table = README.slice(README.indexOf(BEGIN) + BEGIN.length, README.indexOf(END)).trim();
    expect(table).toBe(commandTableMarkdown());
    // One row per command, each with its usage line.
    expect(table.split("\n")).toHaveLength(COMMAND_TABLE.length + 2);
    for (const d of COMMAND_TABLE) expect(table).toContain(`\`!${usageOf(d.name).replace(/\|/g, "\\|")}\``);
  });

  it("a README whose table was edited by hand differs from what the script writes", () => {
    const edited = README.replace("| `!widget` |", "| `!widget now` |");
    expect(edited).not.toBe(README);
    expect(withCommandTable(edited)).toBe(README);
  });

  it("parses every command it describes by its words and aliases, and helps with each", () => {
    for (const d of COMMAND_TABLE) {
      for (const written of [d.words, ...d.aliases]) {
        const r = parseCommand({ body: `!${written}` }, { prefix: "!", defaultServer: "x.org" });
        expect(r.kind === "ok" ? r.command.name : r.kind === "error" ? (r.usage ?? "") : "none").toMatch(new RegExp(`^(${d.name}|${d.words.split(" ")[0]})`));
      }
      expect(helpText(d.words)).toContain(d.summary);
      expect(helpText(d.words)).toContain(`Who: ${d.who}.`);
    }
    expect(COMMANDS.map((c) => c.name)).toEqual(COMMAND_TABLE.map((d) => d.name));
  });

  it("gives !help as HTML: a table with one row per command, and a plain-text body", () => {
    const a = helpAnswer();
    expect(a.text).toMatch(/^Commands:\n!help — /);
    expect(a.text.split("\n").filter((l) => l.startsWith("!"))).toHaveLength(COMMAND_TABLE.length);
    expect(a.html).toMatch(/^<b>Commands<\/b><table>/);
    expect(a.html?.match(/<tr><td><code>/g)).toHaveLength(COMMAND_TABLE.length);
    expect(a.html).toContain("<code>!propose add</code>");
    const one = helpAnswer("propose add", "?");
    expect(one.text).toMatch(/^\?propose add <@user:server> \[#room:server\]/);
    expect(one.html).toMatch(/^<p><code>\?propose add &lt;@user:server&gt; \[#room:server\]<\/code><\/p>/);
    expect(helpAnswer("nope").text).toMatch(/There is no command “nope”/);
  });
});
