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
}

/** A message the bot sends: plain text and, when useful, HTML. */
export interface Reply {
  text: string;
  html?: string;
}

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
  /** makes the room invite-only with history visible from joining on */
  makePrivate(roomId: string): Promise<void>;
  displayName(roomId: string, userId: string): string;
  invite(roomId: string, userId: string): Promise<void>;
}

/** What the bridge needs of the room side, to make rooms follow the chain. */
export interface RoomEnforcer {
  roomMembers(roomId: string): Promise<{ userId: string; membership: Membership }[]>;
  invite(roomId: string, userId: string): Promise<void>;
  kick(roomId: string, userId: string, reason: string): Promise<void>;
  /** the bot's power level and the levels it needs */
  powers(roomId: string): Promise<{ mine: number; kick: number; invite: number; users: Record<string, number>; creators: string[] }>;

  /** sets the power levels of the given users */
  setPowers(roomId: string, levels: Record<string, number>): Promise<void>;
  /**
   * Once `removed` is out of the room: discards the bot's outbound room key
   * and sends `text` under a new one. The notice is sent once per `once`:
   * sending it again (after a crash) sends nothing new.
   */
  rotateKey(roomId: string, text: string, removed: string, once: string): Promise<void>;
  notice(roomId: string, text: string): Promise<void>;
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
