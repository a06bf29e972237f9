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
 *   it sends them as HTML. `usage` is the command's usage line, derived from
 *   its description (`table.ts`), without the prefix (the bot prepends it).
 * - A command that acts on a group takes the group's room (`#room:server`
 *   or `!id:server`) as its last argument.
 * - Never throws, whatever it is given.
 */
import { isServerName } from "../ids.ts";
import { BIDI_CONTROL, closest, fail, quote, scrub, tokenize, MAX_LINE, type Fail, type Token } from "./hygiene.ts";
import { looksLikeRoom, roomArg, type ParseContext } from "./args.ts";
import { COMMAND_TABLE, readParams, usageOf, type Command, type CommandDescription, type CommandName, type HelpTopic } from "./table.ts";

export { MAX_LINE, MAX_MESSAGE, MAX_QUOTE, quote } from "./hygiene.ts";
export { PREVIEW_CODE_ALPHABET, PREVIEW_CODE_LENGTH, userFromLink, type RoomRef, type VoteChoice } from "./args.ts";
export { OPTION_KEYS, parseDuration, parsePercent, type GroupOptions, type OptionKey } from "./options.ts";
export { COMMAND_TABLE, usageOf, type Command, type CommandName, type FeeDestinationSpec, type HelpTopic, type ReleaseShare } from "./table.ts";

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

export type ParseResult = { kind: "none" } | { kind: "ok"; command: Command } | { kind: "error"; message: string; usage?: string };

/** A command as `!help` lists it (derived from its description). */
export interface CommandInfo {
  name: CommandName;
  /** Without the prefix: `vote <#number> <yes|no|abstain> [#room:server]`. */
  usage: string;
  summary: string;
  /** Other ways to write the command (without the prefix). */
  aliases: readonly string[];
}

/** The commands with their usage lines, in the table's order. */
export const COMMANDS: readonly CommandInfo[] = COMMAND_TABLE.map((d) => ({ name: d.name, usage: usageOf(d.name), summary: d.summary, aliases: d.aliases }));

/** How far a legacy reply fallback is looked through. */
const MAX_REPLY_FALLBACK = 16384;

/** One-word command names and aliases. */
const SINGLE = new Map<string, CommandName>();
/** Two-word commands: first word → second word → command. */
const GROUPS = new Map<string, Map<string, CommandName>>();
for (const c of COMMAND_TABLE) {
  for (const written of [c.words, c.name, ...c.aliases]) {
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

/** The usage of a family of two-word commands (`!dao`, `!propose`), from the table. */
function groupUsage(word: string): string {
  const subs = COMMAND_TABLE.filter((d) => d.words.startsWith(word + " ")).map((d) =>
    [d.words.slice(word.length + 1), ...d.params.filter((p) => !p.optional).map((p) => (p.form.includes("|") ? "…" : p.form))].join(" "),
  );
  return `${word} ${subs.join(" | ")}`;
}

function ok(command: Command): ParseResult {
  return { kind: "ok", command };
}

const NONE: ParseResult = Object.freeze({ kind: "none" });

/** Reads a described command's arguments: the group's room taken off the end, then its own parser or its parameters. */
function readCommand(ctx: ParseContext, d: CommandDescription, all: Token[]): ParseResult {
  const usage = usageOf(d.name);
  let args = all;
  let room: { room: string } | undefined;
  const last = args[args.length - 1];
  if (d.params.some((p) => p.kind === "room") && last !== undefined && looksLikeRoom(last.text) && args.length > 0) {
    const r = roomArg(last.text, usage);
    if ("kind" in r) return r;
    room = r;
    args = args.slice(0, -1);
  }
  const read = d.parse ? d.parse(ctx, args, usage) : readParams(ctx, d, args, usage);
  if (isFail(read)) return read;
  return ok({ ...(read as object), ...(room ?? {}), name: d.name } as Command);
}

/** A help topic: a command's words or alias, or `options`. */
export function lookupTopic(words: string[], prefix: string): HelpTopic | undefined {
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

function readHelp(ctx: ParseContext, args: Token[]): ParseResult {
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
}

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

    const ctx: ParseContext = {
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
          const subs = COMMAND_TABLE.filter((d) => d.words.startsWith(word + " ")).map((d) => d.words.slice(word.length + 1));
          const what = sub === "" ? `${prefix}${word} needs one of: ${subs.join(", ")}.` : `Unknown ${prefix}${word} command ${quote(sub)}.`;
          return fail(`${what}${hint}`, groupUsage(word));
        }
      } else {
        const near = closest(word, [...SINGLE.keys(), ...GROUPS.keys()]);
        const target = near === undefined ? undefined : (SINGLE.get(near) ?? (near === "dao" ? "dao-create" : undefined));
        const hint = near !== undefined ? ` Did you mean ${prefix}${near}?` : "";
        return fail(
          `Unknown command ${quote(word)}.${hint} Send ${prefix}help for the list.`,
          target !== undefined ? usageOf(target) : near !== undefined ? groupUsage(near) : helpUsage,
        );
      }
    }
    if (name === "help") return readHelp(ctx, args);
    const d = COMMAND_TABLE.find((x) => x.name === name);
    return d ? readCommand(ctx, d, args) : NONE;
  } catch {
    return addressed ? fail("Sorry, I could not read that command.") : NONE;
  }
}

function isFail(r: unknown): r is Fail {
  return typeof r === "object" && r !== null && (r as { kind?: unknown }).kind === "error";
}
