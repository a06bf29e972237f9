import { describe, expect, it } from "vitest";
import { diffRoom, lapsedPastGrace, type Standing } from "../../src/bridge/desired.ts";

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
