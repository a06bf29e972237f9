/**
 * Binding a room, with real parts: only a room admin starts a group, the
 * founders consent to a preview, nothing is spent before they all have, and
 * neither a crash between preview and confirmation nor a changed preview
 * lets anything through that someone did not see.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { startSystem, type System } from "../../scripts/harness.ts";
import { dm, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";

const root = join(import.meta.dirname, "../..");
let sys: System;
let alice: ChatUser, bob: ChatUser, carol: ChatUser, dave: ChatUser, mallory: ChatUser;
let room: string;
let bot: string;

const ask = (u: ChatUser, text: string, r = room) => u.ask(r, text, bot);
const codeOf = (preview: string) => /dao confirm ([A-Z2-9]{6})/.exec(preview)?.[1] ?? "";

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "carol", "dave", "mallory"], extraConfig: "rooms:\n  consentWindow: 90s\n" });
  ({ alice, bob, carol, dave, mallory } = sys.users as Record<"alice" | "bob" | "carol" | "dave" | "mallory", ChatUser>);
  bot = sys.botUserId;
  room = await groupRoom(alice, [bob, carol, dave, mallory], bot);
  // mallory is a moderator: what admin mode hands out, and enough to kick.
  await alice.client.setPowerLevel(room, mallory.userId, 50);
  for (const u of [alice, bob, carol, mallory]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
  await sys?.stop();
}, 60_000);

describe("binding a room", () => {
  it("refuses a moderator's takeover and a group in a direct message, spending nothing", async () => {
    const before = await sys.botNonce();
    await mallory.until("mallory a moderator", () => (mallory.client.getRoom(room)?.getMember(mallory.userId)?.powerLevel === 50 ? true : undefined));
    expect(await ask(mallory, "!dao create mode=admin admins=@mallory:localhost quorum=100%")).toBe(
      "Only a room admin (power level 100, or a creator of the room) may make this room a group; your power level here is 50.",
    );
    expect(await ask(mallory, "!dao confirm ABCDEF")).toMatch(/no preview of a group here/);
    // In her own direct message with the bot she is its admin, but a group is more than 2 people.
    const theirs = await dm(mallory, bot);
    expect(await ask(mallory, "!dao create", theirs)).toBe("A group is more than 2 people: this room has 1 besides the bot.");
    expect(await ask(mallory, "!status")).toMatch(/not a group yet/);
    expect(await sys.botNonce()).toBe(before);
  });

  it("creates the group only once every founder consented to the preview they read, across crashes between preview and confirmation", async () => {
    const before = await sys.botNonce();
    const first = await ask(alice, "!dao create founders=@alice:localhost,@bob:localhost,@carol:localhost quorum=50%");
    expect(first).toMatch(/^Preview [A-Z2-9]{6} of the group for this room\nNothing is created and nothing is spent until every founder consents/);
    expect(first).toMatch(/Quorums: default 50%; to add a member the default \(50%\)/);
    expect(first).toMatch(
      /Founders \(active members from the start, their first period paid\): @alice:localhost \(0x[0-9a-fA-F]{40}\), @bob:localhost \(0x[0-9a-fA-F]{40}\), @carol:localhost \(0x[0-9a-fA-F]{40}\)\./,
    );
    expect(first).toMatch(/Not members yet: @dave:localhost, @mallory:localhost\. They keep their place for 7d once the room is enforced/);
    const code = codeOf(first);
    expect(await ask(bob, `!dao confirm ${code}`)).toMatch(/1 of 3 founders consent\. Waiting for @alice:localhost, @carol:localhost/);
    expect(await ask(mallory, `!dao confirm ${code}`)).toMatch(/^Only the founders named in the preview consent to it/);

    // A crash between preview and confirmation: the preview and bob's consent are kept.
    await sys.bot.stop("SIGKILL");
    await sys.restartBot();
    expect(await ask(carol, `!dao confirm ${code}`)).toMatch(/2 of 3 founders consent\. Waiting for @alice:localhost/);

    // alice changes the settings: the consents were to the old ones, and the old code is refused.
    const second = await ask(alice, "!dao create founders=@alice:localhost,@bob:localhost,@carol:localhost quorum=60%");
    const code2 = codeOf(second);
    expect(code2).not.toBe(code);
    expect(second).toMatch(/Quorums: default 60%/);
    expect(await ask(alice, `!dao confirm ${code}`)).toMatch(
      new RegExp(`^${code} is not the code of this room's preview: it was replaced or cancelled\\. Read the preview ${code2}`),
    );
    expect(await ask(bob, `!dao confirm ${code2}`)).toMatch(/1 of 3/);
    expect(await ask(carol, `!dao confirm ${code2}`)).toMatch(/2 of 3/);
    expect(await sys.botNonce()).toBe(before);

    await sys.bot.stop("SIGKILL");
    await sys.restartBot();
    const created = await ask(alice, `!dao confirm ${code2}`);
    expect(created).toMatch(
      /^This room is now a group: 0x[0-9a-fA-F]{40}\nFounders \(active, first period paid\): @alice:localhost, @bob:localhost, @carol:localhost/,
    );
    expect(await sys.botNonce()).toBeGreaterThan(before);
    expect(await ask(bob, "!members")).toMatch(/^3 member\(s\), 3 active/);
    expect(await ask(bob, "!status")).toMatch(/Quorums: default 60%/);
    // Those not members keep their place, and are told how to join.
    await dave.until("the adoption notice", () =>
      dave.eventWith(room, /^@(dave|mallory):localhost, @(dave|mallory):localhost: this room is now the room of the group/),
    );
    for (const u of [dave, mallory]) expect(alice.client.getRoom(room)?.getMember(u.userId)?.membership).toBe("join");
    // Once bound, a preview is refused, and so is a late consent.
    expect(await ask(alice, "!dao create")).toMatch(/already a group/);
    expect(await ask(bob, `!dao confirm ${code2}`)).toMatch(/already a group/);
  });

  it("lets a preview lapse when a founder never consents, says so in the room, and spends nothing", async () => {
    const other = await groupRoom(alice, [bob, carol], bot);
    for (const u of [alice, bob, carol]) expect(await linkWallet(u, other, bot)).toMatch(/now linked/);
    const before = await sys.botNonce();
    const code = codeOf(await ask(alice, "!dao create", other));
    expect(await ask(alice, `!dao confirm ${code}`, other)).toMatch(/1 of 3/);
    expect(await ask(bob, `!dao confirm ${code}`, other)).toMatch(/2 of 3/);
    // carol never consents.
    const lapsed = await alice.until(
      "the lapse",
      () => alice.messagesFrom(other, bot).find((t) => t.startsWith(`The preview ${code} of a group for this room lapsed`)),
      150_000,
    );
    expect(lapsed).toBe(
      `The preview ${code} of a group for this room lapsed: not every founder consented in time (consented: @alice:localhost, @bob:localhost). Nothing was created or spent; a room admin may send !dao create again.`,
    );
    expect(await ask(carol, `!dao confirm ${code}`, other)).toMatch(/no preview of a group here/);

    // A founder who declines: the preview is shown again without her, under a new code.
    const again = codeOf(await ask(alice, "!dao create", other));
    const declined = await ask(carol, "!dao decline", other);
    expect(declined).toMatch(new RegExp(`^@carol:localhost declines to be a founder: the preview ${again} is replaced, and every founder consents again`));
    expect(declined).toMatch(/Not members yet: @carol:localhost/);
    const third = codeOf(declined);
    expect(third).not.toBe(again);
    expect(await ask(alice, `!dao confirm ${again}`, other)).toMatch(/not the code of this room's preview/);
    // Only who asked for it (or a room admin) cancels it; then nothing is left to confirm.
    expect(await ask(bob, "!dao cancel", other)).toMatch(/^Only a room admin/);
    expect(await ask(alice, "!dao cancel", other)).toBe(`The preview ${third} is cancelled\nNothing was created and nothing was spent.`);
    expect(await ask(bob, `!dao confirm ${third}`, other)).toMatch(/no preview of a group here/);
    expect(await ask(bob, "!status", other)).toMatch(/not a group yet/);
    expect(await sys.botNonce()).toBe(before);
  }, 300_000);
});
