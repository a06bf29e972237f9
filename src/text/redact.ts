/**
 * Secrets that live in URLs (RPC endpoints carry API keys in the path, the
 * query or the user part) kept out of logs and answers. Pure.
 */

/** The URL as it may be shown: scheme and host only, and "/…" when something was left out. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    const hidden = u.username !== "" || u.password !== "" || (u.pathname !== "/" && u.pathname !== "") || u.search !== "" || u.hash !== "";
    return `${u.protocol}//${u.host}${hidden ? "/…" : ""}`;
  } catch {
    return "(a URL)";
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A function that replaces, in any text, each of `urls` (in the forms it
 * may be printed in) by its redacted form, and their secret parts (user
 * part, path, query) wherever they appear alone.
 */
export function urlRedactor(urls: readonly string[]): (text: string) => string {
  const rules: [RegExp, string][] = [];
  for (const url of urls) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      continue;
    }
    const shown = redactedUrl(url);
    const forms = new Set([url, u.href, u.href.replace(/\/$/, "")]);
    for (const f of [...forms].sort((a, b) => b.length - a.length)) rules.push([new RegExp(escape(f), "g"), shown]);
    // Each secret-bearing part alone too: an error text may print the path
    // without its query, or one query value, or the user part decoded.
    const values = [...u.searchParams.values()];
    const decoded = [u.username, u.password].map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
    const path = u.pathname === "/" ? "" : u.pathname;
    // Alone, a path or a query value is taken out only when it is long enough
    // to be a key (a value such as "true" or "mainnet" is left alone).
    const parts = [
      ...[u.pathname + u.search + u.hash, u.search, u.hash, u.password, u.username, ...decoded].filter((p) => p.length >= 4),
      ...[path, ...values].filter((p) => p.length >= 8),
    ];
    for (const p of parts.sort((a, b) => b.length - a.length)) rules.push([new RegExp(escape(p), "g"), "…"]);
  }
  return (text) => rules.reduce((t, [re, to]) => t.replace(re, to), text);
}
