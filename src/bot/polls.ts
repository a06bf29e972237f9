/**
 * Proposals as native Matrix polls (MSC3381). Each open proposal of a group
 * is posted as a poll (Yes / No / Abstain, the question saying what the
 * proposal does, its quorum and deadline), in the stable `m.poll` fields and
 * the `org.matrix.msc3381.poll.start` ones current Element reads, with a
 * text fallback. A member's answer is its vote, cast like `!vote` under the
 * member's authority; answers that do not count get a threaded answer
 * saying why. When the proposal ends, the poll is ended with the on-chain
 * result and the transaction.
 *
 * Answers come through the command journal (`journal.ts`), so each is
 * handled once across crashes; only a member's latest answer counts: an
 * answer followed by another of the same member to the same poll, not yet
 * handled, is passed over.
 */
import type { Bot } from "./bot.ts";
import type { VoteChoice } from "./commands/parse.ts";
import { announce, announcedKey, effect, executeIfPassed } from "./commands/proposals.ts";
import { userOf } from "./guards.ts";
import { formatPercent, formatTime } from "../text/format.ts";
import { humanChainError } from "../governance/errors.ts";
import { ProposalState } from "../governance/types.ts";
import type { RecordChain } from "../ports/chain.ts";
import type { RoomShare } from "../ports/share.ts";
import type { EventReader, Reply } from "../ports/rooms.ts";
import type { RoomBinding, Store } from "../store/store.ts";

export const POLL_START = "org.matrix.msc3381.poll.start";
export const POLL_RESPONSE_TYPES = ["org.matrix.msc3381.poll.response", "m.poll.response"] as const;
export const POLL_END = "org.matrix.msc3381.poll.end";

const ANSWERS: { id: string; text: string; choice: VoteChoice }[] = [
  { id: "yes", text: "Yes", choice: "for" },
  { id: "no", text: "No", choice: "against" },
  { id: "abstain", text: "Abstain", choice: "abstain" },
];

/** A poll answer, as read from its event. */
export interface PollAnswer {
  roomId: string;
  eventId: string;
  sender: string;
  /** the poll's start event */
  pollId: string;
  /** the selected answer ids (empty: a withdrawn answer) */
  answers: string[];
}

/** The event that posts a poll: MSC3381's unstable fields, the stable ones, and the text fallback. */
export function pollStart(question: string, details: string[]): { type: string; content: Record<string, unknown> } {
  const fallback = [question, ...details, ...ANSWERS.map((a, i) => `${i + 1}. ${a.text}`)].join("\n");
  return {
    type: POLL_START,
    content: {
      [POLL_START]: {
        question: { "org.matrix.msc1767.text": question },
        kind: "org.matrix.msc3381.poll.disclosed",
        max_selections: 1,
        answers: ANSWERS.map((a) => ({ id: a.id, "org.matrix.msc1767.text": a.text })),
      },
      "org.matrix.msc1767.text": fallback,
      "m.poll": {
        kind: "m.disclosed",
        max_selections: 1,
        question: { "m.text": [{ body: question }] },
        answers: ANSWERS.map((a) => ({ "m.id": a.id, "m.text": [{ body: a.text }] })),
      },
      "m.text": [{ body: fallback }],
      body: fallback,
    },
  };
}

/** The event that ends a poll, with the result in words. */
export function pollEnd(pollId: string, text: string, results: Record<string, number>): { type: string; content: Record<string, unknown> } {
  return {
    type: POLL_END,
    content: {
      "m.relates_to": { rel_type: "m.reference", event_id: pollId },
      [POLL_END]: {},
      "org.matrix.msc1767.text": text,
      "m.text": [{ body: text }],
      "m.poll.results": results,
      body: text,
    },
  };
}

/** Reads a poll answer (stable or unstable form); undefined when the event is none. */
export function readPollAnswer(ev: {
  type: string;
  roomId: string;
  eventId: string;
  sender: string;
  content: Record<string, unknown>;
}): PollAnswer | undefined {
  if (!(POLL_RESPONSE_TYPES as readonly string[]).includes(ev.type)) return undefined;
  const rel = ev.content["m.relates_to"] as { rel_type?: unknown; event_id?: unknown } | undefined;
  if (rel?.rel_type !== "m.reference" || typeof rel.event_id !== "string") return undefined;
  const unstable = (ev.content["org.matrix.msc3381.poll.response"] as { answers?: unknown } | undefined)?.answers;
  const stable = ev.content["m.selections"];
  const list = Array.isArray(unstable) ? unstable : Array.isArray(stable) ? stable : [];
  return {
    roomId: ev.roomId,
    eventId: ev.eventId,
    sender: ev.sender,
    pollId: rel.event_id,
    answers: list.filter((a): a is string => typeof a === "string").slice(0, 20),
  };
}

/** An `m.text` (body and HTML) in the thread of `root`, notifying nobody. */
function threadedText(a: Reply, root: string): Record<string, unknown> {
  return {
    msgtype: "m.text",
    body: a.text,
    ...(a.html !== undefined ? { format: "org.matrix.custom.html", formatted_body: a.html } : {}),
    "m.relates_to": { rel_type: "m.thread", event_id: root, is_falling_back: true, "m.in_reply_to": { event_id: root } },
    "m.mentions": {},
  };
}

/** What the polls need of the room: to post an event once per key, returning its id. */
export interface PollRoom {
  sendEvent(roomId: string, type: string, content: Record<string, unknown>, once: string): Promise<string>;
}

/** A proposal's announcement in its poll's thread, due at `at` (ms). */
interface DueAnnouncement {
  number: number;
  poll: string;
  at: number;
}

/** How long a poll's announcement waits for the answer of the command that made the proposal, if any. */
const ANNOUNCE_AFTER_MS = 3_000;

interface PostedPoll {
  eventId: string;
  number: number;
  id: string;
  action: number;
  payload: string;
}

export interface PollsOptions {
  store: Store;
  chain: RecordChain;
  room: PollRoom;
  reader: EventReader;
  bot: Pick<Bot, "context" | "pollVote">;
  botUserId: string;
  prefix: string;
  webUrl?: string;
  log: (line: string) => void;
  /** with several workers: the rooms this one serves (the others post and end their own polls) */
  share?: Pick<RoomShare, "owns">;
}

const STATE_WORD = ["open", "defeated", "passed", "executed", "expired"];

export class Polls {
  private readonly o: PollsOptions;
  private running: Promise<void> | undefined;

  constructor(o: PollsOptions) {
    this.o = o;
  }

  /** Posts polls for new proposals and ends those of decided ones; calls coalesce. */
  tick(): Promise<void> {
    this.running ??= this.pass()
      .catch((e: unknown) => this.o.log(`polls: ${humanChainError(e).log}`))
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private async pass(): Promise<void> {
    const head = await this.o.chain.head();
    for (const b of await this.o.store.listBindings()) {
      if (this.o.share && !this.o.share.owns(b.roomId)) continue;
      try {
        await this.follow(b, head);
        await this.announceDue(b).catch((e: unknown) => this.o.log(`polls: ${b.roomId}: ${humanChainError(e).log}`));
        await this.endDecided(b);
      } catch (e) {
        this.o.log(`polls: ${b.roomId}: ${humanChainError(e).log}`);
      }
    }
  }

  /** Reads the group's new events: a poll for each new open proposal, and the transactions that decide them. */
  private async follow(b: RoomBinding, head: number): Promise<void> {
    const { store, chain } = this.o;
    const key = `polls:cursor:${b.group}`;
    const from = Number((await store.getState(key)) ?? String(b.fromBlock - 1)) + 1;
    if (from > head) return;
    const events = await chain.events(b.group, from, head);
    for (const e of events) {
      const id = String((e.args.proposalId as bigint | undefined) ?? "");
      // The transaction that decided it: its execution, or the last vote cast on it.
      if (e.name === "ProposalExecuted") await store.setState(`polls:executed:${b.group}:${id}`, e.txHash);
      if (e.name === "VoteCast") await store.setState(`polls:lastvote:${b.group}:${id}`, e.txHash);
      if (e.name === "ProposalCreated") await this.post(b, Number(e.args.number));
    }
    await store.setState(key, String(head));
  }

  private async post(b: RoomBinding, number: number): Promise<void> {
    const { store, chain, room } = this.o;
    const key = `poll:${b.group}:${number}`;
    if (await store.getState(key)) return;
    const p = await chain.proposalByNumber(b.group, number);
    if (!p || p.state !== ProposalState.Active) return;
    const ctx = await this.o.bot.context({ roomId: b.roomId, sender: this.o.botUserId, eventId: `poll:${b.group}:${number}` });
    const e = await effect(ctx, b.group, p);
    const question = `#${number}: ${e.summary}`;
    const details = [
      ...e.changes.map((c) => `• ${c}`),
      `Passes with ${p.quorumVotes} FOR of ${p.influence} (quorum ${formatPercent(p.quorumBps)}) and more FOR than AGAINST; deadline ${formatTime(p.deadline)}.`,
      `Your answer is your vote, cast by the bot under your authority (${this.o.prefix}authorize); ${this.o.prefix}vote ${number} works too.`,
      ...(this.o.webUrl ? [`Or with your wallet: ${this.o.webUrl}/g/${b.group}/p/${number}`] : []),
    ];
    const start = pollStart(`${question} — ${p.quorumVotes} FOR of ${p.influence} needed by ${formatTime(p.deadline)}`, details);
    const eventId = await room.sendEvent(b.roomId, start.type, start.content, `poll:${b.group}:${number}`);
    const posted: PostedPoll = { eventId, number, id: p.id.toString(), action: p.action, payload: p.payload };
    await store.setState(key, JSON.stringify(posted));
    await store.setState(`pollOf:${b.roomId}:${eventId}`, JSON.stringify({ group: b.group, number }));
    const open = JSON.parse((await store.getState(`polls:open:${b.group}`)) ?? "[]") as number[];
    await store.setState(`polls:open:${b.group}`, JSON.stringify([...new Set([...open, number])]));
    // Its announcement in the poll's thread, unless a command in the room
    // announced it: a step of its own (after the command's answer has had
    // time to say it was the announcement), tried again until it is sent.
    const due = JSON.parse((await store.getState(`polls:announce:${b.group}`)) ?? "[]") as DueAnnouncement[];
    await store.setState(`polls:announce:${b.group}`, JSON.stringify([...due, { number, poll: eventId, at: Date.now() + ANNOUNCE_AFTER_MS }]));
    this.o.log(`polls: posted #${number} in ${b.roomId} as ${eventId}`);
  }

  /**
   * Announces in full, in its poll's thread, each proposal no command in
   * the room announced (one made from a wallet, the page, or a direct chat
   * with the bot): a poll shows only its question. Once each (the same
   * transaction id after a crash); one that fails is tried at the next pass,
   * and holds up nothing else.
   */
  private async announceDue(b: RoomBinding): Promise<void> {
    const { store, chain, room } = this.o;
    const key = `polls:announce:${b.group}`;
    const due = JSON.parse((await store.getState(key)) ?? "[]") as DueAnnouncement[];
    if (due.length === 0) return;
    const left: DueAnnouncement[] = [];
    for (const d of due) {
      if (Date.now() < d.at) {
        left.push(d);
        continue;
      }
      if ((await store.getState(announcedKey(b.group, d.number))) !== undefined) continue;
      try {
        const p = await chain.proposalByNumber(b.group, d.number);
        // Decided already (within seconds of being made): its poll's end says the outcome, and nobody has a vote to cast.
        if (!p || p.state !== ProposalState.Active) continue;
        const ctx = await this.o.bot.context({ roomId: b.roomId, sender: this.o.botUserId, eventId: `poll:${b.group}:${d.number}` });
        const by = (await userOf(ctx, p.proposer)) ?? p.proposer;
        const a = await announce(ctx, b.group, p, `Proposal #${d.number} by ${by}`);
        await room.sendEvent(b.roomId, "m.room.message", threadedText(a, d.poll), `announce:${b.group}:${d.number}`);
        await store.setState(announcedKey(b.group, d.number), d.poll);
      } catch (e) {
        this.o.log(`polls: announcing #${d.number} in ${b.roomId} failed, will retry: ${humanChainError(e).log}`);
        left.push(d);
      }
    }
    await store.setState(key, JSON.stringify(left));
  }

  /** Ends the polls of proposals that are decided (executing a passed one first, once). */
  private async endDecided(b: RoomBinding): Promise<void> {
    const { store, chain, room } = this.o;
    const openKey = `polls:open:${b.group}`;
    const open = JSON.parse((await store.getState(openKey)) ?? "[]") as number[];
    const still: number[] = [];
    for (const number of open) {
      const raw = await store.getState(`poll:${b.group}:${number}`);
      if (!raw) continue;
      const poll = JSON.parse(raw) as PostedPoll;
      let v = await chain.proposalView(b.group, BigInt(poll.id));
      if (v.state === ProposalState.Active) {
        still.push(number);
        continue;
      }
      if (v.state === ProposalState.Succeeded && v.deadline > (await chain.now())) {
        // Passed early: the vote that decided it carries it out (in chat, or its
        // member from the wallet); the bot does only once the deadline passed.
        still.push(number);
        continue;
      }
      if (v.state === ProposalState.Succeeded) {
        // Passed at its deadline: carried out, once (the same intent as after a chat vote).
        try {
          // As after a chat vote: the same intent, and an approved member's link recorded on-chain.
          const p = await chain.proposalByNumber(b.group, number);
          if (p) await executeIfPassed(await this.o.bot.context({ roomId: b.roomId, sender: this.o.botUserId, eventId: `poll:${b.group}:${number}` }), b, p);
        } catch (e) {
          this.o.log(`polls: executing #${number} failed, will retry: ${humanChainError(e).log}`);
          still.push(number);
          continue;
        }
        v = await chain.proposalView(b.group, BigInt(poll.id));
      }
      // Its execution as the chain's events said, or as the bot just sent it (before its event is read).
      const sent = await store.getTx(`execute:${b.group}:${number}`);
      const executed = (await store.getState(`polls:executed:${b.group}:${poll.id}`)) ?? (sent?.status === "mined" ? sent.hash : undefined);
      const lastVote = await store.getState(`polls:lastvote:${b.group}:${poll.id}`);
      const tally = `FOR ${v.forVotes} · AGAINST ${v.againstVotes} · ABSTAIN ${v.abstainVotes}`;
      let text: string;
      if (v.state === ProposalState.Executed) text = `Proposal #${number} passed and was executed${executed ? ` in transaction ${executed}` : ""}: ${tally}.`;
      else if (v.state === ProposalState.Defeated)
        text = `Proposal #${number} was defeated: ${tally}${lastVote ? `; the last vote was transaction ${lastVote}` : ""}.`;
      else text = `Proposal #${number} is ${STATE_WORD[v.state] ?? "closed"}: ${tally}.`;
      await room.sendEvent(
        b.roomId,
        POLL_END,
        pollEnd(poll.eventId, text, { yes: v.forVotes, no: v.againstVotes, abstain: v.abstainVotes }).content,
        `poll-end:${b.group}:${number}`,
      );
      this.o.log(`polls: ended #${number} in ${b.roomId}: ${text}`);
    }
    if (still.length !== open.length) await store.setState(openKey, JSON.stringify(still));
  }

  /**
   * The threaded answer to a member's poll answer (undefined: none is
   * owed). Cast as a vote when it is the member's latest answer.
   */
  async answer(a: PollAnswer): Promise<Reply | undefined> {
    const raw = await this.o.store.getState(`pollOf:${a.roomId}:${a.pollId}`);
    if (!raw) return undefined; // someone else's poll
    const { number } = JSON.parse(raw) as { group: string; number: number };
    const thread = a.pollId;
    const say = (text: string): Reply => ({ text, thread });
    if (await this.superseded(a)) {
      this.o.log(`polls: ${a.sender}'s answer ${a.eventId} on #${number} is followed by a later one; passed over`);
      return undefined;
    }
    const id = a.answers[0];
    if (id === undefined) return say(`${a.sender}: a withdrawn answer casts no vote; a vote once cast stays.`);
    const choice = ANSWERS.find((x) => x.id === id)?.choice;
    if (!choice) return say(`${a.sender}: "${id.slice(0, 40)}" is not an answer of this poll; it did not count.`);
    const r = await this.o.bot.pollVote({ roomId: a.roomId, sender: a.sender, eventId: a.eventId }, number, choice);
    return say(r.counted ? `Counted: ${r.text.replace(/\n/g, " — ")}` : `${a.sender}: your answer on #${number} did not count: ${r.text}`);
  }

  /** Whether a later answer of the same member to the same poll waits in the journal. */
  private async superseded(a: PollAnswer): Promise<boolean> {
    const pending = await this.o.store.listInbound("new", 500);
    const at = pending.findIndex((e) => e.eventId === a.eventId);
    for (const e of pending.slice(at + 1)) {
      if (e.sender !== a.sender || e.roomId !== a.roomId) continue;
      const opened = await this.o.reader.open(e.raw);
      if (typeof opened === "string") continue;
      if (readPollAnswer(opened)?.pollId === a.pollId) return true;
    }
    return false;
  }
}
