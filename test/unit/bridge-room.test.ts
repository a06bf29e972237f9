/**
 * The bridge's room side with the real SQLite store and fake ports: the
 * adoption (told, reminded, banned at the end), watch mode's report, the
 * room's rules set back, and who may move a group by upgrading its room.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ZeroAddress } from "ethers";
import { Bridge, ROOM_INERT_EVENTS } from "../../src/bridge/bridge.ts";
import { groupInterface } from "../../src/governance/contracts.ts";
import { MEGOLM } from "../../src/bridge/desired.ts";
import type { BridgeChain } from "../../src/ports/chain.ts";
import type { Membership, Mention, RoomEnforcer, RoomPowers, RoomRules } from "../../src/ports/rooms.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { Mode, QUORUM_DEFAULT } from "../../src/governance/types.ts";

const ROOM = "!room:x";
const GROUP = "0x" + "11".repeat(20);
const BOT = "@bot:x";
const MEMBER = "0x" + "aa".repeat(20);
const HOUR = 3_600_000;
const CLOSED: RoomRules = { joinRule: { value: "invite" }, historyVisibility: { value: "joined" }, encryption: { value: MEGOLM }, canEncrypt: true };
const GUARDED = {
  "m.room.join_rules": 100,
  "m.room.history_visibility": 100,
  "m.room.encryption": 100,
  "m.room.power_levels": 100,
  "m.room.server_acl": 100,
  "m.room.tombstone": 150,
};

class Rooms implements RoomEnforcer {
  done: string[] = [];
  notices: string[] = [];
  mentions: Mention[] = [];
  members: { userId: string; membership: Membership }[] = [];
  levels: RoomPowers = {
    mine: 100,
    kick: 50,
    ban: 50,
    invite: 0,
    users: { [BOT]: 100, "@alice:x": 100 },
    usersDefault: 0,
    events: GUARDED,
    stateDefault: 50,
    creators: [],
  };
  rulesOf = new Map<string, RoomRules>([[ROOM, CLOSED]]);
  async roomMembers() {
    return this.members;
  }
  async invite(_r: string, u: string) {
    this.done.push(`invite ${u}`);
  }
  async kick(_r: string, u: string, reason: string) {
    this.done.push(`kick ${u}: ${reason}`);
  }
  async ban(_r: string, u: string, reason: string) {
    this.done.push(`ban ${u}: ${reason}`);
    this.members = this.members.map((m) => (m.userId === u ? { ...m, membership: "ban" } : m));
  }
  async unban(_r: string, u: string) {
    this.done.push(`unban ${u}`);
  }
  async powers() {
    return this.levels;
  }
  async rules(roomId: string) {
    return this.rulesOf.get(roomId) ?? { canEncrypt: true };
  }
  async setRule(roomId: string, rule: string, value: string) {
    this.done.push(`set ${rule} ${value}`);
    const r = { ...(this.rulesOf.get(roomId) ?? CLOSED) };
    if (rule === "joinRule") r.joinRule = { value };
    if (rule === "historyVisibility") r.historyVisibility = { value };
    if (rule === "encryption") r.encryption = { value };
    this.rulesOf.set(roomId, r);
  }
  async setEventLevels(_r: string, levels: Record<string, number>) {
    this.done.push(`levels ${Object.keys(levels).join(",")}`);
    this.levels = { ...this.levels, events: { ...this.levels.events, ...levels } };
  }
  async join(roomId: string) {
    this.done.push(`join ${roomId}`);
  }
  async leave(roomId: string) {
    this.done.push(`leave ${roomId}`);
  }
  async setPowers() {}
  async rotateKey(_r: string, text: string) {
    this.notices.push(text);
  }
  async notice(_r: string, text: string) {
    this.notices.push(text);
  }
  async mention(_r: string, m: Mention) {
    this.mentions.push(m);
  }
}

/** A room side that reads rules, power levels and members at once, as the Matrix adapter does. */
class SnapshotRooms extends Rooms {
  snapshots = 0;
  async snapshot(roomId: string) {
    this.snapshots++;
    return { rules: await this.rules(roomId), powers: await this.powers(), members: await this.roomMembers() };
  }
}

/** The room side each test runs with: both kinds, the same expectations. */
let makeRooms: () => Rooms = () => new Rooms();

function chain(approved = new Set<string>()) {
  const c = {
    botAddress: ZeroAddress,
    head: async () => 10,
    events: async () => [],
    // One token holder, paid far ahead; the others are approved or not.
    expiries: async () => [{ address: MEMBER, isMember: true, expiresAt: 2 ** 31 }],
    blockTime: async () => 1_000,
    member: async (_g: string, a: string) => ({ approved: approved.has(a.toLowerCase()) }),
    settings: async () => ({
      config: {
        defaultQuorumBps: 5000,
        addQuorumBps: QUORUM_DEFAULT,
        removeQuorumBps: QUORUM_DEFAULT,
        configQuorumBps: QUORUM_DEFAULT,
        feeDestinationQuorumBps: QUORUM_DEFAULT,
        customQuorumBps: QUORUM_DEFAULT,
        votingPeriod: 1,
        period: 100,
        gracePeriod: 50,
        mode: Mode.Vote,
        customCallsAllowed: false,
        maxOpenProposals: 3,
        fee: 0n,
        feeToken: ZeroAddress,
      },
      controller: ZeroAddress,
      linker: ZeroAddress,
      admins: [],
    }),
  };
  return c as unknown as BridgeChain;
}

async function setup(mode: "watch" | "enforce", approved = new Set<string>()) {
  const store = new SqliteStore(":memory:");
  await store.putBinding({ roomId: ROOM, group: GROUP, chainId: 1, createdBy: "@alice:x", createdAt: 0, fromBlock: 1 });
  await store.setState(`cursor:${GROUP}`, "10");
  await store.putRoomPolicy({ roomId: ROOM, mode, adoptees: [], adoptUntil: 0 });
  await store.putLink({ roomId: ROOM, userId: "@alice:x", address: MEMBER, nonce: "n1", linkedAt: 0 });
  await store.putLink({ roomId: ROOM, userId: "@dave:x", address: "0x" + "dd".repeat(20), nonce: "n2", linkedAt: 0 });
  const rooms = makeRooms();
  rooms.members = [
    { userId: BOT, membership: "join" },
    { userId: "@alice:x", membership: "join" },
    { userId: "@dave:x", membership: "join" },
    { userId: "@erin:x", membership: "invite" },
  ];
  let now = 1_000 * HOUR;
  const bridge = new Bridge({
    store,
    chain: chain(approved),
    rooms,
    botUserId: BOT,
    confirmations: 0,
    pollMs: 1000,
    fullPassMs: 1000,
    log: () => {},
    adoptionGraceMs: 48 * HOUR,
    adoptionReminderMs: 24 * HOUR,
    prefix: "!",
    clock: () => now,
  });
  const b = (await store.getBinding(ROOM))!;
  return { store, rooms, bridge, b, at: (t: number) => (now = 1_000 * HOUR + t) };
}

describe.each([
  { side: "asked for rules, power levels and members apart", make: () => new Rooms() },
  { side: "read at once", make: () => new SnapshotRooms() },
])("a room side $side", ({ make }) => {
  beforeEach(() => {
    makeRooms = make;
  });
  afterEach(() => {
    makeRooms = () => new Rooms();
  });

  describe("the bridge adopts a room", () => {
    it("tells the adoptees once, reminds those still not members once, then bans them with the reason", async () => {
      const approved = new Set<string>();
      const { store, rooms, bridge, b, at } = await setup("enforce", approved);
      await bridge.reconcile(b);
      expect((await store.getRoomPolicy(ROOM))?.adoptees.sort()).toEqual(["@dave:x", "@erin:x"]);
      expect(rooms.done).toEqual([]);
      expect(rooms.mentions.map((m) => [m.userIds.sort(), m.text.includes("this room is now the room of the group")])).toEqual([
        [["@dave:x", "@erin:x"], true],
      ]);
      expect(rooms.mentions[0]!.html).toContain('<a href="https://matrix.to/#/@dave:x">@dave:x</a>');
      // Later passes tell nobody again.
      at(HOUR);
      await bridge.reconcile(b);
      expect(rooms.mentions).toHaveLength(1);
      // dave is approved meanwhile; the reminder names erin only, once.
      approved.add("0x" + "dd".repeat(20));
      at(25 * HOUR);
      await bridge.reconcile(b);
      await bridge.reconcile(b);
      expect(rooms.mentions.slice(1).map((m) => [m.userIds, m.text.includes("a reminder")])).toEqual([[["@erin:x"], true]]);
      // The end of the grace: erin's invite is withdrawn with the reason; dave stays.
      at(48 * HOUR);
      await bridge.reconcile(b);
      expect(rooms.done).toEqual([expect.stringMatching(/^kick @erin:x: not a member of the group: the adoption grace period ended \d{4}-/)]);
    });

    it("gives no grace to one who was a member and was removed for a lapse before enforcement began", async () => {
      const { store, rooms, bridge, b } = await setup("enforce");
      // Removed by the keeper while the room was watched: no token any more, the reason recorded.
      await store.setState(`reason:${GROUP}:${"0x" + "dd".repeat(20)}`, "membership lapsed: not paid since 2026-11-01 00:00 UTC");
      await bridge.reconcile(b);
      expect((await store.getRoomPolicy(ROOM))?.adoptees).toEqual(["@erin:x"]);
      expect(rooms.mentions.map((m) => m.userIds)).toEqual([["@erin:x"]]);
      expect(rooms.done).toEqual(["ban @dave:x: membership lapsed: not paid since 2026-11-01 00:00 UTC"]);
    });

    it("bans a joined adoptee at the end, and lifts its own ban once the group admits them", async () => {
      const approved = new Set<string>();
      const { store, rooms, bridge, b, at } = await setup("enforce", approved);
      rooms.members = rooms.members.filter((m) => m.userId !== "@erin:x");
      await bridge.reconcile(b);
      at(48 * HOUR);
      await bridge.reconcile(b);
      expect(rooms.done).toEqual([expect.stringMatching(/^ban @dave:x: not a member of the group: the adoption grace period ended/)]);
      expect((await store.getBan(ROOM, "@dave:x"))?.reason).toMatch(/adoption grace period ended/);
      approved.add("0x" + "dd".repeat(20));
      await bridge.reconcile(b);
      expect(rooms.done.slice(1)).toEqual(["unban @dave:x", "invite @dave:x"]);
      expect(await store.getBan(ROOM, "@dave:x")).toBeUndefined();
    });
  });

  describe("watch mode", () => {
    it("says what it would do when that changes, and does nothing", async () => {
      const { rooms, bridge, b } = await setup("watch");
      rooms.rulesOf.set(ROOM, { ...CLOSED, joinRule: { value: "public", by: "@alice:x" } });
      await bridge.reconcile(b);
      await bridge.reconcile(b);
      expect(rooms.done).toEqual([]);
      expect(rooms.notices).toHaveLength(1);
      expect(rooms.notices[0]).toMatch(
        /^Watch mode: I change nothing in this room\. If I enforced the group now, I would remove @dave:x: not a member of the group \(once enforced, after an adoption grace of 2d/,
      );
      expect(rooms.notices[0]).toMatch(
        /would withdraw the invite of @erin:x: not a member of the group \(no linked address\) \(once enforced, after an adoption grace of 2d/,
      );
      expect(rooms.notices[0]).toMatch(/would set the join rules: public → invite-only \(set by @alice:x\)/);
      rooms.members = rooms.members.filter((m) => m.userId !== "@dave:x");
      await bridge.reconcile(b);
      expect(rooms.notices).toHaveLength(2);
      expect(rooms.notices[1]).not.toMatch(/@dave:x/);
    });
  });

  describe("the room stays closed", () => {
    it("closes the room once, then sets back what is changed, saying so each time", async () => {
      const { rooms, bridge, b } = await setup("enforce");
      rooms.rulesOf.set(ROOM, { joinRule: { value: "public" }, historyVisibility: { value: "shared" }, canEncrypt: true });
      rooms.levels = { ...rooms.levels, events: { "m.room.power_levels": 100 } };
      await bridge.reconcile(b);
      expect(rooms.done).toEqual([
        "set joinRule invite",
        "set historyVisibility joined",
        `set encryption ${MEGOLM}`,
        "levels m.room.join_rules,m.room.history_visibility,m.room.encryption,m.room.server_acl,m.room.tombstone",
      ]);
      expect(rooms.notices[0]).toBe(
        "I closed this room: the group decides who is in it. The join rules: public → invite-only. Who can read the history: members, all of it → members, from when they joined. " +
          "The encryption: not encrypted → end-to-end encrypted (Megolm). Only room admins (power 100) may change join rules, history visibility, encryption, server acl, tombstone.",
      );
      await bridge.reconcile(b);
      expect(rooms.notices).toHaveLength(1);
      rooms.rulesOf.set(ROOM, { ...rooms.rulesOf.get(ROOM)!, joinRule: { value: "knock", by: "@alice:x" } });
      await bridge.reconcile(b);
      expect(rooms.notices[1]).toBe(
        "I set this room's rules back: the group decides who is in it, and they are not changed in chat. The join rules: knock → invite-only (set by @alice:x).",
      );
    });

    it("says what power it lacks instead", async () => {
      const { rooms, bridge, b } = await setup("enforce");
      rooms.levels = { ...rooms.levels, mine: 50 };
      rooms.rulesOf.set(ROOM, { ...CLOSED, historyVisibility: { value: "world_readable" } });
      await bridge.reconcile(b);
      expect(rooms.done.filter((d) => d.startsWith("set"))).toEqual([]);
      expect(rooms.notices[0]).toMatch(
        /^I need power level 100 to keep the room closed \(who can read the history: anyone → members, from when they joined\) and have 50/,
      );
    });
  });

  describe("a room upgrade", () => {
    it("moves the group only for a room admin's upgrade to a room that names this one as its predecessor", async () => {
      const { store, rooms, bridge, b } = await setup("enforce");
      rooms.rulesOf.set(ROOM, { ...CLOSED, tombstone: { replacement: "!next:x", by: "@dave:x" } });
      await bridge.reconcile(b);
      expect(rooms.notices[0]).toMatch(/^@dave:x upgraded this room to !next:x without being a room admin: the group stays bound to this room\./);
      expect((await store.getBinding(ROOM))?.group).toBe(GROUP);

      const other = await setup("enforce");
      other.rooms.rulesOf.set(ROOM, { ...CLOSED, tombstone: { replacement: "!fake:x", by: "@alice:x" } });
      other.rooms.rulesOf.set("!fake:x", { ...CLOSED, predecessor: "!elsewhere:x" });
      await other.bridge.reconcile(other.b);
      expect(other.rooms.done).toEqual(["join !fake:x", "leave !fake:x"]);
      expect(other.rooms.notices[0]).toMatch(/^The tombstone points to !fake:x, which does not say it replaces this room/);
      expect((await other.store.getBinding(ROOM))?.group).toBe(GROUP);

      const real = await setup("enforce");
      real.rooms.rulesOf.set(ROOM, { ...CLOSED, tombstone: { replacement: "!next:x", by: "@alice:x" } });
      real.rooms.rulesOf.set("!next:x", { ...CLOSED, predecessor: ROOM });
      await real.bridge.reconcile(real.b);
      expect(real.rooms.done).toEqual(["join !next:x"]);
      expect(real.rooms.notices).toEqual([
        `This room was upgraded by @alice:x: the group 0x${"11".repeat(20)} now lives in !next:x. I invite its members there; this room is no longer governed.`,
        `This room replaces ${ROOM}: it is the room of the group 0x${"11".repeat(20)} now. I invite the group's members and keep the room closed.`,
      ]);
      expect(await real.store.getBinding(ROOM)).toBeUndefined();
      expect((await real.store.getBinding("!next:x"))?.group).toBe(GROUP.toLowerCase());
      expect((await real.store.listLinks("!next:x")).map((l) => l.userId)).toEqual(["@alice:x", "@dave:x"]);
    });
  });

  it("reads the room once a pass where the room side reads it at once", async () => {
    const { rooms, bridge, b } = await setup("enforce");
    await bridge.reconcile(b);
    expect(rooms instanceof SnapshotRooms ? rooms.snapshots : 1).toBe(1);
  });
});

describe("which events call for a pass", () => {
  it("passes over a room for a decision's events, not for votes or delegations", async () => {
    const { rooms, store } = await setup("enforce");
    let head = 10;
    let next: { name: string; args: unknown[] }[] = [];
    const base = chain();
    const c = {
      ...base,
      head: async () => head,
      eventsOf: async (groups: string[]) =>
        new Map(groups.map((g) => [g.toLowerCase(), next.map((e) => ({ ...e, txHash: "0x01", blockNumber: head, logIndex: 0 }))])),
    } as unknown as BridgeChain;
    let passes = 0;
    const counting = Object.assign(Object.create(rooms) as Rooms, {
      rules: (roomId: string) => {
        passes++;
        return rooms.rules(roomId);
      },
    });
    const bridge = new Bridge({ store, chain: c, rooms: counting, botUserId: BOT, confirmations: 0, pollMs: 1000, fullPassMs: 3_600_000, log: () => {} });
    // The first tick is a full pass; the next has nothing to do.
    await bridge.tick();
    await bridge.tick();
    passes = 0;
    head = 11;
    next = [
      { name: "ProposalCreated", args: [] },
      { name: "VoteCast", args: [] },
      { name: "DelegateChanged", args: [] },
    ];
    await bridge.tick();
    expect(passes).toBe(0);
    head = 12;
    next = [
      { name: "VoteCast", args: [] },
      { name: "MemberApproved", args: [] },
    ];
    await bridge.tick();
    expect(passes).toBe(1);
  });

  it("names only events of the group's ABI as inert", () => {
    const names = new Set<string>();
    groupInterface.forEachEvent((e) => names.add(e.name));
    for (const n of ROOM_INERT_EVENTS) expect(names).toContain(n);
    for (const n of ["MemberApproved", "MemberApprovalWithdrawn", "MemberAdded", "MemberRemoved", "SubscriptionUpdate", "SettingsChanged", "Transfer"]) {
      expect(names).toContain(n);
      expect(ROOM_INERT_EVENTS.has(n)).toBe(false);
    }
  });
});
