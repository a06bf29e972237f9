/**
 * The room the chain wants, and the difference from the room Synapse reports.
 * Pure: no SDK, no I/O.
 */

import { ROOM_ADMIN_POWER, stateLevel, type Membership, type RoomPowers, type RoomRules } from "../ports/rooms.ts";

/** A Matrix account's standing in the group, through its linked address. */
export interface Standing {
  userId: string;
  address: string;
  isMember: boolean;
  active: boolean;
  approved: boolean;
  /** paid-through time, unix seconds (0 = never a member / removed) */
  expiresAt: number;
}

/**
 * invite; kick (an invite withdrawn, a knock refused); ban (someone joined
 * removed: kept out until a later decision admits them); unban (that
 * decision: the bot lifts its own ban, then invites).
 */
export interface RoomAction {
  kind: "invite" | "kick" | "ban" | "unban";
  userId: string;
  reason: string;
}

export interface DesiredInput {
  botUserId: string;
  /** the room's members as the homeserver reports them */
  room: { userId: string; membership: Membership }[];
  /** every Matrix account linked in this room, with its standing */
  standings: Standing[];
  /** why an address stopped being a member, when known (e.g. "removed by proposal #3") */
  removalReasons: Map<string, string>;
  /** people who keep their place though not members: their adoption grace has not ended */
  adopting?: ReadonlySet<string>;
  /** why a user is removed, when the bridge knows better (the end of their adoption grace) */
  userReasons?: ReadonlyMap<string, string>;
  /** users the bot banned itself: the only bans it lifts */
  botBans?: ReadonlySet<string>;
}

/** Whether the account was a member once (removed since, with a reason recorded, or paid through a time now past). */
export function wasMember(s: Standing, removalReasons: ReadonlyMap<string, string>): boolean {
  return removalReasons.has(s.address.toLowerCase()) || s.expiresAt > 0;
}

/** Who may be in the room: members (active or in their grace period) and approved accounts. */
export function allowed(s: Standing): boolean {
  return s.isMember || s.approved;
}

/**
 * The actions that make the room match the chain: invite members and
 * approved accounts that are not in the room (lifting the bot's own ban
 * first); ban joined accounts that are neither, and withdraw their invites
 * and knocks; leave adoptees in their grace alone. The bot itself is never
 * touched.
 */
export function diffRoom(input: DesiredInput): RoomAction[] {
  const byUser = new Map(input.standings.map((s) => [s.userId, s]));
  const current = new Map(input.room.map((m) => [m.userId, m.membership]));
  const actions: RoomAction[] = [];
  for (const s of input.standings) {
    const m = current.get(s.userId);
    const why = s.isMember ? "member of the group" : "approved: send !join to accept";
    if (allowed(s) && m === "ban" && input.botBans?.has(s.userId)) actions.push({ kind: "unban", userId: s.userId, reason: why });
    if (allowed(s) && (m === undefined || m === "leave" || (m === "ban" && input.botBans?.has(s.userId))))
      actions.push({ kind: "invite", userId: s.userId, reason: why });
  }
  for (const { userId, membership } of input.room) {
    if (userId === input.botUserId || (membership !== "join" && membership !== "invite" && membership !== "knock")) continue;
    const s = byUser.get(userId);
    if (s && allowed(s)) continue;
    // The adoption grace is for people who were never members: one removed
    // by a proposal or lapsed since (a reason recorded, or paid-through time
    // past) leaves like anyone else.
    if (membership !== "knock" && !(s && wasMember(s, input.removalReasons)) && input.adopting?.has(userId)) continue;
    const reason =
      input.userReasons?.get(userId) ??
      (s ? (input.removalReasons.get(s.address.toLowerCase()) ?? "not a member of the group") : "not a member of the group (no linked address)");
    actions.push({ kind: membership === "join" ? "ban" : "kick", userId, reason });
  }
  return actions;
}

/** The state events only room admins (power 100) may send in a group's room. */
export const GUARDED_EVENTS = [
  "m.room.join_rules",
  "m.room.history_visibility",
  "m.room.encryption",
  "m.room.power_levels",
  "m.room.server_acl",
  "m.room.tombstone",
] as const;

export const MEGOLM = "m.megolm.v1.aes-sha2";

/** A rule of the room set back to what keeps it closed. */
export type RuleFix =
  | { kind: "joinRule" | "historyVisibility" | "encryption"; from: string | undefined; to: string; by: string | undefined }
  | { kind: "levels"; set: Record<string, number> };

/**
 * What keeps a group's room closed: invite-only; history visible to members
 * from when they joined (or were invited) only; encrypted when the bot can
 * take part in encryption; and the events that could loosen any of that,
 * change power levels, server ACLs or upgrade the room need power 100 (a
 * higher level is left as it is).
 */
export function closedRoomFixes(rules: RoomRules, powers: RoomPowers): RuleFix[] {
  const fixes: RuleFix[] = [];
  if (rules.joinRule?.value !== "invite") fixes.push({ kind: "joinRule", from: rules.joinRule?.value, to: "invite", by: rules.joinRule?.by });
  const h = rules.historyVisibility?.value;
  if (h !== "joined" && h !== "invited") fixes.push({ kind: "historyVisibility", from: h, to: "joined", by: rules.historyVisibility?.by });
  // Encryption cannot be turned off in Matrix, only replaced by something that is not Megolm.
  if ((rules.canEncrypt || rules.encryption !== undefined) && rules.encryption?.value !== MEGOLM) {
    fixes.push({ kind: "encryption", from: rules.encryption?.value, to: MEGOLM, by: rules.encryption?.by });
  }
  const set: Record<string, number> = {};
  for (const type of GUARDED_EVENTS) if (stateLevel(powers, type) < ROOM_ADMIN_POWER) set[type] = ROOM_ADMIN_POWER;
  if (Object.keys(set).length > 0) fixes.push({ kind: "levels", set });
  return fixes;
}

const RULE_WORDS = {
  joinRule: { what: "the join rules", value: (v: string | undefined) => (v === "invite" ? "invite-only" : (v ?? "unset")) },
  historyVisibility: {
    what: "who can read the history",
    value: (v: string | undefined) =>
      v === "joined"
        ? "members, from when they joined"
        : v === "invited"
          ? "members, from when they were invited"
          : v === "shared"
            ? "members, all of it"
            : v === "world_readable"
              ? "anyone"
              : (v ?? "unset"),
  },
  encryption: {
    what: "the encryption",
    value: (v: string | undefined) => (v === MEGOLM ? "end-to-end encrypted (Megolm)" : v === undefined ? "not encrypted" : `"${v}" (not encryption)`),
  },
} as const;

/** A fix in words: what it was, what it is now, and who had changed it when known. */
export function describeFix(f: RuleFix): string {
  if (f.kind === "levels") {
    return `only room admins (power ${ROOM_ADMIN_POWER}) may change ${Object.keys(f.set)
      .map((t) => t.replace(/^m\.room\./, "").replace(/_/g, " "))
      .join(", ")}`;
  }
  const w = RULE_WORDS[f.kind];
  return `${w.what}: ${w.value(f.from)} → ${w.value(f.to)}${f.by ? ` (set by ${f.by})` : ""}`;
}

/** Where an adoption stands at `now` (ms): told how to join, then reminded, then over. */
export function adoptionStage(adoptUntil: number, reminderMs: number, now: number): "grace" | "reminder" | "ended" {
  if (now >= adoptUntil) return "ended";
  if (reminderMs > 0 && now >= adoptUntil - reminderMs) return "reminder";
  return "grace";
}

/** Members whose grace period is over: anyone may remove them, the bot does. */
export function lapsedPastGrace(standings: { address: string; isMember: boolean; expiresAt: number }[], graceSeconds: number, now: number) {
  return standings.filter((s) => s.isMember && s.expiresAt !== 0xffffffff && s.expiresAt + graceSeconds <= now);
}

/** The power level admins get in admin mode (moderator). */
export const ADMIN_POWER = 50;

/**
 * Power level changes so that, in admin mode, the group's admins are room
 * moderators, and accounts the bot promoted before lose it when they stop
 * being admins. Users the bot did not promote are left alone.
 */
export function powerChanges(input: { adminMode: boolean; adminUsers: string[]; current: Record<string, number>; promotedByBot: string[] }): {
  set: Record<string, number>;
  promoted: string[];
} {
  const set: Record<string, number> = {};
  const want = new Set(input.adminMode ? input.adminUsers : []);
  for (const u of want) if ((input.current[u] ?? 0) < ADMIN_POWER) set[u] = ADMIN_POWER;
  for (const u of input.promotedByBot) if (!want.has(u) && (input.current[u] ?? 0) === ADMIN_POWER) set[u] = 0;
  const promoted = [...new Set([...input.promotedByBot.filter((u) => want.has(u)), ...Object.keys(set).filter((u) => set[u] === ADMIN_POWER)])];
  return { set, promoted };
}
