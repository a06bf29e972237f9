/**
 * Proposals as native polls, with the real bot, Synapse and chain, and real
 * Matrix clients answering the polls as Element does (encrypted
 * `org.matrix.msc3381.poll.response` events). The poll as it ended is
 * drawn in Chromium from those events and saved to test-results/poll.png.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { JsonRpcProvider } from "ethers";
import type { IContent, MatrixEvent } from "matrix-js-sdk";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";
import { launchBrowser } from "../../scripts/browser.ts";
import { groupContract } from "../../src/governance/contracts.ts";

const root = join(import.meta.dirname, "../..");
let sys: System;
let alice: ChatUser, bob: ChatUser, carol: ChatUser;
let room: string;
let group: string;
let bot: string;
let poll: MatrixEvent;

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "carol"], web: true });
  ({ alice, bob, carol } = sys.users as Record<"alice" | "bob" | "carol", ChatUser>);
  bot = sys.botUserId;
  room = await groupRoom(alice, [bob, carol], bot);
  for (const u of [alice, bob, carol]) await linkWallet(u, room, bot);
  const { created } = await createGroup(alice, [bob, carol], room, bot, "quorum=50%");
  group = /0x[0-9a-fA-F]{40}/.exec(created)![0];
  // The page joins the room as a widget once the group exists.
  expect(created).toMatch(/widget/);
  expect(await authorize(alice, room, bot)).toMatch(/Authorised/);
  expect(await authorize(bob, room, bot)).toMatch(/Authorised/);
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
  await sys?.stop();
}, 60_000);

const threadAnswers = (eventId: string) => alice.answersTo(room, eventId, bot);

describe("proposals as polls", () => {
  it("posts each proposal as a poll Element renders: what it does, quorum, deadline, Yes / No / Abstain", async () => {
    expect(await alice.ask(room, "!propose remove @carol:localhost", bot)).toMatch(/Proposal #1/);
    poll = await alice.until("the poll", () => alice.eventsOf(room, "org.matrix.msc3381.poll.start")[0], 60_000);
    expect(poll.getSender()).toBe(bot);
    expect(poll.isEncrypted()).toBe(true);
    const c = poll.getContent();
    const unstable = c["org.matrix.msc3381.poll.start"];
    expect(unstable.kind).toBe("org.matrix.msc3381.poll.disclosed");
    expect(unstable.max_selections).toBe(1);
    expect(unstable.answers.map((a: Record<string, string>) => [a.id, a["org.matrix.msc1767.text"]])).toEqual([
      ["yes", "Yes"],
      ["no", "No"],
      ["abstain", "Abstain"],
    ]);
    expect(unstable.question["org.matrix.msc1767.text"]).toMatch(/^#1: remove .*@carol:localhost.* — 2 FOR of 3 needed by \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    expect(c["m.poll"].question["m.text"][0].body).toBe(unstable.question["org.matrix.msc1767.text"]);
    expect(c["m.poll"].answers.map((a: Record<string, string>) => a["m.id"])).toEqual(["yes", "no", "abstain"]);
    expect(c["org.matrix.msc1767.text"]).toMatch(/quorum 50%[\s\S]*1\. Yes\n2\. No\n3\. Abstain$/);
  });

  it("answers, in the poll's thread, why an answer did not count", async () => {
    // alice (the room's creator, whom no one can kick) unlinks: her answer is nobody's vote.
    expect(await alice.ask(room, "!unlink", bot)).toMatch(/no longer linked/);
    const unlinked = await alice.answerPoll(room, poll.getId()!, "yes");
    expect(await alice.answerTo(room, unlinked, bot)).toMatch(/^@alice:localhost: your answer on #1 did not count: You have not linked an address yet/);
    expect(await linkWallet(alice, room, bot)).toMatch(/now linked/);
    expect(await authorize(alice, room, bot)).toMatch(/Authorised/);
    const fromCarol = await carol.answerPoll(room, poll.getId()!, "no");
    expect(await alice.answerTo(room, fromCarol, bot)).toMatch(/did not count: You have not authorised the bot/);
    const threaded = alice.eventWith(room, /did not count: You have not authorised/)!;
    expect(threaded.getContent()["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: poll.getId() });
  });

  it("counts only a member's latest answer, and after that a vote cannot be changed", async () => {
    const g = groupContract(group, new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true }));
    const id = (await g.queryFilter(g.filters.ProposalCreated!()))[0]!;
    const proposalId = (id as unknown as { args: { proposalId: bigint } }).args.proposalId;
    // While the bot is away, bob answers No, then changes his mind to Abstain.
    await sys.bot.stop();
    const first = await bob.answerPoll(room, poll.getId()!, "no");
    const second = await bob.answerPoll(room, poll.getId()!, "abstain");
    await sys.restartBot();
    expect(await alice.answerTo(room, second, bot, 90_000)).toMatch(/^Counted: @bob:localhost voted abstain on #1/);
    expect(Number(await g.getFunction("voteOf")(proposalId, bob.wallet.address))).toBe(3);
    // The first answer was passed over: no vote, no answer.
    await new Promise((r) => setTimeout(r, 2000));
    expect(threadAnswers(first)).toEqual([]);
    const late = await bob.answerPoll(room, poll.getId()!, "yes");
    expect(await alice.answerTo(room, late, bot)).toMatch(/did not count: You have already voted abstain on #1; a vote cannot be changed/);
    expect(Number(await g.getFunction("voteOf")(proposalId, bob.wallet.address))).toBe(3);
  });

  it("ends the poll with the on-chain result and the transaction; every answer was answered once", async () => {
    // !vote works beside the poll: alice votes from chat, and the proposal is still open.
    expect(await alice.ask(room, "!vote 1 no", bot)).toMatch(/FOR 0 · AGAINST 1 · ABSTAIN 1/);
    // The remaining point (carol, not authorised) cannot reach the quorum: defeated early.
    const end = await alice.until("the poll's end", () => alice.eventsOf(room, "org.matrix.msc3381.poll.end")[0], 60_000);
    expect(end.getSender()).toBe(bot);
    const c = end.getContent();
    expect(c["m.relates_to"]).toEqual({ rel_type: "m.reference", event_id: poll.getId() });
    expect(c["org.matrix.msc1767.text"]).toMatch(/^Proposal #1 was defeated: FOR 0 · AGAINST 1 · ABSTAIN 1; the last vote was transaction 0x[0-9a-f]{64}\.$/);
    expect(c["m.poll.results"]).toEqual({ yes: 0, no: 1, abstain: 1 });

    // Counted from the room's history on the server: one answer per poll answer, one poll, one end.
    const history = await alice.history(room);
    const answers = new Map<string, number>();
    const decrypted = alice.eventsOf(room, "m.room.message").filter((e) => e.getSender() === bot);
    for (const e of decrypted) {
      const to = (e.getContent()["m.relates_to"] as { "m.in_reply_to"?: { event_id?: string } } | undefined)?.["m.in_reply_to"]?.event_id;
      if (to) answers.set(to, (answers.get(to) ?? 0) + 1);
    }
    expect(history.filter((e) => e.sender === bot && e.type === "m.room.encrypted").length).toBeGreaterThan(0);
    expect([...answers.values()].every((n) => n === 1)).toBe(true);
    expect(alice.eventsOf(room, "org.matrix.msc3381.poll.start")).toHaveLength(1);
    expect(alice.eventsOf(room, "org.matrix.msc3381.poll.end")).toHaveLength(1);

    // The poll as it ended, drawn from its events (Element itself is not available here).
    const responses = alice.eventsOf(room, "org.matrix.msc3381.poll.response");
    const latest = new Map<string, string>();
    for (const r of responses) latest.set(r.getSender()!, (r.getContent()["org.matrix.msc3381.poll.response"] as { answers: string[] }).answers[0]!);
    const b = await launchBrowser();
    try {
      const page = await b.newPage();
      await page.setContent(pollCard(poll.getContent(), [...latest.values()], String(c["org.matrix.msc1767.text"])));
      mkdirSync(join(root, "test-results"), { recursive: true });
      await page.locator("#poll").screenshot({ path: join(root, "test-results", "poll.png") });
      expect(await page.locator("#poll").textContent()).toContain("Proposal #1 was defeated");
    } finally {
      await b.close();
    }
  });
});

/** A poll card in the manner of Element's, from the poll's own events. */
function pollCard(start: IContent, answers: string[], ended: string): string {
  const p = start["org.matrix.msc3381.poll.start"];
  const esc = (s: string) => s.replace(/[&<>"]/g, (x) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[x]!);
  const rows = (p.answers as Record<string, string>[])
    .map((a) => {
      const n = answers.filter((x) => x === a.id).length;
      const pct = answers.length ? Math.round((n / answers.length) * 100) : 0;
      return `<div class="a"><div class="t"><span>${esc(a["org.matrix.msc1767.text"]!)}</span><span>${n} vote${n === 1 ? "" : "s"}</span></div><div class="bar"><div style="width:${pct}%"></div></div></div>`;
    })
    .join("");
  return `<!doctype html><html><head><style>
body{font-family:system-ui,sans-serif;background:#fff;margin:0;padding:16px}
#poll{max-width:560px;border:1px solid #e3e8f0;border-radius:8px;padding:12px 16px}
.s{color:#737d8c;font-size:13px}.q{font-weight:600;font-size:15px;margin:6px 0 10px}
.a{margin:8px 0}.t{display:flex;justify-content:space-between;font-size:14px}.bar{height:6px;background:#e3e8f0;border-radius:3px;margin-top:4px}.bar div{height:6px;background:#0dbd8b;border-radius:3px}
.e{margin-top:10px;font-size:13px;color:#17191c;border-top:1px solid #e3e8f0;padding-top:8px}
</style></head><body><div id="poll"><div class="s">Conclave · poll ended</div><div class="q">${esc(p.question["org.matrix.msc1767.text"])}</div>${rows}<div class="s">Final result based on ${answers.length} votes</div><div class="e">${esc(ended)}</div></div></body></html>`;
}
