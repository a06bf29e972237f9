/**
 * Who may make the bot spend gas, and how much: the spending guard around
 * the chain, with the real SQLite store and a fake chain that counts sends.
 */
import { describe, expect, it } from "vitest";
import { ZeroAddress } from "ethers";
import { Spending } from "../../src/bot/spending.ts";
import { encodePlan } from "../../src/bot/plan.ts";
import { Refusal } from "../../src/bot/context.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { ChainPort, Receipt } from "../../src/ports/chain.ts";
import type { MemberInfo } from "../../src/governance/client.ts";

const ROOM = "!room:x.org";
const DM = "!dm:x.org";
const GROUP = "0x" + "11".repeat(20);
const MEMBER = "0x" + "aa".repeat(20);
const APPROVED = "0x" + "bb".repeat(20);
const OUTSIDER = "0x" + "cc".repeat(20);

function chain() {
  const sent: string[] = [];
  const standing = (address: string): MemberInfo => ({
    address,
    tokenId: 0,
    isMember: address === MEMBER,
    active: address === MEMBER,
    approved: address === APPROVED,
    expiresAt: 0,
    delegate: ZeroAddress,
    delegatorsIn: 0,
    relayer: ZeroAddress,
    relayerScope: 0,
    relayerUntil: 0,
    matrixLink: "0x",
  });
  const c = {
    sent,
    botAddress: "0x" + "99".repeat(20),
    async createGroup(intent: string) {
      sent.push(intent);
      return { group: GROUP, block: 1 };
    },
    async call(intent: string): Promise<Receipt> {
      sent.push(intent);
      return { hash: "0x" + "01".repeat(32), blockNumber: 1, gasUsed: 60_000n, logs: [] };
    },
    async member(_g: string, a: string) {
      return standing(a.toLowerCase());
    },
  };
  return c as unknown as ChainPort & { sent: string[] };
}

async function setup(o: { budget?: bigint; balance?: bigint } = {}) {
  const store = new SqliteStore(":memory:");
  await store.putBinding({ roomId: ROOM, group: GROUP, chainId: 1, createdBy: "@a:x.org", createdAt: 0, fromBlock: 0 });
  await store.putLink({ roomId: ROOM, userId: "@member:x.org", address: MEMBER, nonce: "n1", linkedAt: 0 });
  await store.putLink({ roomId: ROOM, userId: "@approved:x.org", address: APPROVED, nonce: "n2", linkedAt: 0 });
  await store.putLink({ roomId: ROOM, userId: "@outsider:x.org", address: OUTSIDER, nonce: "n3", linkedAt: 0 });
  const logs: string[] = [];
  const spending = new Spending({
    store,
    funds: { balance: async () => o.balance ?? 10n ** 18n, gasUsed: async () => 100_000n },
    gasPerRoomPerDay: o.budget ?? 1_000_000n,
    lowBalance: 10n ** 17n,
    formatBalance: (w) => `${w} wei`,
    botAddress: "0xB0T",
    log: (l) => logs.push(l),
  });
  return { store, spending, logs, c: chain() };
}

const asker = (sender: string, roomId = ROOM, eventId = `$${sender}`) => ({ roomId, sender, eventId });

describe("spending", () => {
  it("sends only for members and approved accounts, from their room or a direct message", async () => {
    const { spending, c } = await setup();
    await spending.chainFor(asker("@member:x.org"), c).call("vote:1", GROUP, "castVoteFor", [], "vote");
    await spending.chainFor(asker("@approved:x.org", DM), c).call("join:1", GROUP, "joinFor", [], "join");
    for (const who of ["@outsider:x.org", "@stranger:x.org"]) {
      for (const room of [ROOM, DM]) {
        await expect(spending.chainFor(asker(who, room), c).call(`x:${who}`, GROUP, "setRelayerBySig", [], "authorize")).rejects.toThrow(Refusal);
      }
    }
    expect(c.sent).toEqual(["vote:1", "join:1"]);
  });

  it("creates a group only for a founder of the room's preview, once every founder consented", async () => {
    const { spending, c, store } = await setup();
    const NEW = "!new:x.org";
    for (const [u, a] of [
      ["@member:x.org", MEMBER],
      ["@approved:x.org", APPROVED],
      ["@outsider:x.org", OUTSIDER],
    ] as const) {
      await store.putLink({ roomId: NEW, userId: u, address: a, nonce: `new-${u}`, linkedAt: 0 });
    }
    const plan = encodePlan({
      settings: { config: { fee: 0n } as never, controller: ZeroAddress, linker: ZeroAddress, admins: [] },
      destination: { kind: 0, target: ZeroAddress, recipients: [], sharesBps: [] },
      founders: [
        { userId: "@member:x.org", address: MEMBER },
        { userId: "@approved:x.org", address: APPROVED },
      ],
      notMembers: ["@outsider:x.org"],
      mode: "enforce",
    });
    const create = (who: string, room = NEW) => spending.chainFor(asker(who, room), c).createGroup(`create:${room}:${who}`, {} as never, {} as never, [], "0x");
    // No preview: nobody, not even a linked member.
    await expect(create("@member:x.org")).rejects.toThrow(/every founder named in its preview has consented/);
    await store.putCreation({ roomId: NEW, code: "ABCDEF", createdBy: "@member:x.org", eventId: "$c", createdAt: 0, expiresAt: Date.now() + 60_000, plan });
    await store.addConsent(NEW, "ABCDEF", "@member:x.org", 1);
    // One founder of two consented: not yet, for anyone.
    await expect(create("@member:x.org")).rejects.toThrow(/every founder/);
    await store.addConsent(NEW, "ABCDEF", "@approved:x.org", 2);
    // A linked non-founder, a stranger, a founder from a direct message: never.
    await expect(create("@outsider:x.org")).rejects.toThrow(/every founder/);
    await expect(create("@stranger:x.org")).rejects.toThrow(/Only members/);
    await expect(create("@member:x.org", DM)).rejects.toThrow(Refusal);
    await create("@approved:x.org");
    expect(c.sent).toEqual([`create:${NEW}:@approved:x.org`]);
  });

  it("refuses chain actions past the room's daily gas budget, saying so and logging it", async () => {
    const { spending, c, logs, store } = await setup({ budget: 100_000n });
    const member = spending.chainFor(asker("@member:x.org"), c);
    await member.call("a", GROUP, "f", [], "a");
    await member.call("b", GROUP, "f", [], "b");
    await expect(member.call("c", GROUP, "f", [], "c")).rejects.toThrow(/gas budget for today \(100000 gas\) is used up/);
    expect(c.sent).toEqual(["a", "b"]);
    expect(logs.some((l) => /used its gas budget for today \(120000 of 100000 gas/.test(l))).toBe(true);
    // A transaction already sent (the same command run again after a crash) is followed, and counted once.
    await store.putTx({ intent: "b", hash: "0x1", raw: "0x", nonce: 1, from: "0xB0T", status: "mined", createdAt: 0, description: "b" });
    await member.call("b", GROUP, "f", [], "b");
    expect(c.sent).toEqual(["a", "b", "b"]);
    expect(await store.getState(`gas:${ROOM}:${Math.floor(Date.now() / 86_400_000)}`)).toBe("120000");
  });

  it("carries out a passed proposal for anyone, once, counted for the room but never refused for its budget", async () => {
    const { spending, c, store } = await setup({ budget: 50_000n });
    // The poll of a proposal that passed at its deadline: asked by the bot itself, which is no member.
    const bot = spending.chainFor(asker("@bot:x.org", ROOM, "poll:1"), c);
    await bot.call(`execute:${GROUP}:1`, GROUP, "execute", [], "execute #1");
    await bot.call(`execute:${GROUP}:2`, GROUP, "execute", [], "execute #2");
    expect(c.sent).toEqual([`execute:${GROUP}:1`, `execute:${GROUP}:2`]);
    expect(await store.getState(`gas:${ROOM}:${Math.floor(Date.now() / 86_400_000)}`)).toBe("120000");
    // Nothing else: not a vote, and not for a group without a room here.
    await expect(bot.call("vote:x", GROUP, "castVoteFor", [], "vote")).rejects.toThrow(/Only members/);
    await expect(bot.call("execute:other:1", "0x" + "22".repeat(20), "execute", [], "execute")).rejects.toThrow(/no room here/);
    expect(c.sent).toHaveLength(2);
  });

  it("marks a command as started at its first transaction, so a run after a crash is a resumption", async () => {
    const { spending, c, store } = await setup();
    expect(await store.getState(Spending.startedKey("$e"))).toBeUndefined();
    await spending.chainFor({ roomId: ROOM, sender: "@member:x.org", eventId: "$e" }, c).call("vote:9", GROUP, "castVoteFor", [], "vote");
    expect(await store.getState(Spending.startedKey("$e"))).toBe("vote:9");
  });

  it("warns about a low balance in the log and in !status", async () => {
    const low = await setup({ balance: 5n });
    await low.spending.chainFor(asker("@member:x.org"), low.c).call("a", GROUP, "f", [], "a");
    expect(low.logs.some((l) => /balance is 5 wei, below chain.lowBalance 100000000000000000 wei: fund 0xB0T/.test(l))).toBe(true);
    expect(await low.spending.statusLine()).toMatch(/balance is low \(5 wei left\).*fund 0xB0T/);
    const fine = await setup();
    expect(await fine.spending.statusLine()).toBeUndefined();
  });
});
