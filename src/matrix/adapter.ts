/**
 * The Matrix adapter: with its siblings, the only code that imports matrix-js-sdk.
 * It logs in (reusing the device it was given or saved), follows the rooms
 * the bot is in, hands message events to the bot, and offers the small room
 * capabilities the rest of the code depends on.
 */
import { createHash, randomInt } from "node:crypto";
import {
  ClientEvent,
  type ReceivedToDeviceMessage,
  EventStatus,
  EventType,
  MatrixEvent,
  Method,
  PendingEventOrdering,
  RoomEvent,
  RoomMemberEvent,
  RoomStateEvent,
  SyncState,
  createClient,
  type MatrixClient,
  type Room,
  type RoomMember,
  EventTimeline,
} from "matrix-js-sdk";
import { logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";
import { DecryptionFailureCode } from "matrix-js-sdk/lib/crypto-api/index.js";
import type { NewInboundEvent, Store } from "../store/store.ts";
import { persistOnWrite, restoreIndexedDB, saveIndexedDB, savedTag, setAside, stateTag } from "./crypto-persist.ts";
import { departuresIn, JOURNAL_FILTER, journalEvents, type RawEvent, type TimelineDeparture } from "./journal.ts";
import { ONCE_KEY, repliesTo, sentSince } from "./sent.ts";
import { creatorsFrom, indexState, membersFrom, powersFrom, rulesFrom, type RawStateEvent } from "./room-state.ts";
import { CredentialsRefused, establishSession, type Session } from "./login.ts";
import { ensureIdentity, secretStorageCallbacks, senderDevice, type IdentityReport } from "./cross-signing.ts";
import type {
  AccountCheck,
  AuditRooms,
  EventReader,
  Membership,
  Mention,
  OpenedEvent,
  Reply,
  RoomEnforcer,
  RoomPort,
  RoomPowers,
  RoomRules,
  RoomSnapshot,
  ThreadPlace,
} from "../ports/rooms.ts";

/**
 * matrix-js-sdk logs every sync step at info; the bot's own log says what
 * matters. Its child loggers print through console.log/info/debug whatever
 * the level, and the bot's own log goes to stdout directly: those are dropped.
 */
export function quietSdkLogs(debug = false): void {
  // eslint-disable-next-line @typescript-eslint/no-deprecated -- the SDK logs through its global logger before any client exists
  (sdkLogger as unknown as { setLevel?: (l: string) => void }).setLevel?.(debug ? "debug" : "warn");
  // At log.level debug, the SDK's own lines are wanted too.
  for (const m of ["log", "info", "debug"] as const) console[m] = debug ? CONSOLE[m] : () => {};
}

const CONSOLE = { log: console.log, info: console.info, debug: console.debug };

export interface MatrixOptions {
  /** file for the end-to-end encryption state; none = no encryption support */
  cryptoFile?: string;
  /** passphrase protecting the encryption state at rest */
  cryptoPassphrase?: string;
  baseUrl: string;
  userId: string;
  password?: string;
  accessToken?: string;
  deviceName?: string;
  store: Store;
  /** seals the access token the bot keeps in the store, and opens it */
  tokenBox?: { seal(plain: string): string; open(sealed: string): string | undefined };
  /** whether the bot accepts an invite from this user (default: from anyone) */
  mayInvite?: (userId: string) => boolean;
  /**
   * Whether the bot accepts an invite to `roomId` whoever sent it: the room
   * that replaces a group's room after an upgrade (`predecessor`, as the
   * invite's `m.room.create` names it, when it does).
   */
  mayFollow?: (roomId: string, predecessor: string | undefined) => Promise<boolean>;
  /** the recovery key of the account's secret storage (bot.recoveryKey): cross-signing and key backup */
  recoveryKey?: Uint8Array<ArrayBuffer>;
  /** a room key arrived: for the rotation audit */
  onRoomKey?: (k: { roomId: string; sessionId: string; sender: string; device: string; at: number }) => void;
  /** departures read from a room's timeline, recorded before the sync position that brought them is saved */
  onDepartures?: (roomId: string, list: TimelineDeparture[]) => Promise<void>;
  log: ((line: string) => void) & { warn?: (line: string) => void };
}

/** What `/sync` returns, as far as the journal reads it. */
interface SyncBody {
  rooms?: { join?: Record<string, { timeline?: { events?: RawEvent[]; limited?: boolean; prev_batch?: string } }> };
}

/** The store key of the last sync position whose events are all in the journal. */
const POSITION = "matrix.syncPosition";

/** The state events whose change the bridge looks at at once: the rules it keeps, and upgrades. */
const WATCHED_STATE = new Set([
  EventType.RoomJoinRules,
  EventType.RoomHistoryVisibility,
  EventType.RoomEncryption,
  EventType.RoomPowerLevels,
  EventType.RoomTombstone,
  "m.room.server_acl",
] as string[]);

/** A transaction id for a message sent once per `key`: the homeserver drops a second send with it. */
export function onceTxnId(key: string): string {
  return `conclave-${createHash("sha256").update(key).digest("hex").slice(0, 40)}`;
}

export class MatrixAdapter implements RoomPort, RoomEnforcer, EventReader, AuditRooms {
  private client!: MatrixClient;
  private readonly o: MatrixOptions;
  private syncedHandler: () => void = () => {};
  private membershipHandler: (roomId: string, userId: string, membership: string) => void = () => {};
  private rulesHandler: (roomId: string) => void = () => {};
  /** The creators of each room, and its `m.room.create` (which never changes). */
  private readonly creatorsOf = new Map<string, string[]>();
  private readonly createOf = new Map<string, { content: Record<string, unknown>; sender?: string }>();

  /** Called when a room's join rules, history visibility, encryption, power levels or tombstone change. */
  onRulesChange(handler: (roomId: string) => void): void {
    this.rulesHandler = handler;
  }

  /** Called when someone's membership in a room changes (e.g. joins). */
  onMembershipChange(handler: (roomId: string, userId: string, membership: string) => void): void {
    this.membershipHandler = handler;
  }

  constructor(o: MatrixOptions) {
    this.o = o;
  }

  get userId(): string {
    return this.o.userId;
  }

  /**
   * Called after each sync, once what it brought is in the journal and
   * processed by the client; only once start() is done (the bot sends
   * nothing before its identity and its new room keys are in place).
   */
  onSynced(handler: () => void): void {
    this.syncedHandler = handler;
  }

  private session: Session | undefined;
  /** whether this device's crypto state is new (no state, or one it could not use) */
  private newDevice = false;
  /** the bot's cross-signing identity, once start() set it up */
  identity: IdentityReport | undefined;

  private warn(line: string): void {
    (this.o.log.warn ?? this.o.log)(line);
  }

  /**
   * Settles the session: the configured or saved token when the homeserver
   * still takes it, else a password login (see login.ts). Sends nothing but
   * that; start() calls it if nobody did. Throws CredentialsRefused when
   * the homeserver says no, any other error when it cannot be reached.
   */
  async login(): Promise<void> {
    if (this.session) return;
    const { store, baseUrl, userId, tokenBox, cryptoFile } = this.o;
    const sealed = await store.getState("matrix.accessToken");
    const savedToken = sealed && tokenBox ? tokenBox.open(sealed) : sealed;
    const savedDevice = await store.getState("matrix.deviceId");
    const passphrase = this.o.cryptoPassphrase ?? "";
    // Without a crypto state for the saved device, the bot must come back as a new device.
    let hasCryptoState = true;
    if (cryptoFile) {
      const tag = savedTag(cryptoFile);
      if (tag === undefined) hasCryptoState = false;
      else if (tag !== null && (savedDevice === undefined || tag !== stateTag(userId, savedDevice, passphrase))) {
        this.warn(
          `matrix: the crypto state ${cryptoFile} is not this bot's (another device, or sealed with another store.secret): kept as ${setAside(cryptoFile)}; starting as a new device`,
        );
        hasCryptoState = false;
      }
    }
    const session = await establishSession({
      baseUrl,
      userId,
      ...(this.o.password !== undefined ? { password: this.o.password } : {}),
      ...(this.o.accessToken !== undefined ? { accessToken: this.o.accessToken } : {}),
      ...(this.o.deviceName !== undefined ? { deviceName: this.o.deviceName } : {}),
      saved: { ...(savedToken ? { accessToken: savedToken } : {}), ...(savedDevice !== undefined ? { deviceId: savedDevice } : {}) },
      hasCryptoState,
      log: this.o.log,
    });
    if (cryptoFile && hasCryptoState && session.deviceId !== savedDevice) {
      // A configured token of another device: that device's keys are not here.
      this.warn(`matrix: the crypto state ${cryptoFile} belongs to device ${savedDevice ?? "?"}, not ${session.deviceId}: kept as ${setAside(cryptoFile)}`);
      hasCryptoState = false;
    }
    if (session.loggedIn) await store.setState("matrix.accessToken", tokenBox ? tokenBox.seal(session.accessToken) : session.accessToken);
    if (session.deviceId !== savedDevice) await store.setState("matrix.deviceId", session.deviceId);
    this.session = session;
    this.newDevice = !hasCryptoState;
  }

  /** Logs in (or reuses the saved device), starts syncing, resolves when the first sync is done. */
  async start(): Promise<void> {
    const { baseUrl, userId } = this.o;
    await this.login();
    const { accessToken, deviceId } = this.session!;
    this.client = createClient({
      baseUrl,
      userId,
      accessToken,
      deviceId,
      fetchFn: (input, init) => this.fetch(input, init),
      cryptoCallbacks: secretStorageCallbacks(this.o.recoveryKey),
    });
    if (this.o.cryptoFile) {
      // Same device, same keys as last time: restore the state before the
      // crypto starts, and save every write from then on.
      const file = this.o.cryptoFile;
      const tag = stateTag(userId, deviceId, this.o.cryptoPassphrase ?? "");
      const restored = await restoreIndexedDB(file);
      this.flushCrypto = persistOnWrite(file, tag, (e) => this.o.log(`matrix: saving the crypto state failed: ${(e as Error).message}`));
      try {
        await this.client.initRustCrypto({ useIndexedDB: true, storagePassword: this.o.cryptoPassphrase ?? "" });
      } catch (e) {
        // A state saved before it carried a tag, and not this bot's after all.
        throw new CredentialsRefused(
          `matrix: the crypto state ${file} cannot be opened (${(e as Error).message}): give the store.secret it was made with, or move it away to start as a new device`,
        );
      }
      await saveIndexedDB(file, tag);
      this.o.log(`matrix: end-to-end encryption ready (${restored ? "state restored" : "new device keys"})`);
      this.client.on(ClientEvent.ReceivedToDeviceMessage, (m: ReceivedToDeviceMessage) => this.onToDevice(m));
    }
    this.client.on(RoomMemberEvent.Membership, (_e: MatrixEvent, member: RoomMember) => {
      if (member.userId !== userId) this.membershipHandler(member.roomId, member.userId, member.membership ?? "");
    });
    this.client.on(RoomStateEvent.Events, (e: MatrixEvent) => {
      const roomId = e.getRoomId();
      if (roomId && WATCHED_STATE.has(e.getType()) && e.getSender() !== userId) this.rulesHandler(roomId);
    });
    // The bot's own membership: answer invites (not the old ones replayed from history).
    this.client.on(RoomEvent.MyMembership, (room: Room, membership: string) => {
      if (membership === "invite") void this.onInvite(room);
    });
    this.client.on(ClientEvent.Sync, (state: SyncState) => {
      if (this.started && (state === SyncState.Syncing || state === SyncState.Prepared)) this.syncedHandler();
    });
    const ready = new Promise<void>((resolve, reject) => {
      const onSync = (state: SyncState, _prev: SyncState | null, data?: { error?: Error }) => {
        if (state === SyncState.Prepared || state === SyncState.Syncing) {
          this.client.off(ClientEvent.Sync, onSync);
          resolve();
        } else if (state === SyncState.Error && data?.error && /M_UNKNOWN_TOKEN/.test(String(data.error))) {
          reject(data.error);
        }
      };
      this.client.on(ClientEvent.Sync, onSync);
    });
    // Detached: the bot's own pending messages are kept apart from the timeline, where a failed one can be dropped.
    await this.client.startClient({ initialSyncLimit: 20, lazyLoadMembers: true, pendingEventOrdering: PendingEventOrdering.Detached });
    await ready;
    if (this.o.cryptoFile) {
      await this.setUpIdentity();
      // A store restored from a backup holds outbound room keys at message
      // indexes the bot already used since: clients refuse a second message
      // at one index (a replay). A new key per room at each start costs one
      // key share per room, and never reuses an index. Nothing is sent
      // before (the syncs until now did not wake the journal): an answer to
      // a command that came while the bot was away would go out under the
      // restored key.
      const crypto = this.client.getCrypto()!;
      for (const room of this.client.getRooms()) {
        if (room.getMyMembership() === "join" && (await crypto.isEncryptionEnabledInRoom(room.roomId))) await crypto.forceDiscardSession(room.roomId);
      }
    }
    // Rooms we were invited to while away.
    for (const room of this.client.getRooms()) {
      if (room.getMyMembership() === "invite") await this.onInvite(room);
    }
    this.started = true;
    this.o.log(`matrix: synced as ${userId} (device ${deviceId})`);
  }

  /** whether start() is done: from then on each sync calls the onSynced handler */
  private started = false;

  /**
   * Cross-signing, secret storage and key backup (cross-signing.ts). A
   * homeserver that fails on the way is tried again a few times; after that
   * the bot runs on (unsigned, as before) and says so: only clients that
   * exclude insecure devices are lost, until the next start.
   */
  private async setUpIdentity(): Promise<void> {
    const { userId } = this.o;
    for (let attempt = 1; ; attempt++) {
      try {
        this.identity = await ensureIdentity(this.client, {
          userId,
          deviceId: this.session!.deviceId,
          ...(this.o.recoveryKey ? { recoveryKey: this.o.recoveryKey } : {}),
          ...(this.o.password !== undefined ? { password: this.o.password } : {}),
          newDevice: this.newDevice,
          log: Object.assign((l: string) => this.o.log(l), { warn: (l: string) => this.warn(l) }),
        });
        return;
      } catch (e) {
        if (e instanceof CredentialsRefused) throw e;
        if (attempt >= 5) {
          this.warn(`matrix: setting up cross-signing failed ${attempt} times (${(e as Error).message}); running without it until the next start`);
          return;
        }
        this.warn(`matrix: setting up cross-signing failed (${(e as Error).message}); trying again`);
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
  }

  /** A decrypted to-device message: a room key is noted for the rotation audit. */
  private onToDevice(m: ReceivedToDeviceMessage): void {
    const c = m.message.content as { room_id?: unknown; session_id?: unknown; algorithm?: unknown };
    if (m.message.type !== "m.room_key" || typeof c.room_id !== "string" || typeof c.session_id !== "string" || !m.encryptionInfo) return;
    const info = m.encryptionInfo;
    this.o.onRoomKey?.({
      roomId: c.room_id,
      sessionId: c.session_id,
      sender: info.sender,
      device: info.senderDevice || info.senderCurve25519KeyBase64,
      at: Date.now(),
    });
  }

  private flushCrypto: () => Promise<void> = async () => {};
  /** makes this process's first sync request differ from an earlier process's */
  private readonly firstSyncSalt = randomInt(1, 1_000_000);

  async stop(): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may run before start() set the client
    this.client?.stopClient();
    await this.flushCrypto();
    if (this.o.cryptoFile && this.session)
      await saveIndexedDB(this.o.cryptoFile, stateTag(this.o.userId, this.session.deviceId, this.o.cryptoPassphrase ?? ""));
  }

  /**
   * Every request of the client goes through here, in this order:
   * 1. the crypto state is saved: nothing the bot sends (a message, a key,
   *    a claim) and no sync that acknowledges what it received (to-device
   *    messages are deleted once a later sync asks from past them) goes out
   *    before the crypto state that produced it is on disk;
   * 2. a sync asking from position P means the client has processed
   *    everything before P, and the journal holds every message before P:
   *    P is saved as the point to catch up from after a crash;
   * 3. a sync response's messages are put in the journal (durably) before
   *    the client sees them. If that fails, the client sees a failed sync
   *    and asks again.
   */
  private async fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    await this.flushCrypto();
    const url = new URL(input instanceof Request ? input.url : String(input));
    const isSync = url.pathname.endsWith("/sync");
    const since = isSync ? (url.searchParams.get("since") ?? undefined) : undefined;
    if (since !== undefined) await this.o.store.setState(POSITION, since);
    if (isSync && since === undefined && !(input instanceof Request)) {
      // Synapse keeps a sync response for two minutes, by its request: a bot
      // restarted within them would be served the previous process's first
      // sync, an old snapshot (a room not yet encrypted, a position long
      // past). A timeout of its own makes this request its own; a first
      // sync returns at once whatever the timeout.
      url.searchParams.set("timeout", String(1 + this.firstSyncSalt));
      input = url;
    }
    const res = await fetch(input, init);
    if (isSync && res.ok) await this.journal((await res.clone().json()) as SyncBody, since);
    return res;
  }

  /**
   * Records the messages a sync brought. The first sync of a process (no
   * `since`) is a fresh snapshot: what came after the saved position is read
   * page by page from the room's history instead, and on the very first
   * start nothing before it counts. A limited timeline (more events than
   * one sync carries) is completed from the history too.
   */
  private async journal(body: SyncBody, since: string | undefined): Promise<void> {
    const position = since === undefined ? await this.o.store.getState(POSITION) : undefined;
    const records: NewInboundEvent[] = [];
    for (const [roomId, room] of Object.entries(body.rooms?.join ?? {})) {
      let events = room.timeline?.events ?? [];
      if (since === undefined) {
        if (position === undefined) continue;
        events = await this.history(roomId, position);
      } else if (room.timeline?.limited && room.timeline.prev_batch) {
        events = [...(await this.history(roomId, since, room.timeline.prev_batch)), ...events];
      }
      for (const e of journalEvents(events, this.o.userId)) {
        records.push({ eventId: e.event_id, roomId, sender: e.sender, raw: JSON.stringify({ ...e, room_id: roomId }), receivedAt: Date.now() });
      }
      const gone = departuresIn(events, this.o.userId);
      if (gone.length > 0) await this.o.onDepartures?.(roomId, gone);
    }
    await this.o.store.addInbound(records);
  }

  /** The room's events from `from` on (up to `to`), oldest first, from `/messages`. */
  private async history(roomId: string, from: string, to?: string): Promise<RawEvent[]> {
    const out: RawEvent[] = [];
    let token: string | undefined = from;
    // At most 100 pages of 100: a bot away long enough to miss more answers the rest late or never.
    for (let page = 0; token !== undefined && page < 100; page++) {
      const res: { chunk?: RawEvent[]; end?: string } = await this.client.http.authedRequest(Method.Get, `/rooms/${encodeURIComponent(roomId)}/messages`, {
        from: token,
        dir: "f",
        limit: "100",
        filter: JSON.stringify(JOURNAL_FILTER),
        ...(to !== undefined ? { to } : {}),
      });
      const chunk = res.chunk ?? [];
      out.push(...chunk);
      if (chunk.length === 0 || res.end === token) break;
      token = res.end;
    }
    return out;
  }

  async open(raw: string): Promise<OpenedEvent | "waiting" | "unreadable"> {
    const ev = new MatrixEvent(JSON.parse(raw) as Record<string, unknown>);
    if (ev.getWireType() === (EventType.RoomMessageEncrypted as string)) {
      if (!this.client.getCrypto()) return "unreadable";
      await this.client.decryptEventIfNeeded(ev);
      if (ev.isDecryptionFailure()) {
        // A key that has not arrived yet may still come; anything else will not.
        const reason = ev.decryptionFailureReason;
        return reason === DecryptionFailureCode.MEGOLM_UNKNOWN_INBOUND_SESSION_ID || reason === DecryptionFailureCode.UNKNOWN_ERROR ? "waiting" : "unreadable";
      }
    }
    const wire = ev.getWireContent() as { session_id?: unknown; device_id?: unknown; sender_key?: unknown; "m.relates_to"?: unknown };
    const device = typeof wire.device_id === "string" ? wire.device_id : typeof wire.sender_key === "string" ? wire.sender_key : ev.getSenderKey();
    return {
      eventId: ev.getId() ?? "",
      roomId: ev.getRoomId() ?? "",
      sender: ev.getSender() ?? "",
      type: ev.getType(),
      content: ev.getContent(),
      encrypted: ev.isEncrypted(),
      ts: ev.getTs(),
      ...(ev.isEncrypted()
        ? {
            ...(typeof wire.session_id === "string" && device ? { session: { id: wire.session_id, device } } : {}),
            senderDevice: await senderDevice(this.client, ev),
            ...(wire["m.relates_to"] !== undefined ? { outerRelation: wire["m.relates_to"] } : {}),
          }
        : {}),
    };
  }

  async isEncrypted(roomId: string): Promise<boolean> {
    return this.client.getRoom(roomId)?.hasEncryptionStateEvent() ?? false;
  }

  /** Accepts an invite from someone who may invite the bot; declines any other. */
  private async onInvite(room: Room): Promise<void> {
    const inviter = room.getMember(this.o.userId)?.events.member?.getSender();
    const predecessor = room
      .getLiveTimeline()
      .getState(EventTimeline.FORWARDS)
      ?.getStateEvents(EventType.RoomCreate, "")
      ?.getContent<{ predecessor?: { room_id?: unknown } }>().predecessor?.room_id;
    const follows = this.o.mayFollow
      ? await this.o.mayFollow(room.roomId, typeof predecessor === "string" ? predecessor : undefined).catch(() => false)
      : false;
    if (!follows && this.o.mayInvite && (inviter === undefined || !this.o.mayInvite(inviter))) {
      this.o.log(
        `matrix: declined the invite to ${room.roomId} from ${inviter ?? "an unknown user"}: only users who may create groups may invite the bot (acceptInvitesFrom)`,
      );
      await this.client.leave(room.roomId).catch((e: unknown) => this.o.log(`matrix: could not decline the invite to ${room.roomId}: ${(e as Error).message}`));
      return;
    }
    try {
      await this.client.joinRoom(room.roomId);
      this.o.log(`matrix: joined ${room.roomId}`);
    } catch (e) {
      this.o.log(`matrix: could not join ${room.roomId}: ${(e as Error).message}`);
    }
  }

  async reply(roomId: string, reply: Reply, inReplyTo?: string): Promise<void> {
    await this.send(
      roomId,
      {
        msgtype: reply.notify ? "m.text" : "m.notice",
        body: reply.text,
        ...(reply.html ? { format: "org.matrix.custom.html", formatted_body: reply.html } : {}),
        ...(reply.thread
          ? {
              "m.relates_to": {
                rel_type: "m.thread",
                event_id: reply.thread,
                is_falling_back: true,
                ...(inReplyTo ? { "m.in_reply_to": { event_id: inReplyTo } } : {}),
              },
            }
          : inReplyTo
            ? { "m.relates_to": { "m.in_reply_to": { event_id: inReplyTo } } }
            : {}),
        // Always present: with no m.mentions, clients fall back to matching the body (a quoted @room would ping everyone).
        "m.mentions": { user_ids: reply.mentions ?? [] },
      },
      inReplyTo ? onceTxnId(`reply:${roomId}:${inReplyTo}`) : undefined,
    );
  }

  async roomMembers(roomId: string): Promise<{ userId: string; membership: Membership }[]> {
    // The SDK types this response loosely; it is the spec's { chunk: m.room.member events }.
    const res = (await this.client.members(roomId)) as unknown as { chunk: RawStateEvent[] };
    return membersFrom(res.chunk);
  }

  async kick(roomId: string, userId: string, reason: string): Promise<void> {
    await this.client.kick(roomId, userId, reason);
  }

  async ban(roomId: string, userId: string, reason: string): Promise<void> {
    await this.client.ban(roomId, userId, reason);
  }

  async unban(roomId: string, userId: string): Promise<void> {
    await this.client.unban(roomId, userId);
  }

  async join(roomId: string, via: string[]): Promise<void> {
    await this.client.joinRoom(roomId, { viaServers: via });
  }

  async leave(roomId: string): Promise<void> {
    await this.client.leave(roomId);
  }

  /**
   * A state event as the homeserver has it now, with its sender when the
   * server gives the whole event (`format=event`); undefined when the room
   * has none.
   */
  private async stateEvent(roomId: string, type: string): Promise<{ content: Record<string, unknown>; sender?: string } | undefined> {
    let res: Record<string, unknown>;
    try {
      res = await this.client.http.authedRequest(Method.Get, `/rooms/${encodeURIComponent(roomId)}/state/${encodeURIComponent(type)}/`, { format: "event" });
    } catch (e) {
      if ((e as { errcode?: string }).errcode === "M_NOT_FOUND") return undefined;
      throw e;
    }
    // A server that ignores `format` answers with the content alone.
    if (typeof res["type"] === "string" && typeof res["content"] === "object" && res["content"] !== null) {
      return { content: res["content"] as Record<string, unknown>, ...(typeof res["sender"] === "string" ? { sender: res["sender"] } : {}) };
    }
    return { content: res };
  }

  async rules(roomId: string): Promise<RoomRules> {
    const [join, history, encryption, tombstone, create] = await Promise.all([
      this.stateEvent(roomId, EventType.RoomJoinRules),
      this.stateEvent(roomId, EventType.RoomHistoryVisibility),
      this.stateEvent(roomId, EventType.RoomEncryption),
      this.stateEvent(roomId, EventType.RoomTombstone),
      this.createEvent(roomId),
    ]);
    return rulesFrom({ join, history, encryption, tombstone, create }, this.o.cryptoFile !== undefined);
  }

  /**
   * The room's rules, power levels and members from one read of its whole
   * state: what rules, powers and roomMembers answer, in one request
   * instead of six (the bridge's full pass reads every room).
   */
  async snapshot(roomId: string): Promise<RoomSnapshot> {
    const events = await this.client.http.authedRequest<RawStateEvent[]>(Method.Get, `/rooms/${encodeURIComponent(roomId)}/state`);
    const state = indexState(events);
    const create = state.one(EventType.RoomCreate);
    if (create && !this.createOf.has(roomId)) this.createOf.set(roomId, create);
    return {
      rules: rulesFrom(
        {
          join: state.one(EventType.RoomJoinRules),
          history: state.one(EventType.RoomHistoryVisibility),
          encryption: state.one(EventType.RoomEncryption),
          tombstone: state.one(EventType.RoomTombstone),
          create: await this.createEvent(roomId),
        },
        this.o.cryptoFile !== undefined,
      ),
      powers: powersFrom(state.one(EventType.RoomPowerLevels)?.content, await this.creators(roomId), this.o.userId),
      members: membersFrom(state.members),
    };
  }

  async setRule(roomId: string, rule: "joinRule" | "historyVisibility" | "encryption", value: string): Promise<void> {
    if (rule === "joinRule") await this.client.sendStateEvent(roomId, EventType.RoomJoinRules, { join_rule: value } as never, "");
    else if (rule === "historyVisibility")
      await this.client.sendStateEvent(roomId, EventType.RoomHistoryVisibility, { history_visibility: value } as never, "");
    else await this.client.sendStateEvent(roomId, EventType.RoomEncryption, { algorithm: value } as never, "");
  }

  async setEventLevels(roomId: string, levels: Record<string, number>): Promise<void> {
    const pl = (await this.client.getStateEvent(roomId, EventType.RoomPowerLevels, "")) as { events?: Record<string, number> };
    await this.client.sendStateEvent(roomId, EventType.RoomPowerLevels, { ...pl, events: { ...(pl.events ?? {}), ...levels } }, "");
  }

  async setPowers(roomId: string, levels: Record<string, number>): Promise<void> {
    const pl = (await this.client.getStateEvent(roomId, EventType.RoomPowerLevels, "")) as { users?: Record<string, number> };
    await this.client.sendStateEvent(roomId, EventType.RoomPowerLevels, { ...pl, users: { ...(pl.users ?? {}), ...levels } }, "");
  }

  async powers(roomId: string): Promise<RoomPowers> {
    const [pl, creators] = await Promise.all([this.stateEvent(roomId, EventType.RoomPowerLevels), this.creators(roomId)]);
    return powersFrom(pl?.content, creators, this.o.userId);
  }

  /** A room's `m.room.create`: it never changes, so it is read once. */
  private async createEvent(roomId: string): Promise<{ content: Record<string, unknown>; sender?: string } | undefined> {
    const known = this.createOf.get(roomId);
    if (known) return known;
    const create = await this.stateEvent(roomId, EventType.RoomCreate);
    if (create) this.createOf.set(roomId, create);
    return create;
  }

  /** A version 12 room's creators (unlimited power); none in older versions. */
  private async creators(roomId: string): Promise<string[]> {
    const known = this.creatorsOf.get(roomId);
    if (known) return known;
    const create = await this.createEvent(roomId);
    if (!create) return [];
    // Without the sender (a server that gives content only), the client's copy of the event has it.
    const sender =
      create.sender ?? this.client.getRoom(roomId)?.getLiveTimeline().getState(EventTimeline.FORWARDS)?.getStateEvents(EventType.RoomCreate, "")?.getSender();
    const out = creatorsFrom(create, sender);
    this.creatorsOf.set(roomId, out);
    return out;
  }

  async rotateKey(roomId: string, text: string, removed: string, once: string): Promise<void> {
    // The new key must not reach the removed account: wait until this
    // client's view of the room (which decides who gets the key) has it out,
    // told by the sync that brings the change.
    await new Promise<void>((resolve, reject) => {
      const out = () => {
        const m = this.client.getRoom(roomId)?.getMember(removed)?.membership;
        return m !== "join" && m !== "invite";
      };
      const done = (e?: Error) => {
        clearTimeout(timer);
        this.client.off(RoomMemberEvent.Membership, onMember);
        if (e) reject(e);
        else resolve();
      };
      const onMember = (_e: MatrixEvent, member: RoomMember) => {
        if (member.roomId === roomId && member.userId === removed && out()) done();
      };
      // Not yet after 2 s: the caller tries again on its next pass.
      const timer = setTimeout(() => {
        done(out() ? undefined : new Error(`${removed} still shows as ${this.client.getRoom(roomId)?.getMember(removed)?.membership} in ${roomId}`));
      }, 2_000);
      this.client.on(RoomMemberEvent.Membership, onMember);
      if (out()) done();
    });
    // Without end-to-end encryption there is no room key to rotate; the
    // encrypted path discards the bot's outbound session first.
    const crypto = this.client.getCrypto();
    if (crypto && (await crypto.isEncryptionEnabledInRoom(roomId))) await crypto.forceDiscardSession(roomId);
    await this.send(roomId, { msgtype: "m.notice", body: text, [ONCE_KEY]: once }, onceTxnId(`notice:${once}`));
  }

  sentOnce(roomId: string, once: string, since: number): Promise<boolean> {
    return sentSince(this.client, roomId, this.o.userId, since, (_wire, clear) => clear[ONCE_KEY] === once);
  }

  replied(roomId: string, eventId: string, since: number): Promise<boolean> {
    return sentSince(this.client, roomId, this.o.userId, since, (wire, clear) => repliesTo(wire, eventId) || repliesTo(clear, eventId));
  }

  /** The rooms the bot has joined, as this client knows them. */
  joinedRooms(): string[] {
    return this.client
      .getRooms()
      .filter((r) => r.getMyMembership() === "join")
      .map((r) => r.roomId);
  }

  /** Sends an event of any type once per `once` (a second send with the same key sends nothing new); returns its id. */
  async sendEvent(roomId: string, type: string, content: Record<string, unknown>, once: string): Promise<string> {
    const txnId = onceTxnId(`event:${once}`);
    const room = this.client.getRoom(roomId);
    // A failed attempt is kept under its transaction id: send that very event again.
    const failed = room?.getEventForTxnId(txnId);
    if (room && failed?.status === EventStatus.NOT_SENT) return (await this.client.resendEvent(failed, room)).event_id;
    return (await this.client.sendEvent(roomId, type as never, content as never, txnId)).event_id;
  }

  async notice(roomId: string, text: string, once?: string): Promise<void> {
    await this.send(roomId, { msgtype: "m.notice", body: text }, once === undefined ? undefined : onceTxnId(`notice:${once}`));
  }

  async mention(roomId: string, m: Mention, once: string): Promise<void> {
    await this.send(
      roomId,
      // m.text: its point is to notify them, and Element never notifies an m.notice.
      { msgtype: "m.text", body: m.text, format: "org.matrix.custom.html", formatted_body: m.html, "m.mentions": { user_ids: m.userIds } },
      onceTxnId(`mention:${once}`),
    );
  }

  /**
   * Sends, making sure the crypto knows the room is encrypted: after a
   * restart the room's encryption settings may not have reached it yet.
   */
  private async send(roomId: string, content: Record<string, unknown>, txnId?: string): Promise<void> {
    try {
      await this.sendOnce(roomId, content, txnId);
    } catch (e) {
      if (!/unconfigured room/.test((e as Error).message)) throw e;
      const room = this.client.getRoom(roomId);
      const ev = room?.getLiveTimeline().getState(EventTimeline.FORWARDS)?.getStateEvents(EventType.RoomEncryption, "");
      const crypto = this.client.getCrypto() as unknown as { onCryptoEvent?: (r: Room, e: MatrixEvent) => Promise<void> } | undefined;
      this.o.log(`matrix: ${roomId}: the crypto has not set up this room's encryption yet; setting it up`);
      if (!room || !crypto?.onCryptoEvent) throw e;
      const state =
        ev ??
        new MatrixEvent({
          type: EventType.RoomEncryption,
          state_key: "",
          room_id: roomId,
          content: (await this.client.getStateEvent(roomId, EventType.RoomEncryption, "")) as Record<string, unknown>,
        });
      await crypto.onCryptoEvent(room, state);
      await this.sendOnce(roomId, content, txnId);
    }
  }

  /**
   * One attempt. The client keeps a failed message under its transaction id
   * and refuses a new one with that id: the next attempt resends that very
   * event (the same id, so the homeserver keeps one copy).
   */
  private async sendOnce(roomId: string, content: Record<string, unknown>, txnId?: string): Promise<void> {
    const room = this.client.getRoom(roomId);
    const failed = txnId === undefined ? undefined : room?.getEventForTxnId(txnId);
    if (room && failed?.status === EventStatus.NOT_SENT) await this.client.resendEvent(failed, room);
    else await this.client.sendMessage(roomId, content as never, txnId);
  }

  async replyInThread(roomId: string, place: ThreadPlace, reply: Reply, mentions: string[], once: string): Promise<void> {
    await this.send(
      roomId,
      {
        // m.text: the sender must be notified, and Element never notifies an m.notice.
        msgtype: "m.text",
        body: reply.text,
        ...(reply.html ? { format: "org.matrix.custom.html", formatted_body: reply.html } : {}),
        "m.mentions": { user_ids: mentions },
        // In the thread; a client without threads shows it as a reply.
        "m.relates_to": {
          rel_type: "m.thread",
          event_id: place.root,
          is_falling_back: place.root === place.inReplyTo,
          "m.in_reply_to": { event_id: place.inReplyTo },
        },
      },
      onceTxnId(once),
    );
  }

  async redact(roomId: string, eventId: string, reason: string): Promise<void> {
    await this.client.redactEvent(roomId, eventId, onceTxnId(`redact:${roomId}:${eventId}`), { reason });
  }

  roomState(roomId: string, type: string): Record<string, unknown> | undefined {
    const content = this.client.getRoom(roomId)?.getLiveTimeline().getState(EventTimeline.FORWARDS)?.getStateEvents(type, "")?.getContent();
    return content && Object.keys(content).length > 0 ? content : undefined;
  }

  async joinedMembers(roomId: string): Promise<string[]> {
    const res = await this.client.getJoinedRoomMembers(roomId);
    return Object.keys(res.joined);
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.client.invite(roomId, userId);
  }

  async putState(roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<void> {
    await this.client.sendStateEvent(roomId, type as never, content as never, stateKey);
  }

  displayName(roomId: string, userId: string): string {
    return this.client.getRoom(roomId)?.getMember(userId)?.name ?? userId;
  }

  async resolveAlias(alias: string): Promise<string | undefined> {
    try {
      const res: { room_id?: unknown } = await this.client.http.authedRequest(
        Method.Get,
        `/directory/room/${encodeURIComponent(alias)}`,
        undefined,
        undefined,
        {
          localTimeoutMs: LOOKUP_TIMEOUT_MS,
        },
      );
      return typeof res.room_id === "string" ? res.room_id : undefined;
    } catch (e) {
      if ((e as { errcode?: string }).errcode === "M_NOT_FOUND") return undefined;
      throw e;
    }
  }

  async checkAccount(userId: string): Promise<AccountCheck> {
    try {
      await this.client.http.authedRequest(Method.Get, `/profile/${encodeURIComponent(userId)}`, undefined, undefined, { localTimeoutMs: LOOKUP_TIMEOUT_MS });
      return "exists";
    } catch (e) {
      const err = e as { errcode?: string; httpStatus?: number; message?: string };
      this.o.log(`matrix: profile of ${userId}: ${err.httpStatus ?? "no answer"} ${err.errcode ?? ""} ${err.message ?? ""}`);
      if (err.errcode === "M_NOT_FOUND" || err.httpStatus === 404) return "missing";
      // Profiles kept private (Synapse's require_auth_for_profile_requests, limit_profile_requests_to_users_who_share_rooms).
      if (err.errcode === "M_FORBIDDEN" || err.httpStatus === 403) return "unknown";
      throw e;
    }
  }

  membership(roomId: string, userId: string): Membership | undefined {
    return this.client.getRoom(roomId)?.getMember(userId)?.membership as Membership | undefined;
  }

  roomLabel(roomId: string): string {
    return this.client.getRoom(roomId)?.getCanonicalAlias() ?? roomId;
  }
}

/** How long an alias or a profile lookup may take before the bot says the homeserver did not answer. */
const LOOKUP_TIMEOUT_MS = 5000;
