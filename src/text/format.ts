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
  for (const [unit, n] of [["d", 86_400], ["h", 3600], ["m", 60]] as const) {
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
