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
import { parseCommand, helpText, type Command } from "./commands/parse.ts";
import { Refusal, type Answer, type Ctx } from "./context.ts";
import { answer } from "../text/format.ts";
import { humanChainError } from "../governance/errors.ts";
import * as linking from "./commands/linking.ts";
import * as group from "./commands/group.ts";
import * as creation from "./commands/creation.ts";
import * as props from "./commands/proposals.ts";
import { Spending } from "./spending.ts";
import type { IncomingMessage, Reply } from "../ports/rooms.ts";

export type BotDeps = Omit<Ctx, "roomId" | "sender" | "eventId" | "resumed"> & {
  /** guards the transactions commands send; none = unguarded (tests of parsing only) */
  spending?: Spending;
  /** takes secrets (RPC URLs) out of what is sent */
  redact?: (text: string) => string;
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
    if (parsed.kind === "error") {
      reply = answer(parsed.message, parsed.usage ? [`Usage: ${settings.prefix}${parsed.usage}`] : []);
    } else {
      const asker = { roomId: m.roomId, sender: m.sender, eventId: m.eventId };
      const ctx: Ctx = {
        ...this.deps,
        ...asker,
        resumed: (await this.deps.store.getState(Spending.startedKey(m.eventId))) !== undefined,
        chain: this.deps.spending ? this.deps.spending.chainFor(asker, this.deps.chain) : this.deps.chain,
      };
      const started = Date.now();
      try {
        reply = await this.execute(ctx, parsed.command);
        log(`command ${parsed.command.name} by ${m.sender} in ${m.roomId}: ok (${Date.now() - started} ms)`);
      } catch (e) {
        if (e instanceof Refusal) {
          reply = answer(e.message);
          log(`command ${parsed.command.name} by ${m.sender}: refused: ${e.message}`);
        } else {
          const h = humanChainError(e);
          reply = answer(h.human);
          log(`command ${parsed.command.name} by ${m.sender}: error: ${h.log}`);
        }
      }
    }
    const redact = this.deps.redact;
    return redact ? { text: redact(reply.text), ...(reply.html !== undefined ? { html: redact(reply.html) } : {}) } : reply;
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

  private async execute(ctx: Ctx, c: Command): Promise<Answer> {
    switch (c.name) {
      case "help":
        return { text: helpText(c.topic, ctx.settings.prefix) };
      case "dao-create":
        return this.oneAtATime(ctx.roomId, () => creation.daoCreate(ctx, c.options, c.founders, c.watch === true));
      case "dao-confirm":
        return this.oneAtATime(ctx.roomId, () => creation.daoConfirm(ctx, c.code));
      case "dao-decline":
        return this.oneAtATime(ctx.roomId, () => creation.daoDecline(ctx));
      case "dao-cancel":
        return this.oneAtATime(ctx.roomId, () => creation.daoCancel(ctx));
      case "dao-watch":
        return this.oneAtATime(ctx.roomId, () => creation.daoMode(ctx, "watch"));
      case "dao-enforce":
        return this.oneAtATime(ctx.roomId, () => creation.daoMode(ctx, "enforce"));
      case "link":
        return linking.link(ctx, c.address, c.room);
      case "verify":
        return linking.verify(ctx, c.signature);
      case "authorize":
        return linking.authorize(ctx, c.signature, c.extraScope, c.days);
      case "unlink":
        return linking.unlink(ctx);
      case "propose-add":
        return props.proposeAdd(ctx, c.target);
      case "propose-remove":
        return props.proposeRemove(ctx, c.target);
      case "propose-config":
        return props.proposeConfig(ctx, c.changes);
      case "propose-fee-destination":
        return props.proposeFeeDestination(ctx, c.destination);
      case "vote":
        return props.vote(ctx, c.number, c.choice);
      case "delegate":
        return props.delegate(ctx, c.target);
      case "undelegate":
        return props.delegate(ctx, undefined);
      case "join":
        return group.join(ctx);
      case "proposals":
        return props.proposals(ctx);
      case "proposal":
        return props.proposal(ctx, c.number);
      case "members":
        return group.members(ctx);
      case "status":
        return group.status(ctx);
    }
  }
}
