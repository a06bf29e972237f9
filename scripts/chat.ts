// A real Matrix user for tests and the demo's scenario: a matrix-js-sdk
// client that sends chat text and waits for the bot's answers, and a wallet.
import {
  ClientEvent,
  EventType,
  MatrixEvent,
  Preset,
  RoomEvent,
  RoomMemberEvent,
  SyncState,
  createClient,
  type MatrixClient,
  type Room,
  type RoomMember,
} from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { OnlySignedDevicesIsolationMode } from "matrix-js-sdk/lib/crypto-api/index.js";
import { Wallet } from "ethers";

// matrix-js-sdk logs every sync step; keep warnings and errors only.
// eslint-disable-next-line @typescript-eslint/no-deprecated -- these clients log through the SDK's global logger: quieting it is the point
(logger as unknown as { setLevel?: (l: string) => void }).setLevel?.("warn");

/**
 * matrix-js-sdk's child loggers write debug and info lines through
 * console.log/info/debug whatever the root level; callers that print with
 * process.stdout (the demo, the tests' summaries) silence those.
 */
export function quietConsole(): void {
  for (const m of ["log", "info", "debug"] as const) console[m] = () => {};
}

/** An event as the client-server API returns it. */
export interface RawRoomEvent {
  event_id: string;
  type: string;
  sender: string;
  room_id: string;
  origin_server_ts: number;
  content: Record<string, unknown> & { "m.relates_to"?: { "m.in_reply_to"?: { event_id?: string } } };
}

let txn = 0;

/**
 * PUT /rooms/{roomId}/send/{type}/{txnId} with `token`; `query` adds
 * parameters (an application service may set `ts`, the event's claimed time).
 */
export async function sendEvent(
  baseUrl: string,
  token: string,
  roomId: string,
  type: string,
  content: Record<string, unknown>,
  query: Record<string, string> = {},
): Promise<string> {
  const q = new URLSearchParams(query).toString();
  const url = `${baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/${encodeURIComponent(type)}/raw-${Date.now()}-${txn++}${q ? `?${q}` : ""}`;
  const res = await fetch(url, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(content),
  });
  const json = (await res.json()) as { event_id?: string; error?: string };
  if (!res.ok || !json.event_id) throw new Error(`send ${type} to ${roomId}: ${res.status} ${json.error ?? ""}`);
  return json.event_id;
}

interface Seen {
  event: MatrixEvent;
  sender: string;
  body: string;
  msgtype: string;
  inReplyTo?: string;
}

export class ChatUser {
  readonly client: MatrixClient;
  readonly userId: string;
  readonly wallet: Wallet;
  private readonly seen = new Map<string, Seen[]>();
  /** every event of each room as this client received it (decrypted), of any type */
  private readonly all = new Map<string, MatrixEvent[]>();
  private readonly waiters = new Set<() => void>();

  private constructor(client: MatrixClient, userId: string, wallet: Wallet) {
    this.client = client;
    this.userId = userId;
    this.wallet = wallet;
    client.on(RoomEvent.Timeline, (e: MatrixEvent, room: Room | undefined) => void this.record(e, room));
    client.on(RoomMemberEvent.Membership, (_e: MatrixEvent, _m: RoomMember) => this.wake());
    // Invites arrive as new rooms; every sync may change what `until` checks.
    client.on(ClientEvent.Room, () => this.wake());
    client.on(ClientEvent.Sync, () => this.wake());
  }

  private async record(e: MatrixEvent, room: Room | undefined): Promise<void> {
    if (e.isEncrypted()) await this.client.decryptEventIfNeeded(e);
    if (room) {
      const all = this.all.get(room.roomId) ?? [];
      all.push(e);
      this.all.set(room.roomId, all);
    }
    {
      if (!room || e.getType() !== (EventType.RoomMessage as string)) {
        this.wake();
        return;
      }
      const c = e.getContent<{ body?: string; msgtype?: string; "m.relates_to"?: { "m.in_reply_to"?: { event_id?: string } } }>();
      const list = this.seen.get(room.roomId) ?? [];
      const inReplyTo = c["m.relates_to"]?.["m.in_reply_to"]?.event_id;
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- other clients send the content: a body may be anything
      list.push({ event: e, sender: e.getSender() ?? "", body: String(c.body ?? ""), msgtype: String(c.msgtype ?? ""), ...(inReplyTo ? { inReplyTo } : {}) });
      this.seen.set(room.roomId, list);
      this.wake();
    }
  }

  static async login(baseUrl: string, reg: { userId: string; accessToken: string; deviceId: string }, wallet?: Wallet): Promise<ChatUser> {
    const client = createClient({ baseUrl, userId: reg.userId, accessToken: reg.accessToken, deviceId: reg.deviceId });
    const u = new ChatUser(client, reg.userId, (wallet ?? Wallet.createRandom()) as Wallet);
    const ready = new Promise<void>((resolve) => {
      const on = (s: SyncState) => {
        if (s === SyncState.Prepared || s === SyncState.Syncing) {
          client.off(ClientEvent.Sync, on);
          resolve();
        }
      };
      client.on(ClientEvent.Sync, on);
    });
    // One device per user, with its keys in memory for the life of the client.
    await client.initRustCrypto({ useIndexedDB: false });
    await client.startClient({ initialSyncLimit: 10 });
    await ready;
    return u;
  }

  private wake() {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when `check` returns a value, re-checking on every event; rejects after `ms`. */
  async until<T>(what: string, check: () => T | undefined, ms = 60_000): Promise<T> {
    const first = check();
    if (first !== undefined) return first;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`${this.userId}: timed out waiting for ${what}`));
      }, ms);
      const w = () => {
        const v = check();
        if (v !== undefined) {
          clearTimeout(timer);
          this.waiters.delete(w);
          resolve(v);
        }
      };
      this.waiters.add(w);
    });
  }

  /** Creates a room (`encrypted`: from the start); `admins` (e.g. the bot) get power level 100 with the creator. */
  async createRoom(name: string, invite: string[], isDirect = false, admins: string[] = [], encrypted = false): Promise<string> {
    const { room_id } = await this.client.createRoom({
      name,
      invite,
      preset: Preset.PrivateChat,
      is_direct: isDirect,
      ...(encrypted ? { initial_state: [{ type: EventType.RoomEncryption, state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] } : {}),
      // (In room version 12 the creator has unlimited power and must not be listed.)
      ...(admins.length ? { power_level_content_override: { users: Object.fromEntries(admins.map((u) => [u, 100])) } } : {}),
    });
    return room_id;
  }

  async join(roomId: string): Promise<void> {
    await this.until(`an invite to ${roomId}`, () => (this.client.getRoom(roomId)?.getMyMembership() === "invite" ? true : undefined));
    await this.client.joinRoom(roomId);
  }

  /** Waits until `userId` has joined `roomId`. */
  async seesJoined(roomId: string, userId: string, ms = 60_000): Promise<void> {
    await this.until(`${userId} in ${roomId}`, () => (this.client.getRoom(roomId)?.getMember(userId)?.membership === "join" ? true : undefined), ms);
  }

  async say(roomId: string, text: string): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        const { event_id } = await this.client.sendMessage(roomId, { msgtype: "m.text", body: text } as never);
        return event_id;
      } catch (e) {
        // Right after joining, the client may not have set up the room's encryption yet.
        if (attempt >= 50 || !/unconfigured room/.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Sends `text` and returns the body of the answer `from` (the bot) sends in reply to it. */
  async ask(roomId: string, text: string, from: string, ms = 60_000): Promise<string> {
    const t0 = Date.now();
    const eventId = await this.say(roomId, text);
    const body = await this.until(
      `an answer to "${text.slice(0, 40)}"`,
      () => (this.seen.get(roomId) ?? []).find((s) => s.sender === from && s.inReplyTo === eventId)?.body,
      ms,
    );
    this.lastLatencyMs = Date.now() - t0;
    return body;
  }

  /** Sends `text` and returns the answer event `from` (the bot) sends in reply to it (decrypted), for its HTML and relations. */
  async askEvent(roomId: string, text: string, from: string, ms = 60_000): Promise<MatrixEvent> {
    const eventId = await this.say(roomId, text);
    return this.until(
      `the answer event to "${text.slice(0, 40)}"`,
      () => (this.seen.get(roomId) ?? []).find((s) => s.sender === from && s.inReplyTo === eventId)?.event,
      ms,
    );
  }

  /** Milliseconds between the last `ask` and its answer. */
  lastLatencyMs = 0;

  /**
   * Sends an event through the client-server API directly, as another
   * client would: unencrypted, whatever the room says, with any content.
   * Returns the event id.
   */
  async sendRaw(roomId: string, content: Record<string, unknown>, type = "m.room.message"): Promise<string> {
    return sendEvent(this.client.baseUrl, this.client.getAccessToken()!, roomId, type, content);
  }

  /**
   * Sets a state event through the client-server API directly, as any
   * client could; returns the HTTP status (403 when the room's power levels
   * forbid it).
   */
  async putState(roomId: string, type: string, content: Record<string, unknown>, stateKey = ""): Promise<number> {
    const url = `${this.client.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/${encodeURIComponent(type)}/${encodeURIComponent(stateKey)}`;
    const res = await fetch(url, {
      method: "PUT",
      headers: { authorization: `Bearer ${this.client.getAccessToken()!}`, "content-type": "application/json" },
      body: JSON.stringify(content),
    });
    await res.text();
    return res.status;
  }

  /** A state event's content as the server has it now (undefined when there is none). */
  async stateNow(roomId: string, type: string, stateKey = ""): Promise<Record<string, unknown> | undefined> {
    const url = `${this.client.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/${encodeURIComponent(type)}/${encodeURIComponent(stateKey)}`;
    const res = await fetch(url, { headers: { authorization: `Bearer ${this.client.getAccessToken()!}` } });
    const json = (await res.json()) as Record<string, unknown>;
    return res.ok ? json : undefined;
  }

  /** The bodies of every answer `from` sent in reply to `eventId`, as this client received them. */
  answersTo(roomId: string, eventId: string, from: string): string[] {
    return (this.seen.get(roomId) ?? []).filter((s) => s.sender === from && s.inReplyTo === eventId).map((s) => s.body);
  }

  /** Waits for the first answer `from` sends in reply to `eventId`. */
  async answerTo(roomId: string, eventId: string, from: string, ms = 60_000): Promise<string> {
    return this.until(`an answer to ${eventId}`, () => this.answersTo(roomId, eventId, from)[0], ms);
  }

  /**
   * The room's whole history as the server keeps it (every page of
   * `/messages`, oldest first), not what this client's timeline happened to
   * receive: for counting what the bot sent.
   */
  async history(roomId: string): Promise<RawRoomEvent[]> {
    const out: RawRoomEvent[] = [];
    let from: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const q = new URLSearchParams({ dir: "b", limit: "100", ...(from ? { from } : {}) });
      const res = await fetch(`${this.client.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?${q}`, {
        headers: { authorization: `Bearer ${this.client.getAccessToken()!}` },
      });
      const json = (await res.json()) as { chunk?: RawRoomEvent[]; end?: string };
      const chunk = json.chunk ?? [];
      out.push(...chunk);
      if (chunk.length === 0 || !json.end) break;
      from = json.end;
    }
    return out.reverse().map((e) => ({ ...e, room_id: roomId }));
  }

  /** A text message of `history` as this client reads it: its body, decrypted with its keys; undefined for anything else. */
  async read(e: RawRoomEvent): Promise<string | undefined> {
    if (e.type !== "m.room.encrypted") return typeof e.content.body === "string" ? e.content.body : undefined;
    return this.tryDecrypt(new MatrixEvent(e));
  }

  /** Edits `eventId` (an `m.replace`), through this client (encrypted where the room is); returns the edit's id. */
  async edit(roomId: string, eventId: string, body: string, fallbackPrefix = true): Promise<string> {
    const { event_id } = await this.client.sendMessage(roomId, {
      msgtype: "m.text",
      body: fallbackPrefix ? `* ${body}` : body,
      "m.new_content": { msgtype: "m.text", body },
      "m.relates_to": { rel_type: "m.replace", event_id: eventId },
    } as never);
    return event_id;
  }

  /** The message event whose body matches, as this client received it. */
  eventWith(roomId: string, match: RegExp): MatrixEvent | undefined {
    return (this.seen.get(roomId) ?? []).find((s) => match.test(s.body))?.event;
  }

  /**
   * Why this client cannot decrypt an event of `history` (the SDK's
   * decryption failure code), or undefined when it can or the event is not
   * encrypted. Whatever the event decrypts to counts as decrypted: a text
   * message, a poll, a poll's end… (`read` gives text messages only).
   */
  async decryptionFailure(e: RawRoomEvent): Promise<string | undefined> {
    if (e.type !== "m.room.encrypted") return undefined;
    const copy = await this.decryptCopy(new MatrixEvent(e));
    return copy.isDecryptionFailure() ? (copy.decryptionFailureReason ?? "unknown") : undefined;
  }

  /**
   * Tries this client's keys on an encrypted event another client received:
   * returns the decrypted body, or undefined when this device has no key
   * (or the event is not a text message).
   */
  async tryDecrypt(e: MatrixEvent): Promise<string | undefined> {
    const copy = await this.decryptCopy(e);
    if (copy.isDecryptionFailure() || copy.getType() !== (EventType.RoomMessage as string)) return undefined;
    return String(copy.getContent<{ body?: unknown }>().body);
  }

  /** A copy of `e` under an id of its own (the client keeps no earlier result for it), decrypted with this client's keys. */
  private async decryptCopy(e: MatrixEvent): Promise<MatrixEvent> {
    const copy = new MatrixEvent({
      type: e.getWireType(),
      content: e.getWireContent(),
      room_id: e.getRoomId()!,
      sender: e.getSender()!,
      event_id: `${e.getId()}-copy-${Math.random()}`,
      origin_server_ts: e.getTs(),
    });
    await this.client.decryptEventIfNeeded(copy);
    return copy;
  }

  /** The Megolm session ids this device holds keys for, in `roomId`. */
  async sessionIds(roomId: string): Promise<Set<string>> {
    const keys = await this.client.getCrypto()!.exportRoomKeys();
    return new Set(keys.filter((k) => k.room_id === roomId).map((k) => k.session_id));
  }

  /**
   * Gives this account a cross-signing identity that signs this device (as
   * Element does at sign-up). Synapse takes the first upload of the keys
   * without asking for the password again.
   */
  async crossSign(): Promise<void> {
    await this.client.getCrypto()!.bootstrapCrossSigning({ authUploadDeviceSigningKeys: async (makeRequest) => makeRequest(null) });
  }

  /**
   * Element's "exclude insecure devices" (MSC4153): room keys go only to
   * devices their owners cross-signed, and messages from other devices do
   * not decrypt. (Sending then needs this account's own cross-signing.)
   */
  excludeInsecureDevices(): void {
    this.client.getCrypto()!.setDeviceIsolationMode(new OnlySignedDevicesIsolationMode());
  }

  /**
   * Encrypts a message now, as this client would send it, without sending
   * it: `sendEncrypted` sends it later, under the room key of now. (A
   * client that does not rotate its key when someone leaves, on purpose.)
   */
  async encryptNow(roomId: string, body: string): Promise<Record<string, unknown>> {
    const room = this.client.getRoom(roomId);
    if (!room) throw new Error(`${this.userId} is not in ${roomId}`);
    const ev = new MatrixEvent({
      type: EventType.RoomMessage,
      content: { msgtype: "m.text", body },
      room_id: roomId,
      sender: this.userId,
      event_id: `~pending-${Math.random()}`,
    });
    // The SDK's own encryption step (CryptoBackend.encryptEvent), which sendMessage runs.
    await (this.client.getCrypto() as unknown as { encryptEvent(e: MatrixEvent, r: Room): Promise<void> }).encryptEvent(ev, room);
    return ev.getWireContent();
  }

  /** Sends encrypted content made by `encryptNow`; returns the event id. */
  async sendEncrypted(roomId: string, content: Record<string, unknown>): Promise<string> {
    return this.sendRaw(roomId, content, EventType.RoomMessageEncrypted);
  }

  /** The bodies (and events) `from` sent in the room so far, as this client received them. */
  seenFrom(roomId: string, from: string): { body: string; event: MatrixEvent }[] {
    return (this.seen.get(roomId) ?? []).filter((s) => s.sender === from).map((s) => ({ body: s.body, event: s.event }));
  }

  /** Every message body `from` sent in the room so far. */
  messagesFrom(roomId: string, from: string): string[] {
    return (this.seen.get(roomId) ?? []).filter((s) => s.sender === from).map((s) => s.body);
  }

  /** The events of `type` this client received in the room, decrypted. */
  eventsOf(roomId: string, type: string): MatrixEvent[] {
    return (this.all.get(roomId) ?? []).filter((e) => e.getType() === type);
  }

  /** Answers a poll as Element does (`org.matrix.msc3381.poll.response`, encrypted where the room is); returns the event id. */
  async answerPoll(roomId: string, pollId: string, answerId: string): Promise<string> {
    const { event_id } = await this.client.sendEvent(
      roomId,
      "org.matrix.msc3381.poll.response" as never,
      {
        "m.relates_to": { rel_type: "m.reference", event_id: pollId },
        "org.matrix.msc3381.poll.response": { answers: [answerId] },
      } as never,
    );
    return event_id;
  }

  stop(): void {
    this.client.stopClient();
  }
}

/** The answers `from` (the bot) sent in `roomId`, by the event they reply to, from the history the server keeps (the relation is in the clear). */
export async function answersByEvent(reader: ChatUser, roomId: string, from: string): Promise<Map<string, RawRoomEvent[]>> {
  const out = new Map<string, RawRoomEvent[]>();
  for (const e of await reader.history(roomId)) {
    const to = e.content["m.relates_to"]?.["m.in_reply_to"]?.event_id;
    if (e.sender !== from || to === undefined) continue;
    out.set(to, [...(out.get(to) ?? []), e]);
  }
  return out;
}
