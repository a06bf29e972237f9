/**
 * The command journal with the real SQLite store and fake rooms: each
 * command answered exactly once after crashes, in the order received,
 * edits and cleartext commands refused, floods answered once and never
 * delaying others.
 */
import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandJournal } from "../../src/bot/journal.ts";
import { CommandLimits } from "../../src/bot/limits.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { EventReader, IncomingMessage, OpenedEvent, Reply, RoomPort, RoomPowers, RoomRules } from "../../src/ports/rooms.ts";
import type { Store } from "../../src/store/store.ts";

const ROOM = "!room:x.org";

/** Events as the fake reader opens them: the raw JSON is the opened event, "encrypted" unless it says not. */
function raw(
  id: string,
  sender: string,
  body: string,
  extra: Record<string, unknown> = {},
): { eventId: string; roomId: string; sender: string; raw: string; receivedAt: number } {
  const opened: OpenedEvent = { eventId: id, roomId: ROOM, sender, type: "m.room.message", content: { msgtype: "m.text", body, ...extra }, encrypted: true };
  return { eventId: id, roomId: ROOM, sender, raw: JSON.stringify(opened), receivedAt: Date.now() };
}

class Reader implements EventReader {
  waiting = new Set<string>();
  async open(r: string): Promise<OpenedEvent | "waiting" | "unreadable"> {
    const e = JSON.parse(r) as OpenedEvent & { cleartext?: boolean };
    if (this.waiting.has(e.eventId)) return "waiting";
    return e.content["cleartext"] ? { ...e, encrypted: false } : e;
  }
  async isEncrypted(): Promise<boolean> {
    return true;
  }
}

class Rooms implements RoomPort {
  sent: { inReplyTo: string; text: string; thread?: string }[] = [];
  failNext = 0;
  /** threads the homeserver has no root for (it answers 400) */
  badThreads = new Set<string>();
  refuseAll = false;
  async reply(_roomId: string, reply: Reply, inReplyTo?: string) {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("homeserver away");
    }
    if (this.refuseAll || (reply.thread !== undefined && this.badThreads.has(reply.thread)))
      throw Object.assign(new Error("M_UNKNOWN: bad relation"), { httpStatus: this.refuseAll ? 403 : 400 });
    this.sent.push({ inReplyTo: inReplyTo ?? "", text: reply.text, ...(reply.thread !== undefined ? { thread: reply.thread } : {}) });
  }
  async joinedMembers() {
    return [];
  }
  displayName(_r: string, u: string) {
    return u;
  }
  async invite() {}
  async roomMembers() {
    return [];
  }
  async powers(): Promise<RoomPowers> {
    return { mine: 100, kick: 50, ban: 50, invite: 0, users: {}, usersDefault: 0, events: {}, stateDefault: 50, creators: [] };
  }
  async rules(): Promise<RoomRules> {
    return { canEncrypt: true };
  }
}

/** A bot that answers "ok: BODY", and can be held for one sender. */
class Bot {
  ran: string[] = [];
  held = new Map<string, Promise<void>>();
  async answer(m: IncomingMessage): Promise<Reply | undefined> {
    await this.held.get(m.sender);
    this.ran.push(m.eventId);
    return { text: `ok: ${m.body}` };
  }
}

function journal(store: Store, o: { rooms: Rooms; bot: Bot; reader?: Reader; perSender?: number; owns?: (roomId: string) => boolean }) {
  return new CommandJournal({
    store,
    reader: o.reader ?? new Reader(),
    rooms: o.rooms,
    bot: o.bot,
    limits: new CommandLimits({ perSenderPerMinute: o.perSender ?? 100, perRoomPerMinute: 1000 }),
    prefix: "!",
    serverName: "x.org",
    log: () => {},
    retryMs: 10,
    ...(o.owns ? { share: { owns: o.owns } } : {}),
  });
}

async function settle(j: CommandJournal): Promise<void> {
  j.poke();
  await j.idle();
}

const tempStore = () => join(mkdtempSync(join(tmpdir(), "conclave-journal-")), "s.sqlite");

describe("the command journal", () => {
  it("answers each recorded command once, in the order received, and ignores chat", async () => {
    const store = new SqliteStore(":memory:");
    const rooms = new Rooms();
    const bot = new Bot();
    await store.addInbound([raw("$1", "@alice:x.org", "!status"), raw("$2", "@alice:x.org", "hello"), raw("$3", "@alice:x.org", "!members")]);
    // The same event delivered again (a second sync, the history after a restart).
    await store.addInbound([raw("$1", "@alice:x.org", "!status")]);
    const j = journal(store, { rooms, bot });
    await settle(j);
    await settle(j);
    expect(rooms.sent).toEqual([
      { inReplyTo: "$1", text: "ok: !status" },
      { inReplyTo: "$3", text: "ok: !members" },
    ]);
    expect(await store.listInbound("new", 10)).toEqual([]);
  });

  it("answers in its thread what it refuses itself, as the bot answers commands", async () => {
    const store = new SqliteStore(":memory:");
    const rooms = new Rooms();
    await store.addInbound([
      raw("$t", "@alice:x.org", "!status", { cleartext: true, "m.relates_to": { rel_type: "m.thread", event_id: "$root" } }),
      raw("$u", "@alice:x.org", "!members", { cleartext: true }),
    ]);
    await settle(journal(store, { rooms, bot: new Bot() }));
    expect(rooms.sent.map((s) => [s.inReplyTo, s.thread])).toEqual([
      ["$t", "$root"],
      ["$u", undefined],
    ]);
    expect(rooms.sent[0]?.text).toMatch(/^This room is encrypted/);
  });

  it("after a crash, runs again what had no answer, and sends again (never recomputes) what had one", async () => {
    const path = tempStore();
    const store = new SqliteStore(path);
    await store.addInbound([raw("$a", "@alice:x.org", "!status"), raw("$b", "@bob:x.org", "!members")]);
    // A first process decided $a's answer but the homeserver was away, then died.
    const rooms1 = new Rooms();
    rooms1.failNext = 1;
    const bot1 = new Bot();
    bot1.held.set("@bob:x.org", new Promise(() => {}));
    const first = journal(store, { rooms: rooms1, bot: bot1 });
    first.poke();
    for (let i = 0; i < 100 && (await store.listInbound("answering", 10)).length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    first.stop();
    expect(rooms1.sent).toEqual([]);
    expect((await store.listInbound("answering", 10)).map((e) => e.eventId)).toEqual(["$a"]);
    // The next process: $a's recorded answer is sent as it was; $b (cut off while running) runs again.
    const again = new SqliteStore(path);
    const rooms2 = new Rooms();
    const bot2 = new Bot();
    await settle(journal(again, { rooms: rooms2, bot: bot2 }));
    expect(rooms2.sent).toEqual([
      { inReplyTo: "$a", text: "ok: !status" },
      { inReplyTo: "$b", text: "ok: !members" },
    ]);
    expect(bot2.ran).toEqual(["$b"]);
  });

  it("answers an edited command once, however often it is edited, and never runs it", async () => {
    const store = new SqliteStore(":memory:");
    const rooms = new Rooms();
    const bot = new Bot();
    const edit = (id: string) =>
      raw(id, "@alice:x.org", "* !propose add @bob", {
        "m.relates_to": { rel_type: "m.replace", event_id: "$orig" },
        "m.new_content": { msgtype: "m.text", body: "!propose add @bob" },
      });
    await store.addInbound([edit("$e1"), edit("$e2")]);
    await settle(journal(store, { rooms, bot }));
    expect(rooms.sent).toEqual([{ inReplyTo: "$e1", text: "Edits are not commands: send it again." }]);
    expect(bot.ran).toEqual([]);
  });

  it("refuses a command that came unencrypted in an encrypted room", async () => {
    const store = new SqliteStore(":memory:");
    const rooms = new Rooms();
    const bot = new Bot();
    await store.addInbound([raw("$c", "@mallory:x.org", "!propose add @mallory", { cleartext: true })]);
    await settle(journal(store, { rooms, bot }));
    expect(rooms.sent.map((s) => s.text)).toEqual([expect.stringMatching(/^This room is encrypted: I do not act on unencrypted commands here/)]);
    expect(bot.ran).toEqual([]);
  });

  it("waits for a room key, then answers", async () => {
    const store = new SqliteStore(":memory:");
    const rooms = new Rooms();
    const reader = new Reader();
    reader.waiting.add("$k");
    await store.addInbound([raw("$k", "@alice:x.org", "!status")]);
    const j = journal(store, { rooms, bot: new Bot(), reader });
    await settle(j);
    expect(rooms.sent).toEqual([]);
    reader.waiting.delete("$k");
    for (let i = 0; i < 100 && rooms.sent.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(rooms.sent).toEqual([{ inReplyTo: "$k", text: "ok: !status" }]);
    j.stop();
  });

  it("sets aside messages waiting for keys, so that a pile of unreadable ones holds up no one", async () => {
    const store = new SqliteStore(":memory:");
    const rooms = new Rooms();
    const reader = new Reader();
    // More than one look takes up, all unreadable (a flood with bogus keys), before alice's command.
    const pile = Array.from({ length: 700 }, (_, i) => raw(`$bogus${i}`, "@mallory:x.org", "!status"));
    for (const e of pile) reader.waiting.add(e.eventId);
    await store.addInbound([...pile, raw("$alice", "@alice:x.org", "!status")]);
    const j = journal(store, { rooms, bot: new Bot(), reader });
    for (let i = 0; i < 400 && !rooms.sent.some((s) => s.inReplyTo === "$alice"); i++) {
      j.poke();
      await new Promise((r) => setTimeout(r, 10));
    }
    j.stop();
    expect(rooms.sent).toEqual([{ inReplyTo: "$alice", text: "ok: !status" }]);
    // At most 20 of one sender's messages wait for keys; the rest are given up at once.
    expect((await store.listInbound("waiting", 1000)).length).toBe(20);
    expect((await store.listInbound("new", 1000)).length).toBe(0);
  });

  it("answers a flood once, then not at all, and never makes others wait", async () => {
    const store = new SqliteStore(":memory:");
    const rooms = new Rooms();
    const bot = new Bot();
    // mallory's commands are slow (held); alice's must not wait for them.
    let release: () => void = () => {};
    bot.held.set("@mallory:x.org", new Promise<void>((r) => (release = r)));
    const flood = Array.from({ length: 30 }, (_, i) => raw(`$m${i}`, "@mallory:x.org", "!status"));
    await store.addInbound([...flood, raw("$alice", "@alice:x.org", "!status")]);
    const j = journal(store, { rooms, bot, perSender: 5 });
    j.poke();
    for (let i = 0; i < 200 && !rooms.sent.some((s) => s.inReplyTo === "$alice"); i++) await new Promise((r) => setTimeout(r, 5));
    expect(rooms.sent.find((s) => s.inReplyTo === "$alice")?.text).toBe("ok: !status");
    release();
    await j.idle();
    const mallory = rooms.sent.filter((s) => s.inReplyTo.startsWith("$m"));
    expect(mallory.filter((s) => s.text.startsWith("ok:"))).toHaveLength(5);
    expect(mallory.filter((s) => /^Slow down: you sent more than 5 commands in a minute/.test(s.text)).map((s) => s.inReplyTo)).toEqual(["$m5"]);
    expect(mallory).toHaveLength(6);
    expect(bot.ran.filter((id) => id.startsWith("$m"))).toHaveLength(5);
  });

  it("reads others' commands behind a pile of one sender's, and works through the pile without a new sync", async () => {
    const store = new SqliteStore(":memory:");
    const rooms = new Rooms();
    const bot = new Bot();
    let release: () => void = () => {};
    bot.held.set("@mallory:x.org", new Promise<void>((r) => (release = r)));
    // More than one look takes up (500): alice's command comes after all of them.
    const pile = Array.from({ length: 700 }, (_, i) => raw(`$m${i}`, "@mallory:x.org", "!status"));
    await store.addInbound([...pile, raw("$alice", "@alice:x.org", "!status")]);
    const j = journal(store, { rooms, bot, perSender: 5 });
    j.poke();
    for (let i = 0; i < 200 && !rooms.sent.some((s) => s.inReplyTo === "$alice"); i++) await new Promise((r) => setTimeout(r, 5));
    expect(rooms.sent.find((s) => s.inReplyTo === "$alice")?.text).toBe("ok: !status");
    release();
    // Poked once: the rest of the pile is read look after look.
    for (let i = 0; i < 400 && (await store.listInbound("new", 1)).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await store.listInbound("new", 1)).toEqual([]);
    await j.idle();
    const mallory = rooms.sent.filter((s) => s.inReplyTo.startsWith("$m"));
    expect(mallory).toHaveLength(6);
    expect(bot.ran.filter((id) => id.startsWith("$m"))).toHaveLength(5);
  });

  it("sends an answer the homeserver refuses in the sender's thread as a plain reply, and gives up on one it refuses outright", async () => {
    const store = new SqliteStore(":memory:");
    const rooms = new Rooms();
    const bot = new Bot();
    rooms.badThreads.add("$nothing");
    await store.addInbound([raw("$t1", "@alice:x.org", "!status", { "m.relates_to": { rel_type: "m.thread", event_id: "$nothing" } })]);
    const j = journal(store, { rooms, bot });
    await settle(j);
    expect(rooms.sent).toEqual([{ inReplyTo: "$t1", text: "ok: !status" }]);
    rooms.refuseAll = true;
    await store.addInbound([raw("$t2", "@alice:x.org", "!status")]);
    await settle(j);
    // Not tried for ever: done, once.
    expect(await store.listInbound("answering", 10)).toEqual([]);
    expect(bot.ran).toEqual(["$t1", "$t2"]);
  });

  it("runs a command resumed after a crash (its transaction sent) whatever the rate limit says", async () => {
    const store = new SqliteStore(":memory:");
    const rooms = new Rooms();
    const bot = new Bot();
    await store.setState("started:$c3", "vote:intent");
    await store.addInbound([raw("$c1", "@alice:x.org", "!status"), raw("$c2", "@alice:x.org", "!status"), raw("$c3", "@alice:x.org", "!vote 1 yes")]);
    const j = journal(store, { rooms, bot, perSender: 1 });
    await settle(j);
    expect(bot.ran).toEqual(["$c1", "$c3"]);
    expect(rooms.sent.find((s) => s.inReplyTo === "$c3")?.text).toBe("ok: !vote 1 yes");
    expect(rooms.sent.find((s) => s.inReplyTo === "$c2")?.text).toMatch(/^Slow down/);
  });

  it("with several workers, answers only the commands of rooms this worker holds, once it holds them", async () => {
    const store = new SqliteStore(":memory:");
    const rooms = new Rooms();
    const bot = new Bot();
    const other = { ...raw("$o", "@bob:x.org", "!members"), roomId: "!other:x.org" };
    await store.addInbound([raw("$1", "@alice:x.org", "!status"), other]);
    const held = new Set([ROOM]);
    const j = journal(store, { rooms, bot, owns: (r) => held.has(r) });
    await settle(j);
    expect(rooms.sent).toEqual([{ inReplyTo: "$1", text: "ok: !status" }]);
    expect((await store.listInbound("new", 10)).map((e) => e.eventId)).toEqual(["$o"]);
    // The room passes to this worker (its holder died): its command is answered now.
    held.add("!other:x.org");
    await settle(j);
    expect(rooms.sent.map((s) => s.inReplyTo)).toEqual(["$1", "$o"]);
  });

  it("stops before answering when the room passed to another worker while the command ran", async () => {
    const store = new SqliteStore(":memory:");
    const rooms = new Rooms();
    const bot = new Bot();
    let release: () => void = () => {};
    bot.held.set("@alice:x.org", new Promise<void>((r) => (release = r)));
    await store.addInbound([raw("$1", "@alice:x.org", "!vote 1 yes")]);
    const held = new Set([ROOM]);
    const j = journal(store, { rooms, bot, owns: (r) => held.has(r) });
    j.poke();
    // The command is running (held) when the room passes on.
    await new Promise((r) => setTimeout(r, 50));
    held.delete(ROOM);
    release();
    await j.idle();
    expect(bot.ran).toEqual(["$1"]);
    expect(rooms.sent).toEqual([]);
    // Left for the new holder, which runs it again (its transaction, intent-keyed, is followed, not sent twice).
    expect((await store.listInbound("new", 10)).map((e) => e.eventId)).toEqual(["$1"]);
  });

  it("does not send again an answer another worker sent before it died", async () => {
    const store = new SqliteStore(":memory:");
    await store.addInbound([raw("$sent", "@alice:x.org", "!status"), raw("$unsent", "@bob:x.org", "!status")]);
    await store.setInboundAnswer("$sent", JSON.stringify({ text: "ok: !status" }));
    await store.setInboundAnswer("$unsent", JSON.stringify({ text: "ok: !status" }));
    const rooms = new (class extends Rooms {
      asked: string[] = [];
      async replied(_roomId: string, eventId: string) {
        this.asked.push(eventId);
        return eventId === "$sent";
      }
    })();
    await settle(journal(store, { rooms, bot: new Bot(), owns: () => true }));
    expect(rooms.asked.sort()).toEqual(["$sent", "$unsent"]);
    expect(rooms.sent).toEqual([{ inReplyTo: "$unsent", text: "ok: !status" }]);
    expect(await store.listInbound("answering", 10)).toEqual([]);
  });
});
