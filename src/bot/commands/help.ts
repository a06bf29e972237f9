/**
 * `!help`, derived from the command table: the list (one line per command,
 * as an HTML table, with a plain-text body for clients without HTML), and
 * one command in detail (`!help vote`, `!help propose add`, `!help
 * options`). Also the README's command table (`npm run docs:commands`).
 * Pure.
 */
import { escapeHtml } from "../../text/format.ts";
import type { Reply } from "../../ports/rooms.ts";
import { quote, scrub } from "./hygiene.ts";
import { OPTION_HELP } from "./options.ts";
import { COMMAND_TABLE, descriptionOf, usageOf, type CommandDescription, type HelpTopic } from "./table.ts";
import { lookupTopic } from "./parse.ts";

function safePrefix(prefix: unknown): string {
  return typeof prefix === "string" && prefix !== "" && prefix.length <= 16 ? prefix : "!";
}

/** The lines of one command in detail (the first is its usage line). */
function detailLines(d: CommandDescription, p: string): string[] {
  const lines = [`${p}${usageOf(d.name)}`, d.summary, `Who: ${d.who}.`];
  if (d.aliases.length > 0) lines.push(`Also: ${d.aliases.map((a) => p + a).join(", ")}`);
  for (const param of d.params) if (param.about) lines.push(...param.about.split("\n").map((l) => (l.startsWith("  ") ? l : `  ${l}`)));
  if (d.details) lines.push(...d.details(p));
  return lines;
}

const OPTIONS_TITLE = "Options (key=value):";

/** The topic's lines, or undefined when there is no such topic. */
function topicLines(topic: string, p: string): string[] | undefined {
  const t: HelpTopic | undefined = lookupTopic(scrub(topic).trim().split(/\s+/).slice(0, 3), p);
  if (t === undefined) return undefined;
  const options = [OPTIONS_TITLE, ...OPTION_HELP.map(([k, d]) => `  ${k} — ${d}`)];
  if (t === "options") return options;
  const lines = detailLines(descriptionOf(t), p);
  if (t === "dao-create" || t === "propose-config") lines.push(...options);
  return lines;
}

/**
 * Plain-text help: the command list, or one command (`vote`, `propose add`,
 * an alias, or `options`). `prefix` is shown before command names.
 */
export function helpText(topic?: string, prefix = "!"): string {
  const p = safePrefix(prefix);
  if (typeof topic !== "string" || topic.trim() === "") {
    const list = COMMAND_TABLE.map((c) => `${p}${c.words} — ${c.summary}`);
    return ["Commands:", ...list, footer(p)].join("\n");
  }
  return topicLines(topic, p)?.join("\n") ?? `There is no command ${quote(topic)}. Send ${p}help for the list.`;
}

function footer(p: string): string {
  return `Send ${p}help <command> for details, ${p}help options for settings. From a direct chat, end a group's command with the group's room: ${p}status #room:server.`;
}

/**
 * `!help` as sent: plain text as {@link helpText}, and HTML: the list as a
 * table (command, what it does), or one command with its usage in code.
 */
export function helpAnswer(topic?: string, prefix = "!"): Reply {
  const p = safePrefix(prefix);
  const text = helpText(topic, p);
  if (typeof topic !== "string" || topic.trim() === "") {
    const rows = COMMAND_TABLE.map((c) => `<tr><td><code>${escapeHtml(p + c.words)}</code></td><td>${escapeHtml(c.summary)}</td></tr>`).join("");
    const html = `<b>Commands</b><table><thead><tr><th>command</th><th>what it does</th></tr></thead><tbody>${rows}</tbody></table><p>${escapeHtml(footer(p))}</p>`;
    return { text, html };
  }
  const lines = topicLines(topic, p);
  if (lines === undefined) return { text, html: escapeHtml(text) };
  const [usage, ...rest] = lines;
  const html =
    `<p><code>${escapeHtml(usage ?? "")}</code></p>` +
    rest
      .map((l) => escapeHtml(l.trim() === "" ? l : l))
      .map((l) => (l.startsWith("  ") ? `&nbsp;&nbsp;${l.trimStart()}` : l))
      .join("<br>");
  return { text, html };
}

/** The README's command table (Markdown), one row per command: usage, what it does, who may run it. */
export function commandTableMarkdown(prefix = "!"): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  const rows = COMMAND_TABLE.map((d) => `| \`${cell(prefix + usageOf(d.name))}\` | ${cell(d.summary)} | ${cell(d.who)} |`);
  return ["| command | what it does | who |", "| --- | --- | --- |", ...rows].join("\n");
}
