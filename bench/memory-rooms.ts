// The room side of a reconcile benchmark, answered from memory: a closed,
// encrypted room where the bot has power 100, with the members given. Like
// the Matrix adapter, it answers a room's rules, power levels and members
// in one read (`snapshot`, one request of the room's state).
import type { Membership, RoomEnforcer, RoomPowers, RoomRules } from "../src/ports/rooms.ts";

/** Rooms whose members are `members`; every invite, kick, ban or unban calls `acted`. */
export function memoryRooms(members: Map<string, { userId: string; membership: Membership }[]>, acted: () => void): RoomEnforcer {
  const powers = (): RoomPowers => ({ mine: 100, kick: 50, ban: 50, invite: 0, users: {}, usersDefault: 0, events: {}, stateDefault: 100, creators: [] });
  const rules = (): RoomRules => ({
    joinRule: { value: "invite" },
    historyVisibility: { value: "joined" },
    encryption: { value: "m.megolm.v1.aes-sha2" },
    canEncrypt: true,
  });
  return {
    roomMembers: async (roomId) => members.get(roomId) ?? [],
    snapshot: async (roomId) => ({ rules: rules(), powers: powers(), members: members.get(roomId) ?? [] }),
    invite: async () => acted(),
    kick: async () => acted(),
    ban: async () => acted(),
    unban: async () => acted(),
    powers: async () => powers(),
    rules: async () => rules(),
    setRule: async () => {},
    setEventLevels: async () => {},
    join: async () => {},
    leave: async () => {},
    mention: async () => {},
    setPowers: async () => {},
    rotateKey: async () => {},
    notice: async () => {},
  };
}
