/**
 * What chat may cost the operator, with the real parts: rate limits (a
 * flood answered once, then ignored, never delaying anyone else), the
 * room's daily gas budget, the low-balance warning, invites only from
 * those who may create groups, and an RPC URL whose API key never reaches
 * a log line or an answer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";

const root = join(import.meta.dirname, "../..");
const PER_SENDER = 8;
// API keys live in RPC URLs (path or query): none of this may ever be shown.
const RPC_PATH = "/v3/SECRETAPIKEY0123?key=SECRETQUERY456";
const SECRETS = ["SECRETAPIKEY0123", "SECRETQUERY456"];
let sys: System;
let alice: ChatUser, bob: ChatUser, dave: ChatUser, mallory: ChatUser;
let room: string;
let bot: string;
let created: string;
let nonceAfterCreation: number;

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({
    root,
    users: ["alice", "bob", "dave", "mallory"],
    limits: { commandsPerMinutePerSender: PER_SENDER, gasPerRoomPerDay: 1 },
    // Far above the bot's test funds: its balance is "low" from the start.
    lowBalance: "100000000",
    rpcPath: RPC_PATH,
    extraConfig: 'creators: ["@alice:localhost"]\n',
  });
  ({ alice, bob, dave, mallory } = sys.users as Record<"alice" | "bob" | "dave" | "mallory", ChatUser>);
  bot = sys.botUserId;
  room = await groupRoom(alice, [bob, dave], bot);
  for (const u of [alice, bob, dave]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
  ({ created } = await createGroup(alice, [bob, dave], room, bot, "quorum=50%"));
  nonceAfterCreation = await sys.botNonce();
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
  await sys?.stop();
}, 60_000);

describe("what chat may cost", () => {
  it("refuses chain actions past the room's daily gas budget, with an answer and a log line", async () => {
    // The creation itself was within the budget (nothing spent before it); the founders' link records were not.
    expect(created).toMatch(/This room is now a group/);
    expect(created).toMatch(/could not record @\w+:localhost's link on-chain: This room's gas budget for today \(1 gas\) is used up/);
    expect(await authorize(bob, room, bot)).toMatch(/gas budget for today \(1 gas\) is used up: I send no more transactions for it until 00:00 UTC/);
    expect(await sys.botNonce()).toBe(nonceAfterCreation);
    expect(
      sys.bot.lines.some((l) => /spending: !\S+ used its gas budget for today \(\d+ of 1 gas, limits\.gasPerRoomPerDay\); refused authorize:/.test(l)),
    ).toBe(true);
  });

  it("says when the bot's balance is low, in the log and in !status", async () => {
    expect(await alice.ask(room, "!status", bot)).toMatch(
      /The bot's balance is low \([\d.]+ \(native coin\) left\).*The operator must fund 0x[0-9a-fA-F]{40}/s,
    );
    expect(
      sys.bot.lines.some((l) => /chain: the bot's balance is [\d.]+ \(native coin\), below chain\.lowBalance 100000000\.0 \(native coin\): fund 0x/.test(l)),
    ).toBe(true);
  });

  it("answers a flood once and then ignores it, without delaying anyone else", async () => {
    const lobby = await alice.createRoom("Lobby", [bot, mallory.userId]);
    await mallory.join(lobby);
    await alice.seesJoined(lobby, mallory.userId);
    await alice.seesJoined(lobby, bot);
    const flood: string[] = [];
    for (let i = 0; i < 20; i++) flood.push(await mallory.say(lobby, "!help"));
    // alice is answered, flood or not.
    expect(await alice.ask(lobby, "!help vote", bot)).toMatch(/vote/);
    // The bot handled the whole flood once it logged every ignored command.
    const ignored = () => sys.bot.lines.filter((l) => l.includes("@mallory:localhost in") && l.includes("not answered")).length;
    await mallory.until("the flood handled", () => (ignored() >= 20 - PER_SENDER - 1 ? true : undefined));
    const answered = () => flood.filter((id) => mallory.answersTo(lobby, id, bot).length > 0);
    await mallory.until("the answers", () => (answered().length >= PER_SENDER + 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 1000));
    expect(answered()).toEqual(flood.slice(0, PER_SENDER + 1));
    const slowDown = mallory.answersTo(lobby, flood[PER_SENDER]!, bot);
    expect(slowDown).toEqual([expect.stringMatching(/^Slow down: you sent more than 8 commands in a minute/)]);
    expect(flood.every((id) => mallory.answersTo(lobby, id, bot).length <= 1)).toBe(true);
  });

  it("accepts invites only from users who may create groups", async () => {
    const theirs = await mallory.createRoom("Mallory's room", [bot]);
    await sys.bot.waitFor(new RegExp(`declined the invite to ${theirs.replace(/[$]/g, "\\$")} from @mallory:localhost`));
    await mallory.until("the bot's refusal", () => (mallory.client.getRoom(theirs)?.getMember(bot)?.membership === "leave" ? true : undefined));
  });

  it("never shows the RPC URL's secrets, in logs or answers, even when the endpoint fails", async () => {
    await sys.rpcProxy.cut();
    try {
      const answer = await alice.ask(room, "!status", bot);
      expect(answer).toMatch(/chain cannot be reached right now/);
      await sys.bot.waitFor(/bridge: .*(ECONNREFUSED|could not|timeout|network|connect)/i);
      for (const s of SECRETS) expect(answer).not.toContain(s);
    } finally {
      await sys.rpcProxy.restore();
    }
    // A gateway that answers 429 (its rate limit): ethers' error then quotes
    // the request URL, in the answer, the log and the public /readyz alike.
    sys.rpcProxy.refuse(429);
    try {
      const answer = await alice.ask(room, "!status", bot);
      expect(answer).toMatch(/chain cannot be reached right now/);
      for (const s of SECRETS) expect(answer).not.toContain(s);
      let body = "";
      for (let i = 0; i < 60; i++) {
        const res = await fetch(`${sys.listenUrl}/readyz`);
        body = await res.text();
        // A check cut off at its time limit says only that: wait for one that gives the endpoint's error.
        const rpc = (JSON.parse(body) as { checks: Record<string, string> }).checks.rpc ?? "";
        if (res.status === 503 && rpc !== "ok" && !/no answer within/.test(rpc)) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect((JSON.parse(body) as { checks: Record<string, string> }).checks.rpc).toMatch(/429|rate|retry limit|server response|bad response/i);
      for (const s of SECRETS) expect(body).not.toContain(s);
    } finally {
      sys.rpcProxy.refuse(undefined);
    }
    // Nothing the bot printed since its start holds a secret of the URL.
    const leaks = sys.botLines.filter((l) => SECRETS.some((s) => l.includes(s)));
    expect(leaks).toEqual([]);
    // The bot did reach the chain through that URL (the test tests what it says).
    expect(sys.bot.lines.some((l) => /ready: .* chain \d+/.test(l))).toBe(true);
  });
});
