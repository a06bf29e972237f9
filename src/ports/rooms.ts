/**
 * What the bot and the bridge need of Matrix rooms. The Matrix adapter
 * (`src/matrix/`) implements these; everything else depends on them only.
 * Pure types: no SDK here.
 */

/** A room member's state, as the homeserver reports it. */
export type Membership = "join" | "invite" | "leave" | "ban" | "knock";

/** A message event addressed to the bot, as the command handlers see it. */
export interface IncomingMessage {
  roomId: string;
  eventId: string;
  sender: string;
  ts: number;
  body: string;
  formattedBody?: string;
  mentions?: string[];
  /** the root of the thread the message was sent in (`m.relates_to` of `rel_type` `m.thread`) */
  thread?: string;
  /** when the bot received it (its own clock, ms): answers are timed from here */
  receivedAt?: number;
}

/** A message the bot sends: plain text and, when useful, HTML. */
export interface Reply {
  text: string;
  html?: string;
  /** the root of the thread it belongs in (a poll's answers and a command sent in a thread are answered in it) */
  thread?: string;
  /**
   * Whom it notifies (`m.mentions.user_ids`): always sent, empty when
   * nobody, so that no text in it (a quoted `@room`) pings anyone.
   */
  mentions?: string[];
  /**
   * It must notify the people it mentions besides the one it answers: sent
   * as `m.text`, since Element's default push rules never notify an
   * `m.notice` (`.m.rule.suppress_notices` comes before the mention rule).
   */
  notify?: boolean;
}

/** What the homeserver says of an account: it exists, it does not, or it does not say (profiles kept private). */
export type AccountCheck = "exists" | "missing" | "unknown";

/** A received event opened for reading: decrypted when it came encrypted. */
export interface OpenedEvent {
  eventId: string;
  roomId: string;
  sender: string;
  /** the type of the cleartext event (`m.room.message` once decrypted) */
  type: string;
  content: Record<string, unknown>;
  /** whether it came encrypted */
  encrypted: boolean;
  /** the event's time as its homeserver set it (ms); for the rotation audit only, never for commands */
  ts?: number;
  /** the Megolm session it was encrypted with, and the sending device (its id, or its Curve25519 key) */
  session?: { id: string; device: string };
  /** whether its owner cross-signed the device that sent it (encrypted events only) */
  senderDevice?: "cross-signed" | "not cross-signed" | "unknown";
  /**
   * An encrypted event's `m.relates_to` in its cleartext envelope, where the
   * spec puts it and where clients read it (an edit, a thread) whatever the
   * ciphertext says.
   */
  outerRelation?: unknown;
}

/** Reads the events of the command journal (the Matrix adapter implements it). */
export interface EventReader {
  /**
   * The recorded event (JSON, as received) opened: decrypted when it came
   * encrypted; "waiting" while its room key has not arrived; "unreadable"
   * when it never will be.
   */
  open(raw: string): Promise<OpenedEvent | "waiting" | "unreadable">;
  /** Whether the room is end-to-end encrypted. */
  isEncrypted(roomId: string): Promise<boolean>;
}

/** The power level of a room admin: who may bind a room, switch it between watch and enforce. */
export const ROOM_ADMIN_POWER = 100;

/**
 * A room's power levels as the homeserver has them. In room version 12
 * (MSC4289) the creators (the sender of `m.room.create` and its
 * `additional_creators`) have unlimited power and are not listed; in older
 * versions nobody is a creator in that sense.
 */
export interface RoomPowers {
  /** the bot's own power (Infinity when it is a creator) */
  mine: number;
  kick: number;
  ban: number;
  invite: number;
  users: Record<string, number>;
  usersDefault: number;
  /** the level needed to send each listed event type */
  events: Record<string, number>;
  /** the level needed for state events not listed in `events` */
  stateDefault: number;
  creators: string[];
}

/** `userId`'s power in the room: unlimited for a version 12 creator. */
export function powerOf(p: RoomPowers, userId: string): number {
  return p.creators.includes(userId) ? Infinity : (p.users[userId] ?? p.usersDefault);
}

/** Whether `userId` holds the room's highest power: level 100 or more, or a creator of a version 12 room. */
export function isRoomAdmin(p: RoomPowers, userId: string): boolean {
  return powerOf(p, userId) >= ROOM_ADMIN_POWER;
}

/** The level needed to send a state event of `type`. */
export function stateLevel(p: RoomPowers, type: string): number {
  return p.events[type] ?? p.stateDefault;
}

/** The room's rules the bot keeps closed, as the homeserver has them, and who set each. */
export interface RoomRules {
  joinRule?: { value: string; by?: string };
  historyVisibility?: { value: string; by?: string };
  /** the algorithm of `m.room.encryption` (any value but Megolm is no encryption) */
  encryption?: { value: string; by?: string };
  /** whether the bot can take part in encrypted rooms (it keeps them encrypted then) */
  canEncrypt: boolean;
  /** a room upgrade: the room that replaces this one, and who upgraded it */
  tombstone?: { replacement: string; by?: string };
  /** the room this one replaces, as its `m.room.create` says */
  predecessor?: string;
}

/** A notice that names people: plain text, HTML with a pill for each, and `m.mentions`. */
export interface Mention {
  text: string;
  html: string;
  userIds: string[];
}

/** What the command handlers may do in a room. */
export interface RoomPort {
  /**
   * Sends a notice; `inReplyTo` makes it a reply to that event. A reply to
   * an event is sent once: sending it again (after a crash) sends nothing
   * new.
   */
  reply(roomId: string, reply: Reply, inReplyTo?: string): Promise<void>;
  /** joined members' user ids */
  joinedMembers(roomId: string): Promise<string[]>;
  displayName(roomId: string, userId: string): string;
  invite(roomId: string, userId: string): Promise<void>;
  /** everyone with a membership in the room (joined, invited, left, banned…) */
  roomMembers(roomId: string): Promise<{ userId: string; membership: Membership }[]>;
  powers(roomId: string): Promise<RoomPowers>;
  rules(roomId: string): Promise<RoomRules>;
  /** sets a room state event (the widget); absent where rooms take no state from the bot */
  putState?(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<void>;
  /**
   * The room a room address (`#alias:server`) names, from the homeserver
   * directory, or undefined when there is no such address. Bounded in
   * time; throws when the homeserver cannot be reached or does not answer.
   */
  resolveAlias?(alias: string): Promise<string | undefined>;
  /**
   * Whether the account exists, from a profile lookup on its homeserver
   * (through the bot's). Bounded in time; throws when that homeserver
   * cannot be reached or does not answer.
   */
  checkAccount?(userId: string): Promise<AccountCheck>;
  /** `userId`'s membership in the room as the bot last saw it (no request), if any */
  membership?(roomId: string, userId: string): Membership | undefined;
  /** how people know the room: its canonical address, or its id (no request) */
  roomLabel?(roomId: string): string;
  /**
   * Whether the bot, from any of its devices, has replied to `eventId`
   * since `since` (ms): another worker may have sent the answer and died
   * before recording it, and only its own device's sends are deduplicated.
   */
  replied?(roomId: string, eventId: string, since: number): Promise<boolean>;
}

/** A room's rules, power levels and members, read at once. */
export interface RoomSnapshot {
  rules: RoomRules;
  powers: RoomPowers;
  members: { userId: string; membership: Membership }[];
}

/** What the bridge needs of the room side, to make rooms follow the chain. */
export interface RoomEnforcer {
  roomMembers(roomId: string): Promise<{ userId: string; membership: Membership }[]>;
  /**
   * What `rules`, `powers` and `roomMembers` answer, from one read of the
   * room's state (one round trip); where absent, the bridge asks each.
   */
  snapshot?(roomId: string): Promise<RoomSnapshot>;
  invite(roomId: string, userId: string): Promise<void>;
  kick(roomId: string, userId: string, reason: string): Promise<void>;
  ban(roomId: string, userId: string, reason: string): Promise<void>;
  unban(roomId: string, userId: string): Promise<void>;
  /** the bot's power level and the levels it needs */
  powers(roomId: string): Promise<RoomPowers>;
  rules(roomId: string): Promise<RoomRules>;
  /** sets the join rule, history visibility or encryption back */
  setRule(roomId: string, rule: "joinRule" | "historyVisibility" | "encryption", value: string): Promise<void>;
  /** sets the levels needed to send the given event types */
  setEventLevels(roomId: string, levels: Record<string, number>): Promise<void>;
  /** joins a room (the replacement of an upgraded room); `via` names servers that know it */
  join(roomId: string, via: string[]): Promise<void>;
  leave(roomId: string): Promise<void>;

  /** sets the power levels of the given users */
  setPowers(roomId: string, levels: Record<string, number>): Promise<void>;
  /**
   * Once `removed` is out of the room: discards the bot's outbound room key
   * and sends `text` under a new one. The notice is sent once per `once`:
   * sending it again (after a crash) sends nothing new.
   */
  rotateKey(roomId: string, text: string, removed: string, once: string): Promise<void>;
  /** Whether the notice of `rotateKey(…, once)` is in the room since `since` (ms), from any of the bot's devices. */
  sentOnce?(roomId: string, once: string, since: number): Promise<boolean>;
  /** Sends a notice; with `once`, sending it again (after a crash) sends nothing new. */
  notice(roomId: string, text: string, once?: string): Promise<void>;
  /** Sends a notice that mentions people (a pill each, and `m.mentions`), once per `once`. */
  mention(roomId: string, m: Mention, once: string): Promise<void>;
}

/** Where an answer to an event goes in a thread: the thread's root, and the event answered. */
export interface ThreadPlace {
  root: string;
  inReplyTo: string;
}

/** What the rotation audit needs of rooms. */
export interface AuditRooms {
  /**
   * Sends a notice in a thread, mentioning `mentions` (pills and
   * `m.mentions`, so they are notified). Sent once per `once`.
   */
  replyInThread(roomId: string, place: ThreadPlace, reply: Reply, mentions: string[], once: string): Promise<void>;
  /** Redacts an event (the bot needs the power to). */
  redact(roomId: string, eventId: string, reason: string): Promise<void>;
  /** The content of a room state event (state key ""), or undefined when the room has none. */
  roomState(roomId: string, type: string): Record<string, unknown> | undefined;
  /** joined members' user ids */
  joinedMembers(roomId: string): Promise<string[]>;
}
