/**
 * The rotation audit, with real clients in a real Synapse: after mallory is
 * removed by a passed proposal, alice's client sends messages it encrypted
 * before the removal (a client that does not rotate its room key, on
 * purpose: the key mallory's device holds). The bot flags them: an answer
 * in a thread that mentions alice, a count in `!status`, and a redaction
 * once the room asks for it. Messages of compliant clients (matrix-js-sdk's
 * rust crypto rotates when someone leaves) after the same removal are
 * never flagged.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { MatrixEvent } from "matrix-js-sdk";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser, type RawRoomEvent } from "../../scripts/chat.ts";

const root = join(import.meta.dirname, "../..");
let sys: System;
let alice: ChatUser, bob: ChatUser, mallory: ChatUser;
let room: string;
let bot: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The event as the homeserver serves it now (redacted or not), read by `u`. */
async function served(u: ChatUser, eventId: string): Promise<RawRoomEvent & { unsigned?: { redacted_because?: unknown } }> {
  const res = await fetch(`${u.client.baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(room)}/event/${encodeURIComponent(eventId)}`, {
    headers: { authorization: `Bearer ${u.client.getAccessToken()!}` },
  });
  return (await res.json()) as RawRoomEvent & { unsigned?: { redacted_because?: unknown } };
}

/** The bot's status line about the audit, as alice reads it. */
async function auditLine(): Promise<string> {
  const status = await alice.ask(room, "!status", bot);
  return status.split("\n").find((l) => l.startsWith("Rotation audit")) ?? "";
}

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "mallory"] });
  ({ alice, bob, mallory } = sys.users as Record<"alice" | "bob" | "mallory", ChatUser>);
  bot = sys.botUserId;
  room = await groupRoom(alice, [bob, mallory], bot);
  for (const u of [alice, bob, mallory]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
  expect((await createGroup(alice, [bob, mallory], room, bot, "quorum=50%")).created).toMatch(/This room is now a group/);
  for (const u of [alice, bob]) expect(await authorize(u, room, bot)).toMatch(/Authorised/);
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
  await sys?.stop();
}, 60_000);

describe("the rotation audit", () => {
  it("flags messages sent after a removal under a room key the removed member holds, and never those of compliant clients", async () => {
    expect(await auditLine()).toBe("Rotation audit: no message used a room key that someone who left may still hold.");
    await alice.say(room, "said while mallory is here");
    await mallory.until("alice's message", () => mallory.eventWith(room, /said while mallory is here/));
    // Encrypted now, under the key mallory's device has just received; sent after her removal.
    const kept1 = await alice.encryptNow(room, "kept from before the removal, 1");
    const kept2 = await alice.encryptNow(room, "kept from before the removal, 2");

    expect(await alice.ask(room, "!propose remove @mallory:localhost", bot)).toMatch(/Proposal #1/);
    expect(await alice.ask(room, "!vote 1 yes", bot)).toMatch(/FOR 1/);
    expect(await bob.ask(room, "!vote 1 yes", bot)).toMatch(/passed and was executed: remove @mallory/);
    // Removed by the proposal: banned, until the group admits her again.
    await alice.until("mallory out", () => (alice.client.getRoom(room)?.getMember(mallory.userId)?.membership === "ban" ? true : undefined));
    await alice.until("the removal notice", () => alice.eventWith(room, /Removed @mallory:localhost/));
    // Past audit.graceSeconds (5): the time a client may take to see the removal.
    await sleep(6_000);

    // Compliant clients: a new key each, which mallory's device never got.
    const compliant = [await alice.say(room, "after the removal, from alice"), await bob.say(room, "after the removal, from bob")];
    expect(await bob.ask(room, "!proposals", bot)).toBeTruthy();

    const reused = await alice.sendEncrypted(room, kept1);
    const flag = await alice.answerTo(room, reused, bot);
    expect(flag).toMatch(
      /^@alice:localhost: this message used a room key that @mallory:localhost, (?:removed|banned) at \d\d:\d\d UTC, may still hold; your client did not rotate it\./,
    );
    const answer = alice.seenFrom(room, bot).find((s) => s.body === flag)!.event;
    expect(answer.getContent()["m.relates_to"]).toMatchObject({ rel_type: "m.thread", event_id: reused });
    expect(answer.getContent()["m.mentions"]).toEqual({ user_ids: [alice.userId] });
    expect(String(answer.getContent()["formatted_body"])).toContain('<a href="https://matrix.to/#/@alice:localhost">');

    // The flag is right: mallory's device decrypts the reused message, and neither compliant one.
    const history = await alice.history(room);
    const event = (id: string) => new MatrixEvent(history.find((e) => e.event_id === id));
    expect(await mallory.tryDecrypt(event(reused))).toBe("kept from before the removal, 1");
    for (const id of compliant) expect(await mallory.tryDecrypt(event(id))).toBeUndefined();
    for (const id of compliant) expect(alice.answersTo(room, id, bot)).toEqual([]);
    expect(sys.botLines.filter((l) => /^\S+ audit: /.test(l))).toHaveLength(1);
    expect(await auditLine()).toBe(
      "Rotation audit: 1 message used a room key that someone who left may still hold (members' clients must start a new key when someone leaves).",
    );

    // The room asks for redaction: the next one is redacted, and not answered again (one answer per key).
    await alice.client.sendStateEvent(room, "org.conclave.audit" as never, { redact: true } as never, "");
    const reused2 = await alice.sendEncrypted(room, kept2);
    const deadline = Date.now() + 60_000;
    while ((await served(bob, reused2)).unsigned?.redacted_because === undefined) {
      if (Date.now() > deadline) throw new Error("the second reused message was never redacted");
      await sleep(500);
    }
    expect(await auditLine()).toMatch(/^Rotation audit: 2 messages used a room key/);
    // Operators see the flags too, per room.
    const metrics = await (await fetch(`${sys.listenUrl}/metrics`)).text();
    expect(metrics).toContain(`conclave_rotation_audit_flags_total{room="${room}"} 2`);
    expect(alice.answersTo(room, reused2, bot)).toEqual([]);
    // Nothing but the flagged ones was redacted.
    expect((await served(bob, reused)).unsigned?.redacted_because).toBeUndefined();
    for (const id of compliant) expect((await served(bob, id)).unsigned?.redacted_because).toBeUndefined();
  });
});
