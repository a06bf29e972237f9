/**
 * Commands are what they seem, strangers spend nothing, secrets stay out of
 * the store: with a real Synapse, a real chain and the real bot, driven by
 * real Matrix clients and, where a client would not do it, by the
 * client-server API directly (a command sent in the clear, a homeserver
 * that lies about timestamps through an application service's `ts`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, dm, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, sendEvent, type ChatUser } from "../../scripts/chat.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";

const root = join(import.meta.dirname, "../..");
const liar = { id: "liar", asToken: randomBytes(16).toString("hex"), senderLocalpart: "liar" };
let sys: System;
let alice: ChatUser, bob: ChatUser, dave: ChatUser, mallory: ChatUser;
let room: string;
let bot: string;

const ask = (u: ChatUser, text: string, r = room) => u.ask(r, text, bot);

beforeAll(async () => {
  quietConsole();
  // The bot starts under a umask that lets everyone read what it creates: its store must still be private.
  const umask = process.umask(0);
  try {
    sys = await startSystem({ root, users: ["alice", "bob", "dave", "mallory"], appServices: [liar] });
  } finally {
    process.umask(umask);
  }
  ({ alice, bob, dave, mallory } = sys.users as Record<"alice" | "bob" | "dave" | "mallory", ChatUser>);
  bot = sys.botUserId;
  room = await groupRoom(alice, [bob, dave], bot);
  for (const u of [alice, bob, dave]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
  expect((await createGroup(alice, [bob, dave], room, bot, "quorum=50%")).created).toMatch(/This room is now a group/);
  for (const u of [alice, bob]) expect(await authorize(u, room, bot)).toMatch(/Authorised/);
  // The room is encrypted from creation on.
  await alice.until("encryption", () => (alice.client.getRoom(room)?.hasEncryptionStateEvent() ? true : undefined));
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
  await sys?.stop();
}, 60_000);

describe("commands are what they seem", () => {
  it("answers commands in the order received, whatever time the sender's homeserver claims", async () => {
    const lobby = await alice.createRoom("Lobby", [bot, `@liar:${sys.synapse.serverName}`]);
    await alice.seesJoined(lobby, bot);
    const asApi = (path: string, init: RequestInit = {}) =>
      fetch(`${sys.synapse.baseUrl}/_matrix/client/v3${path}`, {
        ...init,
        headers: { authorization: `Bearer ${liar.asToken}`, "content-type": "application/json" },
      });
    expect((await asApi(`/join/${encodeURIComponent(lobby)}`, { method: "POST", body: "{}" })).ok).toBe(true);
    await alice.seesJoined(lobby, `@liar:${sys.synapse.serverName}`);
    // Year 2100, then 1970: an order by timestamps would drop everything after the first.
    const future = await sendEvent(
      sys.synapse.baseUrl,
      liar.asToken,
      lobby,
      "m.room.message",
      { msgtype: "m.text", body: "!help vote" },
      { ts: "4102444800000" },
    );
    const past = await sendEvent(sys.synapse.baseUrl, liar.asToken, lobby, "m.room.message", { msgtype: "m.text", body: "!help join" }, { ts: "1000" });
    expect(await alice.answerTo(lobby, future, bot)).toMatch(/vote/);
    expect(await alice.answerTo(lobby, past, bot)).toMatch(/join/);
    expect(await ask(alice, "!help status", lobby)).toMatch(/status/);
    // The homeserver did serve the claimed times (so this test tests what it says).
    const seen = await alice.until("the future event", () => alice.client.getRoom(lobby)?.findEventById(future));
    expect(seen.getTs()).toBe(4102444800000);
  });

  it("never runs an edit, and says so once per edited message", async () => {
    const before = await sys.botNonce();
    const original = await alice.say(room, "!help");
    await alice.answerTo(room, original, bot);
    // An edit without the "* " fallback prefix, as some clients send: it once ran as a new command.
    const edit1 = await alice.edit(room, original, "!propose remove @dave:localhost", false);
    expect(await alice.answerTo(room, edit1, bot)).toBe("Edits are not commands: send it again.");
    const edit2 = await alice.edit(room, original, "!propose remove @bob:localhost");
    // alice's commands are handled in order: once this is answered, the second edit was handled.
    expect(await ask(alice, "!proposals")).toMatch(/No proposals yet/);
    expect(alice.answersTo(room, edit2, bot)).toEqual([]);
    expect(alice.answersTo(room, edit1, bot)).toHaveLength(1);
    expect(await sys.botNonce()).toBe(before);
  });

  it("refuses a command sent unencrypted into the encrypted room", async () => {
    const before = await sys.botNonce();
    const clear = await dave.sendRaw(room, { msgtype: "m.text", body: "!propose remove @alice:localhost" });
    expect(await dave.answerTo(room, clear, bot)).toMatch(/^This room is encrypted: I do not act on unencrypted commands here/);
    expect(await ask(dave, "!proposals")).toMatch(/No proposals yet/);
    expect(await sys.botNonce()).toBe(before);
  });

  it("takes the target from the visible text, never from m.mentions", async () => {
    const { event_id } = await bob.client.sendMessage(room, {
      msgtype: "m.text",
      body: "!delegate alice",
      "m.mentions": { user_ids: ["@alice:elsewhere.example"] },
    } as never);
    expect(await bob.answerTo(room, event_id, bot)).toMatch(/@bob:localhost delegates to @alice:localhost/);
    expect(await ask(bob, "!undelegate")).toMatch(/takes their vote back/);
  });
});

describe("spending", () => {
  it("spends nothing for a stranger linking and authorising from a direct message", async () => {
    const before = await sys.botNonce();
    const malloryDm = await dm(mallory, bot);
    expect(await linkWallet(mallory, malloryDm, bot, room)).toMatch(/now linked[\s\S]*not a member yet/);
    expect(await authorize(mallory, malloryDm, bot)).toMatch(/Only members of the group and accounts approved to join/);
    expect(await sys.botNonce()).toBe(before);
  });

  it("sends nothing for a link that changes nothing (the same address again)", async () => {
    const before = await sys.botNonce();
    expect(await linkWallet(alice, room, bot)).toMatch(/now linked/);
    expect(await sys.botNonce()).toBe(before);
  });
});

describe("secrets", () => {
  it("keeps the store private, under a umask of 0 too, and the secrets out of it", async () => {
    const dir = dirname(sys.storePath);
    const mode = (f: string) => statSync(f).mode & 0o777;
    expect(mode(dir)).toBe(0o700);
    for (const f of [sys.storePath, `${sys.storePath}-wal`, `${sys.storePath}-shm`, `${sys.storePath}.crypto`]) expect([f, mode(f)]).toEqual([f, 0o600]);
    const store = new SqliteStore(sys.storePath);
    try {
      expect(await store.getState("linkSalt")).toBeUndefined();
      expect(await store.getState("cryptoPassphrase")).toBeUndefined();
      // The access token is kept sealed with the store secret.
      expect(await store.getState("matrix.accessToken")).toMatch(/^sealed:/);
    } finally {
      await store.close();
    }
  });
});
