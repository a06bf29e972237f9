/**
 * Answers that fit Element, through the bot with the real SQLite store and
 * fake ports: the command's thread, pills and m.mentions, checksummed
 * addresses, commands from a direct chat (the group named by its address or
 * id, never guessed), the account check of `!propose add`, why a proposal
 * with its quorum is still open, and when to renew.
 */
import { describe, expect, it } from "vitest";
import { Wallet, ZeroAddress } from "ethers";
import { Bot } from "../../src/bot/bot.ts";
import type { BotSettings } from "../../src/bot/context.ts";
import { SETTINGS as TEST_SETTINGS } from "./bot-settings.ts";
import type { ChainPort, Receipt } from "../../src/ports/chain.ts";
import type { AccountCheck, IncomingMessage, Membership, Reply, RoomPort } from "../../src/ports/rooms.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { ProposalState, type GroupSettings } from "../../src/governance/types.ts";
import type { MemberInfo, ProposalInfo } from "../../src/governance/client.ts";
import { whyStillOpen } from "../../src/bot/commands/proposals.ts";
import { pillify } from "../../src/text/format.ts";
import { checksumAddresses } from "../../src/bot/ids.ts";

const [ALICE, BOB, MALLORY, BOT] = ["@alice:localhost", "@bob:localhost", "@mallory:localhost", "@conclave:localhost"];
const ROOM = "!group:localhost";
const DM = "!dm:localhost";
const GROUP = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"; // EIP-55: 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed
const GROUP_SUM = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const ALICE_ADDRESS = "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359";

const SETTINGS: BotSettings = { ...TEST_SETTINGS, botUserId: BOT };

const PAID_THROUGH = Date.UTC(2027, 0, 31) / 1000;

class Chain implements ChainPort {
  readonly botAddress = Wallet.createRandom().address;
  calls: string[] = [];
  async checkCreation(): Promise<void> {}
  async createGroup(): Promise<{ group: string; block: number }> {
    throw new Error("no creation here");
  }
  async call(intent: string): Promise<Receipt> {
    this.calls.push(intent);
    throw new Error("no transaction in this test");
  }
  async member(_g: string, a: string): Promise<MemberInfo> {
    const alice = a.toLowerCase() === ALICE_ADDRESS;
    return {
      address: a,
      tokenId: 1,
      isMember: alice,
      active: alice,
      approved: false,
      expiresAt: PAID_THROUGH,
      delegate: ZeroAddress,
      delegatorsIn: 0,
      relayer: this.botAddress,
      relayerScope: 0xff,
      relayerUntil: 2 ** 31,
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
  async members(): Promise<MemberInfo[]> {
    return [await this.member(GROUP, ALICE_ADDRESS)];
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
  aliases = new Map([["#group:localhost", ROOM]]);
  lookups = 0;
  down = false;
  accounts = new Map<string, AccountCheck>([[BOB, "exists"]]);
  joined: Record<string, string[]> = { [ROOM]: [ALICE, BOB, BOT], [DM]: [ALICE, BOT] };
  async reply() {}
  async joinedMembers(roomId: string) {
    return this.joined[roomId] ?? [];
  }
  async roomMembers() {
    return [];
  }
  async powers() {
    return { mine: 100, kick: 50, ban: 50, invite: 0, users: {}, usersDefault: 0, events: {}, stateDefault: 50, creators: [] };
  }
  async rules() {
    return { canEncrypt: true };
  }
  displayName(_r: string, u: string) {
    return u;
  }
  async invite() {}
  async resolveAlias(alias: string) {
    this.lookups++;
    if (this.down) throw new Error("ETIMEDOUT");
    return this.aliases.get(alias);
  }
  async checkAccount(userId: string): Promise<AccountCheck> {
    if (this.down) throw new Error("ETIMEDOUT");
    return this.accounts.get(userId) ?? "missing";
  }
  membership(roomId: string, userId: string): Membership | undefined {
    return this.joined[roomId]?.includes(userId) ? "join" : undefined;
  }
  roomLabel(roomId: string) {
    return roomId === ROOM ? "#group:localhost" : roomId;
  }
}

let seq = 0;
async function system() {
  const store = new SqliteStore(":memory:");
  const chain = new Chain();
  const rooms = new Rooms();
  await store.putBinding({ roomId: ROOM, group: GROUP, chainId: 31337, createdBy: ALICE, createdAt: 0, fromBlock: 0 });
  await store.putLink({ roomId: ROOM, userId: ALICE, address: ALICE_ADDRESS, nonce: "n1", linkedAt: 1 });
  const bot = new Bot({ rooms, store, chain, settings: SETTINGS, log: () => {} });
  const ask = async (sender: string, body: string, roomId = ROOM, more: Partial<IncomingMessage> = {}): Promise<Reply> =>
    (await bot.answer({ roomId, eventId: `$e${++seq}`, sender, ts: 0, body, ...more }))!;
  return { bot, chain, rooms, store, ask };
}

describe("answers that fit Element", () => {
  it("answers a command sent in a thread in that thread, and one outside threads outside them", async () => {
    const { ask } = await system();
    expect((await ask(ALICE, "!help", ROOM, { thread: "$root" })).thread).toBe("$root");
    expect((await ask(ALICE, "!help")).thread).toBeUndefined();
  });

  it("makes the user ids an answer names pills, notifies them and the sender, and only the sender for lists", async () => {
    const { ask } = await system();
    const refused = await ask(ALICE, "!delegate @bob:localhost");
    expect(refused.text).toMatch(/^@bob:localhost has not linked an address/);
    expect(refused.html).toContain('<a href="https://matrix.to/#/@bob:localhost">@bob:localhost</a> has not linked');
    expect(refused.mentions).toEqual([ALICE, BOB]);
    // Sent as m.text, so that bob is notified (Element never notifies an m.notice).
    expect(refused.notify).toBe(true);
    const list = await ask(ALICE, "!members");
    expect(list.html).toContain('<a href="https://matrix.to/#/@alice:localhost">');
    expect(list.mentions).toEqual([ALICE]);
    expect(list.notify).toBeUndefined();
    // What the answer quotes of the sender is not someone it names; a parse error names nobody (its examples neither).
    const quoted = await ask(MALLORY, "!delegate @room:localhost, @bob:localhost");
    expect(quoted.text).toContain("Usage: !delegate <@user:server>");
    expect(quoted.html).not.toContain("matrix.to");
    expect(quoted.mentions).toEqual([MALLORY]);
  });

  it("shows every address checksummed (EIP-55), whatever case the store keeps", async () => {
    const { ask } = await system();
    const s = await ask(ALICE, "!status");
    expect(s.text).toContain(`Group contract: ${GROUP_SUM}`);
    expect(s.text).not.toContain(GROUP);
    expect(checksumAddresses(`a ${GROUP} b 0x${"ab".repeat(32)}`)).toBe(`a ${GROUP_SUM} b 0x${"ab".repeat(32)}`);
  });

  it("says when a member must renew, and what happens if not, in a free group too", async () => {
    const { ask } = await system();
    const s = (await ask(ALICE, "!status")).text;
    expect(s).toContain(
      "Membership: free, but renewed with !join every 30d. A member who has not renewed by the end of its period stops counting at once, and 7d later is removed from the group and from this room.",
    );
    expect(s).toContain(
      "Renew before 2027-01-31 00:00 UTC (!join, free): after that your vote no longer counts, and from 2027-02-07 00:00 UTC you are removed.",
    );
  });

  it("in a direct chat, says how to name the group instead of acting on the chat, and takes its address or id", async () => {
    const { ask, rooms } = await system();
    for (const c of ["!status", "!members", "!propose add @bob:localhost", "!vote 1 yes"]) {
      expect((await ask(ALICE, c, DM)).text).toMatch(
        /^This is a direct chat, not a group: I do not guess which group you mean\. End the command with the group's room .* You are in one group I serve, #group:localhost/,
      );
    }
    expect((await ask(ALICE, "!link 0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359", DM)).text).toMatch(/like !link 0xYOUR_ADDRESS #group:localhost/);
    expect((await ask(ALICE, "!status #group:localhost", DM)).text).toMatch(/^Group status\nGroup contract: 0x5aAe/);
    expect((await ask(ALICE, "!members !group:localhost", DM)).text).toMatch(/^1 member\(s\), 1 active/);
    expect((await ask(ALICE, "!status #nowhere:localhost", DM)).text).toMatch(/^There is no room #nowhere:localhost/);
    // A stranger learns nothing of a group whose room they are not in.
    rooms.joined["!dm2:localhost"] = [MALLORY, BOT];
    const stranger = (await ask(MALLORY, "!status #group:localhost", "!dm2:localhost")).text;
    expect(stranger).toBe((await ask(MALLORY, "!status !elsewhere:localhost", "!dm2:localhost")).text.replace("!elsewhere:localhost", "#group:localhost"));
    expect(stranger).toMatch(/^I know no group in #group:localhost that you are in/);
    expect((await ask(MALLORY, "!status", "!dm2:localhost")).text).toMatch(/You are in no group I serve\./);
    // !authorize after !link naming the room from this chat is about that room, as before.
    expect((await ask(ALICE, `!link ${ALICE_ADDRESS} #group:localhost`, DM)).text).toMatch(/^Link your address/);
    expect((await ask(ALICE, "!authorize", DM)).text).toMatch(/^Authorise the bot/);
    rooms.down = true;
    expect((await ask(ALICE, "!status #group:localhost", DM)).text).toMatch(/^I could not reach the homeserver to look up #group:localhost/);
  });

  it("refuses to propose an account its homeserver does not know, and says so when it cannot check", async () => {
    const { ask, rooms, chain } = await system();
    expect((await ask(ALICE, "!propose add @ghost:localhost")).text).toBe(
      "There is no account @ghost:localhost: localhost does not know it. Check the Matrix ID (Element shows it in the user's profile).",
    );
    rooms.down = true;
    expect((await ask(ALICE, "!propose add @bob:localhost")).text).toMatch(/^I could not check that @bob:localhost exists: localhost did not answer/);
    expect(chain.calls).toEqual([]);
    // A stranger's command never reaches the homeserver's directory or profiles.
    rooms.down = false;
    expect((await ask(MALLORY, "!propose add @ghost:localhost")).text).toMatch(/You have not linked/);
  });

  it("says why an open proposal that has its quorum is not decided yet", () => {
    const p = {
      state: ProposalState.Active,
      forVotes: 2,
      againstVotes: 0,
      abstainVotes: 0,
      quorumVotes: 2,
      influence: 5,
      deadline: PAID_THROUGH,
    } as ProposalInfo;
    expect(whyStillOpen(p)).toEqual([
      "It has its quorum but is still open: a proposal is decided early only once the votes not cast yet can no longer change the outcome (here 3 point(s) not cast could still make AGAINST reach FOR), otherwise at its deadline, 2027-01-31 00:00 UTC.",
    ]);
    expect(whyStillOpen({ ...p, forVotes: 1 })).toEqual([]);
    expect(whyStillOpen({ ...p, state: ProposalState.Succeeded })).toEqual([]);
  });

  it("pills only what it names: not links, code, or quoted user text", () => {
    const r = pillify("<b>@a:x.org</b> “@b:x.org” <code>@c:x.org</code> <a href='u'>@d:x.org</a> mail@e:x.org @f:x.org.");
    expect(r.userIds).toEqual(["@a:x.org", "@f:x.org"]);
    expect(r.html).toBe(
      '<b><a href="https://matrix.to/#/@a:x.org">@a:x.org</a></b> “@b:x.org” <code>@c:x.org</code> <a href=\'u\'>@d:x.org</a> mail@e:x.org <a href="https://matrix.to/#/@f:x.org">@f:x.org</a>.',
    );
  });
});
