import { describe, expect, it } from "vitest";
import { creatorsFrom, indexState, membersFrom, powersFrom, rulesFrom, type RawStateEvent } from "../../src/matrix/room-state.ts";

const BOT = "@bot:x";

/** A room's whole state as `GET /rooms/{id}/state` lists it (room version 12, upgraded from another room). */
const STATE: RawStateEvent[] = [
  {
    type: "m.room.create",
    state_key: "",
    sender: "@alice:x",
    content: { room_version: "12", additional_creators: ["@carol:x", 7], predecessor: { room_id: "!old:x" } },
  },
  { type: "m.room.join_rules", state_key: "", sender: "@alice:x", content: { join_rule: "invite" } },
  { type: "m.room.history_visibility", state_key: "", sender: BOT, content: { history_visibility: "joined" } },
  { type: "m.room.encryption", state_key: "", sender: "@alice:x", content: { algorithm: "m.megolm.v1.aes-sha2" } },
  {
    type: "m.room.power_levels",
    state_key: "",
    sender: "@alice:x",
    content: { users: { [BOT]: 100, "@dave:x": "50" }, kick: 60, events: { "m.room.tombstone": 150, "m.x": "1" } },
  },
  // Not state key "": not a rule.
  { type: "m.room.join_rules", state_key: "other", sender: "@eve:x", content: { join_rule: "public" } },
  { type: "m.room.member", state_key: BOT, sender: BOT, content: { membership: "join", displayname: "Bot" } },
  { type: "m.room.member", state_key: "@dave:x", sender: "@dave:x", content: { membership: "leave" } },
  { type: "m.room.member", state_key: "@erin:x", sender: BOT, content: { membership: "ban", reason: "not a member" } },
  { type: "m.room.member", state_key: "@frank:x", sender: "@frank:x", content: {} },
  { type: "m.room.name", state_key: "", sender: "@alice:x", content: { name: "Room" } },
];

describe("a room's state read at once", () => {
  const s = indexState(STATE);

  it("gives the rules each state event gives when read alone", () => {
    const one = (type: string) => s.one(type);
    expect(
      rulesFrom(
        {
          join: one("m.room.join_rules"),
          history: one("m.room.history_visibility"),
          encryption: one("m.room.encryption"),
          tombstone: one("m.room.tombstone"),
          create: one("m.room.create"),
        },
        true,
      ),
    ).toEqual({
      canEncrypt: true,
      joinRule: { value: "invite", by: "@alice:x" },
      historyVisibility: { value: "joined", by: BOT },
      encryption: { value: "m.megolm.v1.aes-sha2", by: "@alice:x" },
      predecessor: "!old:x",
    });
  });

  it("gives the power levels, the version 12 creators with unlimited power", () => {
    const creators = creatorsFrom(s.one("m.room.create")!, s.one("m.room.create")!.sender);
    expect(creators).toEqual(["@alice:x", "@carol:x"]);
    const p = powersFrom(s.one("m.room.power_levels")!.content, creators, BOT);
    expect(p).toEqual({
      mine: 100,
      kick: 60,
      ban: 50,
      invite: 0,
      users: { [BOT]: 100 },
      usersDefault: 0,
      events: { "m.room.tombstone": 150 },
      stateDefault: 50,
      creators: ["@alice:x", "@carol:x"],
    });
    expect(powersFrom(undefined, creators, "@alice:x").mine).toBe(Infinity);
    // Before version 12 nobody is a creator in that sense.
    expect(creatorsFrom({ content: { room_version: "11" } }, "@alice:x")).toEqual([]);
  });

  it("gives everyone with a membership, as /members does", () => {
    expect(membersFrom(s.members)).toEqual([
      { userId: BOT, membership: "join" },
      { userId: "@dave:x", membership: "leave" },
      { userId: "@erin:x", membership: "ban" },
      { userId: "@frank:x", membership: "leave" },
    ]);
  });

  it("reads a tombstone, and a state without rules as no rules", () => {
    const t = indexState([{ type: "m.room.tombstone", state_key: "", sender: "@alice:x", content: { replacement_room: "!new:x" } }]);
    expect(rulesFrom({ join: undefined, history: undefined, encryption: undefined, tombstone: t.one("m.room.tombstone"), create: undefined }, false)).toEqual({
      canEncrypt: false,
      tombstone: { replacement: "!new:x", by: "@alice:x" },
    });
  });
});
