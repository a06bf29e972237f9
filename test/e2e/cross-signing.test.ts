/**
 * The bot is a cross-signed device that Element keeps talking to when it
 * excludes insecure devices (MSC4153), proved with real clients in a real
 * Synapse: alice's client runs matrix-js-sdk's "only cross-signed devices"
 * isolation mode, so it shares room keys only with devices their owners
 * cross-signed and decrypts nothing from other devices. The bot runs with
 * bot.requireCrossSignedDevices: dave, whose device nobody signed, is
 * answered why his commands are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname } from "node:path";
import { DecryptionFailureCode, EventShieldReason } from "matrix-js-sdk/lib/crypto-api/index.js";
import { startSystem, type System } from "../../scripts/harness.ts";
import { createGroup, dm, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";

const root = join(import.meta.dirname, "../..");
let sys: System;
let alice: ChatUser, bob: ChatUser, carol: ChatUser, dave: ChatUser;
let room: string;
let bot: string;

/** The bot's devices and master key as a member's client reads them from the homeserver. */
async function botKeys(u: ChatUser): Promise<{ master: string | undefined; devices: string[] }> {
  const res = await u.client.downloadKeysForUsers([bot]);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a homeserver may leave either map out
  return { master: Object.values(res.master_keys?.[bot]?.keys ?? {})[0], devices: Object.keys(res.device_keys?.[bot] ?? {}) };
}

/** The device the bot process says it runs as (its latest start). */
function botDevice(): string {
  const line = [...sys.bot.lines].reverse().find((l) => /matrix: synced as \S+ \(device \S+\)/.test(l));
  return /\(device (\S+)\)/.exec(line ?? "")?.[1] ?? "";
}

/** Waits until `u`'s client has the bot's device `device` and sees it signed by the bot's identity. */
async function seesSigned(u: ChatUser, device: string): Promise<void> {
  const crypto = u.client.getCrypto()!;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const devices = await crypto.getUserDeviceInfo([bot], true);
    if (devices.get(bot)?.has(device) && (await crypto.getDeviceVerificationStatus(bot, device))?.signedByOwner) return;
    if (Date.now() > deadline) throw new Error(`${u.userId} never saw ${device} of ${bot} cross-signed`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The Megolm sessions of `roomId` that the homeserver's key backup of the bot holds, read with a session of the bot's own. */
async function backedUp(roomId: string): Promise<Set<string>> {
  const base = sys.synapse.baseUrl;
  const login = await fetch(`${base}/_matrix/client/v3/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      type: "m.login.password",
      identifier: { type: "m.id.user", user: bot },
      password: "conclave-bot-password",
      initial_device_display_name: "test probe",
    }),
  });
  const { access_token: token } = (await login.json()) as { access_token: string };
  const get = async (path: string) =>
    (await fetch(`${base}/_matrix/client/v3${path}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<Record<string, unknown>>;
  try {
    const { version } = (await get("/room_keys/version")) as { version?: string };
    if (version === undefined) return new Set();
    const keys = (await get(`/room_keys/keys?version=${version}`)) as { rooms?: Record<string, { sessions?: Record<string, unknown> }> };
    return new Set(Object.keys(keys.rooms?.[roomId]?.sessions ?? {}));
  } finally {
    await fetch(`${base}/_matrix/client/v3/logout`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{}",
    });
  }
}

/** Polls `check` every second for a minute. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** The Megolm session and message index an event was encrypted at (the index is the ciphertext's first field). */
function megolmAt(e: { getWireContent(): Record<string, unknown> }): string {
  const c = e.getWireContent() as { session_id?: string; ciphertext?: string };
  const bytes = Buffer.from(c.ciphertext ?? "", "base64");
  // Version byte, then field 1 (tag 0x08): the index, a varint.
  if (bytes[1] !== 0x08) throw new Error("not a Megolm message");
  let index = 0;
  for (let i = 2, shift = 0; ; i++, shift += 7) {
    index |= (bytes[i]! & 0x7f) << shift;
    if ((bytes[i]! & 0x80) === 0) break;
  }
  return `${c.session_id}#${index}`;
}

const session = (u: ChatUser, eventId: string) =>
  (
    u
      .seenFrom(room, u.userId)
      .find((s) => s.event.getId() === eventId)
      ?.event.getWireContent() as { session_id?: string } | undefined
  )?.session_id;

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "carol", "dave"], botSection: "  requireCrossSignedDevices: true" });
  ({ alice, bob, carol, dave } = sys.users as Record<"alice" | "bob" | "carol" | "dave", ChatUser>);
  bot = sys.botUserId;
  // Element users: cross-signed at sign-up. dave's client is an old one that never set it up.
  for (const u of [alice, bob, carol]) await u.crossSign();
  alice.excludeInsecureDevices();
  room = await groupRoom(alice, [bob, carol, dave], bot, true);
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
  await sys?.stop();
}, 60_000);

describe("a cross-signed bot", () => {
  it("has a cross-signing identity that signs its device, and backs up its room keys", async () => {
    const { master, devices } = await botKeys(alice);
    expect(master).toBeDefined();
    expect(devices).toEqual([botDevice()]);
    await seesSigned(alice, botDevice());
    expect(sys.bot.lines.some((l) => /matrix: created the cross-signing identity of @conclave:localhost/.test(l))).toBe(true);
    expect(sys.bot.lines.some((l) => /device \S+ cross-signed, room keys backed up \(backup version 1\)/.test(l))).toBe(true);
  });

  it("refuses, with a reason, the commands of a device its owner has not cross-signed (bot.requireCrossSignedDevices)", async () => {
    expect(await dave.ask(room, "!status", bot)).toMatch(/only from devices their owner has verified, and you have not verified the one you sent this from/);
    expect(sys.bot.lines.some((l) => /refused a command from @dave:localhost .* not from a device its owner cross-signed/.test(l))).toBe(true);
    // Unencrypted, in a direct chat: no device to tell.
    const direct = await dm(carol, bot);
    const id = await carol.sendRaw(direct, { msgtype: "m.text", body: "!help" });
    expect(await carol.answerTo(direct, id, bot)).toMatch(/an unencrypted message does not say which device sent it/);
  });

  it("reads and answers the commands of a member whose client excludes insecure devices; its answers show as from a cross-signed device", async () => {
    // The isolation is real: alice's client does not decrypt what dave's unsigned device sends.
    await dave.say(room, "hello from a device nobody verified");
    const fromDave = await alice.until("dave's message", () => alice.seenFrom(room, dave.userId).find((s) => s.event.decryptionFailureReason !== null)?.event);
    expect(fromDave.decryptionFailureReason).toBe(DecryptionFailureCode.UNSIGNED_SENDER_DEVICE);
    await bob.say(room, "hello from a verified device");
    expect((await alice.until("bob's message", () => alice.seenFrom(room, bob.userId).find((s) => /verified device/.test(s.body)))).body).toBe(
      "hello from a verified device",
    );

    for (const u of [alice, bob, carol]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
    expect((await createGroup(alice, [bob, carol], room, bot)).created).toMatch(/This room is now a group: 0x[0-9a-fA-F]{40}/);
    const status = await alice.ask(room, "!status", bot);
    expect(status).toMatch(/Group status/);
    const answer = alice.seenFrom(room, bot).find((s) => s.body === status)!.event;
    expect(answer.isEncrypted()).toBe(true);
    expect(answer.decryptionFailureReason).toBeNull();
    const info = await alice.client.getCrypto()!.getEncryptionInfoForEvent(answer);
    expect(info?.shieldReason).not.toBe(EventShieldReason.UNSIGNED_DEVICE);
    expect(info?.shieldReason).not.toBe(EventShieldReason.UNKNOWN_DEVICE);
  });

  it("keeps its identity, device and key backup across a restart", async () => {
    const before = await botKeys(alice);
    const device = botDevice();
    await sys.restartBot();
    expect(botDevice()).toBe(device);
    expect(await botKeys(alice)).toEqual(before);
    expect(sys.botLines.filter((l) => /started a key backup/.test(l))).toHaveLength(1);
    expect(await alice.ask(room, "!status", bot)).toMatch(/Group status/);
  });

  it("after losing its crypto state, comes back as a new device of the same identity, cross-signed, with its room keys from the backup", async () => {
    const said = await alice.say(room, "!members");
    await alice.answerTo(room, said, bot);
    // The key of alice's last message is in the server's backup before the state is lost.
    const key = session(alice, said)!;
    await until(async () => (await backedUp(room)).has(key), `session ${key} in the key backup`);
    const before = await botKeys(alice);
    const oldDevice = botDevice();
    const cryptoFile = `${sys.storePath}.crypto`;
    await sys.restartBot(() => {
      expect(existsSync(cryptoFile)).toBe(true);
      rmSync(cryptoFile);
    });
    const device = botDevice();
    expect(device).not.toBe(oldDevice);
    expect(sys.bot.lines.some((l) => new RegExp(`crypto state of device ${oldDevice} is missing; logging in as a new device`).test(l))).toBe(true);
    expect(sys.bot.lines.some((l) => /read the cross-signing identity of @conclave:localhost from its secret storage/.test(l))).toBe(true);
    const after = await botKeys(alice);
    expect(after.master).toBe(before.master);
    // The old device was logged out: members' clients stop encrypting for it.
    expect(after.devices).toEqual([device]);
    await seesSigned(alice, device);
    const restored = await sys.bot.waitFor(/restored \d+ of \d+ room keys from the key backup/);
    expect(Number(/restored (\d+)/.exec(restored)![1])).toBeGreaterThan(0);
    // The same backup goes on: no new one was started.
    expect(sys.botLines.filter((l) => /started a key backup/.test(l))).toHaveLength(1);
    expect(await alice.ask(room, "!status", bot)).toMatch(/Group status/);
  });

  it("restored from an older backup of its store: the same device and identity; a room key it got after the backup comes back from the key backup; no message index used twice", async () => {
    const dir = dirname(sys.storePath);
    const snapshot = join(mkdtempSync(join(tmpdir(), "conclave-backup-")), "store");
    const before = await botKeys(alice);
    const device = botDevice();
    await sys.restartBot(() => cpSync(dir, snapshot, { recursive: true }));
    // After the backup was taken: a new room key of alice's, which the bot backs up on the server.
    await alice.client.getCrypto()!.forceDiscardSession(room);
    const said = await alice.say(room, "!members");
    const members = await alice.answerTo(room, said, bot);
    const key = session(alice, said)!;
    await until(async () => (await backedUp(room)).has(key), `session ${key} in the key backup`);
    await sys.restartBot(() => {
      rmSync(dir, { recursive: true, force: true });
      cpSync(snapshot, dir, { recursive: true });
    });
    expect(botDevice()).toBe(device);
    expect(await botKeys(alice)).toEqual(before);
    // alice goes on with the key the restored state lacks: the bot reads it from the backup (only then can
    // it answer), and its answer decrypts. A key from a backup does not say which device sent the message:
    // with bot.requireCrossSignedDevices, the command is refused, saying so.
    const status = await alice.say(room, "!status");
    expect(await alice.answerTo(room, status, bot)).toMatch(
      /I cannot tell which device sent this one: its room key did not come to me from the sender's device/,
    );
    // The restored state's own room key is not used again from where it stood: each answer has a key and index of its own.
    const answers = (id: string) =>
      alice
        .seenFrom(room, bot)
        .filter((s) => (s.event.getContent()["m.relates_to"] as { "m.in_reply_to"?: { event_id?: string } } | undefined)?.["m.in_reply_to"]?.event_id === id);
    // The command it saw again from its older position was answered once, all told (the same transaction id).
    expect(answers(said).map((a) => a.body)).toEqual([members]);
    const [then, now] = [answers(said)[0]!, answers(status)[0]!].map((a) => megolmAt(a.event));
    expect(now).not.toBe(then);
  });
});
