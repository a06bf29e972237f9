/**
 * Which events of a room's timeline go into the command journal. Pure: the
 * adapter gives it events as the homeserver sent them (a sync response's
 * timeline, or pages of `/messages`).
 */

/** A client-server API event, as received: only what is read here is typed. */
export interface RawEvent {
  event_id?: unknown;
  type?: unknown;
  sender?: unknown;
  state_key?: unknown;
  content?: { membership?: unknown } & Record<string, unknown>;
  unsigned?: { prev_content?: { membership?: unknown } } & Record<string, unknown>;
  prev_content?: { membership?: unknown };
  origin_server_ts?: unknown;
}

/** The event types a command can arrive as. */
export const MESSAGE_TYPES = ["m.room.message", "m.room.encrypted", "org.matrix.msc3381.poll.response", "m.poll.response"] as const;

/** What `/messages` is asked for: messages, and members (to see the bot's own join). */
export const JOURNAL_FILTER = { types: [...MESSAGE_TYPES, "m.room.member"], lazy_load_members: true };

function ownJoin(e: RawEvent, me: string): boolean {
  if (e.type !== "m.room.member" || e.state_key !== me || e.content?.membership !== "join") return false;
  // A profile change is a join after a join; only a real join starts anew.
  const before = e.unsigned?.prev_content?.membership ?? e.prev_content?.membership;
  return before !== "join";
}

/**
 * The message events of `events` (oldest first) that may be commands to
 * `me`: sent by someone else, after the bot's own latest join (what came
 * before is history it was not there for), each with an event id.
 */
export function journalEvents(events: readonly RawEvent[], me: string): (RawEvent & { event_id: string; sender: string })[] {
  let start = 0;
  events.forEach((e, i) => {
    if (ownJoin(e, me)) start = i + 1;
  });
  return events
    .slice(start)
    .filter(
      (e): e is RawEvent & { event_id: string; sender: string } =>
        typeof e.event_id === "string" &&
        typeof e.sender === "string" &&
        e.sender !== me &&
        e.state_key === undefined &&
        (MESSAGE_TYPES as readonly unknown[]).includes(e.type),
    );
}

/** Someone who was joined, out of the room (as `Departure` in the store, without the room). */
export interface TimelineDeparture {
  userId: string;
  eventId: string;
  at: number;
  kind: "left" | "kicked" | "banned";
}

/**
 * The member events of `events` that take a joined member out of the room
 * (leave or ban), for the rotation audit: whoever was joined may hold the
 * room keys in use until then. The bot's own are not departures.
 */
export function departuresIn(events: readonly RawEvent[], me: string): TimelineDeparture[] {
  const out: TimelineDeparture[] = [];
  for (const e of events) {
    if (e.type !== "m.room.member" || typeof e.state_key !== "string" || e.state_key === me) continue;
    if (typeof e.event_id !== "string" || typeof e.origin_server_ts !== "number") continue;
    const now = e.content?.membership;
    const before = e.unsigned?.prev_content?.membership ?? e.prev_content?.membership;
    if (before !== "join" || (now !== "leave" && now !== "ban")) continue;
    const kind = now === "ban" ? "banned" : e.sender === e.state_key ? "left" : "kicked";
    out.push({ userId: e.state_key, eventId: e.event_id, at: e.origin_server_ts, kind });
  }
  return out;
}
