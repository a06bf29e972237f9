/**
 * Answers that fit Element, with a real Synapse, a real chain, the real bot
 * and real matrix-js-sdk clients: `!help` as HTML, an answer in the
 * command's thread, pills with `m.mentions` that notify who is named (the
 * client's own push rules say so: the room is encrypted, so the server
 * cannot), `!status #alias:localhost` from a direct chat, and `!propose add`
 * of an account that does not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import type { MatrixEvent } from "matrix-js-sdk";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, dm, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";

const root = join(import.meta.dirname, "../..");
let sys: System;
let alice: ChatUser, bob: ChatUser, dave: ChatUser;
let room: string;
let bot: string;
const ALIAS = "#governed:localhost";

type Content = {
  body?: string;
  format?: string;
  formatted_body?: string;
  "m.mentions"?: { user_ids?: string[]; room?: boolean };
  "m.relates_to"?: { rel_type?: string; event_id?: string; is_falling_back?: boolean; "m.in_reply_to"?: { event_id?: string } };
};

/** The bot's answer to `eventId`, as `u`'s client received it (decrypted). */
async function answerEvent(u: ChatUser, roomId: string, eventId: string): Promise<MatrixEvent> {
  await u.answerTo(roomId, eventId, bot);
  return u.until(
    "the answer event",
    () => u.seenFrom(roomId, bot).find((s) => s.event.getContent<Content>()["m.relates_to"]?.["m.in_reply_to"]?.event_id === eventId)?.event,
  );
}

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "dave"] });
  ({ alice, bob, dave } = sys.users as Record<"alice" | "bob" | "dave", ChatUser>);
  bot = sys.botUserId;
  room = await groupRoom(alice, [bob, dave], bot);
  for (const u of [alice, bob, dave]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
  expect((await createGroup(alice, [bob, dave], room, bot, "quorum=50%")).created).toMatch(/This room is now a group/);
  expect(await authorize(alice, room, bot)).toMatch(/Authorised/);
  // The room's address, in the directory and as its canonical address (what clients, and the bot, show).
  await alice.client.createAlias(ALIAS, room);
  expect(await alice.putState(room, "m.room.canonical_alias", { alias: ALIAS })).toBe(200);
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
  await sys?.stop();
}, 60_000);

describe("answers that fit Element", () => {
  it("gives !help as HTML, one row per command, with a plain-text body", async () => {
    const asked = await alice.say(room, "!help");
    const c = (await answerEvent(alice, room, asked)).getContent<Content>();
    expect(c.body).toMatch(/^Commands:\n!help — /);
    expect(c.format).toBe("org.matrix.custom.html");
    expect(c.formatted_body).toMatch(/^<b>Commands<\/b><table>/);
    expect(c.formatted_body).toContain("<tr><td><code>!status</code></td>");
    expect(c["m.mentions"]).toEqual({ user_ids: [alice.userId] });
    const one = (await answerEvent(alice, room, await alice.say(room, "!help vote"))).getContent<Content>();
    expect(one.formatted_body).toMatch(/^<p><code>!vote &lt;#number&gt; &lt;yes\|no\|abstain&gt; \[#room:server\]<\/code><\/p>/);
  });

  it("answers a command sent in a thread in that thread, and one outside threads as a plain reply", async () => {
    const rootId = await alice.say(room, "a question for the bot");
    const { event_id: asked } = await alice.client.sendMessage(room, {
      msgtype: "m.text",
      body: "!proposals",
      "m.relates_to": { rel_type: "m.thread", event_id: rootId, is_falling_back: true, "m.in_reply_to": { event_id: rootId } },
    } as never);
    const answer = await answerEvent(alice, room, asked);
    expect(answer.getContent<Content>()["m.relates_to"]).toEqual({
      rel_type: "m.thread",
      event_id: rootId,
      is_falling_back: true,
      "m.in_reply_to": { event_id: asked },
    });
    expect(answer.threadRootId).toBe(rootId);
    const plain = await alice.say(room, "!proposals");
    expect((await answerEvent(alice, room, plain)).getContent<Content>()["m.relates_to"]).toEqual({ "m.in_reply_to": { event_id: plain } });
  });

  it("names users with pills and m.mentions, which notify them; a list notifies only the sender", async () => {
    const asked = await alice.say(room, "!delegate @bob:localhost");
    const answer = await answerEvent(alice, room, asked);
    const c = answer.getContent<Content>();
    expect(c.body).toMatch(/@alice:localhost delegates to @bob:localhost/);
    expect(c.formatted_body).toContain('<a href="https://matrix.to/#/@bob:localhost">@bob:localhost</a>');
    expect([...(c["m.mentions"]?.user_ids ?? [])].sort()).toEqual([alice.userId, bob.userId]);
    // m.text: Element's default rules never notify an m.notice, whatever it mentions.
    expect(answer.getContent<{ msgtype?: string }>().msgtype).toBe("m.text");
    // bob's client, by its own push rules, highlights it: he is notified.
    const seenByBob = await bob.until("bob sees the answer", () => bob.seenFrom(room, bot).find((s) => s.event.getId() === answer.getId())?.event);
    expect(bob.client.getPushActionsForEvent(seenByBob, true)?.tweaks.highlight).toBe(true);
    // !members names bob too, but as a list: it notifies alice only.
    const members = await answerEvent(alice, room, await alice.say(room, "!members"));
    expect(members.getContent<Content>().formatted_body).toContain('<a href="https://matrix.to/#/@bob:localhost">');
    expect(members.getContent<Content>()["m.mentions"]).toEqual({ user_ids: [alice.userId] });
    expect(members.getContent<{ msgtype?: string }>().msgtype).toBe("m.notice");
    const listSeenByBob = await bob.until("bob sees the list", () => bob.seenFrom(room, bot).find((s) => s.event.getId() === members.getId())?.event);
    expect(bob.client.getPushActionsForEvent(listSeenByBob, true)?.tweaks.highlight ?? false).toBe(false);
  });

  it("in a direct chat, says how to name the group, and answers !status #alias:localhost", async () => {
    const direct = await dm(dave, bot);
    expect(await dave.ask(direct, "!status", bot)).toMatch(
      /^This is a direct chat, not a group: I do not guess which group you mean\. End the command with the group's room \(its address or its id\), like !status #governed:localhost\. You are in one group I serve, #governed:localhost/,
    );
    expect(await dave.ask(direct, `!link ${dave.wallet.address}`, bot)).toMatch(
      /^This is a direct chat, not a group: .*like !link 0xYOUR_ADDRESS #governed:localhost/,
    );
    const status = await dave.ask(direct, `!status ${ALIAS}`, bot);
    expect(status).toMatch(/^Group status\nGroup contract: 0x[0-9a-fA-F]{40}\n/);
    const contract = /Group contract: (0x[0-9a-fA-F]{40})/.exec(status)?.[1] ?? "";
    // Checksummed (EIP-55): mixed case, not the store's lower case.
    expect(contract).not.toBe(contract.toLowerCase());
    expect(status).toMatch(/Membership: free, but renewed with !join every 30d\. A member who has not renewed by the end of its period stops counting at once/);
    expect(status).toMatch(/Renew before \d{4}-\d\d-\d\d \d\d:\d\d UTC \(!join, free\)/);
    expect(await dave.ask(direct, `!members ${room}`, bot)).toMatch(/^3 member\(s\), 3 active/);
    expect(await dave.ask(direct, "!status #nowhere:localhost", bot)).toMatch(/^There is no room #nowhere:localhost/);
  });

  it("refuses to propose an account that does not exist on its homeserver, sending nothing", async () => {
    const before = await sys.botNonce();
    expect(await alice.ask(room, "!propose add @nobody:localhost", bot)).toBe(
      "There is no account @nobody:localhost: localhost does not know it. Check the Matrix ID (Element shows it in the user's profile).",
    );
    expect(await sys.botNonce()).toBe(before);
  });
});
