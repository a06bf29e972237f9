/**
 * The room the chain wants, and the difference from the room Synapse reports.
 * Pure: no SDK, no I/O.
 */

import type { Membership } from "../ports/rooms.ts";

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

export interface RoomAction {
  kind: "invite" | "kick";
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
}

/** Who may be in the room: members (active or in their grace period) and approved accounts. */
export function allowed(s: Standing): boolean {
  return s.isMember || s.approved;
}

/**
 * The actions that make the room match the chain: invite members and
 * approved accounts that are not in the room; kick joined or invited
 * accounts that are neither. The bot itself is never touched.
 */
export function diffRoom(input: DesiredInput): RoomAction[] {
  const byUser = new Map(input.standings.map((s) => [s.userId, s]));
  const current = new Map(input.room.map((m) => [m.userId, m.membership]));
  const actions: RoomAction[] = [];
  for (const s of input.standings) {
    const m = current.get(s.userId);
    if (allowed(s) && (m === undefined || m === "leave")) {
      actions.push({ kind: "invite", userId: s.userId, reason: s.isMember ? "member of the group" : "approved: send !join to accept" });
    }
  }
  for (const { userId, membership } of input.room) {
    if (userId === input.botUserId || (membership !== "join" && membership !== "invite" && membership !== "knock")) continue;
    const s = byUser.get(userId);
    if (s && allowed(s)) continue;
    const reason = s
      ? (input.removalReasons.get(s.address.toLowerCase()) ?? "not a member of the group")
      : "not a member of the group (no linked address)";
    actions.push({ kind: "kick", userId, reason });
  }
  return actions;
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
export function powerChanges(input: {
  adminMode: boolean;
  adminUsers: string[];
  current: Record<string, number>;
  promotedByBot: string[];
}): { set: Record<string, number>; promoted: string[] } {
  const set: Record<string, number> = {};
  const want = new Set(input.adminMode ? input.adminUsers : []);
  for (const u of want) if ((input.current[u] ?? 0) < ADMIN_POWER) set[u] = ADMIN_POWER;
  for (const u of input.promotedByBot) if (!want.has(u) && (input.current[u] ?? 0) === ADMIN_POWER) set[u] = 0;
  const promoted = [...new Set([...input.promotedByBot.filter((u) => want.has(u)), ...Object.keys(set).filter((u) => set[u] === ADMIN_POWER)])];
  return { set, promoted };
}
