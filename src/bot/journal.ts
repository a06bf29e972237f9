/**
 * The command journal: answers every command recorded in the store exactly
 * once, after any number of crashes.
 *
 * The Matrix adapter records each message event on receipt, keyed by event
 * id, before the sync position that delivered it is saved. From there:
 *   new ─(read, decrypt, check, run the command)─> answering (the answer is
 *   recorded) ─(send it, once per event)─> done
 * A crash while a command runs leaves it "new": it runs again, and its
 * handler follows the transaction the first run sent (`ctx.resumed`), so
 * the answer says what happened, read from the chain. A crash after the
 * answer was decided leaves it "answering": the same answer is sent again,
 * and the homeserver drops the copy (same transaction id). Events are
 * handled in the order received, never by the timestamps senders claim.
 *
 * Each sender's commands in a room run one at a time, in order; different
 * senders do not wait for each other, so a flood from one account (which
 * the rate limits answer once and then ignore) never delays anyone else.
 */
import { CLEARTEXT_ANSWER, EDIT_ANSWER, intake } from "./intake.ts";
import type { Bot } from "./bot.ts";
import type { CommandLimits } from "./limits.ts";
import { Spending } from "./spending.ts";
import { warn } from "../log.ts";
import { answer } from "../text/format.ts";
import type { EventReader, OpenedEvent, Reply, RoomPort } from "../ports/rooms.ts";
import type { PollAnswer } from "./polls.ts";
import type { RoomShare } from "../ports/share.ts";
import type { InboundEvent, Store } from "../store/store.ts";

export interface JournalOptions {
  store: Store;
  reader: EventReader;
  rooms: RoomPort;
  bot: Pick<Bot, "answer">;
  limits: CommandLimits;
  prefix: string;
  serverName: string;
  log: (line: string) => void;
  /** the proposals' polls: what a poll answer is answered */
  polls?: { answer(a: PollAnswer): Promise<Reply | undefined> };
  /** after a command was answered: its room may need a look */
  onAnswered?: (roomId: string) => void;
  /** how long an encrypted event may wait for its room key (ms); default 10 minutes */
  keyWaitMs?: number;
  /** how soon to try again what could not be done now (ms); default 2 s */
  retryMs?: number;
  /**
   * Several workers: only the events of rooms this worker holds are
   * handled (every worker records every event; the holder answers). A
   * worker that loses a room mid-way stops before answering: the new
   * holder runs the command again, as after a crash.
   */
  share?: Pick<RoomShare, "owns">;
  /** sees every event opened, command or not, before it is read (the rotation audit); may run again after a crash */
  observe?: (e: OpenedEvent) => Promise<unknown>;
  /** refuse commands from devices their owner has not cross-signed (bot.requireCrossSignedDevices) */
  requireCrossSigned?: boolean;
}

/** How many recorded events one look takes up. */
const BATCH = 500;
/** How many of one sender's messages may wait for their room keys at once. */
const MAX_WAITING_PER_SENDER = 20;
/** How many of one sender's events one look at the journal takes. */
const PER_SENDER_PER_SCAN = 25;

export class CommandJournal {
  private readonly o: JournalOptions;
  /** events queued or being handled in this process */
  private readonly busy = new Set<string>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly waitingSince = new Map<string, { since: number; sender: string }>();
  /** events that failed for now, and when to try them again */
  private readonly notBefore = new Map<string, number>();
  private scanning: Promise<void> | undefined;
  private again = false;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(o: JournalOptions) {
    this.o = o;
  }

  /** Looks for recorded events to handle. Call after each sync and at start; calls coalesce. */
  poke(): void {
    if (this.stopped) return;
    if (this.scanning) {
      this.again = true;
      return;
    }
    this.scanning = this.scan()
      .catch((e: unknown) => {
        this.o.log(`journal: reading the journal failed, will retry: ${(e as Error).message}`);
        this.later();
      })
      .finally(() => {
        this.scanning = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  /** Resolves when everything queued so far is handled (for stopping and tests). */
  async idle(): Promise<void> {
    while (this.scanning || this.busy.size > 0) {
      await this.scanning;
      await Promise.all([...this.queues.values()]);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
  }

  private async scan(): Promise<void> {
    const { store } = this.o;
    for (const e of await store.listInbound("answering", BATCH)) void this.enqueue(e, () => this.resend(e));
    // Those waiting for a key are apart: however many, they hold up nothing new.
    // At most a few of each sender's per look: a pile of one sender's (a
    // flood from a homeserver that does not rate-limit) never keeps anyone
    // else's commands from being read; the rest come at the next looks.
    let more = false;
    const jobs: Promise<void>[] = [];
    for (const status of ["new", "waiting"] as const) {
      const listed = await store.listInbound(status, BATCH, PER_SENDER_PER_SCAN);
      const perSender = new Map<string, number>();
      for (const e of listed) {
        perSender.set(e.sender, (perSender.get(e.sender) ?? 0) + 1);
        const job = this.enqueue(e, () => this.handle(e));
        if (job) jobs.push(job);
      }
      more ||= listed.length === BATCH || [...perSender.values()].some((n) => n >= PER_SENDER_PER_SCAN);
    }
    // Some were left for later: look again once these are handled (not at
    // the next sync, which may be 30 s away). Only when this look took
    // something up, so events held back for a retry make no busy loop.
    if (more && jobs.length > 0) void Promise.allSettled(jobs).then(() => this.poke());
  }

  private enqueue(e: InboundEvent, job: () => Promise<void>): Promise<void> | undefined {
    if (this.busy.has(e.eventId) || !this.serves(e.roomId)) return undefined;
    const at = this.notBefore.get(e.eventId);
    if (at !== undefined && Date.now() < at) {
      this.later();
      return undefined;
    }
    this.notBefore.delete(e.eventId);
    this.busy.add(e.eventId);
    const key = `${e.roomId}\n${e.sender}`;
    const next = (this.queues.get(key) ?? Promise.resolve())
      .then(job)
      .catch((err: unknown) => {
        // A bug, not input: the event stays in the journal and is tried again.
        this.o.log(`journal: handling ${e.eventId} failed, will retry: ${(err as Error).stack ?? String(err)}`);
        this.backOff(e.eventId);
      })
      .finally(() => {
        this.busy.delete(e.eventId);
        if (this.queues.get(key) === next) this.queues.delete(key);
      });
    this.queues.set(key, next);
    return next;
  }

  /** Leaves an event alone until the next retry. */
  private backOff(eventId: string): void {
    this.notBefore.set(eventId, Date.now() + (this.o.retryMs ?? 2000));
    this.later();
  }

  /** Looks again soon, for what waits for a key or could not be sent. */
  private later(): void {
    if (this.retry || this.stopped) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.poke();
    }, this.o.retryMs ?? 2000);
  }

  /** Whether this worker handles the room's events now. */
  private serves(roomId: string): boolean {
    return this.o.share?.owns(roomId) ?? true;
  }

  private async handle(e: InboundEvent): Promise<void> {
    const { store, reader, log } = this.o;
    if (!this.serves(e.roomId)) return;
    const opened = await reader.open(e.raw);
    if (opened === "waiting") {
      const since = this.waitingSince.get(e.eventId)?.since ?? Date.now();
      const waiting = [...this.waitingSince.values()].filter((w) => w.sender === e.sender).length;
      // A sender's pile of messages nobody can read (a flood with bogus keys) is not kept trying.
      const tooMany = !this.waitingSince.has(e.eventId) && waiting >= MAX_WAITING_PER_SENDER;
      if (!tooMany && Date.now() - since < (this.o.keyWaitMs ?? 600_000)) {
        this.waitingSince.set(e.eventId, { since, sender: e.sender });
        if (e.status !== "waiting") await store.waitInbound(e.eventId);
        this.backOff(e.eventId);
        return;
      }
      log(
        `journal: ${tooMany ? `${e.sender} has ${waiting} messages waiting for keys already` : "no room key came"} for ${e.eventId} from ${e.sender} in ${e.roomId}; it cannot be read and is not answered`,
      );
      this.waitingSince.delete(e.eventId);
      await store.finishInbound(e.eventId);
      return;
    }
    this.waitingSince.delete(e.eventId);
    if (opened === "unreadable") {
      log(`journal: ${e.eventId} from ${e.sender} in ${e.roomId} cannot be decrypted; not answered`);
      await store.finishInbound(e.eventId);
      return;
    }
    await this.o.observe?.(opened);
    const what = intake(opened, {
      prefix: this.o.prefix,
      serverName: this.o.serverName,
      roomEncrypted: await reader.isEncrypted(e.roomId),
      ...(this.o.requireCrossSigned ? { requireCrossSigned: true } : {}),
    });
    if (what.kind === "ignore") {
      await store.finishInbound(e.eventId);
      return;
    }
    // A command that had sent its transaction when the bot stopped is run
    // again to say its outcome: it was counted when it first came.
    const resumed = (await store.getState(Spending.startedKey(e.eventId))) !== undefined;
    const verdict = resumed ? { ok: true as const } : await this.o.limits.take(e.roomId, e.sender);
    let reply: Reply | undefined;
    if (!verdict.ok) {
      log(`journal: ${e.sender} in ${e.roomId} is over the command rate limit; ${verdict.answer ? "told to slow down" : "not answered"}`);
      reply = verdict.answer === undefined ? undefined : answer(verdict.answer);
    } else if (what.kind === "edit") {
      // One answer per edited message, however often it is edited.
      reply = (await store.getState(`edit:${what.original}`)) === undefined ? answer(EDIT_ANSWER) : undefined;
    } else if (what.kind === "poll-answer") {
      reply = this.o.polls ? await this.o.polls.answer(what.answer) : undefined;
    } else if (what.kind === "cleartext") {
      log(`journal: refused an unencrypted command from ${e.sender} in the encrypted room ${e.roomId}`);
      reply = answer(CLEARTEXT_ANSWER);
    } else if (what.kind === "untrusted-device") {
      log(`journal: refused a command from ${e.sender} in ${e.roomId}: not from a device its owner cross-signed (bot.requireCrossSignedDevices)`);
      reply = answer(what.answer);
    } else {
      reply = await this.o.bot.answer({ ...what.message, receivedAt: e.receivedAt });
    }
    // What the journal answers itself (edits, limits, refusals) goes in the message's thread too, as the bot's answers do.
    const root = threadOf(opened.content);
    if (reply !== undefined && reply.thread === undefined && root !== undefined) reply = { ...reply, thread: root };
    // The room may have passed to another worker while the command ran: that one answers.
    if (!this.serves(e.roomId)) return;
    if (reply === undefined) {
      await store.finishInbound(e.eventId);
      return;
    }
    await store.setInboundAnswer(e.eventId, JSON.stringify(reply));
    if (what.kind === "edit") await store.setState(`edit:${what.original}`, e.eventId);
    await this.deliver(e, reply);
    if (what.kind === "command" || what.kind === "poll-answer") this.o.onAnswered?.(e.roomId);
  }

  private async resend(e: InboundEvent): Promise<void> {
    // Decided before, perhaps by another worker that sent it from its own device and died.
    if (this.o.share && (await this.o.rooms.replied?.(e.roomId, e.eventId, e.receivedAt))) {
      await this.o.store.finishInbound(e.eventId);
      return;
    }
    await this.deliver(e, JSON.parse(e.answer ?? "{}") as Reply);
  }

  private async deliver(e: InboundEvent, reply: Reply): Promise<void> {
    if (!this.serves(e.roomId)) return;
    try {
      await this.o.rooms.reply(e.roomId, reply, e.eventId);
    } catch (err) {
      // The homeserver refused this answer itself (not a rate limit, not a
      // failure of its own): the thread the sender named may be none (a 400),
      // so it goes as a plain reply; refused again, it is not tried for ever.
      const status = (err as { httpStatus?: unknown }).httpStatus;
      if (typeof status === "number" && status >= 400 && status < 500 && status !== 429) {
        if (reply.thread !== undefined) {
          const { thread: _thread, ...plain } = reply;
          return this.deliver(e, plain);
        }
        warn(this.o.log, `journal: the homeserver refused the answer to ${e.eventId} in ${e.roomId} (HTTP ${status}): ${(err as Error).message}; not sent`);
        await this.o.store.finishInbound(e.eventId);
        return;
      }
      this.o.log(`journal: could not answer ${e.eventId} in ${e.roomId}, will retry: ${(err as Error).message}`);
      this.backOff(e.eventId);
      return;
    }
    await this.o.store.finishInbound(e.eventId);
  }
}

/** The root of the thread a message was sent in, if any. */
function threadOf(content: Record<string, unknown>): string | undefined {
  const r = content["m.relates_to"] as { rel_type?: unknown; event_id?: unknown } | undefined;
  return r?.rel_type === "m.thread" && typeof r.event_id === "string" ? r.event_id : undefined;
}
