/**
 * The bot: turns a chat message into a command, runs it, answers in the room.
 * It never throws on input: refusals and chain errors become replies; only a
 * bug reaches the log, and even then the user gets an answer.
 */
import { parseCommand, helpText, type Command } from "./commands/parse.ts";
import { Refusal, type Answer, type Ctx } from "./context.ts";
import { answer } from "../text/format.ts";
import { humanChainError } from "../governance/errors.ts";
import * as linking from "./commands/linking.ts";
import * as group from "./commands/group.ts";
import * as props from "./commands/proposals.ts";
import type { IncomingMessage } from "../ports/rooms.ts";

export type BotDeps = Omit<Ctx, "roomId" | "sender" | "eventId">;

export class Bot {
  private readonly deps: BotDeps;
  /** Commands of one room run one at a time, in order. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(deps: BotDeps) {
    this.deps = deps;
  }

  /** Handles one message; resolves when the answer was sent (or the message ignored). */
  handle(m: IncomingMessage): Promise<void> {
    const prev = this.queues.get(m.roomId) ?? Promise.resolve();
    const next = prev.then(() => this.run(m));
    this.queues.set(
      m.roomId,
      next.catch(() => undefined),
    );
    return next;
  }

  private async run(m: IncomingMessage): Promise<void> {
    const { settings, rooms, log } = this.deps;
    const parsed = parseCommand(
      { body: m.body, ...(m.formattedBody !== undefined ? { formattedBody: m.formattedBody } : {}), ...(m.mentions ? { mentions: m.mentions } : {}) },
      { prefix: settings.prefix, defaultServer: settings.serverName },
    );
    if (parsed.kind === "none") return;
    let reply: Answer;
    if (parsed.kind === "error") {
      reply = answer(parsed.message, parsed.usage ? [`Usage: ${settings.prefix}${parsed.usage}`] : []);
    } else {
      const ctx: Ctx = { ...this.deps, roomId: m.roomId, sender: m.sender, eventId: m.eventId };
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
    try {
      await rooms.reply(m.roomId, reply, m.eventId);
    } catch (e) {
      log(`could not answer in ${m.roomId}: ${(e as Error).message}`);
    }
  }

  private async execute(ctx: Ctx, c: Command): Promise<Answer> {
    switch (c.name) {
      case "help":
        return { text: helpText(c.topic, ctx.settings.prefix) };
      case "dao-create":
        return group.daoCreate(ctx, c.options);
      case "link":
        return linking.link(ctx, c.address, c.room);
      case "verify":
        return linking.verify(ctx, c.signature);
      case "authorize":
        return linking.authorize(ctx, c.signature);
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
