import { describe, expect, it } from "vitest";
import { diffRoom, lapsedPastGrace, powerChanges, type Standing } from "../../src/bridge/desired.ts";

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
      room: [{ userId: BOT, membership: "join" }, { userId: "@a:x", membership: "join" }, { userId: "@b:x", membership: "leave" }],
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
    expect(actions).toEqual([
      { kind: "kick", userId: "@mallory:x", reason: "removed by proposal #3" },
      { kind: "kick", userId: "@eve:x", reason: "not a member of the group (no linked address)" },
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
