/**
 * At least 10,000 generated malformed or hostile commands through the parser
 * and the bot: each is answered once or ignored, nothing throws, and no
 * transaction is sent (the senders are unlinked, or linked but not members).
 */
import { describe, expect, it } from "vitest";
import { ZeroAddress, Wallet } from "ethers";
import { Bot } from "../../src/bot/bot.ts";
import { Spending } from "../../src/bot/spending.ts";
import type { BotSettings } from "../../src/bot/context.ts";
import { SETTINGS as TEST_SETTINGS } from "./bot-settings.ts";
import type { ChainPort } from "../../src/ports/chain.ts";
import type { Reply, RoomPort, RoomPowers, RoomRules } from "../../src/ports/rooms.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { MemberInfo } from "../../src/governance/client.ts";
import { prng } from "./prng.ts";

const WORDS = [
  "dao",
  "create",
  "link",
  "verify",
  "authorize",
  "unlink",
  "propose",
  "add",
  "remove",
  "config",
  "fee-destination",
  "vote",
  "yes",
  "no",
  "abstain",
  "delegate",
  "undelegate",
  "join",
  "proposals",
  "proposal",
  "members",
  "status",
  "help",
  "@alice:localhost",
  "@nobody:localhost",
  "@",
  "@@",
  "@:x",
  "alice",
  "#3",
  "3",
  "-1",
  "99999999999999999999",
  "0x",
  "0x12",
  "0x" + "ab".repeat(20),
  "0x" + "AB".repeat(65),
  "quorum=150%",
  "fee=-1",
  "period=30x",
  "mode=tyranny",
  "voting=0",
  "<script>alert(1)</script>",
  '<a href="https://matrix.to/#/@mallory:localhost">Alice</a>',
  "\u202e",
  "\u200b",
  "💥",
  "release",
  "0xabc=60%",
  "custom",
  "locked",
  "quorum.add=20%",
  "admins=@x",
  "custom-calls=maybe",
  "'",
  '"',
  "\\",
  "%00",
];

function hostile(rand: () => number): { body: string; formattedBody?: string; mentions?: string[] } {
  const r = rand();
  if (r < 0.15) {
    // random bytes as a string
    const n = Math.floor(rand() * 200);
    return { body: String.fromCharCode(...Array.from({ length: n }, () => Math.floor(rand() * 0xffff))) };
  }
  if (r < 0.2) return { body: "!" + "x".repeat(Math.floor(rand() * 200_000)) };
  if (r < 0.25) return { body: "!vote " + "9".repeat(Math.floor(rand() * 5000)) + " yes" };
  const n = 1 + Math.floor(rand() * 6);
  const words = Array.from({ length: n }, () => WORDS[Math.floor(rand() * WORDS.length)]!);
  const prefix = rand() < 0.9 ? "!" : rand() < 0.5 ? "!!" : " !";
  const body = prefix + words.join(rand() < 0.8 ? " " : "\n");
  const out: { body: string; formattedBody?: string; mentions?: string[] } = { body };
  if (rand() < 0.2) out.formattedBody = body.replace("@alice", '<a href="https://matrix.to/#/@mallory:localhost">@alice</a>');
  if (rand() < 0.1) out.mentions = ["@mallory:localhost", "not-a-user", ""];
  return out;
}

class FakeChain implements ChainPort {
  readonly botAddress = Wallet.createRandom().address;
  sends = 0;
  async createGroup(): Promise<{ group: string; block: number }> {
    this.sends++;
    throw new Error("no transaction may be sent in this test");
  }
  async checkCreation(): Promise<void> {}
  async call(): Promise<never> {
    this.sends++;
    throw new Error("no transaction may be sent in this test");
  }
  async voteOf() {
    return 0;
  }
  async proposalByNumber() {
    return undefined;
  }
  async proposals() {
    return [];
  }
  async member(_g: string, address: string): Promise<MemberInfo> {
    return {
      address,
      tokenId: 0,
      isMember: false,
      active: false,
      approved: false,
      expiresAt: 0,
      delegate: ZeroAddress,
      delegatorsIn: 0,
      relayer: ZeroAddress,
      relayerScope: 0,
      relayerUntil: 0,
      matrixLink: "0x",
    };
  }
  async members() {
    return [];
  }
  async settings() {
    return { config: SETTINGS.defaults.config, controller: ZeroAddress, linker: ZeroAddress, admins: [] };
  }
  async domain(group: string) {
    return { name: "Conclave Group", version: "1", chainId: 31337n, verifyingContract: group };
  }
  async nonce() {
    return 0n;
  }
}

class FakeRooms implements RoomPort {
  replies: { roomId: string; reply: Reply; inReplyTo?: string }[] = [];
  async reply(roomId: string, reply: Reply, inReplyTo?: string) {
    this.replies.push({ roomId, reply, ...(inReplyTo ? { inReplyTo } : {}) });
  }
  async joinedMembers() {
    return ["@alice:localhost", "@bob:localhost", "@dave:localhost", "@conclave:localhost"];
  }
  displayName(_r: string, u: string) {
    return u;
  }
  async invite() {}
  async roomMembers() {
    return (await this.joinedMembers()).map((userId) => ({ userId, membership: "join" as const }));
  }
  /** alice owns the rooms; the hostile senders have no power. */
  async powers(): Promise<RoomPowers> {
    return {
      mine: 100,
      kick: 50,
      ban: 50,
      invite: 0,
      users: { "@alice:localhost": 100, "@conclave:localhost": 100 },
      usersDefault: 0,
      events: {},
      stateDefault: 50,
      creators: [],
    };
  }
  async rules(): Promise<RoomRules> {
    return { canEncrypt: true };
  }
}

const SETTINGS: BotSettings = { ...TEST_SETTINGS, creators: "anyone", linkSalt: "0x00" };

describe("the bot under hostile input", () => {
  it("answers or ignores 10,000 malformed commands, never throws, sends no transaction", async () => {
    const rand = prng(20261124);
    const store = new SqliteStore(":memory:");
    // One room is a group; in it mallory is linked but not a member.
    await store.putBinding({
      roomId: "!group:localhost",
      group: "0x" + "11".repeat(20),
      chainId: 31337,
      createdBy: "@alice:localhost",
      createdAt: 0,
      fromBlock: 0,
    });
    await store.putLink({ roomId: "!group:localhost", userId: "@mallory:localhost", address: "0x" + "22".repeat(20), nonce: "n", linkedAt: 0 });
    const chain = new FakeChain();
    const rooms = new FakeRooms();
    const logs: string[] = [];
    // The spending guard in front of the chain, as in the bot.
    const spending = new Spending({
      store,
      funds: { balance: async () => 10n ** 18n, gasUsed: async () => 0n },
      gasPerRoomPerDay: 10n ** 9n,
      lowBalance: 0n,
      formatBalance: String,
      botAddress: chain.botAddress,
      log: (l) => logs.push(l),
    });
    const bot = new Bot({ rooms, store, chain, settings: SETTINGS, log: (l) => logs.push(l), spending });
    let handled = 0;
    for (let i = 0; i < 10_000; i++) {
      const msg = hostile(rand);
      const roomId = i % 2 === 0 ? "!group:localhost" : "!plain:localhost";
      await bot.handle({ roomId, eventId: `$e${i}`, sender: i % 3 === 0 ? "@mallory:localhost" : "@eve:localhost", ts: i, ...msg });
      handled++;
    }
    expect(handled).toBe(10_000);
    expect(chain.sends).toBe(0);
    // Each answer replies to one command, at most once, and is plain, short and safe.
    const ids = rooms.replies.map((r) => r.inReplyTo);
    expect(new Set(ids).size).toBe(ids.length);
    expect(rooms.replies.length).toBeGreaterThan(3000);
    for (const { reply } of rooms.replies) {
      expect(reply.text.length).toBeLessThan(4000);
      const html = reply.html ?? "";
      expect(html).not.toMatch(/<script/);
      // The only links are the bot's own pills: a matrix.to link whose text is the very user id it links to.
      for (const a of html.match(/<a\b[^>]*>[^<]*<\/a>/g) ?? [])
        expect(a).toMatch(/^<a href="https:\/\/matrix\.to\/#\/(@[a-z0-9._=\-/+]+:[A-Za-z0-9.:-]+)">\1<\/a>$/);
      expect((html.match(/<a\b/g) ?? []).length).toBe((html.match(/<a\b[^>]*>[^<]*<\/a>/g) ?? []).length);
    }
    // Nothing reached the log as a bug (only refusals and ordinary answers).
    expect(logs.filter((l) => /error:/.test(l) && !/chain refused|cannot be reached/.test(l))).toEqual([]);
  });
});
