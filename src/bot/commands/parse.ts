/**
 * The chat command parser. Pure: no Matrix SDK, no I/O, no clock. It turns
 * the text of one room message into a validated {@link Command}, an error to
 * show the sender, or "none" (the message is not addressed to the bot).
 *
 * Rules:
 * - Only the first line of the body counts (a legacy reply fallback, `> <@u>
 *   quoted` lines and a blank line, is skipped first). A first line longer
 *   than {@link MAX_LINE} characters is refused, not cut.
 * - The prefix must start the line (after whitespace); the command word must
 *   follow it at once and start with an ASCII letter, otherwise the message
 *   is not for us (`!!!`, `! hi`, `!1`). A word-like prefix (`conclave`,
 *   `bot:`) may be followed by spaces, `:` or `,` instead.
 * - Zero-width and other invisible format characters are dropped, control
 *   characters count as spaces, and a command containing bidirectional
 *   override/embedding/isolate characters is refused (what it shows is not
 *   what it says).
 * - Errors are one plain-text line of at most {@link MAX_MESSAGE} characters,
 *   quoting at most {@link MAX_QUOTE} characters of what the user wrote, with
 *   control and format characters removed. The bot must still escape them if
 *   it sends them as HTML. `usage` is a line of {@link COMMANDS}, without the
 *   prefix (the bot prepends it).
 * - Never throws, whatever it is given.
 */
import type { Address, ProposalNumber, RoomId, UserId } from "../ids.ts";
import { address, isServerName, localpart, proposalNumber, roomId, STRICT_LOCALPART, userId } from "../ids.ts";
import { MAX_DURATION, MAX_OPEN_PROPOSALS, MAX_RELAYER_DURATION, Mode, QUORUM_DEFAULT, RelayerScope } from "../../governance/types.ts";

// ---------------------------------------------------------------------------
// Public types

export interface CommandInput {
  /** The event's `body`. */
  body: string;
  /** The event's `formatted_body` (HTML), where Element puts mention pills. */
  formattedBody?: string;
  /**
   * The event's `m.mentions.user_ids`. Never used to choose a target: they
   * are invisible, so a client could name someone the text does not.
   */
  mentions?: string[];
}

export interface ParseOptions {
  /** Command prefix, e.g. `!`. Compared case-insensitively. */
  prefix: string;
  /** Server of bare user names: `alice` and `@alice` mean `@alice:<defaultServer>`. */
  defaultServer: string;
}

export type ParseResult =
  | { kind: "none" }
  | { kind: "ok"; command: Command }
  | { kind: "error"; message: string; usage?: string };

export type VoteChoice = "for" | "against" | "abstain";

/** The option keys of `dao create` and `propose config`, as users write them. */
export const OPTION_KEYS = [
  "fee",
  "token",
  "period",
  "grace",
  "voting",
  "mode",
  "quorum",
  "quorum.add",
  "quorum.remove",
  "quorum.config",
  "quorum.fee-destination",
  "quorum.custom",
  "admins",
  "custom-calls",
  "open-proposals",
  "controller",
] as const;
export type OptionKey = (typeof OPTION_KEYS)[number];

/**
 * Validated, normalized options of `dao create` / `propose config`. Field
 * names follow `GroupConfig`; only the options the user gave are present.
 */
export interface GroupOptions {
  /** `fee`: the decimal the user wrote (e.g. "0.5"); convert with the fee token's decimals. */
  fee?: string;
  /** `token`: `native` (also written as the zero address) or an ERC-20 address. */
  feeToken?: "native" | Address;
  /** `period`: seconds; 0 = pay once, member for life (`once`). */
  period?: number;
  /** `grace`: seconds. */
  gracePeriod?: number;
  /** `voting`: seconds, at least 1. */
  votingPeriod?: number;
  /** `mode`: the on-chain enum value. */
  mode?: Mode;
  /** `quorum`: basis points, 0..10000. */
  defaultQuorumBps?: number;
  /** `quorum.add` etc.: basis points, or `QUORUM_DEFAULT` (0xffff) for `default`. */
  addQuorumBps?: number;
  removeQuorumBps?: number;
  configQuorumBps?: number;
  feeDestinationQuorumBps?: number;
  customQuorumBps?: number;
  /** `admins`: distinct users, in the order given; empty for `admins=none`. */
  admins?: UserId[];
  /** `custom-calls`. */
  customCallsAllowed?: boolean;
  /** `open-proposals`: how many proposals one member may have open at a time, 1..3. */
  maxOpenProposals?: number;
  /** `controller`: the governing contract of external mode. */
  controller?: Address;
}

export interface ReleaseShare {
  address: Address;
  /** basis points; the shares of a destination sum to 10000 */
  shareBps: number;
}

export type FeeDestinationSpec =
  | { kind: "locked" }
  | { kind: "release"; recipients: ReleaseShare[] }
  | { kind: "custom"; target: Address };

/** What `!help <topic>` may ask about: a command, or the option keys. */
export type HelpTopic = CommandName | "options";

export type Command =
  | { name: "help"; topic?: HelpTopic }
  | { name: "dao-create"; options: GroupOptions; founders?: UserId[]; watch?: boolean }
  | { name: "dao-confirm"; code: string }
  | { name: "dao-decline" }
  | { name: "dao-cancel" }
  | { name: "dao-watch" }
  | { name: "dao-enforce" }
  | { name: "link"; address: Address; room?: RoomId }
  | { name: "verify"; signature: `0x${string}` }
  | { name: "authorize"; signature?: `0x${string}`; extraScope?: number; days?: number }
  | { name: "unlink" }
  | { name: "propose-add"; target: UserId }
  | { name: "propose-remove"; target: UserId }
  | { name: "propose-config"; changes: GroupOptions }
  | { name: "propose-fee-destination"; destination: FeeDestinationSpec }
  | { name: "vote"; number: ProposalNumber; choice: VoteChoice }
  | { name: "delegate"; target: UserId }
  | { name: "undelegate" }
  | { name: "join" }
  | { name: "proposals" }
  | { name: "proposal"; number: ProposalNumber }
  | { name: "members" }
  | { name: "status" };

export type CommandName = Command["name"];

export interface CommandInfo {
  name: CommandName;
  /** Without the prefix: `vote <#number> <yes|no|abstain>`. */
  usage: string;
  summary: string;
  /** Other ways to write the command (without the prefix). */
  aliases: readonly string[];
}

// ---------------------------------------------------------------------------
// Limits

/** Longest first line processed, in UTF-16 code units. */
export const MAX_LINE = 4096;
/** Longest error message. */
export const MAX_MESSAGE = 300;
/** Longest piece of user text quoted in an error. */
export const MAX_QUOTE = 40;
/** How far a legacy reply fallback is looked through. */
const MAX_REPLY_FALLBACK = 16384;
/** How much of formatted_body is searched for pills. */
const MAX_FORMATTED = 65536;
const MAX_PILLS = 64;
/** Longest HTML inside one pill (display names are at most a few hundred characters). */
const MAX_PILL_HTML = 2048;
const MAX_RECIPIENTS = 32;
const MAX_UINT32 = 0xffffffff;

/** What `!authorize` may add to the default authority (vote, propose, delegate, accept). */
const AUTHORIZE_EXTRAS = new Map<string, number>([
  ["+config", RelayerScope.Config],
  ["+fees", RelayerScope.FeeDestination],
  ["+fee-destination", RelayerScope.FeeDestination],
  ["+custom", RelayerScope.Custom],
]);

// ---------------------------------------------------------------------------
// The command table

const OPTIONS_USAGE =
  "[fee=0.1] [token=native|0x…] [period=30d|once] [grace=7d] [voting=3d] [mode=vote|admin|external] " +
  "[quorum=20%] [quorum.add=…] [admins=@a:server,…] [custom-calls=on|off]";

export const COMMANDS: readonly CommandInfo[] = [
  { name: "help", usage: "help [command]", summary: "List the commands, or explain one.", aliases: ["h", "commands"] },
  {
    name: "dao-create",
    usage: `dao create [watch] [founders=@a:server,…] ${OPTIONS_USAGE}`,
    summary: "Preview the group DAO of this room (room admins): its settings, founders and who is not a member yet; it is created once every founder confirms.",
    aliases: ["dao-create"],
  },
  {
    name: "dao-confirm",
    usage: "dao confirm <code>",
    summary: "As a founder named in the preview, consent to it (the code is the preview's): once all have, the group is created.",
    aliases: ["dao-confirm"],
  },
  {
    name: "dao-decline",
    usage: "dao decline",
    summary: "As a founder named in the preview, decline to be one: the preview is shown again without you.",
    aliases: ["dao-decline"],
  },
  { name: "dao-cancel", usage: "dao cancel", summary: "Drop the preview (who asked for it, or a room admin).", aliases: ["dao-cancel"] },
  {
    name: "dao-watch",
    usage: "dao watch",
    summary: "Room admins: the bot only says in the room what it would do (invite, remove, restore rules), and does nothing.",
    aliases: ["dao-watch"],
  },
  {
    name: "dao-enforce",
    usage: "dao enforce",
    summary: "Room admins: the bot makes the room follow the group (people not members get the adoption grace first).",
    aliases: ["dao-enforce"],
  },
  {
    name: "link",
    usage: "link <0x address> [!room:server]",
    summary: "Start linking your wallet address to your Matrix account (name the room when in a direct chat).",
    aliases: [],
  },
  {
    name: "verify",
    usage: "verify <0x signature>",
    summary: "Finish linking: the signature of the message the bot gave you.",
    aliases: [],
  },
  {
    name: "authorize",
    usage: "authorize [+config] [+fees] [+custom] [days=N] | authorize <0x signature>",
    summary: "Let the bot vote, propose and delegate for you from chat, for a time you choose: it gives you data to sign.",
    aliases: [],
  },
  { name: "unlink", usage: "unlink", summary: "Remove the link between your wallet and your Matrix account.", aliases: [] },
  {
    name: "propose-add",
    usage: "propose add <@user:server>",
    summary: "Propose to admit someone as a member.",
    aliases: ["propose-add", "propose invite"],
  },
  {
    name: "propose-remove",
    usage: "propose remove <@user:server>",
    summary: "Propose to remove a member.",
    aliases: ["propose-remove", "propose kick"],
  },
  {
    name: "propose-config",
    usage: "propose config key=value … (the keys of dao create)",
    summary: "Propose new settings: fee, token, periods, mode, quorums, admins.",
    aliases: ["propose-config", "propose settings"],
  },
  {
    name: "propose-fee-destination",
    usage: "propose fee-destination locked | release 0xA=60% 0xB=40% | custom 0xC",
    summary: "Propose where collected fees go: kept, shared out, or sent to a contract.",
    aliases: ["propose-fee-destination", "propose fee-dest", "propose fees"],
  },
  {
    name: "vote",
    usage: "vote <#number> <yes|no|abstain>",
    summary: "Vote on a proposal (yes/y/for/+1, no/n/against/-1, abstain/a/0).",
    aliases: ["v"],
  },
  { name: "delegate", usage: "delegate <@user:server>", summary: "Let another member carry your vote.", aliases: [] },
  { name: "undelegate", usage: "undelegate", summary: "Take your vote back from your delegate.", aliases: [] },
  { name: "join", usage: "join", summary: "Accept your membership (paying the fee) once you are approved.", aliases: [] },
  { name: "proposals", usage: "proposals", summary: "List the open proposals.", aliases: ["list"] },
  { name: "proposal", usage: "proposal <#number>", summary: "Show one proposal and its votes.", aliases: ["show"] },
  { name: "members", usage: "members", summary: "List the members.", aliases: [] },
  { name: "status", usage: "status", summary: "Show the group: settings, treasury, your membership.", aliases: ["info"] },
];

const INFO = new Map<CommandName, CommandInfo>(COMMANDS.map((c) => [c.name, c]));

/** How each command is written in chat. */
const SPOKEN: Record<CommandName, string> = {
  help: "help",
  "dao-create": "dao create",
  "dao-confirm": "dao confirm",
  "dao-decline": "dao decline",
  "dao-cancel": "dao cancel",
  "dao-watch": "dao watch",
  "dao-enforce": "dao enforce",
  link: "link",
  verify: "verify",
  authorize: "authorize",
  unlink: "unlink",
  "propose-add": "propose add",
  "propose-remove": "propose remove",
  "propose-config": "propose config",
  "propose-fee-destination": "propose fee-destination",
  vote: "vote",
  delegate: "delegate",
  undelegate: "undelegate",
  join: "join",
  proposals: "proposals",
  proposal: "proposal",
  members: "members",
  status: "status",
};

/** One-word command names and aliases. */
const SINGLE = new Map<string, CommandName>();
/** Two-word commands: first word → second word → command. */
const GROUPS = new Map<string, Map<string, CommandName>>();
for (const c of COMMANDS) {
  for (const written of [SPOKEN[c.name], c.name, ...c.aliases]) {
    const [w1, w2, ...more] = written.split(" ");
    if (w1 === undefined || more.length > 0) continue;
    if (w2 === undefined) {
      SINGLE.set(w1, c.name);
    } else {
      const g = GROUPS.get(w1) ?? new Map<string, CommandName>();
      g.set(w2, c.name);
      GROUPS.set(w1, g);
    }
  }
}
const GROUP_USAGE = new Map<string, string>([
  ["dao", "dao create key=value … | confirm <code> | decline | cancel | watch | enforce"],
  ["propose", "propose add <user> | remove <user> | config key=value … | fee-destination …"],
]);

// ---------------------------------------------------------------------------
// Text hygiene

/** Bidirectional embeddings, overrides and isolates. */
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/;
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
function cleanMessage(s: string): string {
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
function scrub(s: string): string {
  return s
    .replace(/\p{Cf}/gu, "")
    .replace(/\p{Cc}/gu, " ")
    .replace(/\p{Cs}/gu, "\uFFFD");
}

// ---------------------------------------------------------------------------
// Results

type Fail = { kind: "error"; message: string; usage?: string };

function fail(message: string, usage?: string): Fail {
  const out: Fail = { kind: "error", message: cleanMessage(message) };
  if (usage !== undefined) out.usage = cleanMessage(usage);
  return out;
}

function ok(command: Command): ParseResult {
  return { kind: "ok", command };
}

const NONE: ParseResult = Object.freeze({ kind: "none" }) as ParseResult;

// ---------------------------------------------------------------------------
// Tokens

interface Token {
  /** Text with quotes removed. */
  text: string;
  /** Offset of the token in the command text. */
  start: number;
}

const QUOTES = new Set(['"', "“", "”"]);

/** Split on white space; double quotes (straight or curly) group words. */
function tokenize(s: string): Token[] | string {
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
    out.push({ text, start });
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
function closest(word: string, candidates: Iterable<string>): string | undefined {
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
function normName(s: string): string {
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

interface Context {
  prefix: string;
  defaultServer: string | undefined;
  /** The command text after the prefix. */
  text: string;
  formattedBody: string | undefined;
  pillCache?: Pill[];
}

function pills(ctx: Context): Pill[] {
  if (ctx.pillCache === undefined) ctx.pillCache = ctx.formattedBody === undefined ? [] : extractPills(ctx.formattedBody);
  return ctx.pillCache;
}

function distinct(ids: Iterable<UserId>): UserId[] {
  return [...new Set(ids)];
}

/** Loose form of a name: no leading `@`, no trailing `:`/`,`, lower case. */
function loose(s: string): string {
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
function resolveUser(ctx: Context, written: string): { id: UserId } | { error: string } {
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

function parseNumberArg(s: string): ProposalNumber | string {
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

function choiceOf(s: string): VoteChoice | undefined {
  return CHOICES.get(s.toLowerCase());
}

/** Basis points of a percentage `20`, `20%`, `12.5%`, `33.33`; 0..100 with up to 2 decimals. */
export function parsePercent(s: string): number | undefined {
  const m = /^(\d{1,3})(?:\.(\d{1,2}))?%?$/.exec(s);
  if (m === null || m[1] === undefined) return undefined;
  const bps = Number(m[1]) * 100 + Number((m[2] ?? "").padEnd(2, "0"));
  return bps <= 10000 ? bps : undefined;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds of a duration `45s`, `90m`, `12h`, `30d`, `2w`, or a sum like `1d12h`; `0` alone is 0. */
export function parseDuration(s: string): number | undefined {
  if (s === "0") return 0;
  if (s.length > 40 || !/^(?:\d{1,10}[smhdwSMHDW])+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d{1,10})([smhdwSMHDW])/g)) {
    total += Number(m[1]) * (UNIT_SECONDS[(m[2] ?? "").toLowerCase()] ?? NaN);
  }
  return Number.isSafeInteger(total) && total <= MAX_UINT32 ? total : undefined;
}

/** A fee as typed: digits with an optional fraction (`0`, `10`, `0.25`). */
const DECIMAL = /^\d{1,30}(?:\.\d{1,36})?$/;

const ZERO = "0x0000000000000000000000000000000000000000";

/** How long a preview's code is. */
export const PREVIEW_CODE_LENGTH = 6;
/** The letters and digits of preview codes: none that reads as another (no 0/O, 1/I/L). */
export const PREVIEW_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const PREVIEW_CODE = new RegExp(`^[${PREVIEW_CODE_ALPHABET}${PREVIEW_CODE_ALPHABET.toLowerCase()}]{${PREVIEW_CODE_LENGTH}}$`);

const MODES = new Map<string, Mode>([
  ["vote", Mode.Vote],
  ["admin", Mode.Admin],
  ["external", Mode.External],
]);
const SWITCH = new Map<string, boolean>([
  ["on", true],
  ["off", false],
  ["true", true],
  ["false", false],
  ["yes", true],
  ["no", false],
]);

interface OptionSpec {
  key: OptionKey;
  /** Returns an error message, or sets the option. */
  apply(value: string, out: GroupOptions, ctx: Context): string | undefined;
}

function quorumSpec(key: OptionKey, set: (o: GroupOptions, bps: number) => void, allowDefault: boolean): OptionSpec {
  return {
    key,
    apply(v, o) {
      if (allowDefault && v.toLowerCase() === "default") {
        set(o, QUORUM_DEFAULT);
        return undefined;
      }
      const bps = parsePercent(v);
      if (bps === undefined) {
        return (
          `${key} must be a percentage from 0 to 100 with at most 2 decimals, like 20%` +
          `${allowDefault ? " (or default)" : ""}; got ${quote(v)}.`
        );
      }
      set(o, bps);
      return undefined;
    },
  };
}

function durationSpec(key: OptionKey, set: (o: GroupOptions, s: number) => void, min: number, once: boolean): OptionSpec {
  return {
    key,
    apply(v, o) {
      if (once && v.toLowerCase() === "once") {
        set(o, 0);
        return undefined;
      }
      const secs = parseDuration(v);
      if (secs === undefined || secs < min) {
        const zero = min > 0 ? " of at least 1s" : "";
        return `${key} must be a duration${zero} with a unit (s, m, h, d, w), like 30d${once ? ", or once" : ""}; got ${quote(v)}.`;
      }
      // The contracts refuse longer ones (GroupInvalidDuration): say so before any transaction.
      if (secs > MAX_DURATION) {
        return `${key} can be at most ${MAX_DURATION / 86_400}d (about ten years); got ${quote(v)}.`;
      }
      set(o, secs);
      return undefined;
    },
  };
}

const OPTION_SPECS: ReadonlyMap<string, OptionSpec> = new Map(
  (
    [
      {
        key: "fee",
        apply(v, o) {
          if (!DECIMAL.test(v)) return `fee must be a decimal number like 0.5 (no unit, no sign); got ${quote(v)}.`;
          o.fee = v;
          return undefined;
        },
      },
      {
        key: "controller",
        apply(v, o) {
          const a = address(v);
          if (a === undefined || a === ZERO) return `controller must be a contract address (0x and 40 hex digits); got ${quote(v)}.`;
          o.controller = a;
          return undefined;
        },
      },
      {
        key: "token",
        apply(v, o) {
          if (v.toLowerCase() === "native") {
            o.feeToken = "native";
            return undefined;
          }
          const a = address(v);
          if (a === undefined) return `token must be native or a token address (0x and 40 hex digits); got ${quote(v)}.`;
          o.feeToken = a === ZERO ? "native" : a;
          return undefined;
        },
      },
      durationSpec("period", (o, s) => (o.period = s), 0, true),
      durationSpec("grace", (o, s) => (o.gracePeriod = s), 0, false),
      durationSpec("voting", (o, s) => (o.votingPeriod = s), 1, false),
      {
        key: "mode",
        apply(v, o) {
          const m = MODES.get(v.toLowerCase());
          if (m === undefined) {
            return `mode must be vote, admin or external; got ${quote(v)}.`;
          }
          o.mode = m;
          return undefined;
        },
      },
      quorumSpec("quorum", (o, b) => (o.defaultQuorumBps = b), false),
      quorumSpec("quorum.add", (o, b) => (o.addQuorumBps = b), true),
      quorumSpec("quorum.remove", (o, b) => (o.removeQuorumBps = b), true),
      quorumSpec("quorum.config", (o, b) => (o.configQuorumBps = b), true),
      quorumSpec("quorum.fee-destination", (o, b) => (o.feeDestinationQuorumBps = b), true),
      quorumSpec("quorum.custom", (o, b) => (o.customQuorumBps = b), true),
      {
        key: "admins",
        apply(v, o, ctx) {
          if (v.toLowerCase() === "none") {
            o.admins = [];
            return undefined;
          }
          const ids: UserId[] = [];
          for (const item of v.split(",")) {
            if (item.trim() === "") return "admins must be users separated by commas, like @a:server,@b:server (or none).";
            const r = resolveUser(ctx, item);
            if ("error" in r) return `admins: ${r.error}`;
            if (!ids.includes(r.id)) ids.push(r.id);
          }
          o.admins = ids;
          return undefined;
        },
      },
      {
        key: "custom-calls",
        apply(v, o) {
          const b = SWITCH.get(v.toLowerCase());
          if (b === undefined) {
            return `custom-calls must be on or off; got ${quote(v)}.`;
          }
          o.customCallsAllowed = b;
          return undefined;
        },
      },
      {
        key: "open-proposals",
        apply(v, o) {
          const n = /^[1-9]$/.test(v) ? Number(v) : NaN;
          if (!(n <= MAX_OPEN_PROPOSALS)) return `open-proposals must be a number from 1 to ${MAX_OPEN_PROPOSALS}; got ${quote(v)}.`;
          o.maxOpenProposals = n;
          return undefined;
        },
      },
    ] satisfies OptionSpec[]
  ).map((s) => [s.key, s]),
);

function parseOptions(ctx: Context, args: Token[], name: CommandName): { options: GroupOptions } | Fail {
  const usage = usageOf(name);
  const out: GroupOptions = {};
  const seen = new Set<string>();
  for (const t of args) {
    const eq = t.text.indexOf("=");
    if (eq <= 0) return fail(`Options are written key=value; got ${quote(t.text)}.`, usage);
    // `quorum_add`, `quorum-add` and `quorum.add` are one key.
    const key = t.text.slice(0, eq).toLowerCase().replace(/_/g, "-").replace(/^quorum-/, "quorum.");
    const value = t.text.slice(eq + 1).trim();
    const spec = OPTION_SPECS.get(key);
    if (spec === undefined) {
      const near = closest(key, OPTION_KEYS);
      return fail(
        `Unknown option ${quote(key)}.${near !== undefined ? ` Did you mean ${near}?` : ""} Known: ${OPTION_KEYS.join(", ")}.`,
        usage,
      );
    }
    if (seen.has(spec.key)) return fail(`Option ${spec.key} is given twice.`, usage);
    seen.add(spec.key);
    if (value === "") return fail(`Option ${spec.key} needs a value: ${spec.key}=….`, usage);
    const e = spec.apply(value, out, ctx);
    if (e !== undefined) return fail(e, usage);
  }
  return { options: out };
}

// ---------------------------------------------------------------------------
// Commands

/** The usage line of a command, without the prefix (as in {@link COMMANDS}). */
function usageOf(name: CommandName): string {
  return INFO.get(name)?.usage ?? name;
}

type Handler = (ctx: Context, args: Token[]) => ParseResult;

type BareCommand = Extract<Command, { name: "unlink" | "undelegate" | "join" | "proposals" | "members" | "status" | "dao-decline" | "dao-cancel" | "dao-watch" | "dao-enforce" }>;

function noArgs(name: BareCommand["name"]): Handler {
  return (ctx, args) => {
    if (args.length > 0) return fail(`${ctx.prefix}${spoken(name)} takes no arguments.`, usageOf(name));
    return ok({ name });
  };
}

function spoken(name: CommandName): string {
  return SPOKEN[name];
}

/** The user a command is about: one argument, or several words naming a pill. */
function userArg(ctx: Context, args: Token[], name: CommandName): { id: UserId } | Fail {
  const usage = usageOf(name);
  const first = args[0];
  if (first === undefined) return fail(`Which user? Write their Matrix ID after ${ctx.prefix}${spoken(name)}.`, usage);
  if (args.length === 1) {
    const r = resolveUser(ctx, first.text);
    return "error" in r ? fail(r.error, usage) : r;
  }
  // Several words: a display name with spaces left in the body by a pill.
  const rest = normName(ctx.text.slice(first.start).replace(/["“”]/g, ""));
  const ps = pills(ctx);
  const match = distinct(ps.filter((p) => p.text === rest || loose(p.text) === loose(rest)).map((p) => p.id));
  if (match.length === 1 && match[0] !== undefined) return { id: match[0] };
  return fail(`${ctx.prefix}${spoken(name)} takes one user; got ${quote(rest)}.`, usage);
}

function targetCommand(name: "propose-add" | "propose-remove" | "delegate"): Handler {
  return (ctx, args) => {
    const r = userArg(ctx, args, name);
    return "id" in r ? ok({ name, target: r.id }) : r;
  };
}

function lookupTopic(words: string[], prefix: string): HelpTopic | undefined {
  const w = words.map((x) => x.toLowerCase().replace(/_/g, "-"));
  if (w[0] !== undefined && prefix !== "" && w[0].startsWith(prefix.toLowerCase())) w[0] = w[0].slice(prefix.length);
  if (w.length === 1 && w[0] === "options") return "options";
  const first = w[0] ?? "";
  const single = SINGLE.get(first);
  if (single !== undefined && w.length === 1) return single;
  const group = GROUPS.get(first);
  if (group !== undefined) {
    if (w.length === 1) return first === "dao" ? "dao-create" : undefined;
    if (w.length === 2) return group.get(w[1] ?? "");
  }
  return undefined;
}

/** A 65-byte signature in lower case, or an error message. */
function signatureOf(s: string): string {
  if (/^0x[0-9a-fA-F]{130}$/.test(s)) return `0x${s.slice(2).toLowerCase()}`;
  const hex = /^0x[0-9a-fA-F]*$/.test(s) ? ` (that one has ${s.length - 2} hex digits)` : "";
  return `That is not a signature${hex}: a signature is 0x and 130 hex digits.`;
}

const HANDLERS: Record<CommandName, Handler> = {
  help(ctx, args) {
    if (args.length === 0) return ok({ name: "help" });
    const topic = lookupTopic(
      args.map((a) => a.text),
      ctx.prefix,
    );
    if (topic === undefined) {
      const words = args.map((a) => a.text).join(" ");
      return fail(`There is no command ${quote(words)}. Send ${ctx.prefix}help for the list.`, usageOf("help"));
    }
    return ok({ name: "help", topic });
  },
  "dao-create"(ctx, args) {
    const usage = usageOf("dao-create");
    // `watch` and `founders=` are the room's, not the group's settings: they are not options of `propose config`.
    let watch = false;
    let founders: UserId[] | undefined;
    const rest: Token[] = [];
    for (const t of args) {
      const lower = t.text.toLowerCase();
      if (lower === "watch") {
        watch = true;
      } else if (lower.startsWith("founders=")) {
        if (founders !== undefined) return fail("Option founders is given twice.", usage);
        const v = t.text.slice("founders=".length);
        founders = [];
        for (const item of v.split(",")) {
          if (item.trim() === "") return fail("founders must be users separated by commas, like @a:server,@b:server.", usage);
          const r = resolveUser(ctx, item);
          if ("error" in r) return fail(`founders: ${r.error}`, usage);
          if (!founders.includes(r.id)) founders.push(r.id);
        }
      } else {
        rest.push(t);
      }
    }
    const r = parseOptions(ctx, rest, "dao-create");
    if (!("options" in r)) return r;
    return ok({ name: "dao-create", options: r.options, ...(founders !== undefined ? { founders } : {}), ...(watch ? { watch } : {}) });
  },
  "dao-confirm"(_ctx, args) {
    const usage = usageOf("dao-confirm");
    const a = args[0];
    if (a === undefined) return fail("Give the code of the preview you consent to, as the preview shows it.", usage);
    if (args.length > 1 || !PREVIEW_CODE.test(a.text)) return fail(`${quote(a.text)} is not a preview code: it is ${PREVIEW_CODE_LENGTH} letters and digits, as the preview shows it.`, usage);
    return ok({ name: "dao-confirm", code: a.text.toUpperCase() });
  },
  "dao-decline": noArgs("dao-decline"),
  "dao-cancel": noArgs("dao-cancel"),
  "dao-watch": noArgs("dao-watch"),
  "dao-enforce": noArgs("dao-enforce"),
  link(ctx, args) {
    const usage = usageOf("link");
    const a = args[0];
    if (a === undefined || args.length > 2) return fail("Give one wallet address: 0x and 40 hex digits.", usage);
    const addr = address(a.text);
    if (addr === undefined) {
      const why = /^0x[0-9a-fA-F]{40}$/.test(a.text) ? " (its mixed case is not a valid checksum: a typo?)" : "";
      return fail(`${quote(a.text)} is not an address${why}. An address is 0x and 40 hex digits.`, usage);
    }
    if (addr === ZERO) return fail("The zero address cannot be linked.", usage);
    const r = args[1];
    if (r === undefined) return ok({ name: "link", address: addr });
    const room = roomId(r.text);
    if (room === undefined) return fail(`${quote(r.text)} is not a room id; room ids look like !abc:server.`, usage);
    return ok({ name: "link", address: addr, room });
  },
  verify(_ctx, args) {
    const usage = usageOf("verify");
    const a = args[0];
    if (a === undefined || args.length > 1) return fail("Give one signature: 0x and 130 hex digits.", usage);
    const sig = signatureOf(a.text);
    return sig.startsWith("0x") ? ok({ name: "verify", signature: sig as `0x${string}` }) : fail(sig, usage);
  },
  authorize(_ctx, args) {
    const usage = usageOf("authorize");
    const a = args[0];
    if (a === undefined) return ok({ name: "authorize" });
    if (a.text.startsWith("0x")) {
      if (args.length > 1) return fail("Give at most one signature: 0x and 130 hex digits.", usage);
      const sig = signatureOf(a.text);
      return sig.startsWith("0x") ? ok({ name: "authorize", signature: sig as `0x${string}` }) : fail(sig, usage);
    }
    // What the authority covers beyond voting, proposing, delegating and accepting, and for how long.
    let extraScope = 0;
    let days: number | undefined;
    const maxDays = MAX_RELAYER_DURATION / 86_400;
    for (const arg of args) {
      const t = arg.text.toLowerCase();
      const extra = AUTHORIZE_EXTRAS.get(t);
      if (extra !== undefined) {
        extraScope |= extra;
        continue;
      }
      const m = /^days=(\d{1,4})$/.exec(t);
      if (m && Number(m[1]) >= 1 && Number(m[1]) <= maxDays) {
        days = Number(m[1]);
        continue;
      }
      return fail(
        `${quote(arg.text)} is not something an authority can cover: use +config, +fees, +custom and days=1 to days=${maxDays}.`,
        usage,
      );
    }
    return ok({ name: "authorize", ...(extraScope ? { extraScope } : {}), ...(days !== undefined ? { days } : {}) });
  },
  unlink: noArgs("unlink"),
  "propose-add": targetCommand("propose-add"),
  "propose-remove": targetCommand("propose-remove"),
  "propose-config"(ctx, args) {
    if (args.length === 0) {
      return fail(`What should change? Give key=value options (${ctx.prefix}help options).`, usageOf("propose-config"));
    }
    const r = parseOptions(ctx, args, "propose-config");
    return "options" in r ? ok({ name: "propose-config", changes: r.options }) : r;
  },
  "propose-fee-destination"(ctx, args) {
    const usage = usageOf("propose-fee-destination");
    const kind = args[0]?.text.toLowerCase();
    const rest = args.slice(1);
    if (kind === "locked") {
      if (rest.length > 0) return fail("locked takes nothing after it.", usage);
      return ok({ name: "propose-fee-destination", destination: { kind: "locked" } });
    }
    if (kind === "custom") {
      const t = rest[0];
      if (t === undefined || rest.length > 1) return fail("custom takes one contract address.", usage);
      const a = address(t.text);
      if (a === undefined || a === ZERO) return fail(`${quote(t.text)} is not a usable address.`, usage);
      return ok({ name: "propose-fee-destination", destination: { kind: "custom", target: a } });
    }
    if (kind === "release") {
      if (rest.length === 0) return fail("release needs recipients, like 0xA=60% 0xB=40%.", usage);
      if (rest.length > MAX_RECIPIENTS) return fail(`release takes at most ${MAX_RECIPIENTS} recipients.`, usage);
      const recipients: ReleaseShare[] = [];
      let total = 0;
      for (const t of rest) {
        const eq = t.text.indexOf("=");
        const addrText = eq < 0 ? t.text : t.text.slice(0, eq);
        const a = address(addrText);
        if (a === undefined || a === ZERO) return fail(`${quote(addrText)} is not a usable address.`, usage);
        if (recipients.some((r) => r.address === a)) return fail(`${a} is listed twice.`, usage);
        let bps: number | undefined;
        if (eq < 0) bps = rest.length === 1 ? 10000 : undefined;
        else bps = parsePercent(t.text.slice(eq + 1));
        if (bps === undefined || bps === 0) {
          return fail(`Each recipient needs a share above 0%, like ${a.slice(0, 6)}…=60%; got ${quote(t.text)}.`, usage);
        }
        total += bps;
        recipients.push({ address: a, shareBps: bps });
      }
      if (total !== 10000) return fail(`The shares add up to ${total / 100}%, not 100%.`, usage);
      return ok({ name: "propose-fee-destination", destination: { kind: "release", recipients } });
    }
    const what = args[0] === undefined ? "Where should fees go?" : `Unknown destination ${quote(args[0].text)}.`;
    return fail(`${what} Use locked, release or custom.`, usage);
  },
  vote(ctx, args) {
    const usage = usageOf("vote");
    if (args.length !== 2) return fail("Give a proposal number and your choice, like 3 yes.", usage);
    let [n, c] = [args[0]?.text ?? "", args[1]?.text ?? ""];
    // Accept the choice first too, when it cannot be read as a number: `vote yes #3`.
    if (choiceOf(n) !== undefined && !/^[+-]?\d+$/.test(n) && choiceOf(c) === undefined) [n, c] = [c, n];
    const num = parseNumberArg(n);
    if (typeof num === "string") return fail(num, usage);
    const choice = choiceOf(c);
    if (choice === undefined) return fail(`${quote(c)} is not a choice: say yes, no or abstain.`, usage);
    return ok({ name: "vote", number: num, choice });
  },
  delegate: targetCommand("delegate"),
  undelegate: noArgs("undelegate"),
  join: noArgs("join"),
  proposals: noArgs("proposals"),
  proposal(ctx, args) {
    const usage = usageOf("proposal");
    const a = args[0];
    if (a === undefined || args.length > 1) return fail("Give one proposal number, like #3.", usage);
    const num = parseNumberArg(a.text);
    return typeof num === "string" ? fail(num, usage) : ok({ name: "proposal", number: num });
  },
  members: noArgs("members"),
  status: noArgs("status"),
};

// ---------------------------------------------------------------------------
// Entry point

function str(x: unknown): string | undefined {
  return typeof x === "string" ? x : undefined;
}

/** The first line of the body after any legacy reply fallback, cut at {@link MAX_LINE} (then `tooLong`). */
function firstLine(body: string): { line: string; tooLong: boolean } {
  let start = 0;
  if (body.startsWith("> <")) {
    const end = body.slice(0, MAX_REPLY_FALLBACK).indexOf("\n\n");
    if (end >= 0) start = end + 2;
  }
  const window = body.slice(start, start + MAX_LINE + 1);
  const br = window.search(/[\n\r\u0085\u2028\u2029]/);
  if (br >= 0) return { line: window.slice(0, br), tooLong: false };
  return { line: window.slice(0, MAX_LINE), tooLong: window.length > MAX_LINE };
}

/**
 * Parse one message. `none`: not addressed to the bot (ignore it). `ok`: a
 * valid command with validated, normalized arguments. `error`: addressed to
 * the bot but wrong; `message` (one line, at most 300 characters) is for the
 * sender, with the command's `usage` line (no prefix) when there is one.
 */
export function parseCommand(input: CommandInput, opts: ParseOptions): ParseResult {
  let addressed = false;
  try {
    const inp: unknown = input;
    if (typeof inp !== "object" || inp === null) return NONE;
    const body = str((inp as Record<string, unknown>)["body"]);
    if (body === undefined) return NONE;
    const o: unknown = opts;
    const rawPrefix = typeof o === "object" && o !== null ? str((o as Record<string, unknown>)["prefix"]) : undefined;
    const rawServer = typeof o === "object" && o !== null ? (o as Record<string, unknown>)["defaultServer"] : undefined;
    const prefix = rawPrefix !== undefined && rawPrefix !== "" && rawPrefix.length <= 16 ? rawPrefix : "!";

    const { line, tooLong } = firstLine(body);
    const bidi = BIDI_CONTROL.test(line);
    const clean = scrub(line).replace(/^\s+/, "");
    if (clean.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return NONE;
    let text = clean.slice(prefix.length);
    // A word-like prefix (`conclave`, `bot:`) may be followed by spaces, and
    // must not run into the next word (`conclaves`).
    if (/[A-Za-z0-9]$/.test(prefix) && /^[A-Za-z0-9]/.test(text)) return NONE;
    if (/[A-Za-z0-9:,]$/.test(prefix)) text = text.replace(/^[\s:,]+/, "");
    if (!/^[A-Za-z]/.test(text)) return NONE;
    addressed = true;

    const helpUsage = usageOf("help");
    if (tooLong) return fail(`That command is too long (over ${MAX_LINE} characters).`, helpUsage);
    if (bidi) return fail("That command contains invisible text-direction characters; please type it plainly.", helpUsage);

    const tokens = tokenize(text);
    if (typeof tokens === "string") return fail(tokens, helpUsage);
    const word = (tokens[0]?.text ?? "").toLowerCase().replace(/_/g, "-");

    const ctx: Context = {
      prefix,
      defaultServer: isServerName(rawServer) ? rawServer : undefined,
      text,
      formattedBody: str((inp as Record<string, unknown>)["formattedBody"]),
    };

    let name = SINGLE.get(word);
    let args = tokens.slice(1);
    if (name === undefined) {
      const group = GROUPS.get(word);
      if (group !== undefined) {
        const sub = (tokens[1]?.text ?? "").toLowerCase().replace(/_/g, "-");
        name = group.get(sub);
        args = tokens.slice(2);
        if (name === undefined) {
          const near = closest(sub, group.keys());
          const hint = near !== undefined ? ` Did you mean ${prefix}${word} ${near}?` : "";
          const subs = Object.values(SPOKEN)
            .filter((sp) => sp.startsWith(word + " "))
            .map((sp) => sp.slice(word.length + 1));
          const what =
            sub === ""
              ? `${prefix}${word} needs one of: ${subs.join(", ")}.`
              : `Unknown ${prefix}${word} command ${quote(sub)}.`;
          return fail(`${what}${hint}`, GROUP_USAGE.get(word) ?? word);
        }
      } else {
        const near = closest(word, [...SINGLE.keys(), ...GROUPS.keys()]);
        const target = near === undefined ? undefined : (SINGLE.get(near) ?? (near === "dao" ? "dao-create" : undefined));
        const hint = near !== undefined ? ` Did you mean ${prefix}${near}?` : "";
        return fail(
          `Unknown command ${quote(word)}.${hint} Send ${prefix}help for the list.`,
          target !== undefined ? usageOf(target) : near !== undefined ? (GROUP_USAGE.get(near) ?? near) : helpUsage,
        );
      }
    }
    return HANDLERS[name](ctx, args);
  } catch {
    return addressed ? fail("Sorry, I could not read that command.") : NONE;
  }
}

// ---------------------------------------------------------------------------
// Help

const OPTION_HELP: readonly (readonly [string, string])[] = [
  ["fee=0.5", "membership fee, a decimal in the fee token"],
  ["token=native|0x…", "fee token: the native coin or an ERC-20 address"],
  ["period=30d|once", "membership period (s, m, h, d, w), or once: pay once, member for life"],
  ["grace=7d", "time after a membership ends before the member is removed"],
  ["voting=3d", "how long proposals are open"],
  ["mode=vote|admin|external", "who admits and removes members"],
  ["quorum=20%", "default quorum, 0-100% with up to 2 decimals"],
  [
    "quorum.add= quorum.remove= quorum.config= quorum.fee-destination= quorum.custom=",
    "quorum of one kind of proposal, or default",
  ],
  ["admins=@a:server,@b:server", "admins for admin mode (or none)"],
  ["custom-calls=on|off", "whether custom-call proposals are allowed"],
  ["open-proposals=3", "how many proposals one member may have open at a time (1 to 3)"],
  ["controller=0x…", "the governing contract (a Governor's timelock, a Safe…) for external mode"],
];

/**
 * Plain-text help: the command list, or one command (`vote`, `propose add`,
 * an alias, or `options`). `prefix` is shown before command names.
 */
export function helpText(topic?: string, prefix = "!"): string {
  const p = typeof prefix === "string" && prefix !== "" && prefix.length <= 16 ? prefix : "!";
  if (typeof topic !== "string" || topic.trim() === "") {
    const list = COMMANDS.map((c) => `${p}${SPOKEN[c.name]} — ${c.summary}`);
    return ["Commands:", ...list, `Send ${p}help <command> for details, ${p}help options for settings.`].join("\n");
  }
  const t = lookupTopic(scrub(topic).trim().split(/\s+/).slice(0, 3), p);
  if (t === undefined) return `There is no command ${quote(topic)}. Send ${p}help for the list.`;
  const options = ["Options (key=value):", ...OPTION_HELP.map(([k, d]) => `  ${k} — ${d}`)];
  if (t === "options") return options.join("\n");
  const info = INFO.get(t);
  if (info === undefined) return `Send ${p}help for the list.`;
  const lines = [`${p}${info.usage}`, info.summary];
  if (info.aliases.length > 0) lines.push(`Also: ${info.aliases.map((a) => p + a).join(", ")}`);
  if (t === "dao-create") {
    lines.push(
      "  watch — the bot only says in the room what it would do, until a room admin sends dao enforce",
      "  founders=@a:server,@b:server — the founders, among the members who linked (default: all of them)",
      `Each founder then consents with ${p}dao confirm <code>; ${p}dao cancel drops the preview.`,
    );
  }
  if (t === "dao-create" || t === "propose-config") lines.push(...options);
  if (t === "propose-fee-destination") {
    lines.push(
      "  locked — fees stay in the group",
      "  release 0xA=60% 0xB=40% — shared out at most once per 30 days (up to 32 recipients, 100% in all)",
      "  custom 0xC — the whole balance to a contract, at any time",
    );
  }
  return lines.join("\n");
}
