/**
 * What the bot keeps between restarts, behind one interface so that a
 * PostgreSQL store can replace the SQLite one: the store port, imported by
 * the bot, the bridge and the chain adapter alike. Pure types: no driver here.
 */

/** A Matrix account linked to an address in one room's group. */
export interface Link {
  roomId: string;
  userId: string;
  address: string;
  /** the nonce that was signed; never accepted twice */
  nonce: string;
  linkedAt: number;
}

/** A link the user asked for and has not proved yet. */
export interface PendingLink {
  roomId: string;
  userId: string;
  address: string;
  nonce: string;
  message: string;
  createdAt: number;
}

/** A room mapped onto a group contract. */
export interface RoomBinding {
  roomId: string;
  group: string;
  chainId: number;
  createdBy: string;
  createdAt: number;
  /** first block to follow for this group */
  fromBlock: number;
}

/**
 * A group's creation waiting for its founders' consent: the preview they
 * read. A consent names the preview's code, so a changed preview (a new
 * code) needs everyone's consent again.
 */
export interface PendingCreation {
  roomId: string;
  /** names this preview; consents are given to it */
  code: string;
  /** who asked for the group (a room admin) */
  createdBy: string;
  /** the `!dao create` event that made this preview */
  eventId: string;
  /** ms since the epoch */
  createdAt: number;
  /** ms since the epoch: the preview lapses then */
  expiresAt: number;
  /** what the group will be (JSON, the bot's own format): settings, founders, … */
  plan: string;
}

/** watch: the bridge says in the room what it would do and does nothing; enforce: it does it. */
export type RoomMode = "watch" | "enforce";

/** How the bridge treats a group's room. A group without one is enforced and adopted no one. */
export interface RoomPolicy {
  roomId: string;
  mode: RoomMode;
  /** the people in the room when the group started who were not members */
  adoptees: string[];
  /** ms since the epoch: until then adoptees keep their place */
  adoptUntil: number;
}

/** A ban the bot made: lifted (unban, then invite) by a later decision that admits the account. */
export interface RoomBan {
  roomId: string;
  userId: string;
  reason: string;
  /** ms since the epoch */
  bannedAt: number;
}

export type TxStatus = "pending" | "mined" | "failed";

/**
 * A transaction the bot signed. It is recorded, signed, before it is sent:
 * after a restart the same signed bytes are sent again (same hash, same
 * nonce), so no decision is ever sent twice.
 */
export interface TxRecord {
  /** what the transaction does, unique: e.g. "vote:room:proposal:user" */
  intent: string;
  hash: string;
  raw: string;
  nonce: number;
  from: string;
  status: TxStatus;
  createdAt: number;
  /** a short human description for logs */
  description: string;
  error?: string;
  /**
   * Earlier signed bytes at the same nonce, replaced by these (fee bumps),
   * oldest first: any one of them may be the one mined.
   */
  replaced?: { hash: string; raw: string }[];
}

/**
 * Every method returns a promise, so that a store over the network
 * (PostgreSQL) implements the same interface. A method resolves once what it
 * wrote is durable (committed), and rejects only on a storage failure or the
 * conflicts documented on it.
 */
export interface Store {
  getBinding(roomId: string): Promise<RoomBinding | undefined>;
  getBindingByGroup(group: string): Promise<RoomBinding | undefined>;
  listBindings(): Promise<RoomBinding[]>;
  putBinding(b: RoomBinding): Promise<void>;

  getLink(roomId: string, userId: string): Promise<Link | undefined>;
  getLinkByAddress(roomId: string, address: string): Promise<Link | undefined>;
  listLinks(roomId: string): Promise<Link[]>;
  /** Replaces the user's link in the room; refuses an address linked to someone else. */
  putLink(link: Link): Promise<void>;
  deleteLink(roomId: string, userId: string): Promise<boolean>;
  /** Whether `nonce` was ever used for a link (used nonces are kept forever). */
  nonceUsed(nonce: string): Promise<boolean>;

  getPendingLink(roomId: string, userId: string): Promise<PendingLink | undefined>;
  putPendingLink(p: PendingLink): Promise<void>;
  deletePendingLink(roomId: string, userId: string): Promise<void>;

  getTx(intent: string): Promise<TxRecord | undefined>;
  /**
   * Records a signed transaction. Rejects with StoreConflictError when its
   * intent is already recorded, NonceTakenError when its sender's nonce is.
   */
  putTx(tx: TxRecord): Promise<void>;
  setTxStatus(intent: string, status: TxStatus, error?: string): Promise<void>;
  /**
   * Makes `next` (signed at the same nonce) the pending transaction of
   * `intent` in place of the one with hash `hash`, keeping the earlier bytes
   * in `replaced`: false, and nothing changed, when its hash is no longer
   * `hash` (another worker replaced it first) or it is no longer pending.
   */
  replaceTx(intent: string, hash: string, next: { hash: string; raw: string }): Promise<boolean>;
  /**
   * Finishes the pending transaction of `intent` with `status`, as the
   * version with hash `hash` (the current one or one it replaced, which then
   * becomes the record's): false, and nothing changed, when it is no longer
   * pending (another worker finished it) or no version has that hash.
   */
  settleTx(intent: string, hash: string, status: Exclude<TxStatus, "pending">, error?: string): Promise<boolean>;
  listTxs(status: TxStatus): Promise<TxRecord[]>;
  /** The highest nonce recorded for `from`, or undefined. */
  maxNonce(from: string): Promise<number | undefined>;

  /**
   * Outbox of room actions: recorded before they are applied, marked done
   * after, so a crash in between re-applies (idempotently) rather than loses.
   */
  addOutbox(item: OutboxItem): Promise<boolean>;
  listOutbox(status: "pending" | "done"): Promise<OutboxItem[]>;
  finishOutbox(id: string): Promise<void>;

  /**
   * The command journal: every message event the bot receives, recorded on
   * receipt (before the sync position that delivered it is saved), keyed by
   * event id, so each is handled once, in the order received, after any
   * number of crashes. Recording an id that is already there changes nothing.
   */
  addInbound(events: NewInboundEvent[]): Promise<void>;
  /**
   * Events with `status`, in the order they were recorded, at most `limit`;
   * with `perSender`, at most that many of each sender (the oldest), so that
   * one sender's pile does not fill the list and hold up everyone else.
   */
  listInbound(status: InboundStatus, limit: number, perSender?: number): Promise<InboundEvent[]>;
  /** Sets an event aside until its room key arrives (status "waiting"): it holds up no other. */
  waitInbound(eventId: string): Promise<void>;
  /** Records the answer decided for an event, before it is sent (status "answering"). */
  setInboundAnswer(eventId: string, answer: string): Promise<void>;
  /** Marks an event handled: answered, or nothing to answer (status "done"). */
  finishInbound(eventId: string): Promise<void>;
  /** Forgets handled events recorded before `receivedBefore` (ms); returns how many. */
  pruneInbound(receivedBefore: number): Promise<number>;

  /** The room's group creation waiting for consent, if any. */
  getCreation(roomId: string): Promise<PendingCreation | undefined>;
  /** Puts `c` in place of the room's pending creation; consents given to another code are forgotten. */
  putCreation(c: PendingCreation): Promise<void>;
  /**
   * Records `userId`'s consent to the room's preview `code`. Returns false,
   * recording nothing, when the room's pending creation is not `code`.
   */
  addConsent(roomId: string, code: string, userId: string, at: number): Promise<boolean>;
  /** Who consented to the preview `code`, in the order they did. */
  listConsents(roomId: string, code: string): Promise<string[]>;
  /** Forgets the pending creation `code` and its consents; false when it is not the room's. */
  deleteCreation(roomId: string, code: string): Promise<boolean>;
  /** Every pending creation (to let lapse those past their window). */
  listCreations(): Promise<PendingCreation[]>;

  getRoomPolicy(roomId: string): Promise<RoomPolicy | undefined>;
  putRoomPolicy(p: RoomPolicy): Promise<void>;
  /**
   * Switches a room between watch and enforce; false when the room has no
   * policy. A switch from watch to enforce begins enforcement anew: the
   * adoption is to be made again (adoptUntil 0, no adoptees).
   */
  setRoomMode(roomId: string, mode: RoomMode): Promise<boolean>;
  /**
   * Records the adoption made when enforcement begins, only while the room
   * is enforced and none is recorded yet (adoptUntil 0); returns whether it did.
   */
  beginAdoption(roomId: string, adoptees: string[], adoptUntil: number): Promise<boolean>;

  /** Records (or replaces) a ban the bot made. */
  putBan(ban: RoomBan): Promise<void>;
  getBan(roomId: string, userId: string): Promise<RoomBan | undefined>;
  deleteBan(roomId: string, userId: string): Promise<boolean>;

  /**
   * A room upgrade: moves the binding, links, policy and bans of `from` to
   * `to`, in one transaction. Links and pending links made in `to` before
   * are dropped (the group's own replace them); a pending creation of
   * either room is forgotten. Rejects with StoreConflictError when `to` is
   * already bound, and changes nothing when `from` is not.
   */
  moveRoom(from: string, to: string): Promise<void>;
  /**
   * The rotation audit (src/bridge/rotation-audit.ts): the Megolm sessions
   * the bot met in each room and when first, who left each room and when,
   * and the messages flagged for a session that outlived a departure.
   */
  /** Records that `sessionId` was in use at `at` (ms); returns the earliest time recorded for it. */
  noteSession(s: SessionSighting): Promise<number>;
  /** Records a departure (once per member event). */
  addDeparture(d: Departure): Promise<void>;
  /** Departures from `roomId` strictly between `after` and `before` (ms), oldest first, at most 20. */
  departuresBetween(roomId: string, after: number, before: number): Promise<Departure[]>;
  /**
   * Records a flagged message (once per event id). `firstForSession` says
   * whether no other message of its session was flagged before it: the
   * same answer however often it is recorded.
   */
  addReuse(r: SessionReuse): Promise<{ firstForSession: boolean }>;
  /** How many messages were flagged in `roomId`. */
  countReuses(roomId: string): Promise<number>;

  /** Small key-value state: sync tokens, cursors. */
  getState(key: string): Promise<string | undefined>;
  /** The values of those of `keys` that are set, in one read (a full pass reads one per member). */
  getStates(keys: string[]): Promise<Map<string, string>>;
  setState(key: string, value: string): Promise<void>;
  /**
   * Adds `delta` to the whole number kept under `key` (0 when unset), once
   * per `once`: one atomic step, so that workers and concurrent senders
   * adding at the same moment lose nothing, and adding again with the same
   * `once` (after a crash) adds nothing. The new total.
   */
  addToCounter(key: string, delta: bigint, once: string): Promise<bigint>;

  close(): Promise<void>;
}

export interface OutboxItem {
  /** unique: the same action is never recorded twice */
  id: string;
  roomId: string;
  kind: string;
  /** JSON */
  payload: string;
  createdAt: number;
}

/**
 * new: not handled yet; waiting: encrypted, its room key not arrived yet;
 * answering: the answer is decided (and recorded) but may not have been
 * sent; done.
 */
export type InboundStatus = "new" | "waiting" | "answering" | "done";

/** A message event as the bot received it. */
export interface NewInboundEvent {
  eventId: string;
  roomId: string;
  sender: string;
  /** the event as the homeserver sent it (JSON), still encrypted if it was */
  raw: string;
  /** ms since the epoch, by the bot's clock (never the sender's timestamp) */
  receivedAt: number;
}

export interface InboundEvent extends NewInboundEvent {
  status: InboundStatus;
  /** the decided answer (JSON), once status is "answering" */
  answer?: string;
}

/** A Megolm session seen in a room: its room key arrived, or a message used it. */
export interface SessionSighting {
  roomId: string;
  sessionId: string;
  sender: string;
  /** the sending device's id, or its Curve25519 key when the id is not given */
  device: string;
  /** ms since the epoch */
  at: number;
}

/** Someone who was joined is out of a room: left, kicked or banned, as the member event says. */
export interface Departure {
  roomId: string;
  userId: string;
  /** the member event */
  eventId: string;
  /** the member event's time (ms) */
  at: number;
  kind: "left" | "kicked" | "banned";
}

/** A message sent under a session that was in use before someone left. */
export interface SessionReuse {
  eventId: string;
  roomId: string;
  sender: string;
  sessionId: string;
  at: number;
}

export class StoreConflictError extends Error {}

/**
 * `putTx` found another transaction of the same sender at the same nonce:
 * two workers signed with one key at once. The later one signs again with
 * the next nonce; the chain never sees two transactions at one nonce.
 */
export class NonceTakenError extends StoreConflictError {
  constructor(from: string, nonce: number) {
    super(`nonce ${nonce} of ${from} is taken by another transaction`);
  }
}

/**
 * Secrets that stores of earlier versions kept beside the data they protect
 * (the link salt, the crypto state's passphrase): both now come from
 * `store.secret`, and the rows are deleted when such a store is opened.
 */
export const FORGET_OLD_SECRETS = "DELETE FROM state WHERE key IN ('linkSalt', 'cryptoPassphrase');";
