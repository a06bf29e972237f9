/**
 * The command set: one table of descriptions, as Draupnir's
 * `describeCommand` has it. Each description says how the command is
 * written, what it does, its typed parameters, who may run it, whether it
 * acts on a group (and so takes the group's room in a direct chat), whom
 * its answer notifies, how its arguments are read and which executor runs
 * it. The parser (`parse.ts`), `!help` (`help.ts`) and the README's command
 * table (`npm run docs:commands`) are derived from it.
 *
 * Pure: the executors reach the handlers only through {@link Run}, which
 * the bot gives them (the handlers' modules are imported for their types).
 */
import type { Address, ProposalNumber, UserId } from "../ids.ts";
import { address } from "../ids.ts";
import { MAX_RELAYER_DURATION, RelayerScope } from "../../governance/types.ts";
import { escapeHtml } from "../../text/format.ts";
import type { Answer, Ctx } from "../context.ts";
import type * as Linking from "./linking.ts";
import type * as Group from "./group.ts";
import type * as Creation from "./creation.ts";
import type * as Proposals from "./proposals.ts";
import type * as Widgets from "./widget.ts";
import { fail, quote, type Fail, type Token } from "./hygiene.ts";
import {
  choiceOf,
  parseNumberArg,
  PREVIEW_CODE,
  PREVIEW_CODE_LENGTH,
  resolveUser,
  roomArg,
  signatureOf,
  userArg,
  ZERO,
  type ParseContext,
  type RoomRef,
  type VoteChoice,
} from "./args.ts";
import { OPTIONS_USAGE, parseOptions, parsePercent, type GroupOptions } from "./options.ts";

// ---------------------------------------------------------------------------
// What a command is once read

export interface ReleaseShare {
  address: Address;
  /** basis points; the shares of a destination sum to 10000 */
  shareBps: number;
}

export type FeeDestinationSpec = { kind: "locked" } | { kind: "release"; recipients: ReleaseShare[] } | { kind: "custom"; target: Address };

/** What `!help <topic>` may ask about: a command, or the option keys. */
export type HelpTopic = CommandName | "options";

/** `room`: the group's room named in the command (a direct chat names it so). */
type InRoom = { room?: RoomRef };

export type Command =
  | { name: "help"; topic?: HelpTopic }
  | { name: "dao-create"; options: GroupOptions; founders?: UserId[]; watch?: boolean }
  | { name: "dao-confirm"; code: string }
  | { name: "dao-decline" }
  | { name: "dao-cancel" }
  | { name: "dao-watch" }
  | { name: "dao-enforce" }
  | ({ name: "link"; address: Address } & InRoom)
  | { name: "verify"; signature: `0x${string}` }
  | ({ name: "authorize"; signature?: `0x${string}`; extraScope?: number; days?: number } & InRoom)
  | ({ name: "unlink" } & InRoom)
  | ({ name: "propose-add"; target: UserId } & InRoom)
  | ({ name: "propose-remove"; target: UserId } & InRoom)
  | ({ name: "propose-config"; changes: GroupOptions } & InRoom)
  | ({ name: "propose-fee-destination"; destination: FeeDestinationSpec } & InRoom)
  | ({ name: "vote"; number: ProposalNumber; choice: VoteChoice } & InRoom)
  | ({ name: "delegate"; target: UserId } & InRoom)
  | ({ name: "undelegate" } & InRoom)
  | ({ name: "join" } & InRoom)
  | ({ name: "proposals" } & InRoom)
  | ({ name: "proposal"; number: ProposalNumber } & InRoom)
  | ({ name: "members" } & InRoom)
  | ({ name: "status" } & InRoom)
  | { name: "widget" };

export type CommandName = Command["name"];
export type CommandOf<N extends CommandName> = Extract<Command, { name: N }>;

// ---------------------------------------------------------------------------
// Descriptions

/** The kinds of typed parameter. */
export type ParamKind = "user" | "users" | "address" | "room" | "number" | "choice" | "signature" | "code" | "options" | "topic" | "words";

export interface Param {
  /** the field of the command it fills */
  name: string;
  kind: ParamKind;
  /** as the usage line shows it, e.g. `<@user:server>` */
  form: string;
  optional?: boolean;
  /** a line of `!help COMMAND` */
  about?: string;
}

/** What an executor may use: the command's context and the handlers. */
export interface Run {
  ctx: Ctx;
  linking: typeof Linking;
  group: typeof Group;
  creation: typeof Creation;
  props: typeof Proposals;
  widgets: typeof Widgets;
  /** the room the command named (`!link` in a direct chat), resolved to its id */
  room?: string;
  /** runs `job` after the room's `!dao` commands before it: two must never both create */
  oneAtATime(job: () => Promise<Answer>): Promise<Answer>;
  /** the answer to `!help [topic]` */
  help(topic?: HelpTopic): Answer;
}

export interface CommandDescription<N extends CommandName = CommandName> {
  name: N;
  /** how it is written in chat: `propose add` */
  words: string;
  /** other ways to write it (without the prefix) */
  aliases: readonly string[];
  summary: string;
  params: readonly Param[];
  /** who may run it, in words */
  who: string;
  /**
   * It acts on a group: in a room that is not one (a direct chat) it says
   * how to name one, and takes the group's room as its last argument.
   */
  group: boolean;
  /** whom the answer notifies besides the sender: the users it names, or nobody (lists) */
  mentions: "named" | "sender";
  /** more lines for `!help COMMAND` */
  details?: (prefix: string) => string[];
  /** reads the arguments (the room already taken off); absent: read from `params` in order */
  parse?: (ctx: ParseContext, args: Token[], usage: string) => Omit<CommandOf<N>, "name" | "room"> | Fail;
  executor(x: Run, c: CommandOf<N>): Promise<Answer>;
}

/** One description, typed by its name (`executor` gets exactly its command). */
export function describeCommand<N extends CommandName>(d: CommandDescription<N>): CommandDescription<N> {
  return d;
}

const ROOM: Param = {
  name: "room",
  kind: "room",
  form: "#room:server",
  optional: true,
  about: "#room:server — the group's room, when you send it from elsewhere (a direct chat with me): its address or its id",
};
const USER: Param = { name: "target", kind: "user", form: "<@user:server>" };
const NUMBER: Param = { name: "number", kind: "number", form: "<#number>" };

/** What `!authorize` may add to the default authority (vote, propose, delegate, accept). */
const AUTHORIZE_EXTRAS = new Map<string, number>([
  ["+config", RelayerScope.Config],
  ["+fees", RelayerScope.FeeDestination],
  ["+fee-destination", RelayerScope.FeeDestination],
  ["+custom", RelayerScope.Custom],
]);
const MAX_RECIPIENTS = 32;

const MEMBERS = "active members who authorised the bot (!authorize)";

const TABLE = [
  describeCommand({
    name: "help",
    words: "help",
    aliases: ["h", "commands"],
    summary: "List the commands, or explain one.",
    params: [{ name: "topic", kind: "topic", form: "[command]", optional: true }],
    who: "anyone",
    group: false,
    mentions: "sender",
    // Read by the parser itself: it knows the command words.
    parse: () => ({}),
    executor: async (x, c) => x.help(c.topic),
  }),
  describeCommand({
    name: "dao-create",
    words: "dao create",
    aliases: ["dao-create"],
    summary: "Preview the group DAO of this room (room admins): its settings, founders and who is not a member yet; it is created once every founder confirms.",
    params: [
      {
        name: "watch",
        kind: "words",
        form: "[watch]",
        optional: true,
        about: "watch — the bot only says in the room what it would do, until a room admin sends dao enforce",
      },
      {
        name: "founders",
        kind: "users",
        form: "[founders=@a:server,…]",
        optional: true,
        about: "founders=@a:server,@b:server — the founders, among the members who linked (default: all of them)",
      },
      { name: "options", kind: "options", form: OPTIONS_USAGE, optional: true },
    ],
    who: "room admins (power 100, or a creator of the room)",
    group: false,
    mentions: "named",
    details: (p) => [`Each founder then consents with ${p}dao confirm <code>; ${p}dao cancel drops the preview.`],
    parse(ctx, args, usage) {
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
      const r = parseOptions(ctx, rest, usage);
      if (!("options" in r)) return r;
      return { options: r.options, ...(founders !== undefined ? { founders } : {}), ...(watch ? { watch } : {}) };
    },
    executor: (x, c) => x.oneAtATime(() => x.creation.daoCreate(x.ctx, c.options, c.founders, c.watch === true)),
  }),
  describeCommand({
    name: "dao-confirm",
    words: "dao confirm",
    aliases: ["dao-confirm"],
    summary: "As a founder named in the preview, consent to it (the code is the preview's): once all have, the group is created.",
    params: [{ name: "code", kind: "code", form: "<code>" }],
    who: "founders named in the preview",
    group: false,
    mentions: "named",
    parse(_ctx, args, usage) {
      const a = args[0];
      if (a === undefined) return fail("Give the code of the preview you consent to, as the preview shows it.", usage);
      if (args.length > 1 || !PREVIEW_CODE.test(a.text))
        return fail(`${quote(a.text)} is not a preview code: it is ${PREVIEW_CODE_LENGTH} letters and digits, as the preview shows it.`, usage);
      return { code: a.text.toUpperCase() };
    },
    executor: (x, c) =>
      x.oneAtATime(async () => {
        const { ctx } = x;
        const before = await ctx.store.getBinding(ctx.roomId);
        const a = await x.creation.daoConfirm(ctx, c.code);
        if (before || !(await ctx.store.getBinding(ctx.roomId))) return a;
        // The last consent created the group: its page joins the room as a widget.
        const w = await x.widgets.addWidget(ctx);
        return w ? { text: `${a.text}\n${w}`, ...(a.html !== undefined ? { html: `${a.html}<br>${escapeHtml(w)}` } : {}) } : a;
      }),
  }),
  describeCommand({
    name: "dao-decline",
    words: "dao decline",
    aliases: ["dao-decline"],
    summary: "As a founder named in the preview, decline to be one: the preview is shown again without you.",
    params: [],
    who: "founders named in the preview",
    group: false,
    mentions: "named",
    executor: (x) => x.oneAtATime(() => x.creation.daoDecline(x.ctx)),
  }),
  describeCommand({
    name: "dao-cancel",
    words: "dao cancel",
    aliases: ["dao-cancel"],
    summary: "Drop the preview (who asked for it, or a room admin).",
    params: [],
    who: "who asked for the preview, or a room admin",
    group: false,
    mentions: "named",
    executor: (x) => x.oneAtATime(() => x.creation.daoCancel(x.ctx)),
  }),
  describeCommand({
    name: "dao-watch",
    words: "dao watch",
    aliases: ["dao-watch"],
    summary: "Room admins: the bot only says in the room what it would do (invite, remove, restore rules), and does nothing.",
    params: [],
    who: "room admins",
    group: false,
    mentions: "named",
    executor: (x) => x.oneAtATime(() => x.creation.daoMode(x.ctx, "watch")),
  }),
  describeCommand({
    name: "dao-enforce",
    words: "dao enforce",
    aliases: ["dao-enforce"],
    summary: "Room admins: the bot makes the room follow the group (people not members get the adoption grace first).",
    params: [],
    who: "room admins",
    group: false,
    mentions: "named",
    executor: (x) => x.oneAtATime(() => x.creation.daoMode(x.ctx, "enforce")),
  }),
  describeCommand({
    name: "link",
    words: "link",
    aliases: [],
    summary: "Start linking your wallet address to your Matrix account (in a direct chat, name the group's room).",
    params: [{ name: "address", kind: "address", form: "<0x address>" }, ROOM],
    who: "anyone in the room, or anyone naming it from a direct chat",
    group: false,
    mentions: "named",
    parse(_ctx, args, usage) {
      const a = args[0];
      // A second word that is no room (the room is taken off the end when it is one).
      if (args.length === 2 && args[1] !== undefined) {
        const r = roomArg(args[1].text, usage);
        return "kind" in r ? r : fail("Give one wallet address, and at most one room.", usage);
      }
      if (a === undefined || args.length > 1) return fail("Give one wallet address: 0x and 40 hex digits.", usage);
      const addr = address(a.text);
      if (addr === undefined) {
        const why = /^0x[0-9a-fA-F]{40}$/.test(a.text) ? " (its mixed case is not a valid checksum: a typo?)" : "";
        return fail(`${quote(a.text)} is not an address${why}. An address is 0x and 40 hex digits.`, usage);
      }
      if (addr === ZERO) return fail("The zero address cannot be linked.", usage);
      return { address: addr };
    },
    executor: (x, c) => x.linking.link(x.ctx, c.address, x.room),
  }),
  describeCommand({
    name: "verify",
    words: "verify",
    aliases: [],
    summary: "Finish linking: the signature of the message the bot gave you.",
    params: [{ name: "signature", kind: "signature", form: "<0x signature>" }],
    who: "who sent !link, where they sent it",
    group: false,
    mentions: "named",
    parse(_ctx, args, usage) {
      const a = args[0];
      if (a === undefined || args.length > 1) return fail("Give one signature: 0x and 130 hex digits.", usage);
      const sig = signatureOf(a.text);
      return sig.startsWith("0x") ? { signature: sig as `0x${string}` } : fail(sig, usage);
    },
    executor: (x, c) => x.linking.verify(x.ctx, c.signature),
  }),
  describeCommand({
    name: "authorize",
    words: "authorize",
    aliases: [],
    summary: "Let the bot vote, propose and delegate for you from chat, for a time you choose: it gives you data to sign.",
    params: [{ name: "scope", kind: "words", form: "[+config] [+fees] [+custom] [days=N] | <0x signature>", optional: true }, ROOM],
    who: "members (linked)",
    group: true,
    mentions: "named",
    parse(_ctx, args, usage) {
      const a = args[0];
      if (a === undefined) return {};
      if (a.text.startsWith("0x")) {
        if (args.length > 1) return fail("Give at most one signature: 0x and 130 hex digits.", usage);
        const sig = signatureOf(a.text);
        return sig.startsWith("0x") ? { signature: sig as `0x${string}` } : fail(sig, usage);
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
        return fail(`${quote(arg.text)} is not something an authority can cover: use +config, +fees, +custom and days=1 to days=${maxDays}.`, usage);
      }
      return { ...(extraScope ? { extraScope } : {}), ...(days !== undefined ? { days } : {}) };
    },
    executor: (x, c) => x.linking.authorize(x.ctx, c.signature, c.extraScope, c.days),
  }),
  describeCommand({
    name: "unlink",
    words: "unlink",
    aliases: [],
    summary: "Remove the link between your wallet and your Matrix account.",
    params: [ROOM],
    who: "who linked",
    group: true,
    mentions: "named",
    executor: (x) => x.linking.unlink(x.ctx),
  }),
  describeCommand({
    name: "propose-add",
    words: "propose add",
    aliases: ["propose-add", "propose invite"],
    summary: "Propose to admit someone as a member (the account must exist on its homeserver).",
    params: [USER, ROOM],
    who: MEMBERS,
    group: true,
    mentions: "named",
    executor: (x, c) => x.props.proposeAdd(x.ctx, c.target),
  }),
  describeCommand({
    name: "propose-remove",
    words: "propose remove",
    aliases: ["propose-remove", "propose kick"],
    summary: "Propose to remove a member.",
    params: [USER, ROOM],
    who: MEMBERS,
    group: true,
    mentions: "named",
    executor: (x, c) => x.props.proposeRemove(x.ctx, c.target),
  }),
  describeCommand({
    name: "propose-config",
    words: "propose config",
    aliases: ["propose-config", "propose settings"],
    summary: "Propose new settings: fee, token, periods, mode, quorums, admins.",
    params: [{ name: "changes", kind: "options", form: "key=value … (the keys of dao create)" }, ROOM],
    who: `${MEMBERS}, with +config`,
    group: true,
    mentions: "named",
    parse(ctx, args, usage) {
      if (args.length === 0) return fail(`What should change? Give key=value options (${ctx.prefix}help options).`, usage);
      const r = parseOptions(ctx, args, usage);
      return "options" in r ? { changes: r.options } : r;
    },
    executor: (x, c) => x.props.proposeConfig(x.ctx, c.changes),
  }),
  describeCommand({
    name: "propose-fee-destination",
    words: "propose fee-destination",
    aliases: ["propose-fee-destination", "propose fee-dest", "propose fees"],
    summary: "Propose where collected fees go: kept, shared out, or sent to a contract.",
    params: [
      {
        name: "destination",
        kind: "words",
        form: "locked | release 0xA=60% 0xB=40% | custom 0xC",
        about:
          "locked — fees stay in the group\n  release 0xA=60% 0xB=40% — shared out at most once per 30 days (up to 32 recipients, 100% in all)\n  custom 0xC — the whole balance to a contract, at any time",
      },
      ROOM,
    ],
    who: `${MEMBERS}, with +fees`,
    group: true,
    mentions: "named",
    parse(_ctx, args, usage): { destination: FeeDestinationSpec } | Fail {
      const kind = args[0]?.text.toLowerCase();
      const rest = args.slice(1);
      if (kind === "locked") {
        if (rest.length > 0) return fail("locked takes nothing after it.", usage);
        return { destination: { kind: "locked" } };
      }
      if (kind === "custom") {
        const t = rest[0];
        if (t === undefined || rest.length > 1) return fail("custom takes one contract address.", usage);
        const a = address(t.text);
        if (a === undefined || a === ZERO) return fail(`${quote(t.text)} is not a usable address.`, usage);
        return { destination: { kind: "custom", target: a } };
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
          if (bps === undefined || bps === 0) return fail(`Each recipient needs a share above 0%, like ${a.slice(0, 6)}…=60%; got ${quote(t.text)}.`, usage);
          total += bps;
          recipients.push({ address: a, shareBps: bps });
        }
        if (total !== 10000) return fail(`The shares add up to ${total / 100}%, not 100%.`, usage);
        return { destination: { kind: "release", recipients } };
      }
      const what = args[0] === undefined ? "Where should fees go?" : `Unknown destination ${quote(args[0].text)}.`;
      return fail(`${what} Use locked, release or custom.`, usage);
    },
    executor: (x, c) => x.props.proposeFeeDestination(x.ctx, c.destination),
  }),
  describeCommand({
    name: "vote",
    words: "vote",
    aliases: ["v"],
    summary: "Vote on a proposal (yes/y/for/+1, no/n/against/-1, abstain/a/0).",
    params: [NUMBER, { name: "choice", kind: "choice", form: "<yes|no|abstain>" }, ROOM],
    who: MEMBERS,
    group: true,
    mentions: "named",
    parse(_ctx, args, usage) {
      if (args.length !== 2) return fail("Give a proposal number and your choice, like 3 yes.", usage);
      let [n, c] = [args[0]?.text ?? "", args[1]?.text ?? ""];
      // Accept the choice first too, when it cannot be read as a number: `vote yes #3`.
      if (choiceOf(n) !== undefined && !/^[+-]?\d+$/.test(n) && choiceOf(c) === undefined) [n, c] = [c, n];
      const num = parseNumberArg(n);
      if (typeof num === "string") return fail(num, usage);
      const choice = choiceOf(c);
      if (choice === undefined) return fail(`${quote(c)} is not a choice: say yes, no or abstain.`, usage);
      return { number: num, choice };
    },
    executor: (x, c) => x.props.vote(x.ctx, c.number, c.choice),
  }),
  describeCommand({
    name: "delegate",
    words: "delegate",
    aliases: [],
    summary: "Let another member carry your vote.",
    params: [USER, ROOM],
    who: MEMBERS,
    group: true,
    mentions: "named",
    executor: (x, c) => x.props.delegate(x.ctx, c.target),
  }),
  describeCommand({
    name: "undelegate",
    words: "undelegate",
    aliases: [],
    summary: "Take your vote back from your delegate.",
    params: [ROOM],
    who: MEMBERS,
    group: true,
    mentions: "named",
    executor: (x) => x.props.delegate(x.ctx, undefined),
  }),
  describeCommand({
    name: "join",
    words: "join",
    aliases: [],
    summary: "Accept your membership (paying the fee) once you are approved, or renew it.",
    params: [ROOM],
    who: "approved accounts and members (linked)",
    group: true,
    mentions: "named",
    executor: (x) => x.group.join(x.ctx),
  }),
  describeCommand({
    name: "proposals",
    words: "proposals",
    aliases: ["list"],
    summary: "List the open proposals.",
    params: [ROOM],
    who: "anyone in the group's room",
    group: true,
    mentions: "sender",
    executor: (x) => x.props.proposals(x.ctx),
  }),
  describeCommand({
    name: "proposal",
    words: "proposal",
    aliases: ["show"],
    summary: "Show one proposal and its votes.",
    params: [NUMBER, ROOM],
    who: "anyone in the group's room",
    group: true,
    mentions: "sender",
    executor: (x, c) => x.props.proposal(x.ctx, c.number),
  }),
  describeCommand({
    name: "members",
    words: "members",
    aliases: [],
    summary: "List the members.",
    params: [ROOM],
    who: "anyone in the group's room",
    group: true,
    mentions: "sender",
    executor: (x) => x.group.members(x.ctx),
  }),
  describeCommand({
    name: "status",
    words: "status",
    aliases: ["info"],
    summary: "Show the group: settings, treasury, your membership and when to renew it.",
    params: [ROOM],
    who: "anyone in the group's room",
    group: true,
    mentions: "sender",
    executor: (x) => x.group.status(x.ctx),
  }),
  describeCommand({
    name: "widget",
    words: "widget",
    aliases: [],
    summary: "Add the group's web page to the room as a widget.",
    params: [],
    who: "anyone in the group's room",
    group: false,
    mentions: "sender",
    executor: (x) => x.widgets.widget(x.ctx),
  }),
] as const;

/** The table, one description per command, in the order `!help` lists them. */
export const COMMAND_TABLE: readonly CommandDescription[] = TABLE;

/** Every command has exactly one description (checked by the compiler). */
type Described = (typeof TABLE)[number]["name"];
type Check<T extends true> = T;
export type EveryCommandDescribed = Check<[CommandName] extends [Described] ? true : false>;

const BY_NAME = new Map<CommandName, CommandDescription>(COMMAND_TABLE.map((d) => [d.name, d]));

export function descriptionOf<N extends CommandName>(name: N): CommandDescription<N> {
  return BY_NAME.get(name) as unknown as CommandDescription<N>;
}

/** The usage line of a description, without the prefix: `vote <#number> <yes|no|abstain> [#room:server]`. */
export function usageOf(name: CommandName): string {
  const d = BY_NAME.get(name);
  if (d === undefined) return name;
  return [d.words, ...d.params.map((p) => (p.optional && !p.form.startsWith("[") ? `[${p.form}]` : p.form))].join(" ");
}

/** Reads the arguments of a description without a parser of its own: its parameters in order. */
export function readParams(ctx: ParseContext, d: CommandDescription, args: Token[], usage: string): Record<string, unknown> | Fail {
  const out: Record<string, unknown> = {};
  const params = d.params.filter((p) => p.kind !== "room");
  let i = 0;
  for (const p of params) {
    if (p.kind === "user") {
      // A user takes the rest: a display name may have spaces.
      const r = userArg(ctx, args.slice(i), d.words, usage);
      if ("kind" in r) return r;
      out[p.name] = r.id;
      i = args.length;
      continue;
    }
    const a = args[i];
    if (a === undefined) {
      if (p.optional) continue;
      return fail(p.kind === "number" ? "Give one proposal number, like #3." : `Give ${p.form} after ${ctx.prefix}${d.words}.`, usage);
    }
    i++;
    if (p.kind === "number") {
      const num = parseNumberArg(a.text);
      if (typeof num === "string") return fail(num, usage);
      out[p.name] = num;
    } else if (p.kind === "signature") {
      const sig = signatureOf(a.text);
      if (!sig.startsWith("0x")) return fail(sig, usage);
      out[p.name] = sig;
    } else {
      out[p.name] = a.text;
    }
  }
  if (i < args.length) {
    if (params.length === 0) {
      const room = d.group ? ` (From a direct chat, name the group's room: ${ctx.prefix}${d.words} #room:server.)` : "";
      return fail(`${ctx.prefix}${d.words} takes no arguments.${room}`, usage);
    }
    const extra = args[i];
    return fail(
      params.some((p) => p.kind === "number") && params.length === 1
        ? "Give one proposal number, like #3."
        : `Too many arguments: ${quote(extra?.text ?? "")}.`,
      usage,
    );
  }
  return out;
}
