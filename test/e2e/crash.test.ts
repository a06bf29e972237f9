/**
 * Nothing is lost at a crash: the real bot is killed (SIGKILL) at random
 * moments during bursts of commands and of decisions, and restarted. Every
 * command is answered exactly once, chain actions cut off are answered with
 * their outcome, every removal has exactly one notice, and every answer and
 * notice decrypts for the members (the bot's saved crypto state was never
 * behind what it sent). Counted from the rooms' history as the server keeps
 * it, not from what one client happened to receive.
 *
 * The seed of the random moments is printed; CONCLAVE_CRASH_SEED=N repeats a run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { JsonRpcProvider } from "ethers";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, decideOnChain, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { answersByEvent, quietConsole, type ChatUser } from "../../scripts/chat.ts";
import { Action } from "../../src/governance/types.ts";
import { prng } from "../unit/prng.ts";

const root = join(import.meta.dirname, "../..");
const seed = Number(process.env.CONCLAVE_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const rand = prng(seed);
const between = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const TARGETS = ["u1", "u2", "u3", "u4"];
let sys: System;
let users: Record<string, ChatUser>;
let bot: string;
let provider: JsonRpcProvider;

beforeAll(async () => {
  quietConsole();
  process.stdout.write(`crash test seed: ${seed}\n`);
  sys = await startSystem({ root, users: ["alice", "bob", "carol", ...TARGETS] });
  users = sys.users;
  bot = sys.botUserId;
  provider = new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true });
}, 300_000);

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first */
  provider?.destroy();
  await sys?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
}, 60_000);

/**
 * Runs `work` while the bot is killed `kills` times at random moments (all
 * of them, also after `work` is done: while the bot still answers), each
 * time restarted.
 */
async function withKills(kills: number, work: () => Promise<void>): Promise<void> {
  const killer = (async () => {
    for (let i = 0; i < kills; i++) {
      await sleep(between(300, 2500));
      await sys.bot.stop("SIGKILL");
      await sleep(between(0, 800));
      await sys.restartBot();
    }
  })();
  await Promise.all([work(), killer]);
}

/**
 * The bot's failures to decrypt a to-device message, except a message it had
 * already read: one delivered again because the bot died after reading it
 * and before its next sync told the homeserver so. vodozemac reports that
 * one as MissingMessageKey (the key of that message index was used up),
 * which means the state on disk is past that message, not behind it. Any
 * other failure (no session, a bad MAC…) would mean lost crypto state.
 */
function cryptoFailures(lines: string[]): string[] {
  const onlyUsedUp = (detail: string) => {
    const errors = [...detail.matchAll(/\("[^"]*", (\w+)/g)].map((m) => m[1]);
    return errors.length > 0 && errors.every((e) => e === "MissingMessageKey");
  };
  return lines.flatMap((l, i) => (/non-pre-key message|Failed to decrypt/i.test(l) && !onlyUsedUp(lines[i + 1] ?? "") ? [`${l} ${lines[i + 1] ?? ""}`] : []));
}

/**
 * The commands a bot process answered while it was still starting: its
 * crypto up, its start-up not done (the cross-signing set up, a new room
 * key for each room). Such an answer goes out under the room key of the
 * state on disk: after a restore from a backup, at message indexes the bot
 * had already used.
 */
function answeredDuringStartUp(lines: string[]): string[] {
  let starting = false;
  let starts = 0;
  const early = lines.filter((l) => {
    if (/matrix: end-to-end encryption ready/.test(l)) [starting, starts] = [true, starts + 1];
    else if (/matrix: synced as /.test(l)) starting = false;
    return starting && /\bcommand \S+ by /.test(l);
  });
  // Lines that say otherwise now would make this check pass on anything.
  return starts > 1 ? early : [`${starts} start(s) of the bot in its log`];
}

/** Waits until `check` holds, reading again every second. */
async function eventually(what: string, check: () => Promise<boolean>, ms = 180_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (seed ${seed})`);
    await sleep(1000);
  }
}

describe("a crash loses nothing", () => {
  it("answers every command of a burst exactly once across random kills, with the outcome of cut-off transactions", async () => {
    const { alice, bob, carol } = users;
    const room = await groupRoom(alice!, [bob!, carol!], bot);
    for (const u of [alice!, bob!, carol!]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
    expect((await createGroup(alice!, [bob!, carol!], room, bot, "quorum=50%")).created).toMatch(/This room is now a group/);
    // Config proposals are relayed only for members whose authority covers them.
    for (const u of [alice!, bob!]) expect(await authorize(u, room, bot, "+config")).toMatch(/Authorised/);

    // What each command must be answered with: reads, and chain actions.
    const expected: { id: string; text: string; answer: RegExp }[] = [];
    const plan: [ChatUser, string, RegExp][] = [];
    for (let i = 0; i < 4; i++) {
      // Two proposers: one member may have at most three proposals open.
      const proposer = i % 2 === 0 ? alice! : bob!;
      plan.push([proposer, `!propose config voting=${i + 4}d`, new RegExp(`^Proposal #\\d+ by ${proposer.userId}`)]);
      plan.push([bob!, "!delegate @alice:localhost", /^@bob:localhost delegates to @alice:localhost/]);
      plan.push([carol!, "!status", /^Group status/]);
      plan.push([bob!, "!undelegate", /^@bob:localhost takes their vote back/]);
      plan.push([carol!, "!members", /^3 member\(s\)/]);
      plan.push([alice!, "!proposals", /proposal|No proposals/]);
    }
    await withKills(4, async () => {
      for (const [u, text, answer] of plan) {
        expected.push({ id: await u.say(room, text), text, answer });
        await sleep(between(50, 600));
      }
    });
    await eventually("every command answered", async () => {
      const got = await answersByEvent(alice!, room, bot);
      return expected.every((c) => got.has(c.id));
    });
    // Anything sent twice would arrive within this.
    await sleep(3000);
    const got = await answersByEvent(alice!, room, bot);
    for (const c of expected) {
      const answers = got.get(c.id) ?? [];
      expect([c.text, answers.length], `seed ${seed}`).toEqual([c.text, 1]);
      // The answer decrypts for a member, and says what happened.
      const body = await alice!.read(answers[0]!);
      expect(body, `${c.text} (seed ${seed})`).toMatch(c.answer);
    }
    // Four proposals, once each: no command ran twice on-chain.
    expect(await alice!.ask(room, "!proposals", bot)).toMatch(/^4 proposal\(s\)/);
    // The crypto state on disk was never behind: no process failed to read its peers' messages.
    expect(cryptoFailures(sys.botLines), `seed ${seed}`).toEqual([]);
    // Commands that came while the bot was down were answered once it had started, under a room key of its new start.
    expect(answeredDuringStartUp(sys.botLines), `seed ${seed}`).toEqual([]);
  }, 600_000);

  it("sends every removal's notice exactly once across random kills during a burst of decisions", async () => {
    const { alice, bob } = users;
    const targets = TARGETS.map((t) => users[t]!);
    const firstLine = sys.botLines.length;
    const room = await groupRoom(alice!, [bob!, ...targets], bot);
    for (const u of [alice!, bob!, ...targets]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
    const { group } = await createGroup(alice!, [bob!, ...targets], room, bot, "quorum=25%");
    await withKills(3, async () => {
      for (const [i, t] of targets.entries()) {
        // Decided from the members' own wallets (everyone still in votes, so it passes at once): only the room side is the bot's.
        // The proposer takes turns: one member may have at most three proposals open.
        const voters = [...(i % 2 === 0 ? [alice!, bob!] : [bob!, alice!]), ...targets.slice(i + 1)];
        await decideOnChain({ provider, funderKey: sys.chain.ownerKey, group, voters, action: Action.RemoveMember, account: t.wallet.address });
        await sleep(between(0, 1500));
      }
    });
    const notices = async () => {
      const out = new Map<string, number>();
      for (const e of await alice!.history(room)) {
        if (e.sender !== bot) continue;
        const body = await alice!.read(e);
        const m = body === undefined ? null : /^Removed (@\w+:localhost): removed by proposal #\d+/.exec(body);
        if (m) out.set(m[1]!, (out.get(m[1]!) ?? 0) + 1);
      }
      return out;
    };
    await eventually("every target out, with its notice", async () => {
      const n = await notices();
      return targets.every((t) => alice!.client.getRoom(room)?.getMember(t.userId)?.membership !== "join" && n.has(t.userId));
    });
    await sleep(3000);
    const n = await notices();
    expect(Object.fromEntries(targets.map((t) => [t.userId, n.get(t.userId)])), `seed ${seed}`).toEqual(Object.fromEntries(targets.map((t) => [t.userId, 1])));
    // Every message of the bot in the room decrypts for a remaining member: the notices, and
    // whatever else it sent (a poll it posted for a proposal it saw open, and the poll's end).
    const unreadable: string[] = [];
    for (const e of await alice!.history(room)) {
      const failure = e.sender === bot ? await alice!.decryptionFailure(e) : undefined;
      if (failure !== undefined) unreadable.push(`${e.event_id} (session ${String(e.content["session_id"])}: ${failure})`);
    }
    expect(unreadable, `seed ${seed}`).toEqual([]);
    expect(cryptoFailures(sys.botLines.slice(firstLine)), `seed ${seed}`).toEqual([]);
  }, 600_000);
});
