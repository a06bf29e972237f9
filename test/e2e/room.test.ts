/**
 * A group's room with real parts: an existing room is adopted without being
 * emptied (told, reminded, then removed and banned), watch mode only says
 * what it would do, the room stays closed whatever a client sends, a later
 * decision lifts a ban, and a room upgrade by a room admin takes the group
 * along.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, dm, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";
import { EventTimeline } from "matrix-js-sdk";

const root = join(import.meta.dirname, "../..");
const GRACE_S = 45;
let sys: System;
let alice: ChatUser, bob: ChatUser, carol: ChatUser, dave: ChatUser, erin: ChatUser, mallory: ChatUser;
let bot: string;
/** the adopted room, later upgraded */
let adopted: string;
let group: string;

const ask = (u: ChatUser, r: string, text: string) => u.ask(r, text, bot);
const membership = (u: ChatUser, r: string, who: string) => u.client.getRoom(r)?.getMember(who)?.membership;
const history = (u: ChatUser, r: string) =>
  u.client.getRoom(r)?.getLiveTimeline().getState(EventTimeline.FORWARDS)?.getStateEvents("m.room.history_visibility", "")?.getContent().history_visibility as
    string | undefined;
type Content = { body?: string; formatted_body?: string; "m.mentions"?: { user_ids?: string[] } };

/** A proposal to add `who` that alice and bob pass from chat. */
async function admit(r: string, who: ChatUser): Promise<void> {
  const proposed = await ask(alice, r, `!propose add ${who.userId}`);
  const n = /Proposal #(\d+)/.exec(proposed)?.[1];
  expect(n, proposed).toBeDefined();
  expect(await ask(alice, r, `!vote ${n} yes`)).toMatch(/FOR 1/);
  expect(await ask(bob, r, `!vote ${n} yes`)).toMatch(/passed and was executed/);
}

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({
    root,
    users: ["alice", "bob", "carol", "dave", "erin", "mallory"],
    extraConfig: `rooms:\n  adoptionGrace: ${GRACE_S}s\n  adoptionReminder: 25s\n`,
  });
  ({ alice, bob, carol, dave, erin, mallory } = sys.users as Record<"alice" | "bob" | "carol" | "dave" | "erin" | "mallory", ChatUser>);
  bot = sys.botUserId;
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
  await sys?.stop();
}, 60_000);

describe("adopting an existing room", () => {
  it("keeps non-members for the grace period, tells them with a mention, reminds them, then removes and bans those still not members", async () => {
    adopted = await groupRoom(alice, [bob, dave, erin], bot);
    for (const u of [alice, bob]) expect(await linkWallet(u, adopted, bot)).toMatch(/now linked/);
    const started = Date.now();
    ({ group } = await createGroup(alice, [bob], adopted, bot, "quorum=50%"));
    expect(group).toMatch(/^0x/);
    for (const u of [alice, bob]) expect(await authorize(u, adopted, bot)).toMatch(/Authorised/);

    // Told, with a pill and m.mentions each.
    const welcome = await dave.until("the welcome", () => dave.eventWith(adopted, /this room is now the room of the group/));
    const w = welcome.getContent<Content>();
    expect([...(w["m.mentions"]?.user_ids ?? [])].sort()).toEqual([dave.userId, erin.userId]);
    for (const u of [dave, erin]) expect(w.formatted_body).toContain(`<a href="https://matrix.to/#/${u.userId}">${u.userId}</a>`);
    expect(w.body).toMatch(
      /You are not a member yet, and you keep your place until \d{4}-\d\d-\d\d \d\d:\d\d UTC\. To stay, become a member: link your wallet \(send !link 0xYOUR_ADDRESS here, or in a direct message to me !link 0xYOUR_ADDRESS !/,
    );

    // dave links and is admitted in time; erin does nothing.
    const daveDm = await dm(dave, bot);
    expect(await linkWallet(dave, daveDm, bot, adopted)).toMatch(/now linked/);
    await admit(adopted, dave);

    // The reminder names only who is still not a member.
    const reminder = await erin.until("the reminder", () => erin.eventWith(adopted, /a reminder: you are still not a member/), 60_000);
    expect(reminder.getContent<Content>()["m.mentions"]?.user_ids).toEqual([erin.userId]);
    expect(Date.now() - started).toBeLessThan(GRACE_S * 1000);
    expect(membership(alice, adopted, erin.userId)).toBe("join");

    // At the end of the grace: removed, banned, with the reason, and said in the room.
    await alice.until("erin banned", () => (membership(alice, adopted, erin.userId) === "ban" ? true : undefined), 90_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(GRACE_S * 1000 - 2000);
    const ban = alice.client.getRoom(adopted)?.getMember(erin.userId)?.events.member?.getContent<{ reason?: string }>();
    expect(ban?.reason).toMatch(/^not a member of the group: the adoption grace period ended \d{4}-/);
    await alice.until("the notice", () =>
      alice.messagesFrom(adopted, bot).find((t) => /^Removed @erin:localhost: not a member of the group: the adoption grace period ended/.test(t)),
    );
    expect(membership(alice, adopted, dave.userId)).toBe("join");
  }, 240_000);

  it("lifts its ban when a later decision admits the account: unban, then invite", async () => {
    const erinDm = await dm(erin, bot);
    expect(await linkWallet(erin, erinDm, bot, adopted)).toMatch(/now linked[\s\S]*not a member yet/);
    await admit(adopted, erin);
    await erin.until("erin invited again", () => (erin.client.getRoom(adopted)?.getMyMembership() === "invite" ? true : undefined));
    await erin.join(adopted);
    await alice.seesJoined(adopted, erin.userId);
  });
});

describe("watch mode", () => {
  it("says what it would do and does nothing, until a room admin switches the room to enforce", async () => {
    const watched = await groupRoom(alice, [bob, mallory], bot);
    for (const u of [alice, bob]) expect(await linkWallet(u, watched, bot)).toMatch(/now linked/);
    const { preview, created } = await createGroup(alice, [bob], watched, bot, "watch");
    expect(preview).toMatch(/The room starts in watch mode: I only say what I would do, until a room admin sends !dao enforce/);
    expect(created).toMatch(/Watch mode: I say what I would do in this room and do nothing/);
    const report = await alice.until("the report", () => alice.messagesFrom(watched, bot).find((t) => t.startsWith("Watch mode: I change nothing")));
    expect(report).toMatch(
      /would remove @mallory:localhost: not a member of the group \(no linked address\) \(once enforced, after an adoption grace of 45s in which they are told how to join\)/,
    );
    expect(report).toMatch(/would set who can read the history: members, all of it → members, from when they joined/);
    expect(report).toMatch(/would set only room admins \(power 100\) may change join rules/);
    // Nothing happened: mallory is in, the history is as it was.
    await new Promise((r) => setTimeout(r, 3000));
    expect(membership(alice, watched, mallory.userId)).toBe("join");
    expect((await alice.stateNow(watched, "m.room.history_visibility"))?.["history_visibility"]).toBe("shared");
    expect(alice.messagesFrom(watched, bot).filter((t) => t.startsWith("Watch mode: I change nothing"))).toHaveLength(1);

    expect(await ask(mallory, watched, "!dao enforce")).toMatch(/^Only a room admin .* may switch the room to enforce; your power level here is 0\./);
    expect(await ask(alice, watched, "!dao enforce")).toMatch(
      /^Enforce mode\nI now make the room follow the group\. People here who are not members keep their place for 45s/,
    );
    await alice.until("the room closed", () => (history(alice, watched) === "joined" ? true : undefined));
    await mallory.until("mallory told", () => mallory.eventWith(watched, /^@mallory:localhost: this room is now the room of the group/));
    // And back to watching: said, and nothing more is done.
    expect(await ask(alice, watched, "!dao watch")).toMatch(/^Watch mode\nI now only say in the room what I would do/);
    expect(await ask(alice, watched, "!status")).toMatch(/Room: watch mode/);
  });
});

describe("the room stays closed", () => {
  it("raises to 100 the power to change its rules, sets back what a client loosens, and says so", async () => {
    const levels = (await alice.stateNow(adopted, "m.room.power_levels")) as { events?: Record<string, number> };
    for (const t of ["m.room.join_rules", "m.room.history_visibility", "m.room.encryption", "m.room.power_levels", "m.room.server_acl", "m.room.tombstone"]) {
      expect([t, (levels.events?.[t] ?? 0) >= 100]).toEqual([t, true]);
    }
    // Short of an admin, nobody may loosen them: the homeserver refuses.
    expect(await bob.putState(adopted, "m.room.join_rules", { join_rule: "public" })).toBe(403);
    // An admin's client (not matrix-js-sdk: the API directly) loosens them; the bot sets them back and says so.
    expect(await alice.putState(adopted, "m.room.join_rules", { join_rule: "public" })).toBe(200);
    await alice.until("the join rules set back", () =>
      alice
        .messagesFrom(adopted, bot)
        .find((t) => t.startsWith("I set this room's rules back") && t.includes("The join rules: public → invite-only (set by @alice:localhost).")),
    );
    expect((await alice.stateNow(adopted, "m.room.join_rules"))?.["join_rule"]).toBe("invite");
    expect(await alice.putState(adopted, "m.room.history_visibility", { history_visibility: "world_readable" })).toBe(200);
    await alice.until("the history set back", () =>
      alice.messagesFrom(adopted, bot).find((t) => t.includes("Who can read the history: anyone → members, from when they joined (set by @alice:localhost).")),
    );
    expect((await alice.stateNow(adopted, "m.room.history_visibility"))?.["history_visibility"]).toBe("joined");
    // Lowering the power needed is set back too.
    const pl = (await alice.stateNow(adopted, "m.room.power_levels"))!;
    expect(await alice.putState(adopted, "m.room.power_levels", { ...pl, events: { ...(pl["events"] as object), "m.room.join_rules": 0 } })).toBe(200);
    await alice.until("the level notice", () =>
      alice
        .messagesFrom(adopted, bot)
        .find((t) => t.startsWith("I set this room's rules back") && t.includes("Only room admins (power 100) may change join rules.")),
    );
    expect(((await alice.stateNow(adopted, "m.room.power_levels")) as { events: Record<string, number> }).events["m.room.join_rules"]).toBe(100);
    // Encryption cannot be switched off in Matrix, only replaced by an algorithm that is none: set back too.
    expect(await alice.putState(adopted, "m.room.encryption", { algorithm: "org.example.cleartext" })).toBe(200);
    await alice.until("the encryption set back", () =>
      alice
        .messagesFrom(adopted, bot)
        .find((t) => t.includes('The encryption: "org.example.cleartext" (not encryption) → end-to-end encrypted (Megolm) (set by @alice:localhost).')),
    );
    expect((await alice.stateNow(adopted, "m.room.encryption"))?.["algorithm"]).toBe("m.megolm.v1.aes-sha2");
  });
});

describe("a room upgrade", () => {
  it("moves the group to the new room when a room admin upgrades it: members are invited there, the old room is no group", async () => {
    // alice, bob, dave and erin are the group's members; carol is not.
    const { replacement_room: next } = await alice.client.upgradeRoom(adopted, "12");
    // The upgrader invites the bot (Element offers to); it accepts, because the room replaces a group's room.
    await alice.client.invite(next, bot);
    await alice.until("the bot in the new room", () => (alice.client.getRoom(next)?.getMember(bot)?.membership === "join" ? true : undefined));
    await alice.until("the move said in the old room", () =>
      alice.messagesFrom(adopted, bot).find((t) => t.startsWith(`This room was upgraded by @alice:localhost: the group ${group} now lives in ${next}`)),
    );
    for (const u of [bob, dave, erin])
      await u.until(`${u.userId} invited to the new room`, () => (u.client.getRoom(next)?.getMyMembership() === "invite" ? true : undefined));
    await bob.join(next);
    await alice.seesJoined(next, bob.userId);
    expect(await ask(bob, next, "!status")).toMatch(new RegExp(`^Group status\\nGroup contract: ${group}`, "i"));
    // (Synapse lets only moderators speak in an upgraded room.)
    expect(await ask(alice, adopted, "!status")).toMatch(/not a group yet/);
    expect(await ask(alice, adopted, "!dao create")).toBe(`This room was replaced by ${next} (a room upgrade): it cannot become a group.`);
    // Nobody else was invited to the new room: carol, who is no member, never was.
    const invited = (await alice.client.members(next)) as unknown as { chunk: { state_key: string; content: { membership: string } }[] };
    const inRoom = invited.chunk
      .filter((m) => m.content.membership === "invite" || m.content.membership === "join")
      .map((m) => m.state_key)
      .sort();
    expect(inRoom).toEqual([alice.userId, bob.userId, bot, dave.userId, erin.userId].sort());
    expect(membership(alice, next, carol.userId)).toBeUndefined();
  });
});
