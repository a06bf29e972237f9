import { describe, expect, it } from "vitest";
import { RotationAudit, AUDIT_STATE } from "../../src/bridge/rotation-audit.ts";
import { departuresIn, type RawEvent } from "../../src/matrix/journal.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { AuditRooms, OpenedEvent, Reply, ThreadPlace } from "../../src/ports/rooms.ts";

const ROOM = "!room:localhost";
const ALICE = "@alice:localhost";
const MALLORY = "@mallory:localhost";
const BOT = "@conclave:localhost";
const T0 = Date.parse("2026-12-01T14:00:00Z");
const GRACE = 5_000;

class Rooms implements AuditRooms {
  replies: { place: ThreadPlace; reply: Reply; mentions: string[]; once: string }[] = [];
  redactions: string[] = [];
  joined = [ALICE, BOT];
  state: Record<string, unknown> | undefined;
  async replyInThread(_room: string, place: ThreadPlace, reply: Reply, mentions: string[], once: string) {
    // Sent once per `once`, as the adapter's transaction ids make it.
    if (!this.replies.some((r) => r.once === once)) this.replies.push({ place, reply, mentions, once });
  }
  async redact(_room: string, eventId: string) {
    this.redactions.push(eventId);
  }
  roomState(_room: string, type: string) {
    return type === AUDIT_STATE ? this.state : undefined;
  }
  async joinedMembers() {
    return this.joined;
  }
}

function setup(o: { governed?: boolean; redactByDefault?: boolean } = {}) {
  const store = new SqliteStore(":memory:");
  const rooms = new Rooms();
  const lines: string[] = [];
  const audit = new RotationAudit({
    store,
    rooms,
    governed: async () => o.governed ?? true,
    graceMs: GRACE,
    redactByDefault: o.redactByDefault ?? false,
    botUserId: BOT,
    log: (l) => lines.push(l),
  });
  return { store, rooms, audit, lines };
}

let n = 0;
function message(session: string, ts: number, extra: Partial<OpenedEvent> = {}): OpenedEvent {
  return {
    eventId: `$m${++n}`,
    roomId: ROOM,
    sender: ALICE,
    type: "m.room.message",
    content: { msgtype: "m.text", body: "hi" },
    encrypted: true,
    ts,
    session: { id: session, device: "ALICEDEVICE" },
    ...extra,
  };
}

const kicked = (at: number, userId = MALLORY) => ({ userId, eventId: `$leave${at}`, at, kind: "kicked" as const });

describe("the rotation audit", () => {
  it("flags a message after a departure under a key received before it: one answer per session, in its thread, every one counted", async () => {
    const { store, rooms, audit, lines } = setup();
    await audit.noteKey({ roomId: ROOM, sessionId: "S", sender: ALICE, device: "ALICEDEVICE", at: T0 });
    await audit.noteDepartures(ROOM, [kicked(T0 + 120_000)]);
    const first = message("S", T0 + 120_000 + GRACE + 1);
    expect((await audit.observe(first)).map((d) => d.userId)).toEqual([MALLORY]);
    expect(rooms.replies).toHaveLength(1);
    const r = rooms.replies[0]!;
    expect(r.place).toEqual({ root: first.eventId, inReplyTo: first.eventId });
    expect(r.mentions).toEqual([ALICE]);
    expect(r.reply.text).toBe(
      "@alice:localhost: this message used a room key that @mallory:localhost, removed at 14:02 UTC, may still hold; your client did not rotate it. Members' clients start a new key when someone leaves; update yours or use another one.",
    );
    expect(r.reply.html).toContain('<a href="https://matrix.to/#/@mallory:localhost">@mallory:localhost</a>, removed at 14:02 UTC');
    // A second message under the same key: counted, not answered again; the same one again (a replay) is counted once.
    const second = message("S", T0 + 200_000);
    await audit.observe(second);
    await audit.observe(second);
    expect(rooms.replies).toHaveLength(1);
    expect(await store.countReuses(ROOM)).toBe(2);
    expect(rooms.redactions).toEqual([]);
    expect(lines.filter((l) => l.startsWith("audit: "))).toHaveLength(3);
  });

  it("answers a message in a thread inside that thread, and names the date of an older departure", async () => {
    const { rooms, audit } = setup();
    await audit.noteKey({ roomId: ROOM, sessionId: "S", sender: ALICE, device: "D", at: T0 });
    await audit.noteDepartures(ROOM, [
      { userId: MALLORY, eventId: "$ban", at: T0 + 60_000, kind: "banned" },
      { userId: "@eve:localhost", eventId: "$eve", at: T0 + 61_000, kind: "left" },
    ]);
    rooms.joined = [ALICE];
    const inThread = message("S", T0 + 2 * 86_400_000, {
      content: { msgtype: "m.text", body: "hi", "m.relates_to": { rel_type: "m.thread", event_id: "$root" } },
    });
    await audit.observe(inThread);
    expect(rooms.replies[0]!.place).toEqual({ root: "$root", inReplyTo: inThread.eventId });
    expect(rooms.replies[0]!.reply.text).toContain(
      "that @mallory:localhost, removed at 2026-12-01 14:01 UTC, @eve:localhost, who left at 2026-12-01 14:01 UTC, may still hold",
    );
  });

  it("flags what a message first showed, when no room key was noted (a session used before the departure)", async () => {
    const { store, audit } = setup();
    await audit.observe(message("S", T0));
    await audit.noteDepartures(ROOM, [kicked(T0 + 1000)]);
    expect(await audit.observe(message("S", T0 + 1000 + GRACE + 1))).toHaveLength(1);
    expect(await store.countReuses(ROOM)).toBe(1);
  });

  it("leaves alone: a new key after the departure, the grace period, someone who is back, the sender's own leaving, other senders' keys, ungoverned rooms", async () => {
    const { store, rooms, audit } = setup();
    await audit.noteDepartures(ROOM, [kicked(T0 + 1000)]);
    // A compliant client: a new session after the departure.
    await audit.noteKey({ roomId: ROOM, sessionId: "NEW", sender: ALICE, device: "D", at: T0 + 1500 });
    expect(await audit.observe(message("NEW", T0 + 60_000))).toEqual([]);
    // The old session, within the grace period: the client may not have seen the departure yet.
    await audit.noteKey({ roomId: ROOM, sessionId: "OLD", sender: ALICE, device: "D", at: T0 });
    expect(await audit.observe(message("OLD", T0 + 1000 + GRACE - 1))).toEqual([]);
    // Someone who was let back in holds the key rightly.
    rooms.joined = [ALICE, MALLORY];
    expect(await audit.observe(message("OLD", T0 + 60_000))).toEqual([]);
    rooms.joined = [ALICE];
    // The sender's own departure (and the bot's) do not count.
    await audit.noteKey({ roomId: ROOM, sessionId: "MINE", sender: MALLORY, device: "M", at: T0 });
    expect(await audit.observe(message("MINE", T0 + 60_000, { sender: MALLORY }))).toEqual([]);
    // An unencrypted message, or one without a session: nothing to audit.
    expect(await audit.observe(message("OLD", T0 + 60_000, { encrypted: false }))).toEqual([]);
    expect(await store.countReuses(ROOM)).toBe(0);
    expect(rooms.replies).toEqual([]);

    const other = setup({ governed: false });
    await other.audit.noteKey({ roomId: ROOM, sessionId: "OLD", sender: ALICE, device: "D", at: T0 });
    await other.audit.noteDepartures(ROOM, [kicked(T0 + 1000)]);
    expect(await other.audit.observe(message("OLD", T0 + 60_000))).toEqual([]);
  });

  it("records a flag even when it cannot answer or redact (and says so), without failing the message's handling", async () => {
    const { store, rooms, audit, lines } = setup({ redactByDefault: true });
    rooms.replyInThread = async () => Promise.reject(new Error("M_FORBIDDEN"));
    rooms.redact = async () => Promise.reject(new Error("no power"));
    await audit.noteKey({ roomId: ROOM, sessionId: "S", sender: ALICE, device: "D", at: T0 });
    await audit.noteDepartures(ROOM, [kicked(T0 + 1000)]);
    expect(await audit.observe(message("S", T0 + 60_000))).toHaveLength(1);
    expect(await store.countReuses(ROOM)).toBe(1);
    expect(lines.filter((l) => /could not (answer|redact)/.test(l))).toHaveLength(2);
  });

  it("redacts where the room asks (org.conclave.audit), or by default when the room says nothing", async () => {
    for (const [state, byDefault, redacted] of [
      [{ redact: true }, false, true],
      [{ redact: false }, true, false],
      [undefined, true, true],
      [undefined, false, false],
      [{ redact: "yes" }, false, false],
    ] as const) {
      const { rooms, audit } = setup({ redactByDefault: byDefault });
      rooms.state = state;
      await audit.noteKey({ roomId: ROOM, sessionId: "S", sender: ALICE, device: "D", at: T0 });
      await audit.noteDepartures(ROOM, [kicked(T0 + 1000)]);
      const m = message("S", T0 + 60_000);
      await audit.observe(m);
      expect([state, byDefault, rooms.redactions]).toEqual([state, byDefault, redacted ? [m.eventId] : []]);
      if (redacted) expect(rooms.replies[0]!.reply.text).toMatch(/I redacted the message\.$/);
    }
  });
});

describe("departures in a timeline", () => {
  const member = (over: Partial<RawEvent> & { membership: string; before?: string; sender?: string }): RawEvent => ({
    event_id: `$${Math.random()}`,
    type: "m.room.member",
    state_key: MALLORY,
    sender: over.sender ?? BOT,
    origin_server_ts: T0,
    content: { membership: over.membership },
    ...(over.before !== undefined ? { unsigned: { prev_content: { membership: over.before } } } : {}),
  });

  it("are joined members leaving, kicked or banned; not invites withdrawn, profile changes or the bot itself", () => {
    const events = [
      member({ membership: "leave", before: "join", sender: MALLORY }),
      member({ membership: "leave", before: "join" }),
      member({ membership: "ban", before: "join" }),
      member({ membership: "leave", before: "invite" }),
      member({ membership: "join", before: "join" }),
      member({ membership: "ban", before: "leave" }),
      { ...member({ membership: "leave", before: "join" }), state_key: BOT },
      { type: "m.room.message", event_id: "$x", sender: ALICE, content: {} },
    ];
    expect(departuresIn(events, BOT).map((d) => d.kind)).toEqual(["left", "kicked", "banned"]);
    expect(departuresIn(events, BOT)[0]).toMatchObject({ userId: MALLORY, at: T0 });
  });
});
