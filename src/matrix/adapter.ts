/**
 * The Matrix adapter: with its siblings, the only code that imports matrix-js-sdk.
 * It logs in (reusing the device it was given or saved), follows the rooms
 * the bot is in, hands message events to the bot, and offers the small room
 * capabilities the rest of the code depends on.
 */
import {
  ClientEvent,
  EventType,
  MatrixEvent,
  RoomEvent,
  RoomMemberEvent,
  SyncState,
  createClient,
  type MatrixClient,
  type Room,
  type RoomMember,
} from "matrix-js-sdk";
import { logger as sdkLogger } from "matrix-js-sdk/lib/logger.js";
import type { Store } from "../store/store.ts";
import { persistOnWrite, restoreIndexedDB, saveIndexedDB } from "./crypto-persist.ts";
import type { IncomingMessage, Membership, Reply, RoomEnforcer, RoomPort } from "../ports/rooms.ts";

/**
 * matrix-js-sdk logs every sync step at info; the bot's own log says what
 * matters. Its child loggers print through console.log/info/debug whatever
 * the level, and the bot's own log goes to stdout directly: those are dropped.
 */
export function quietSdkLogs(): void {
  (sdkLogger as unknown as { setLevel?: (l: string) => void }).setLevel?.("warn");
  for (const m of ["log", "info", "debug"] as const) console[m] = () => {};
}

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
  log: (line: string) => void;
}

export class MatrixAdapter implements RoomPort, RoomEnforcer {
  private client!: MatrixClient;
  private readonly o: MatrixOptions;
  private handler: (m: IncomingMessage) => Promise<void> = async () => {};
  private membershipHandler: (roomId: string, userId: string, membership: string) => void = () => {};

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

  onMessage(handler: (m: IncomingMessage) => Promise<void>): void {
    this.handler = handler;
  }

  /** Logs in (or reuses the saved device), starts syncing, resolves when the first sync is done. */
  async start(): Promise<void> {
    const { store, baseUrl, userId } = this.o;
    let accessToken = this.o.accessToken ?? (await store.getState("matrix.accessToken"));
    let deviceId = await store.getState("matrix.deviceId");
    if (!accessToken) {
      if (!this.o.password) throw new Error("the bot needs a password or an access token");
      const login = createClient({ baseUrl });
      const res = await login.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: userId },
        password: this.o.password,
        initial_device_display_name: this.o.deviceName ?? "Conclave bot",
        ...(deviceId ? { device_id: deviceId } : {}),
      });
      accessToken = res.access_token;
      deviceId = res.device_id;
      await store.setState("matrix.accessToken", accessToken);
      await store.setState("matrix.deviceId", deviceId);
      login.stopClient();
    }
    this.client = createClient({ baseUrl, userId, accessToken, ...(deviceId ? { deviceId } : {}) });
    if (this.o.cryptoFile) {
      // Same device, same keys as last time: restore the state before the crypto starts.
      const restored = await restoreIndexedDB(this.o.cryptoFile);
      await this.client.initRustCrypto({ useIndexedDB: true, storagePassword: this.o.cryptoPassphrase ?? "" });
      await saveIndexedDB(this.o.cryptoFile);
      this.flushCrypto = persistOnWrite(this.o.cryptoFile, (e) => this.o.log(`matrix: saving the crypto state failed: ${(e as Error).message}`));
      this.o.log(`matrix: end-to-end encryption ready (${restored ? "state restored" : "new device keys"})`);
    }
    this.client.on(RoomMemberEvent.Membership, (_e: MatrixEvent, member: RoomMember) => {
      if (member.userId === userId) return;
      else if (member.userId !== userId) this.membershipHandler(member.roomId, member.userId, member.membership ?? "");
    });
    // The bot's own membership: accept invites (not the old ones replayed from history).
    this.client.on(RoomEvent.MyMembership, (room: Room, membership: string) => {
      if (membership === "invite") void this.acceptInvite(room.roomId);
    });
    this.client.on(RoomEvent.Timeline, (event: MatrixEvent, room: Room | undefined) => {
      void this.onTimeline(event, room);
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
    await this.client.startClient({ initialSyncLimit: 20, lazyLoadMembers: true });
    await ready;
    // Rooms we were invited to while away.
    for (const room of this.client.getRooms()) {
      if (room.getMyMembership() === "invite") await this.acceptInvite(room.roomId);
    }
    this.o.log(`matrix: synced as ${userId} (device ${deviceId ?? "?"})`);
  }

  private flushCrypto: () => Promise<void> = async () => {};

  async stop(): Promise<void> {
    this.client?.stopClient();
    await this.flushCrypto();
    if (this.o.cryptoFile) await saveIndexedDB(this.o.cryptoFile);
  }

  private async acceptInvite(roomId: string): Promise<void> {
    try {
      await this.client.joinRoom(roomId);
      this.o.log(`matrix: joined ${roomId}`);
    } catch (e) {
      this.o.log(`matrix: could not join ${roomId}: ${(e as Error).message}`);
    }
  }

  private async onTimeline(event: MatrixEvent, room: Room | undefined): Promise<void> {
    if (!room) return;
    if (event.isEncrypted()) await this.client.decryptEventIfNeeded(event);
    if (event.getType() !== EventType.RoomMessage) return;
    const sender = event.getSender();
    if (!sender || sender === this.o.userId) return;
    const content = event.getContent() as {
      msgtype?: string;
      body?: unknown;
      formatted_body?: unknown;
      "m.mentions"?: { user_ids?: unknown };
    };
    if (content.msgtype !== "m.text" || typeof content.body !== "string") return;
    const ts = event.getTs();
    const eventId = event.getId() ?? "";
    // Commands sent while the bot was away arrive with the first sync: take
    // each event once, in order, from where the bot stopped.
    const last = Number((await this.o.store.getState(`matrix.lastTs:${room.roomId}`)) ?? "0");
    if (ts < last) return;
    if (ts === last && (await this.o.store.getState(`matrix.lastId:${room.roomId}`)) === eventId) return;
    await this.o.store.setState(`matrix.lastTs:${room.roomId}`, String(ts));
    await this.o.store.setState(`matrix.lastId:${room.roomId}`, eventId);
    const mentions = Array.isArray(content["m.mentions"]?.user_ids)
      ? (content["m.mentions"].user_ids as unknown[]).filter((u): u is string => typeof u === "string")
      : undefined;
    try {
      await this.handler({
        roomId: room.roomId,
        eventId,
        sender,
        ts,
        body: content.body,
        ...(typeof content.formatted_body === "string" ? { formattedBody: content.formatted_body } : {}),
        ...(mentions ? { mentions } : {}),
      });
    } catch (e) {
      this.o.log(`bot: a handler failed on ${eventId}: ${(e as Error).stack ?? String(e)}`);
    }
  }

  async reply(roomId: string, reply: Reply, inReplyTo?: string): Promise<void> {
    await this.send(roomId, {
      msgtype: "m.notice",
      body: reply.text,
      ...(reply.html ? { format: "org.matrix.custom.html", formatted_body: reply.html } : {}),
      ...(inReplyTo ? { "m.relates_to": { "m.in_reply_to": { event_id: inReplyTo } } } : {}),
    });
  }

  async roomMembers(roomId: string): Promise<{ userId: string; membership: Membership }[]> {
    // The SDK types this response loosely; it is the spec's { chunk: m.room.member events }.
    const res = (await this.client.members(roomId)) as unknown as { chunk: { state_key?: string; content?: { membership?: string } }[] };
    return res.chunk
      .filter((e) => typeof e.state_key === "string")
      .map((e) => ({ userId: e.state_key!, membership: (e.content?.membership ?? "leave") as Membership }));
  }

  async kick(roomId: string, userId: string, reason: string): Promise<void> {
    await this.client.kick(roomId, userId, reason);
  }

  async setPowers(roomId: string, levels: Record<string, number>): Promise<void> {
    const pl = (await this.client.getStateEvent(roomId, EventType.RoomPowerLevels, "")) as { users?: Record<string, number> };
    await this.client.sendStateEvent(roomId, EventType.RoomPowerLevels, { ...pl, users: { ...(pl.users ?? {}), ...levels } } as never, "");
  }

  async powers(roomId: string): Promise<{ mine: number; kick: number; invite: number; users: Record<string, number>; creators: string[] }> {
    const pl = (await this.client.getStateEvent(roomId, EventType.RoomPowerLevels, "")) as {
      users?: Record<string, number>;
      users_default?: number;
      kick?: number;
      invite?: number;
    };
    // In room version 12 the creators have unlimited power and are not listed.
    const creators = this.client.getRoom(roomId)?.currentState.getStateEvents(EventType.RoomCreate, "")?.getSender();
    const mine = creators === this.o.userId ? Infinity : (pl.users?.[this.o.userId] ?? pl.users_default ?? 0);
    return { mine, kick: pl.kick ?? 50, invite: pl.invite ?? 0, users: pl.users ?? {}, creators: creators ? [creators] : [] };
  }

  async rotateKey(roomId: string, text: string, removed: string): Promise<void> {
    // The new key must not reach the removed account: wait until this
    // client's view of the room (which decides who gets the key) has it out.
    const deadline = Date.now() + 2_000;
    for (;;) {
      const m = this.client.getRoom(roomId)?.getMember(removed)?.membership;
      if (m !== "join" && m !== "invite") break;
      // Not yet: the caller tries again on its next pass.
      if (Date.now() > deadline) throw new Error(`${removed} still shows as ${m} in ${roomId}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // Without end-to-end encryption there is no room key to rotate; the
    // encrypted path discards the bot's outbound session first.
    const crypto = this.client.getCrypto();
    if (crypto && (await crypto.isEncryptionEnabledInRoom(roomId))) crypto.forceDiscardSession(roomId);
    await this.notice(roomId, text);
  }

  async notice(roomId: string, text: string): Promise<void> {
    await this.send(roomId, { msgtype: "m.notice", body: text });
  }

  /**
   * Sends, making sure the crypto knows the room is encrypted: after a
   * restart the room's encryption settings may not have reached it yet.
   */
  private async send(roomId: string, content: Record<string, unknown>): Promise<void> {
    try {
      await this.client.sendMessage(roomId, content as never);
    } catch (e) {
      if (!/unconfigured room/.test((e as Error).message)) throw e;
      const room = this.client.getRoom(roomId);
      const ev = room?.currentState.getStateEvents(EventType.RoomEncryption, "");
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
      await this.client.sendMessage(roomId, content as never);
    }
  }

  async joinedMembers(roomId: string): Promise<string[]> {
    const res = await this.client.getJoinedRoomMembers(roomId);
    return Object.keys(res.joined);
  }

  async makePrivate(roomId: string): Promise<void> {
    await this.client.sendStateEvent(roomId, EventType.RoomJoinRules, { join_rule: "invite" } as never, "");
    await this.client.sendStateEvent(roomId, EventType.RoomHistoryVisibility, { history_visibility: "joined" } as never, "");
    if (this.o.cryptoFile) {
      const state = this.client.getRoom(roomId)?.currentState.getStateEvents(EventType.RoomEncryption, "");
      if (!state) await this.client.sendStateEvent(roomId, EventType.RoomEncryption, { algorithm: "m.megolm.v1.aes-sha2" } as never, "");
    }
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.client.invite(roomId, userId);
  }

  displayName(roomId: string, userId: string): string {
    return this.client.getRoom(roomId)?.getMember(userId)?.name ?? userId;
  }
}
