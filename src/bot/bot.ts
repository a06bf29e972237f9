/**
 * The bot: turns a chat message into a command, runs it, and says what to
 * answer. It never throws on input: refusals and chain errors become
 * answers; only a bug reaches the log, and even then the user gets an answer.
 *
 * A command can be run again after a crash (the journal, `journal.ts`, runs
 * every recorded command that has no answer yet): `ctx.resumed` tells the
 * handlers that this command already sent a transaction, so they follow it
 * instead of refusing what it already changed.
 */
import { parseCommand, type Command } from "./commands/parse.ts";
import { helpAnswer } from "./commands/help.ts";
import { descriptionOf, type CommandDescription, type Run } from "./commands/table.ts";
import { Refusal, type Answer, type Ctx } from "./context.ts";
import { answer, pillify } from "../text/format.ts";
import { checksumAddresses, roomAlias } from "./ids.ts";
import { humanChainError } from "../governance/errors.ts";
import * as linking from "./commands/linking.ts";
import * as group from "./commands/group.ts";
import * as creation from "./commands/creation.ts";
import * as props from "./commands/proposals.ts";
import * as widgets from "./commands/widget.ts";
import { Spending, type Asker } from "./spending.ts";
import type { VoteChoice } from "./commands/parse.ts";
import type { IncomingMessage, Reply } from "../ports/rooms.ts";

export type BotDeps = Omit<Ctx, "roomId" | "sender" | "eventId" | "resumed"> & {
  /** guards the transactions commands send; none = unguarded (tests of parsing only) */
  spending?: Spending;
  /** takes secrets (RPC URLs) out of what is sent */
  redact?: (text: string) => string;
  /** told of each command answered: its name, outcome and seconds from its arrival (metrics) */
  observe?: (name: string, outcome: "ok" | "refused" | "error", seconds: number) => void;
};

export class Bot {
  private readonly deps: BotDeps;
  /**
   * The `!dao` commands of a room run one at a time (previews, consents,
   * the creation they lead to, the room's mode): two must never both create.
   */
  private readonly creating = new Map<string, Promise<unknown>>();

  constructor(deps: BotDeps) {
    this.deps = deps;
  }

  /** Handles one message and sends the answer (for tests and tools; the journal sends its own). */
  async handle(m: IncomingMessage): Promise<void> {
    const reply = await this.answer(m);
    if (!reply) return;
    try {
      await this.deps.rooms.reply(m.roomId, reply, m.eventId);
    } catch (e) {
      this.deps.log(`could not answer in ${m.roomId}: ${(e as Error).message}`);
    }
  }

  /** The answer to a message, or undefined when it is not a command. */
  async answer(m: IncomingMessage): Promise<Reply | undefined> {
    const { settings, log } = this.deps;
    const parsed = parseCommand(
      { body: m.body, ...(m.formattedBody !== undefined ? { formattedBody: m.formattedBody } : {}), ...(m.mentions ? { mentions: m.mentions } : {}) },
      { prefix: settings.prefix, defaultServer: settings.serverName },
    );
    if (parsed.kind === "none") return undefined;
    let reply: Answer;
    let d: CommandDescription | undefined;
    if (parsed.kind === "error") {
      reply = answer(parsed.message, parsed.usage ? [`Usage: ${settings.prefix}${parsed.usage}`] : []);
    } else {
      d = descriptionOf(parsed.command.name);
      const ctx = await this.context({ roomId: m.roomId, sender: m.sender, eventId: m.eventId });
      const started = Date.now();
      const observed = (outcome: "ok" | "refused" | "error") =>
        this.deps.observe?.(parsed.command.name, outcome, (Date.now() - (m.receivedAt ?? started)) / 1000);
      try {
        reply = await this.execute(ctx, d, parsed.command);
        log(`command ${parsed.command.name} by ${m.sender} in ${m.roomId}: ok (${Date.now() - started} ms)`);
        observed("ok");
      } catch (e) {
        if (e instanceof Refusal) {
          reply = answer(e.message);
          log(`command ${parsed.command.name} by ${m.sender}: refused: ${e.message}`);
          observed("refused");
        } else {
          const h = humanChainError(e);
          reply = answer(h.human);
          log(`command ${parsed.command.name} by ${m.sender}: error: ${h.log}`);
          observed("error");
        }
      }
    }
    // A parse error names nobody: the ids in it are the sender's own text or examples.
    return this.finish(m, reply, d?.mentions ?? "none");
  }

  /**
   * The answer as sent: secrets taken out, addresses checksummed, the user
   * ids it names made pills, whom it notifies (the sender, and the users it
   * names unless it is a list), and in the command's thread when it came in
   * one.
   */
  private finish(m: IncomingMessage, reply: Answer, mentions: "named" | "sender" | "none"): Reply {
    const redact = this.deps.redact ?? ((t: string) => t);
    const text = checksumAddresses(redact(reply.text));
    const html = reply.html !== undefined ? checksumAddresses(redact(reply.html)) : undefined;
    const pills = html !== undefined && mentions !== "none" ? pillify(html) : undefined;
    const bot = this.deps.settings.botUserId;
    const named = mentions === "named" ? (pills?.userIds ?? []) : [];
    const notified = [...new Set([m.sender, ...named])].filter((u) => u !== bot);
    return {
      text,
      ...(pills ? { html: pills.html } : html !== undefined ? { html } : {}),
      ...(reply.thread !== undefined ? { thread: reply.thread } : m.thread !== undefined ? { thread: m.thread } : {}),
      mentions: notified,
      ...(notified.some((u) => u !== m.sender) ? { notify: true } : {}),
    };
  }

  /** Runs `job` after the room's `!dao` commands before it. */
  private oneAtATime(roomId: string, job: () => Promise<Answer>): Promise<Answer> {
    const before = this.creating.get(roomId) ?? Promise.resolve();
    const run = before.catch(() => undefined).then(job);
    this.creating.set(roomId, run);
    void run
      .catch(() => undefined)
      .finally(() => {
        if (this.creating.get(roomId) === run) this.creating.delete(roomId);
      });
    return run;
  }

  /**
   * The context a handler runs in for `asker`: its transactions guarded by
   * the spending rules, `resumed` when this very event already sent one.
   * Also for what comes from outside chat (the web page, poll answers).
   */
  async context(asker: Asker): Promise<Ctx> {
    return {
      ...this.deps,
      roomId: asker.roomId,
      sender: asker.sender,
      eventId: asker.eventId,
      resumed: (await this.deps.store.getState(Spending.startedKey(asker.eventId))) !== undefined,
      chain: this.deps.spending ? this.deps.spending.chainFor(asker, this.deps.chain) : this.deps.chain,
    };
  }

  /**
   * A poll answer (`event` in `roomId` by `sender`) as a vote on proposal
   * `number`: cast under the member's authority like `!vote`, or refused
   * with the reason it did not count.
   */
  async pollVote(r: { roomId: string; sender: string; eventId: string }, number: number, choice: VoteChoice): Promise<{ counted: boolean; text: string }> {
    const ctx = await this.context(r);
    try {
      const a = await props.vote(ctx, number, choice);
      this.deps.log(`poll answer by ${r.sender} on #${number}: ${choice}, counted`);
      return { counted: true, text: a.text };
    } catch (e) {
      const why = e instanceof Refusal ? e.message : humanChainError(e).human;
      this.deps.log(`poll answer by ${r.sender} on #${number}: not counted: ${e instanceof Refusal ? e.message : humanChainError(e).log}`);
      return { counted: false, text: this.deps.redact ? this.deps.redact(why) : why };
    }
  }

  /**
   * Runs a command through its description's executor. A command that acts
   * on a group runs in the room it names (checked: the sender must be in it
   * or have linked there), or, in a room that is no group and is a direct
   * chat, is answered with how to name one.
   */
  private async execute(ctx: Ctx, d: CommandDescription, c: Command): Promise<Answer> {
    const written = "room" in c ? c.room : undefined;
    const named = written !== undefined ? await this.resolveRoom(ctx, written) : undefined;
    let run = ctx;
    if (d.group) {
      if (named !== undefined && named !== ctx.roomId) {
        await this.requirePlaceIn(ctx, named, written ?? named);
        run = { ...ctx, roomId: named };
      } else if (named === undefined && !(d.name === "authorize" && (await this.linkedFromHere(ctx))) && (await this.isDirectChat(ctx))) {
        throw new Refusal(await this.nameTheGroup(ctx, d));
      }
    } else if (d.name === "link" && named === undefined && (await this.isDirectChat(ctx))) {
      throw new Refusal(await this.nameTheGroup(ctx, d));
    }
    const x: Run = {
      ctx: run,
      linking,
      group,
      creation,
      props,
      widgets,
      ...(named !== undefined ? { room: named } : {}),
      oneAtATime: (job) => this.oneAtATime(ctx.roomId, job),
      help: (topic) => helpAnswer(topic, ctx.settings.prefix),
    };
    return d.executor(x, c);
  }

  /**
   * The room `!link … ROOM` last named from this chat: `!verify` and
   * `!authorize` there are about it (the step after `!link`, as before).
   */
  private async linkedFromHere(ctx: Ctx): Promise<string | undefined> {
    return ctx.store.getState(`pendingIn:${ctx.roomId}:${ctx.sender}`);
  }

  /** The id of the room a command names: as written, or its address looked up in the homeserver directory. */
  private async resolveRoom(ctx: Ctx, ref: string): Promise<string> {
    if (roomAlias(ref) === undefined) return ref;
    const resolve = ctx.rooms.resolveAlias?.bind(ctx.rooms);
    if (!resolve) throw new Refusal(`I cannot look up room addresses here: give the room's id (!abc:server) instead of ${ref}.`);
    let id: string | undefined;
    try {
      id = await resolve(ref);
    } catch (e) {
      ctx.log(`could not resolve ${ref}: ${(e as Error).message}`);
      throw new Refusal(
        `I could not reach the homeserver to look up ${ref} (it did not answer in time): try again later, or give the room's id (!abc:server).`,
      );
    }
    if (id === undefined) throw new Refusal(`There is no room ${ref}: check the address (Element shows it in the room's settings), or give the room's id.`);
    return id;
  }

  /**
   * A command that names another room works only for who is in it (joined
   * or invited) or linked there: a stranger learns nothing of a group. The
   * answer is the same whether the bot knows the room or not.
   */
  private async requirePlaceIn(ctx: Ctx, roomId: string, written: string): Promise<void> {
    const there = ctx.rooms.membership?.(roomId, ctx.sender);
    if (there === "join" || there === "invite") return;
    if (await ctx.store.getLink(roomId, ctx.sender)) return;
    throw new Refusal(
      `I know no group in ${written} that you are in: only the people of a group's room, or who linked there, can act on it or read it from elsewhere.`,
    );
  }

  /**
   * Whether the command's room is a direct chat: no group, no preview of
   * one, and nobody but the bot and the sender joined (a group is more
   * than 2 people). Such a room never becomes the room a command acts on
   * by default.
   */
  private async isDirectChat(ctx: Ctx): Promise<boolean> {
    if (await ctx.store.getBinding(ctx.roomId)) return false;
    if (await ctx.store.getCreation(ctx.roomId)) return false;
    const joined = await ctx.rooms.joinedMembers(ctx.roomId).catch(() => undefined);
    if (joined === undefined) return false;
    return joined.filter((u) => u !== ctx.settings.botUserId && u !== ctx.sender).length === 0;
  }

  /** What a command that needs a group says in a direct chat: the sender's groups, and how to name one. */
  private async nameTheGroup(ctx: Ctx, d: CommandDescription): Promise<string> {
    const p = ctx.settings.prefix;
    const mine: string[] = [];
    for (const b of await ctx.store.listBindings()) {
      const there = ctx.rooms.membership?.(b.roomId, ctx.sender);
      if (there === "join" || there === "invite" || (await ctx.store.getLink(b.roomId, ctx.sender))) mine.push(ctx.rooms.roomLabel?.(b.roomId) ?? b.roomId);
      if (mine.length > 5) break;
    }
    const example =
      d.name === "link"
        ? `${p}link 0xYOUR_ADDRESS ${mine[0] ?? "#room:server"}`
        : `${p}${d.words}${d.params.some((x) => !x.optional && x.kind !== "room") ? " …" : ""} ${mine[0] ?? "#room:server"}`;
    const which =
      mine.length === 0
        ? "You are in no group I serve."
        : mine.length === 1
          ? `You are in one group I serve, ${mine[0]}: that is the one to name.`
          : `Your groups: ${mine.slice(0, 5).join(", ")}${mine.length > 5 ? ", …" : ""}.`;
    return `This is a direct chat, not a group: I do not guess which group you mean. End the command with the group's room (its address or its id), like ${example}. ${which}`;
  }
}
