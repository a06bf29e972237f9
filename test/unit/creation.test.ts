/**
 * Binding a room, through the bot with the real SQLite store, the real
 * spending guard and fake ports: who may start a group, the preview, the
 * consents it needs, and that nothing is sent before every founder consented.
 */
import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Interface, Wallet, ZeroAddress } from "ethers";
import { Bot } from "../../src/bot/bot.ts";
import { Spending } from "../../src/bot/spending.ts";
import type { BotSettings } from "../../src/bot/context.ts";
import { SETTINGS as TEST_SETTINGS } from "./bot-settings.ts";
import type { ChainPort, Receipt } from "../../src/ports/chain.ts";
import type { Membership, Reply, RoomPort, RoomPowers, RoomRules } from "../../src/ports/rooms.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/store.ts";
import type { GroupSettings } from "../../src/governance/types.ts";
import type { MemberInfo } from "../../src/governance/client.ts";

const ROOM = "!room:localhost";
const [ALICE, BOB, CAROL, MALLORY, BOT] = ["@alice:localhost", "@bob:localhost", "@carol:localhost", "@mallory:localhost", "@conclave:localhost"];
const GROUP = "0x" + "77".repeat(20);
const address = (u: string) => new Wallet("0x" + Buffer.from(u.padEnd(32, ".")).toString("hex").slice(0, 64)).address;

class Chain implements ChainPort {
  readonly botAddress = Wallet.createRandom().address;
  created: { founders: string[]; settings: GroupSettings }[] = [];
  checked = 0;
  refuse?: Error;
  async checkCreation(): Promise<void> {
    this.checked++;
    if (this.refuse) throw this.refuse;
  }
  async createGroup(_i: string, settings: GroupSettings, _d: unknown, founders: string[]) {
    this.created.push({ founders, settings });
    return { group: GROUP, block: 1 };
  }
  async call(): Promise<Receipt> {
    throw new Error("no call in this test");
  }
  async member(_g: string, a: string): Promise<MemberInfo> {
    // After creation, the founders are members and their link is recorded.
    return {
      address: a,
      tokenId: 1,
      isMember: true,
      active: true,
      approved: false,
      expiresAt: 2 ** 31,
      delegate: ZeroAddress,
      delegatorsIn: 0,
      relayer: ZeroAddress,
      relayerScope: 0,
      relayerUntil: 0,
      matrixLink: "0x01",
    };
  }
  async proposalByNumber() {
    return undefined;
  }
  async proposals() {
    return [];
  }
  async voteOf() {
    return 0;
  }
  async members() {
    return [];
  }
  async settings(): Promise<GroupSettings> {
    return { ...SETTINGS.defaults, linker: ZeroAddress };
  }
  async domain() {
    return { name: "Conclave Group", version: "1", chainId: 31337n, verifyingContract: GROUP };
  }
  async nonce() {
    return 0n;
  }
}

class Rooms implements RoomPort {
  replies: Reply[] = [];
  members: { userId: string; membership: Membership }[] = [ALICE, BOB, CAROL, MALLORY, "@dave:localhost", BOT].map((userId) => ({
    userId,
    membership: "join",
  }));
  /** a version 12 room: alice created it; mallory is a moderator */
  levels: RoomPowers = {
    mine: 100,
    kick: 50,
    ban: 50,
    invite: 0,
    users: { [BOT]: 100, [MALLORY]: 50 },
    usersDefault: 0,
    events: {},
    stateDefault: 50,
    creators: [ALICE],
  };
  rulesNow: RoomRules = { canEncrypt: true };
  async reply(_r: string, reply: Reply) {
    this.replies.push(reply);
  }
  async joinedMembers() {
    return this.members.filter((m) => m.membership === "join").map((m) => m.userId);
  }
  async roomMembers() {
    return this.members;
  }
  async powers() {
    return this.levels;
  }
  async rules() {
    return this.rulesNow;
  }
  displayName(_r: string, u: string) {
    return u;
  }
  async invite() {}
}

const SETTINGS: BotSettings = { ...TEST_SETTINGS, botUserId: BOT };

let seq = 0;

function system(store: Store, chain = new Chain(), rooms = new Rooms(), settings: Partial<BotSettings> = {}) {
  const spending = new Spending({
    store,
    funds: { balance: async () => 10n ** 18n, gasUsed: async () => 0n },
    gasPerRoomPerDay: 10n ** 12n,
    lowBalance: 0n,
    formatBalance: String,
    botAddress: chain.botAddress,
    log: () => {},
  });
  const bot = new Bot({ rooms, store, chain, settings: { ...SETTINGS, ...settings }, log: () => {}, spending });
  const say = async (sender: string, body: string, roomId = ROOM) => {
    const reply = await bot.answer({ roomId, eventId: `$e${++seq}`, sender, ts: 0, body });
    return reply?.text ?? "";
  };
  return { bot, chain, rooms, say };
}

async function linked(store: Store, ...users: string[]) {
  for (const u of users) await store.putLink({ roomId: ROOM, userId: u, address: address(u), nonce: `n-${u}-${++seq}`, linkedAt: seq });
}

const codeOf = (preview: string) => /dao confirm ([A-Z2-9]{6})/.exec(preview)?.[1] ?? "";

describe("binding a room", () => {
  it("lets only a room admin start a group: a moderator, a stranger and a user the operator did not allow are refused", async () => {
    const store = new SqliteStore(":memory:");
    await linked(store, ALICE, BOB, MALLORY);
    const { say, chain } = system(store);
    // mallory is a moderator (50) and linked: the takeover of the issue.
    expect(await say(MALLORY, "!dao create mode=admin admins=@mallory:localhost quorum=100%")).toBe(
      "Only a room admin (power level 100, or a creator of the room) may make this room a group; your power level here is 50.",
    );
    expect(await say("@eve:localhost", "!dao create")).toMatch(/^Only a room admin/);
    // A user of another homeserver, whatever their power, is not one the operator allows (creators).
    expect(await say("@alice:elsewhere.org", "!dao create")).toBe("This bot's operator has not allowed you to create groups.");
    expect(await store.getCreation(ROOM)).toBeUndefined();
    expect([chain.checked, chain.created.length]).toEqual([0, 0]);
  });

  it("counts a room version 12 creator and a level of 100 as admins", async () => {
    const store = new SqliteStore(":memory:");
    await linked(store, ALICE, BOB, CAROL);
    const { say, rooms } = system(store);
    expect(await say(ALICE, "!dao create")).toMatch(/^Preview [A-Z2-9]{6} of the group for this room/);
    rooms.levels = { ...rooms.levels, users: { ...rooms.levels.users, [CAROL]: 100 }, creators: [] };
    expect(await say(CAROL, "!dao create")).toMatch(/^Preview /);
    expect(await say(ALICE, "!dao create")).toMatch(/^Only a room admin .* your power level here is 0\./);
  });

  it("previews the settings in words, the founders and who is not a member yet, and sends nothing", async () => {
    const store = new SqliteStore(":memory:");
    await linked(store, ALICE, BOB, CAROL);
    const { say, chain } = system(store);
    const preview = await say(ALICE, "!dao create quorum=60% quorum.add=20% fee=0.5 period=30d voting=2d");
    expect(preview).toContain(`Nothing is created and nothing is spent until every founder consents: send !dao confirm ${codeOf(preview)} here before`);
    expect(preview).toContain("Membership: 0.5 (native coin), paid every 30d; a member who has not paid stops counting at once and may be removed 7d later.");
    expect(preview).toContain("Proposals: open for 2d;");
    expect(preview).toContain("Quorums: default 60%; to add a member 20%; to remove one the default (60%);");
    expect(preview).toContain("Mode: vote. Every member is equal");
    expect(preview).toContain("Fees: kept in the group contract.");
    expect(preview).toContain(
      `Founders (active members from the start, their first period paid): ${ALICE} (${address(ALICE)}), ${BOB} (${address(BOB)}), ${CAROL} (${address(CAROL)}).`,
    );
    expect(preview).toMatch(/Not members yet: @mallory:localhost, @dave:localhost\. They keep their place for 7d once the room is enforced/);
    // The chain was asked whether it would take it (a call), and nothing was sent.
    expect([chain.checked, chain.created.length]).toEqual([1, 0]);
  });

  it("names admins with their addresses in admin mode, and only founders named with founders=", async () => {
    const store = new SqliteStore(":memory:");
    await linked(store, ALICE, BOB, CAROL);
    const { say } = system(store);
    const preview = await say(ALICE, "!dao create founders=@alice:localhost,@bob:localhost mode=admin admins=@bob:localhost");
    expect(preview).toContain(`Mode: admin. These admins add and remove members without a vote: ${BOB} (${address(BOB)}).`);
    expect(preview).toMatch(new RegExp(`Founders [^:]*: @alice:localhost \\(0x[0-9a-fA-F]{40}\\), @bob:localhost \\(0x[0-9a-fA-F]{40}\\)\\.`));
    expect(preview).toMatch(/Not members yet: @carol:localhost, @mallory:localhost, @dave:localhost\./);
    expect(await say(ALICE, "!dao create founders=@dave:localhost,@alice:localhost")).toMatch(/@dave:localhost has not linked an address here/);
    expect(await say(ALICE, "!dao create founders=@bob:localhost")).toMatch(/^Link your own address first .* be one of the founders/);
  });

  it("does not preview a group the chain would refuse", async () => {
    const store = new SqliteStore(":memory:");
    await linked(store, ALICE, BOB);
    const chain = new Chain();
    const factory = new Interface(["error UnsafeGroupConfig(uint16 addQuorumBps, uint16 minAddQuorumBps, uint96 fee, uint96 minFee)"]);
    chain.refuse = Object.assign(new Error("execution reverted"), { data: factory.encodeErrorResult("UnsafeGroupConfig", [0, 2000, 0, 10n ** 15n]) });
    const { say } = system(store, chain);
    expect(await say(ALICE, "!dao create quorum=0%")).toMatch(/^Unsafe: the add quorum 0% is below the safe minimum 20%/);
    expect(await store.getCreation(ROOM)).toBeUndefined();
    expect(chain.created).toEqual([]);
  });

  it("creates the group once every founder consented to this very preview, and not before", async () => {
    const store = new SqliteStore(":memory:");
    await linked(store, ALICE, BOB, CAROL, MALLORY);
    const { say, chain } = system(store);
    const preview = await say(ALICE, "!dao create founders=@alice:localhost,@bob:localhost,@carol:localhost");
    const code = codeOf(preview);
    expect(await say(BOB, "!dao confirm ABCDEF")).toBe(
      `ABCDEF is not the code of this room's preview: it was replaced or cancelled. Read the preview ${code} and send !dao confirm ${code} if you consent to it.`,
    );
    expect(await say(MALLORY, `!dao confirm ${code}`)).toBe(`Only the founders named in the preview consent to it: ${ALICE}, ${BOB}, ${CAROL}.`);
    expect(await say(BOB, `!dao confirm ${code}`)).toMatch(
      /^@bob:localhost consents to the preview .*\n1 of 3 founders consent\. Waiting for @alice:localhost, @carol:localhost/,
    );
    // Consenting twice counts once.
    expect(await say(BOB, `!dao confirm ${code}`)).toMatch(/1 of 3 founders consent/);
    expect(await say(ALICE, `!dao confirm ${code}`)).toMatch(/2 of 3 founders consent\. Waiting for @carol:localhost/);
    expect(chain.created).toEqual([]);
    expect(await say(CAROL, `!dao confirm ${code}`)).toMatch(/^This room is now a group: 0x7777/);
    expect(chain.created.map((c) => c.founders)).toEqual([[address(ALICE), address(BOB), address(CAROL)]]);
    expect(await store.getBinding(ROOM)).toMatchObject({ group: GROUP.toLowerCase(), createdBy: ALICE });
    expect(await store.getRoomPolicy(ROOM)).toEqual({ roomId: ROOM, mode: "enforce", adoptees: [], adoptUntil: 0 });
    expect(await store.getCreation(ROOM)).toBeUndefined();
    expect(await say(BOB, `!dao confirm ${code}`)).toMatch(/already a group/);
    expect(chain.created).toHaveLength(1);
  });

  it("needs everyone's consent again for a changed preview, and drops one whose founder linked another address", async () => {
    const store = new SqliteStore(":memory:");
    await linked(store, ALICE, BOB);
    const { say, chain } = system(store);
    const first = codeOf(await say(ALICE, "!dao create quorum=50%"));
    expect(await say(BOB, `!dao confirm ${first}`)).toMatch(/1 of 2/);
    // alice changes the settings after bob consented: his consent was to the old ones.
    const second = codeOf(await say(ALICE, "!dao create mode=admin admins=@alice:localhost"));
    expect(second).not.toBe(first);
    expect(await say(ALICE, `!dao confirm ${second}`)).toMatch(/1 of 2 founders consent\. Waiting for @bob:localhost/);
    expect(await say(BOB, `!dao confirm ${first}`)).toMatch(new RegExp(`^${first} is not the code of this room's preview`));
    expect(chain.created).toEqual([]);
    // bob links another address: what he would consent to is not what was shown.
    await store.putLink({ roomId: ROOM, userId: BOB, address: address("@other:localhost"), nonce: "n-bob-2", linkedAt: 99 });
    expect(await say(BOB, `!dao confirm ${second}`)).toMatch(/^Your link changed since the preview/);
    expect(chain.created).toEqual([]);
  });

  it("keeps the preview and its consents across a restart", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "conclave-creation-")), "s.sqlite");
    const store = new SqliteStore(path);
    await linked(store, ALICE, BOB, CAROL);
    const code = codeOf(await system(store).say(ALICE, "!dao create"));
    expect(await system(store).say(BOB, `!dao confirm ${code}`)).toMatch(/1 of 3/);
    await store.close();
    const again = new SqliteStore(path);
    const chain = new Chain();
    const { say } = system(again, chain);
    expect(await say(CAROL, "!status")).toMatch(
      new RegExp(`^Not a group yet\\n@alice:localhost previewed one \\(preview ${code}, .*consents so far: @bob:localhost\\.`),
    );
    expect(await say(CAROL, `!dao confirm ${code}`)).toMatch(/2 of 3/);
    expect(await say(ALICE, `!dao confirm ${code}`)).toMatch(/^This room is now a group/);
    expect(chain.created).toHaveLength(1);
    await again.close();
  });

  it("answers a consent after the window with the lapse, and creates nothing", async () => {
    const store = new SqliteStore(":memory:");
    await linked(store, ALICE, BOB);
    const { say, chain } = system(store, new Chain(), new Rooms(), { consentWindowMs: 1 });
    const code = codeOf(await say(ALICE, "!dao create"));
    await new Promise((r) => setTimeout(r, 5));
    expect(await say(BOB, `!dao confirm ${code}`)).toMatch(new RegExp(`^The preview ${code} lapsed at .*: nothing was created\\.`));
    expect(await store.getCreation(ROOM)).toBeUndefined();
    expect(chain.created).toEqual([]);
  });

  it("lets a founder decline (a new preview without them) and the creator or a room admin cancel", async () => {
    const store = new SqliteStore(":memory:");
    await linked(store, ALICE, BOB, CAROL);
    const { say, chain, rooms } = system(store);
    const code = codeOf(await say(ALICE, "!dao create"));
    expect(await say(BOB, `!dao confirm ${code}`)).toMatch(/1 of 3/);
    const declined = await say(CAROL, "!dao decline");
    expect(declined).toMatch(new RegExp(`^@carol:localhost declines to be a founder: the preview ${code} is replaced`));
    const next = codeOf(declined);
    expect(declined).toMatch(/Founders [^\n]*@alice:localhost [^\n]*@bob:localhost [^\n]*\.\n/);
    expect(declined).toMatch(/Not members yet: [^\n]*@carol:localhost/);
    expect(await say(ALICE, `!dao confirm ${next}`)).toMatch(/1 of 2 founders consent\. Waiting for @bob:localhost/);
    expect(await say(MALLORY, "!dao cancel")).toMatch(/^Only a room admin .* may cancel someone else's preview/);
    rooms.levels = { ...rooms.levels, users: { ...rooms.levels.users, [MALLORY]: 100 } };
    expect(await say(MALLORY, "!dao cancel")).toBe(`The preview ${next} is cancelled\nNothing was created and nothing was spent.`);
    expect(await say(BOB, `!dao confirm ${next}`)).toMatch(/no preview of a group here/);
    expect(chain.created).toEqual([]);
  });

  it("creates once when the last founders consent at the same moment", async () => {
    const store = new SqliteStore(":memory:");
    await linked(store, ALICE, BOB, CAROL);
    const { say, chain } = system(store);
    const code = codeOf(await say(ALICE, "!dao create"));
    expect(await say(ALICE, `!dao confirm ${code}`)).toMatch(/1 of 3/);
    const answers = await Promise.all([say(BOB, `!dao confirm ${code}`), say(CAROL, `!dao confirm ${code}`)]);
    expect(answers.filter((a) => /^This room is now a group/.test(a))).toHaveLength(1);
    expect(chain.created).toHaveLength(1);
  });

  it("refuses a room that was upgraded, and switches watch and enforce for room admins only", async () => {
    const store = new SqliteStore(":memory:");
    await linked(store, ALICE, BOB);
    const { say, rooms } = system(store);
    rooms.rulesNow = { canEncrypt: true, tombstone: { replacement: "!new:localhost", by: ALICE } };
    expect(await say(ALICE, "!dao create")).toBe("This room was replaced by !new:localhost (a room upgrade): it cannot become a group.");
    rooms.rulesNow = { canEncrypt: true };
    expect(await say(ALICE, "!dao watch")).toMatch(/^This room is not a group yet: !dao create watch previews one/);
    const code = codeOf(await say(ALICE, "!dao create watch"));
    await say(BOB, `!dao confirm ${code}`);
    expect(await say(ALICE, `!dao confirm ${code}`)).toMatch(/Watch mode: I say what I would do in this room and do nothing/);
    expect((await store.getRoomPolicy(ROOM))?.mode).toBe("watch");
    expect(await say(MALLORY, "!dao enforce")).toMatch(/^Only a room admin .* may switch the room to enforce; your power level here is 50\./);
    expect(await say(ALICE, "!dao enforce")).toMatch(
      /^Enforce mode\nI now make the room follow the group\. People here who are not members keep their place for 7d/,
    );
    expect(await store.getRoomPolicy(ROOM)).toEqual({ roomId: ROOM, mode: "enforce", adoptees: [], adoptUntil: 0 });
    expect(await say(ALICE, "!dao enforce")).toBe("This room is already in enforce mode");
  });
});
