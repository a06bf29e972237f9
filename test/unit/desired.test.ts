import { describe, expect, it } from "vitest";
import {
  adoptionStage,
  closedRoomFixes,
  describeFix,
  diffRoom,
  GUARDED_EVENTS,
  lapsedPastGrace,
  MEGOLM,
  powerChanges,
  type Standing,
} from "../../src/bridge/desired.ts";
import { isRoomAdmin, powerOf, type RoomPowers, type RoomRules } from "../../src/ports/rooms.ts";

const BOT = "@conclave:x";
const st = (userId: string, o: Partial<Standing> = {}): Standing => ({
  userId,
  address: `0x${userId.length.toString(16).padStart(40, "0")}`,
  isMember: true,
  active: true,
  approved: false,
  expiresAt: 1000,
  ...o,
});

describe("the room the chain wants", () => {
  it("invites members and approved accounts who are not in the room", () => {
    const actions = diffRoom({
      botUserId: BOT,
      room: [
        { userId: BOT, membership: "join" },
        { userId: "@a:x", membership: "join" },
        { userId: "@b:x", membership: "leave" },
      ],
      standings: [st("@a:x"), st("@b:x"), st("@carol:x", { isMember: false, approved: true })],
      removalReasons: new Map(),
    });
    expect(actions).toEqual([
      { kind: "invite", userId: "@b:x", reason: "member of the group" },
      { kind: "invite", userId: "@carol:x", reason: "approved: send !join to accept" },
    ]);
  });

  it("kicks removed members with the removal's reason, and anyone unlinked, never the bot", () => {
    const removed = st("@mallory:x", { isMember: false, active: false, expiresAt: 0 });
    const actions = diffRoom({
      botUserId: BOT,
      room: [
        { userId: BOT, membership: "join" },
        { userId: "@mallory:x", membership: "join" },
        { userId: "@eve:x", membership: "invite" },
        { userId: "@gone:x", membership: "leave" },
        { userId: "@banned:x", membership: "ban" },
      ],
      standings: [removed],
      removalReasons: new Map([[removed.address.toLowerCase(), "removed by proposal #3"]]),
    });
    // Joined: removed and banned; invited: the invite is withdrawn.
    expect(actions).toEqual([
      { kind: "ban", userId: "@mallory:x", reason: "removed by proposal #3" },
      { kind: "kick", userId: "@eve:x", reason: "not a member of the group (no linked address)" },
    ]);
  });

  it("keeps adoptees in their grace, and removes them with the end of the grace as the reason once it is over", () => {
    const room = [
      { userId: "@dave:x", membership: "join" as const },
      { userId: "@erin:x", membership: "invite" as const },
      { userId: "@knocker:x", membership: "knock" as const },
      { userId: "@late:x", membership: "join" as const },
    ];
    const base = { botUserId: BOT, room, standings: [], removalReasons: new Map() };
    // In grace: only those who were there when enforcement began keep their place; a knock is no place.
    expect(diffRoom({ ...base, adopting: new Set(["@dave:x", "@erin:x", "@knocker:x"]) })).toEqual([
      { kind: "kick", userId: "@knocker:x", reason: "not a member of the group (no linked address)" },
      { kind: "ban", userId: "@late:x", reason: "not a member of the group (no linked address)" },
    ]);
    const ended = "not a member of the group: the adoption grace period ended 2026-12-08 00:00 UTC";
    const after = diffRoom({
      ...base,
      userReasons: new Map([
        ["@dave:x", ended],
        ["@erin:x", ended],
      ]),
    });
    expect(after.filter((a) => a.userId === "@dave:x" || a.userId === "@erin:x")).toEqual([
      { kind: "ban", userId: "@dave:x", reason: ended },
      { kind: "kick", userId: "@erin:x", reason: ended },
    ]);
  });

  it("an adoptee who became a member and was then removed or lapsed has no grace left", () => {
    const removed = st("@dave:x", { isMember: false, active: false, expiresAt: 0 });
    const lapsed = st("@erin:x", { address: `0x${"e".repeat(40)}`, isMember: false, active: false, expiresAt: 500 });
    const linked = st("@frank:x", { address: `0x${"f".repeat(40)}`, isMember: false, active: false, expiresAt: 0 });
    const actions = diffRoom({
      botUserId: BOT,
      room: ["@dave:x", "@erin:x", "@frank:x"].map((userId) => ({ userId, membership: "join" as const })),
      standings: [removed, lapsed, linked],
      removalReasons: new Map([[removed.address.toLowerCase(), "removed by proposal #2"]]),
      adopting: new Set(["@dave:x", "@erin:x", "@frank:x"]),
    });
    // frank linked but was never a member: still in his grace.
    expect(actions).toEqual([
      { kind: "ban", userId: "@dave:x", reason: "removed by proposal #2" },
      { kind: "ban", userId: "@erin:x", reason: "not a member of the group" },
    ]);
  });

  it("lifts its own ban when a later decision admits the account, then invites; never someone else's ban", () => {
    const room = [
      { userId: "@back:x", membership: "ban" as const },
      { userId: "@banned-by-admin:x", membership: "ban" as const },
      { userId: "@still-out:x", membership: "ban" as const },
    ];
    const standings = [st("@back:x"), st("@banned-by-admin:x", { isMember: false, approved: true }), st("@still-out:x", { isMember: false, expiresAt: 0 })];
    expect(diffRoom({ botUserId: BOT, room, standings, removalReasons: new Map(), botBans: new Set(["@back:x", "@still-out:x"]) })).toEqual([
      { kind: "unban", userId: "@back:x", reason: "member of the group" },
      { kind: "invite", userId: "@back:x", reason: "member of the group" },
    ]);
  });

  it("keeps a lapsed member during its grace period, and lists it once the grace is over", () => {
    const lapsed = st("@l:x", { active: false, expiresAt: 1000 });
    expect(diffRoom({ botUserId: BOT, room: [{ userId: "@l:x", membership: "join" }], standings: [lapsed], removalReasons: new Map() })).toEqual([]);
    expect(lapsedPastGrace([lapsed], 500, 1499)).toEqual([]);
    expect(lapsedPastGrace([lapsed], 500, 1500)).toEqual([lapsed]);
    expect(lapsedPastGrace([{ ...lapsed, expiresAt: 0xffffffff }], 0, 2 ** 40)).toEqual([]);
  });
});

describe("power levels follow the mode", () => {
  it("makes admins moderators in admin mode, and takes it back from those the bot promoted", () => {
    expect(powerChanges({ adminMode: true, adminUsers: ["@a:x"], current: { "@owner:x": 100 }, promotedByBot: [] })).toEqual({
      set: { "@a:x": 50 },
      promoted: ["@a:x"],
    });
    // a is no longer admin; b becomes one; the owner's 100 is never touched.
    expect(powerChanges({ adminMode: true, adminUsers: ["@b:x"], current: { "@a:x": 50, "@owner:x": 100 }, promotedByBot: ["@a:x"] })).toEqual({
      set: { "@b:x": 50, "@a:x": 0 },
      promoted: ["@b:x"],
    });
    // Leaving admin mode demotes everyone the bot promoted, and nobody else.
    expect(powerChanges({ adminMode: false, adminUsers: ["@b:x"], current: { "@b:x": 50, "@c:x": 50 }, promotedByBot: ["@b:x"] })).toEqual({
      set: { "@b:x": 0 },
      promoted: [],
    });
  });
});

const POWERS: RoomPowers = { mine: 100, kick: 50, ban: 50, invite: 0, users: {}, usersDefault: 0, events: {}, stateDefault: 50, creators: [] };

describe("the room stays closed", () => {
  const closed: RoomRules = { joinRule: { value: "invite" }, historyVisibility: { value: "joined" }, encryption: { value: MEGOLM }, canEncrypt: true };
  const guarded = Object.fromEntries(GUARDED_EVENTS.map((t) => [t, 100]));

  it("asks nothing of a closed room, and takes a higher level as it is", () => {
    expect(closedRoomFixes(closed, { ...POWERS, events: { ...guarded, "m.room.tombstone": 150 } })).toEqual([]);
    expect(closedRoomFixes({ ...closed, historyVisibility: { value: "invited" } }, { ...POWERS, events: guarded })).toEqual([]);
  });

  it("sets back loosened join rules, history and encryption, saying who loosened them", () => {
    const fixes = closedRoomFixes(
      {
        joinRule: { value: "public", by: "@mod:x" },
        historyVisibility: { value: "world_readable", by: "@mod:x" },
        encryption: { value: "none", by: "@mod:x" },
        canEncrypt: true,
      },
      { ...POWERS, events: guarded },
    );
    expect(fixes).toEqual([
      { kind: "joinRule", from: "public", to: "invite", by: "@mod:x" },
      { kind: "historyVisibility", from: "world_readable", to: "joined", by: "@mod:x" },
      { kind: "encryption", from: "none", to: MEGOLM, by: "@mod:x" },
    ]);
    expect(fixes.map(describeFix)).toEqual([
      "the join rules: public → invite-only (set by @mod:x)",
      "who can read the history: anyone → members, from when they joined (set by @mod:x)",
      'the encryption: "none" (not encryption) → end-to-end encrypted (Megolm) (set by @mod:x)',
    ]);
  });

  it("raises to 100 the power needed for what could open the room, and only that", () => {
    const fixes = closedRoomFixes(closed, { ...POWERS, stateDefault: 50, events: { "m.room.power_levels": 100, "m.room.name": 50, "m.room.tombstone": 150 } });
    expect(fixes).toEqual([
      { kind: "levels", set: { "m.room.join_rules": 100, "m.room.history_visibility": 100, "m.room.encryption": 100, "m.room.server_acl": 100 } },
    ]);
    expect(describeFix(fixes[0]!)).toBe("only room admins (power 100) may change join rules, history visibility, encryption, server acl");
  });

  it("does not ask for encryption of an unencrypted room when the bot cannot encrypt", () => {
    const { encryption: _, ...clear } = closed;
    expect(closedRoomFixes({ ...clear, canEncrypt: false }, { ...POWERS, events: guarded })).toEqual([]);
    expect(closedRoomFixes({ ...clear, canEncrypt: true }, { ...POWERS, events: guarded })).toEqual([
      { kind: "encryption", from: undefined, to: MEGOLM, by: undefined },
    ]);
  });
});

describe("who holds the room's highest power", () => {
  it("is level 100 or more, or a creator of a version 12 room (unlimited, unlisted)", () => {
    const p: RoomPowers = { ...POWERS, users: { "@admin:x": 100, "@mod:x": 50, "@lord:x": 9000 }, creators: ["@founder:x"] };
    expect(["@admin:x", "@mod:x", "@lord:x", "@founder:x", "@nobody:x"].map((u) => [u, isRoomAdmin(p, u), powerOf(p, u)])).toEqual([
      ["@admin:x", true, 100],
      ["@mod:x", false, 50],
      ["@lord:x", true, 9000],
      ["@founder:x", true, Infinity],
      ["@nobody:x", false, 0],
    ]);
    // users_default counts for anyone not listed.
    expect(isRoomAdmin({ ...p, usersDefault: 100 }, "@nobody:x")).toBe(true);
  });
});

describe("an adoption's stages", () => {
  it("tells, then reminds before the end, then is over", () => {
    expect(adoptionStage(1000, 100, 0)).toBe("grace");
    expect(adoptionStage(1000, 100, 899)).toBe("grace");
    expect(adoptionStage(1000, 100, 900)).toBe("reminder");
    expect(adoptionStage(1000, 100, 999)).toBe("reminder");
    expect(adoptionStage(1000, 100, 1000)).toBe("ended");
    expect(adoptionStage(1000, 0, 999)).toBe("grace");
  });
});
