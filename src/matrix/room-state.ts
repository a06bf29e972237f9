/**
 * A room's rules, power levels and members read from its state events, as
 * the homeserver gives them: one event at a time (`/state/{type}/`) or the
 * whole state at once (`/state`). Pure: no SDK, no I/O.
 */
import type { Membership, RoomPowers, RoomRules } from "../ports/rooms.ts";

/** A state event: its content, and its sender when the server gave the whole event. */
export interface StateEntry {
  content: Record<string, unknown>;
  sender?: string;
}

/** The state events the rules are read from (state key ""), each undefined when the room has none. */
export interface RuleEvents {
  join: StateEntry | undefined;
  history: StateEntry | undefined;
  encryption: StateEntry | undefined;
  tombstone: StateEntry | undefined;
  create: StateEntry | undefined;
}

const str = (v: unknown) => (typeof v === "string" ? v : undefined);

/** The rules the bot keeps closed, and who set each; `canEncrypt`: whether the bot takes part in encryption. */
export function rulesFrom(e: RuleEvents, canEncrypt: boolean): RoomRules {
  const rule = (ev: StateEntry | undefined, key: string) => {
    const value = str(ev?.content[key]);
    return value === undefined ? undefined : { value, ...(ev?.sender ? { by: ev.sender } : {}) };
  };
  const out: RoomRules = { canEncrypt };
  const j = rule(e.join, "join_rule");
  if (j) out.joinRule = j;
  const h = rule(e.history, "history_visibility");
  if (h) out.historyVisibility = h;
  // Any m.room.encryption counts as encrypted for clients; its algorithm says whether it is Megolm.
  if (e.encryption) out.encryption = { value: str(e.encryption.content["algorithm"]) ?? "", ...(e.encryption.sender ? { by: e.encryption.sender } : {}) };
  const replacement = str(e.tombstone?.content["replacement_room"]);
  if (replacement) out.tombstone = { replacement, ...(e.tombstone?.sender ? { by: e.tombstone.sender } : {}) };
  const predecessor = str((e.create?.content["predecessor"] as { room_id?: unknown } | undefined)?.room_id);
  if (predecessor) out.predecessor = predecessor;
  return out;
}

/** Room versions where the creators have unlimited power (MSC4289). */
function creatorsArePowerful(version: string): boolean {
  return version === "org.matrix.hydra.11" || (/^\d+$/.test(version) && Number(version) >= 12);
}

/** A version 12 room's creators (unlimited power) from its `m.room.create` and that event's sender; none in older versions. */
export function creatorsFrom(create: StateEntry, sender: string | undefined): string[] {
  const version = typeof create.content["room_version"] === "string" ? create.content["room_version"] : "1";
  const extra = Array.isArray(create.content["additional_creators"])
    ? create.content["additional_creators"].filter((u): u is string => typeof u === "string")
    : [];
  return creatorsArePowerful(version) && sender ? [sender, ...extra] : [];
}

/** The power levels of `m.room.power_levels` (content; none: the spec's defaults), for the bot `me`. */
export function powersFrom(content: Record<string, unknown> | undefined, creators: string[], me: string): RoomPowers {
  const pl = (content ?? {}) as {
    users?: Record<string, number>;
    users_default?: number;
    events?: Record<string, number>;
    state_default?: number;
    kick?: number;
    ban?: number;
    invite?: number;
  };
  const num = (v: unknown, d: number) => (typeof v === "number" && Number.isFinite(v) ? v : d);
  const users: Record<string, number> = {};
  for (const [u, l] of Object.entries(pl.users ?? {})) if (typeof l === "number") users[u] = l;
  const p: RoomPowers = {
    mine: 0,
    // The spec's defaults when the event leaves a level out.
    kick: num(pl.kick, 50),
    ban: num(pl.ban, 50),
    invite: num(pl.invite, 0),
    users,
    usersDefault: num(pl.users_default, 0),
    events: Object.fromEntries(Object.entries(pl.events ?? {}).filter(([, l]) => typeof l === "number")),
    stateDefault: num(pl.state_default, 50),
    creators,
  };
  p.mine = creators.includes(me) ? Infinity : (users[me] ?? p.usersDefault);
  return p;
}

/** A state event as `/members` and `/state` list them. */
export interface RawStateEvent {
  type?: unknown;
  state_key?: unknown;
  sender?: unknown;
  content?: unknown;
}

/** Everyone with a membership, from `m.room.member` events (a membership left out reads as "leave"). */
export function membersFrom(events: readonly RawStateEvent[]): { userId: string; membership: Membership }[] {
  return events
    .filter((e): e is RawStateEvent & { state_key: string } => typeof e.state_key === "string")
    .map((e) => ({ userId: e.state_key, membership: ((e.content as { membership?: string } | undefined)?.membership ?? "leave") as Membership }));
}

/** The room's whole state (`/state`): the event of each type with state key "", and the member events. */
export function indexState(events: readonly RawStateEvent[]): { one(type: string): StateEntry | undefined; members: RawStateEvent[] } {
  const byType = new Map<string, StateEntry>();
  const members: RawStateEvent[] = [];
  for (const e of events) {
    if (typeof e.type !== "string" || typeof e.state_key !== "string") continue;
    if (e.type === "m.room.member") members.push(e);
    else if (e.state_key === "" && typeof e.content === "object" && e.content !== null) {
      byType.set(e.type, { content: e.content as Record<string, unknown>, ...(typeof e.sender === "string" ? { sender: e.sender } : {}) });
    }
  }
  return { one: (type) => byType.get(type), members };
}
