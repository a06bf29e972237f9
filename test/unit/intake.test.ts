import { describe, expect, it } from "vitest";
import { intake, UNENCRYPTED_DEVICE_ANSWER, UNKNOWN_DEVICE_ANSWER, UNSIGNED_DEVICE_ANSWER } from "../../src/bot/intake.ts";
import { journalEvents } from "../../src/matrix/journal.ts";
import type { OpenedEvent } from "../../src/ports/rooms.ts";

const base = { eventId: "$e", roomId: "!r:x.org", sender: "@alice:x.org", type: "m.room.message", encrypted: true };
const o = { prefix: "!", serverName: "x.org", roomEncrypted: true };
const ev = (content: Record<string, unknown>, extra: Partial<OpenedEvent> = {}): OpenedEvent => ({ ...base, content, ...extra });

describe("what a received message is to the bot", () => {
  it("a command, with its text and pills, never its sender's timestamp", () => {
    const before = Date.now();
    const r = intake(ev({ msgtype: "m.text", body: "!status", formatted_body: "<b>!status</b>", "m.mentions": { user_ids: ["@bob:x.org", 5] } }), o);
    expect(r.kind).toBe("command");
    if (r.kind !== "command") return;
    expect(r.message).toMatchObject({
      roomId: "!r:x.org",
      eventId: "$e",
      sender: "@alice:x.org",
      body: "!status",
      formattedBody: "<b>!status</b>",
      mentions: ["@bob:x.org"],
    });
    expect(r.message.ts).toBeGreaterThanOrEqual(before);
  });

  it("not a command: chat, notices, other types, bodies that are not text", () => {
    expect(intake(ev({ msgtype: "m.text", body: "hello" }), o).kind).toBe("ignore");
    expect(intake(ev({ msgtype: "m.notice", body: "!status" }), o).kind).toBe("ignore");
    expect(intake(ev({ msgtype: "m.text", body: 42 }), o).kind).toBe("ignore");
    expect(intake(ev({ body: "!status" }, { type: "m.reaction" }), o).kind).toBe("ignore");
    expect(intake(ev({}), o).kind).toBe("ignore");
  });

  it("an edit never runs a command, with or without the `* ` fallback", () => {
    const edit = (body: string, newBody?: string) =>
      intake(
        ev({
          msgtype: "m.text",
          body,
          "m.relates_to": { rel_type: "m.replace", event_id: "$orig" },
          ...(newBody ? { "m.new_content": { msgtype: "m.text", body: newBody } } : {}),
        }),
        o,
      );
    expect(edit("* !propose add @bob", "!propose add @bob")).toEqual({ kind: "edit", original: "$orig" });
    // A client that leaves out the fallback prefix (the second proposal).
    expect(edit("!propose add @bob")).toEqual({ kind: "edit", original: "$orig" });
    // An edit of plain chat is just chat.
    expect(edit("* hello", "hello").kind).toBe("ignore");
  });

  it("an encrypted event's relation is read from its cleartext envelope too, as clients read it", () => {
    // The envelope says edit, the ciphertext a bare command: Element shows an edit, so it is one.
    expect(intake(ev({ msgtype: "m.text", body: "!propose add @bob" }, { outerRelation: { rel_type: "m.replace", event_id: "$orig" } }), o)).toEqual({
      kind: "edit",
      original: "$orig",
    });
    // The ciphertext says edit, the envelope a thread: still an edit.
    expect(
      intake(
        ev(
          { msgtype: "m.text", body: "* !status", "m.relates_to": { rel_type: "m.replace", event_id: "$orig" } },
          { outerRelation: { rel_type: "m.thread", event_id: "$root" } },
        ),
        o,
      ),
    ).toEqual({ kind: "edit", original: "$orig" });
    // A thread named in the envelope is where the answer goes.
    const r = intake(ev({ msgtype: "m.text", body: "!status" }, { outerRelation: { rel_type: "m.thread", event_id: "$root" } }), o);
    expect(r.kind === "command" && r.message.thread).toBe("$root");
  });

  it("with requireCrossSigned, only a command from a device its owner cross-signed is one; chat is chat whatever the device", () => {
    const cmd = (extra: Partial<OpenedEvent>, roomEncrypted = true) =>
      intake(ev({ msgtype: "m.text", body: "!status" }, extra), { ...o, roomEncrypted, requireCrossSigned: true });
    expect(cmd({ senderDevice: "cross-signed" }).kind).toBe("command");
    expect(cmd({ senderDevice: "not cross-signed" })).toEqual({ kind: "untrusted-device", answer: UNSIGNED_DEVICE_ANSWER });
    expect(cmd({ senderDevice: "unknown" })).toEqual({ kind: "untrusted-device", answer: UNKNOWN_DEVICE_ANSWER });
    expect(cmd({ encrypted: false }, false)).toEqual({ kind: "untrusted-device", answer: UNENCRYPTED_DEVICE_ANSWER });
    expect(intake(ev({ msgtype: "m.text", body: "hello" }, { senderDevice: "not cross-signed" }), { ...o, requireCrossSigned: true }).kind).toBe("ignore");
    // Without the option, the device plays no part.
    expect(intake(ev({ msgtype: "m.text", body: "!status" }, { senderDevice: "not cross-signed" }), o).kind).toBe("command");
  });

  it("an unencrypted command in an encrypted room is refused; in a plain room it is a command", () => {
    expect(intake(ev({ msgtype: "m.text", body: "!status" }, { encrypted: false }), o).kind).toBe("cleartext");
    expect(intake(ev({ msgtype: "m.text", body: "!status" }, { encrypted: false }), { ...o, roomEncrypted: false }).kind).toBe("command");
  });
});

describe("which events go into the journal", () => {
  const me = "@bot:x.org";
  const msg = (id: string, sender = "@alice:x.org") => ({ event_id: id, type: "m.room.message", sender, content: { body: "!status" } });
  const join = (membership: string, prev?: string) => ({
    event_id: `$join-${membership}-${prev}`,
    type: "m.room.member",
    state_key: me,
    sender: me,
    content: { membership },
    ...(prev ? { unsigned: { prev_content: { membership: prev } } } : {}),
  });

  it("messages and encrypted events from others, each with an id", () => {
    const events = [
      msg("$1"),
      { ...msg("$2"), type: "m.room.encrypted" },
      msg("$3", me),
      { type: "m.room.message", sender: "@a:x.org" },
      { ...msg("$4"), type: "m.room.name", state_key: "" },
    ];
    expect(journalEvents(events, me).map((e) => e.event_id)).toEqual(["$1", "$2"]);
  });

  it("nothing from before the bot's own latest join: it was not there", () => {
    const events = [msg("$old"), join("join", "invite"), msg("$a"), join("join", "join"), msg("$b")];
    // A profile change (join after join) is not a new join.
    expect(journalEvents(events, me).map((e) => e.event_id)).toEqual(["$a", "$b"]);
    const rejoined = [msg("$1"), join("join"), msg("$2"), join("leave", "join"), msg("$3"), join("join", "leave"), msg("$4")];
    expect(journalEvents(rejoined, me).map((e) => e.event_id)).toEqual(["$4"]);
  });
});
