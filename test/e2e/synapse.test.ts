// End-to-end check of the local Synapse harness (scripts/synapse.ts): a real
// homeserver from the project's .venv, two users, a private room, a message.
import { fileURLToPath } from "node:url";
import {
  ClientEvent,
  createClient,
  EventType,
  MsgType,
  Preset,
  RoomEvent,
  SyncState,
  Visibility,
  type MatrixClient,
  type MatrixEvent,
  type Room,
} from "matrix-js-sdk";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ensureSynapse, MatrixApiError, startSynapse, type SynapseHandle } from "../../scripts/synapse.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * matrix-js-sdk logs every sync, queue and call-session step through console
 * (looked up at call time); mute everything but errors.
 */
function muteSdkChatter(): () => void {
  const spies = (["log", "info", "debug", "warn"] as const).map((m) => vi.spyOn(console, m).mockImplementation(() => {}));
  return () => spies.forEach((s) => s.mockRestore());
}

function withTimeout<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Starts a client and resolves once its first sync is done. */
async function startAndSync(client: MatrixClient): Promise<void> {
  const prepared = new Promise<void>((resolve, reject) => {
    const onSync = (state: SyncState): void => {
      if (state === SyncState.Prepared || state === SyncState.Syncing) {
        client.off(ClientEvent.Sync, onSync);
        resolve();
      } else if (state === SyncState.Error) {
        client.off(ClientEvent.Sync, onSync);
        reject(new Error(`initial sync of ${client.getUserId()} failed`));
      }
    };
    client.on(ClientEvent.Sync, onSync);
  });
  await client.startClient({ initialSyncLimit: 10 });
  await withTimeout(`initial sync of ${client.getUserId()}`, 30_000, prepared);
}

describe("local Synapse", () => {
  let hs: SynapseHandle;
  const clients: MatrixClient[] = [];
  let unmute: () => void = () => {};

  beforeAll(async () => {
    unmute = muteSdkChatter();
    await ensureSynapse(root);
    hs = await startSynapse({ root });
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.stopClient();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
    await hs?.stop();
    unmute();
  }, 30_000);

  it("serves the client API on loopback", async () => {
    expect(hs.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(hs.serverName).toBe("localhost");
    const res = await fetch(`${hs.baseUrl}/_matrix/client/versions`);
    expect(res.ok).toBe(true);
    const body = (await res.json()) as { versions: string[] };
    expect(body.versions.length).toBeGreaterThan(0);
  });

  it("delivers a message from alice to bob in a private room", async () => {
    const alice = await hs.registerUser("alice", "alice-password", true);
    const bob = await hs.registerUser("bob", "bob-password");
    expect(alice.userId).toBe("@alice:localhost");
    expect(bob.userId).toBe("@bob:localhost");
    expect(alice.accessToken).not.toBe("");
    expect(alice.deviceId).not.toBe("");

    const aliceClient = createClient({ baseUrl: hs.baseUrl, ...alice });
    const bobClient = createClient({ baseUrl: hs.baseUrl, ...bob });
    clients.push(aliceClient, bobClient);
    await Promise.all([startAndSync(aliceClient), startAndSync(bobClient)]);

    const { room_id: roomId } = await aliceClient.createRoom({
      name: "conclave e2e",
      visibility: Visibility.Private,
      preset: Preset.PrivateChat,
      invite: [bob.userId],
    });

    await bobClient.joinRoom(roomId);

    // Listen before sending so the event cannot slip past us.
    const received = new Promise<MatrixEvent>((resolve) => {
      const onTimeline = (event: MatrixEvent, room: Room | undefined): void => {
        if (room?.roomId !== roomId || event.getType() !== (EventType.RoomMessage as string)) return;
        if (event.getSender() !== alice.userId || event.getContent()["body"] !== "hello") return;
        bobClient.off(RoomEvent.Timeline, onTimeline);
        resolve(event);
      };
      bobClient.on(RoomEvent.Timeline, onTimeline);
    });

    const { event_id: eventId } = await aliceClient.sendEvent(roomId, EventType.RoomMessage, {
      msgtype: MsgType.Text,
      body: "hello",
    });

    const event = await withTimeout("bob to receive alice's message", 30_000, received);
    expect(event.getId()).toBe(eventId);
    expect(event.getContent()).toMatchObject({ msgtype: "m.text", body: "hello" });

    aliceClient.stopClient();
    bobClient.stopClient();
  });

  it("refuses to register an existing localpart with a clear error", async () => {
    await hs.registerUser("carol", "carol-password");
    const again = hs.registerUser("carol", "other-password");
    await expect(again).rejects.toBeInstanceOf(MatrixApiError);
    await expect(again).rejects.toMatchObject({ status: 400, errcode: "M_USER_IN_USE" });
    await expect(again).rejects.toThrow(/registerUser\("carol"\).*M_USER_IN_USE: User ID already taken/);
  });
});
