/**
 * Rendering for the room: every answer has a plain-text body and HTML, and
 * anything that came from a user is escaped.
 */
import type { Reply } from "../ports/rooms.ts";

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** A user pill: a matrix.to link, which clients show as the user (and which pings them with `m.mentions`). */
export function pill(userId: string): string {
  return `<a href="https://matrix.to/#/${escapeHtml(userId)}">${escapeHtml(userId)}</a>`;
}

/** Short form of an address: 0x1234…abcd. */
export function shortAddress(a: string): string {
  return /^0x[0-9a-fA-F]{40}$/.test(a) ? `${a.slice(0, 6)}…${a.slice(-4)}` : a;
}

export function formatTime(unixSeconds: number): string {
  if (unixSeconds >= 0xffffffff) return "never (paid for life)";
  return new Date(unixSeconds * 1000).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

export function formatPercent(bps: number): string {
  return `${Number((bps / 100).toFixed(2))}%`;
}

export function formatDuration(seconds: number): string {
  if (seconds === 0) return "0s";
  for (const [unit, n] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
  ] as const) {
    if (seconds % n === 0) return `${seconds / n}${unit}`;
  }
  return `${seconds}s`;
}

/** An answer from lines: the first is bold in HTML; `code` lines are monospace. */
export function answer(title: string, lines: string[] = [], code?: string): Reply {
  const text = [title, ...lines, ...(code ? [code] : [])].join("\n");
  const html =
    `<b>${escapeHtml(title)}</b>` +
    (lines.length ? "<br>" + lines.map(escapeHtml).join("<br>") : "") +
    (code ? `<pre><code>${escapeHtml(code)}</code></pre>` : "");
  return { text, html };
}

/** A user id as answers write it (the spec's localpart grammar, a server name, an optional port). */
const USER_IN_TEXT =
  /(?<![\w@/.#!+=-])@[a-z0-9._=\-/+]+:(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::\d{1,5})?/g;

/**
 * The user ids an answer's HTML names, made pills (matrix.to links), and
 * the list of them. Not inside links, code or `<pre>`, nor inside what the
 * answer quotes of the user (“…”): a quoted id is not someone the bot
 * names. At most `max` distinct ids are listed (all are pills).
 */
export function pillify(html: string, max = 50): { html: string; userIds: string[] } {
  const userIds: string[] = [];
  let out = "";
  let inLink = 0;
  let inCode = 0;
  let quoted = false;
  for (const part of html.split(/(<[^<>]*>)/)) {
    if (part.startsWith("<") && part.endsWith(">")) {
      const tag = /^<\/?\s*([a-zA-Z0-9]+)/.exec(part)?.[1]?.toLowerCase();
      const closing = part.startsWith("</");
      if (tag === "a") inLink += closing ? -1 : 1;
      if (tag === "code" || tag === "pre") inCode += closing ? -1 : 1;
      out += part;
      continue;
    }
    if (inLink > 0 || inCode > 0) {
      out += part;
      continue;
    }
    // Split on the quotes the answers put around user text; the runs between them alternate.
    out += part
      .split(/([“”])/)
      .map((run) => {
        if (run === "“") quoted = true;
        else if (run === "”") quoted = false;
        if (quoted || run === "“" || run === "”") return run;
        return run.replace(USER_IN_TEXT, (id) => {
          if (!userIds.includes(id) && userIds.length < max) userIds.push(id);
          return pill(id);
        });
      })
      .join("");
  }
  return { html: out, userIds };
}
