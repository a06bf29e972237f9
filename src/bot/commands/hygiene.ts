/**
 * What the parser does to user text before it reads or quotes it: the
 * limits, invisible characters, one-line messages, quoting, tokens, and the
 * closest known word for a typo. Pure.
 */

/** Longest first line processed, in UTF-16 code units. */
export const MAX_LINE = 4096;
/** Longest error message. */
export const MAX_MESSAGE = 300;
/** Longest piece of user text quoted in an error. */
export const MAX_QUOTE = 40;

// ---------------------------------------------------------------------------
// Text hygiene

/** Bidirectional embeddings, overrides and isolates. */
export const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/;
/** Characters never shown to a reader in an error. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/gu;

/** User text fit to quote in an error: printable, one line, at most `max` code points. */
export function quote(s: string, max = MAX_QUOTE): string {
  const clean = s.replace(UNPRINTABLE, "").replace(/\s+/g, " ").trim();
  const cps = Array.from(clean.length > max * 4 ? clean.slice(0, max * 4) : clean);
  const cut = cps.length > max ? cps.slice(0, max - 1).join("") + "…" : cps.join("");
  return `“${cut}”`;
}

/** One printable line of at most {@link MAX_MESSAGE} UTF-16 code units, never splitting a character. */
export function cleanMessage(s: string): string {
  const clean = s.replace(UNPRINTABLE, "").replace(/\s+/g, " ").trim();
  if (clean.length <= MAX_MESSAGE) return clean;
  let out = "";
  for (const cp of clean) {
    if (out.length + cp.length > MAX_MESSAGE - 1) break;
    out += cp;
  }
  return out + "…";
}

/**
 * Drop invisible format characters (zero-width, marks, soft hyphen, BOM, tags),
 * turn control characters into spaces and lone surrogates into U+FFFD.
 */
export function scrub(s: string): string {
  return s
    .replace(/\p{Cf}/gu, "")
    .replace(/\p{Cc}/gu, " ")
    .replace(/\p{Cs}/gu, "\uFFFD");
}

// ---------------------------------------------------------------------------
// Results

export type Fail = { kind: "error"; message: string; usage?: string };

export function fail(message: string, usage?: string): Fail {
  const out: Fail = { kind: "error", message: cleanMessage(message) };
  if (usage !== undefined) out.usage = cleanMessage(usage);
  return out;
}

// ---------------------------------------------------------------------------
// Tokens

export interface Token {
  /** Text with quotes removed. */
  text: string;
  /** Offset of the token in the command text. */
  start: number;
  /** Offset just after it. */
  end: number;
}

const QUOTES = new Set(['"', "“", "”"]);

/** Split on white space; double quotes (straight or curly) group words. */
export function tokenize(s: string): Token[] | string {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i] ?? "")) i++;
    if (i >= s.length) break;
    const start = i;
    let text = "";
    let quoted = false;
    while (i < s.length) {
      const ch = s[i] ?? "";
      if (QUOTES.has(ch)) quoted = !quoted;
      else if (!quoted && /\s/.test(ch)) break;
      else text += ch;
      i++;
    }
    if (quoted) return "A quote is not closed.";
    out.push({ text, start, end: i });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Suggestions

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 99) + 1, (cur[j - 1] ?? 99) + 1, (prev[j - 1] ?? 99) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 99;
}

/** The candidate closest to `word`, if it is close enough to be a typo. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  if (word.length > 40) return undefined;
  const limit = word.length <= 3 ? 1 : 2;
  let best: string | undefined;
  let bestD = limit + 1;
  for (const c of candidates) {
    const d = distance(word, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}
