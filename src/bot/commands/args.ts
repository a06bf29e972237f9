/**
 * The typed parameters of commands, read from the tokens of a command: a
 * user (a full id, a pill, or a bare name on the default server), a
 * proposal number, a vote choice, a signature, a room (its id or its
 * address). Pure.
 */
import type { ProposalNumber, RoomAlias, RoomId, UserId } from "../ids.ts";
import { localpart, proposalNumber, roomAlias, roomId, STRICT_LOCALPART, userId } from "../ids.ts";
import { fail, quote, scrub, type Fail, type Token } from "./hygiene.ts";

export type VoteChoice = "for" | "against" | "abstain";

/** A room as a command names it: its id, or its address in the homeserver directory. */
export type RoomRef = RoomId | RoomAlias;

/** How much of formatted_body is searched for pills. */
const MAX_FORMATTED = 65536;
const MAX_PILLS = 64;
/** Longest HTML inside one pill (display names are at most a few hundred characters). */
const MAX_PILL_HTML = 2048;

/** A preview's code. */
/** How long a preview's code is. */
export const PREVIEW_CODE_LENGTH = 6;
/** The letters and digits of preview codes: none that reads as another (no 0/O, 1/I/L). */
export const PREVIEW_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
export const PREVIEW_CODE = new RegExp(`^[${PREVIEW_CODE_ALPHABET}${PREVIEW_CODE_ALPHABET.toLowerCase()}]{${PREVIEW_CODE_LENGTH}}$`);

export const ZERO = "0x0000000000000000000000000000000000000000";

// ---------------------------------------------------------------------------
// Mentions

interface Pill {
  /** The link text, as shown (display name), normalized. */
  text: string;
  id: UserId;
}

const ENTITIES = new Map([
  ["amp", "&"],
  ["lt", "<"],
  ["gt", ">"],
  ["quot", '"'],
  ["apos", "'"],
  ["nbsp", " "],
]);

function decodeEntities(s: string): string {
  return s.replace(/&(#[xX][0-9a-fA-F]{1,6}|#\d{1,7}|[a-zA-Z]{2,8});/g, (m, e: string) => {
    if (e[0] === "#") {
      const cp = e[1] === "x" || e[1] === "X" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES.get(e.toLowerCase()) ?? m;
  });
}

/** A user id from a `https://matrix.to/#/@u:s` or `matrix:u/u:s` link. */
export function userFromLink(href: string): UserId | undefined {
  let m = /^https?:\/\/matrix\.to\/#\/([^?#\s]+)/i.exec(href);
  let raw: string;
  if (m !== null && m[1] !== undefined) raw = m[1];
  else {
    m = /^matrix:u\/([^?#\s]+)/i.exec(href);
    if (m === null || m[1] === undefined) return undefined;
    raw = "@" + m[1];
  }
  try {
    raw = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  return userId(raw);
}

/** Normalize shown text for comparing a body argument with a pill's text. */
export function normName(s: string): string {
  return scrub(s).replace(/\s+/g, " ").trim();
}

/** The `<a href="…matrix.to/#/@user…">text</a>` pills of a formatted body. */
function extractPills(html: string): Pill[] {
  let s = html.length > MAX_FORMATTED ? html.slice(0, MAX_FORMATTED) : html;
  // Drop a legacy reply fallback: it quotes someone else's message.
  const replyEnd = s.search(/<\/mx-reply\s*>/i);
  if (replyEnd >= 0 && /^\s*<mx-reply/i.test(s)) s = s.slice(replyEnd).replace(/^<\/mx-reply\s*>/i, "");
  const pills: Pill[] = [];
  const open = /<a[\s>]/gi;
  const close = /<\/a\s*>/gi;
  let at = 0;
  while (pills.length < MAX_PILLS) {
    open.lastIndex = at;
    const o = open.exec(s);
    if (o === null) break;
    const gt = s.indexOf(">", o.index + 2);
    if (gt < 0) break;
    close.lastIndex = gt + 1;
    const c = close.exec(s);
    if (c === null) break;
    at = c.index + c[0].length;
    const attrs = s.slice(o.index + 2, gt);
    const h = /\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/i.exec(attrs);
    if (h === null) continue;
    const id = userFromLink(decodeEntities(h[1] ?? h[2] ?? h[3] ?? "").trim());
    if (id === undefined) continue;
    const inner = s.slice(gt + 1, c.index);
    if (inner.length > MAX_PILL_HTML) continue;
    // `[^<>]`, not `[^>]`: a run of `<` without `>` must not make this quadratic.
    const text = normName(decodeEntities(inner.replace(/<[^<>]*>/g, "")));
    pills.push({ text, id });
  }
  return pills;
}

export interface ParseContext {
  prefix: string;
  defaultServer: string | undefined;
  /** The command text after the prefix. */
  text: string;
  formattedBody: string | undefined;
  pillCache?: Pill[];
}

export function pills(ctx: ParseContext): Pill[] {
  if (ctx.pillCache === undefined) ctx.pillCache = ctx.formattedBody === undefined ? [] : extractPills(ctx.formattedBody);
  return ctx.pillCache;
}

export function distinct(ids: Iterable<UserId>): UserId[] {
  return [...new Set(ids)];
}

/** Loose form of a name: no leading `@`, no trailing `:`/`,`, lower case. */
export function loose(s: string): string {
  return s.replace(/^@/, "").replace(/[:,]$/, "").toLowerCase();
}

/**
 * Who the user meant by `written`, in this order:
 * 1. a full user id (`@alice:server`) or a matrix.to link: taken as written,
 *    unless a pill with that very text links to someone else (refused);
 * 2. a pill of the formatted body whose text is `written` (the display name
 *    Element leaves in the plain body), exact, then ignoring case and `@`;
 * 3. a pill's user whose localpart is `written`;
 * 4. a bare `alice` / `@alice` (strict localpart grammar) on the default server.
 * A pill wins over a bare name: it is what the sender picked, and it shows.
 * `m.mentions` play no part: nobody sees them, so they could name a target
 * the visible text does not.
 */
export function resolveUser(ctx: ParseContext, written: string): { id: UserId } | { error: string } {
  const w = normName(written);
  if (w === "") return { error: "Which user? Write their Matrix ID, like @alice:server." };
  const literal = userId(w) ?? userFromLink(w);

  const ps = pills(ctx);
  let byText = distinct(ps.filter((p) => p.text === w).map((p) => p.id));
  if (byText.length === 0) byText = distinct(ps.filter((p) => loose(p.text) === loose(w)).map((p) => p.id));
  if (byText.length > 1) {
    return { error: `${quote(w)} could mean several people: write the full Matrix ID, like @alice:server.` };
  }
  const pill = byText[0];
  if (literal !== undefined) {
    if (pill !== undefined && pill !== literal) {
      return { error: `${quote(w)} is written as one user but links to ${quote(pill)}: write the Matrix ID alone.` };
    }
    return { id: literal };
  }
  if (pill !== undefined) return { id: pill };

  const lp = loose(w);
  const known = distinct(ps.map((p) => p.id)).filter((id) => localpart(id).toLowerCase() === lp);
  if (known.length > 1) {
    return { error: `${quote(w)} could mean several people: write the full Matrix ID, like @alice:server.` };
  }
  if (known[0] !== undefined) return { id: known[0] };

  const bare = w.startsWith("@") ? w.slice(1) : w;
  if (STRICT_LOCALPART.test(bare) && ctx.defaultServer !== undefined) {
    const id = userId(`@${bare}:${ctx.defaultServer}`);
    if (id !== undefined) return { id };
  }
  const example = ctx.defaultServer !== undefined ? `@alice:${ctx.defaultServer}` : "@alice:server";
  return { error: `I can't tell who ${quote(w)} is: write their Matrix ID, like ${example}.` };
}

// ---------------------------------------------------------------------------
// Values

export function parseNumberArg(s: string): ProposalNumber | string {
  const m = /^#?(\d{1,16})$/.exec(s);
  const n = m === null ? undefined : proposalNumber(m[1]);
  if (n !== undefined) return n;
  if (m !== null) return "Proposal numbers start at #1.";
  return `${quote(s)} is not a proposal number; write it like #3.`;
}

const CHOICES = new Map<string, VoteChoice>([
  ["yes", "for"],
  ["y", "for"],
  ["for", "for"],
  ["+1", "for"],
  ["no", "against"],
  ["n", "against"],
  ["against", "against"],
  ["-1", "against"],
  ["abstain", "abstain"],
  ["a", "abstain"],
  ["0", "abstain"],
]);

export function choiceOf(s: string): VoteChoice | undefined {
  return CHOICES.get(s.toLowerCase());
}

/** A 65-byte signature in lower case, or an error message. */
export function signatureOf(s: string): string {
  if (/^0x[0-9a-fA-F]{130}$/.test(s)) return `0x${s.slice(2).toLowerCase()}`;
  const hex = /^0x[0-9a-fA-F]*$/.test(s) ? ` (that one has ${s.length - 2} hex digits)` : "";
  return `That is not a signature${hex}: a signature is 0x and 130 hex digits.`;
}

/** Whether a token is meant as a room: it starts as a room id or a room address does. */
export function looksLikeRoom(s: string): boolean {
  return /^#[^\s]*:/.test(s) || /^![^\s]/.test(s);
}

/** What names a room, said when a token is not one. */
export const ROOM_HINT = "name a room by its address, like #room:server, or its id, like !abc:server (newer rooms: ! and 43 letters and digits)";

/** A room id or a room address, or the error to show. */
export function roomArg(s: string, usage: string): { room: RoomRef } | Fail {
  const r = roomId(s) ?? roomAlias(s);
  return r !== undefined ? { room: r } : fail(`${quote(s)} is not a room: ${ROOM_HINT}.`, usage);
}

/** The user a command is about: one argument, or several words naming a pill. */
export function userArg(ctx: ParseContext, args: Token[], spoken: string, usage: string): { id: UserId } | Fail {
  const first = args[0];
  if (first === undefined) return fail(`Which user? Write their Matrix ID after ${ctx.prefix}${spoken}.`, usage);
  if (args.length === 1) {
    const r = resolveUser(ctx, first.text);
    return "error" in r ? fail(r.error, usage) : r;
  }
  // Several words: a display name with spaces left in the body by a pill.
  const last = args[args.length - 1]!;
  const rest = normName(ctx.text.slice(first.start, last.end).replace(/["“”]/g, ""));
  const ps = pills(ctx);
  const match = distinct(ps.filter((p) => p.text === rest || loose(p.text) === loose(rest)).map((p) => p.id));
  if (match.length === 1 && match[0] !== undefined) return { id: match[0] };
  return fail(`${ctx.prefix}${spoken} takes one user; got ${quote(rest)}.`, usage);
}
