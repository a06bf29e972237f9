/**
 * The group's shared key follows its governance, proved with real clients
 * (matrix-js-sdk with rust crypto, one device per user) in a real Synapse:
 * a removed account cannot read what is sent after its removal, and a new
 * member cannot read what was sent before it joined.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { JsonRpcProvider, NonceManager } from "ethers";
import type { MatrixEvent } from "matrix-js-sdk";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, dm, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";
import { groupContract } from "../../src/governance/contracts.ts";

const root = join(import.meta.dirname, "../..");
const DAY = 86_400;
let sys: System;
let alice: ChatUser, bob: ChatUser, carol: ChatUser, mallory: ChatUser;
let room: string;
let bot: string;
let group: string;
let provider: JsonRpcProvider;

const session = (e: MatrixEvent) => (e.getWireContent() as { session_id?: string }).session_id;
const left = (who: ChatUser) =>
  alice.until(`${who.userId} out`, () => (alice.client.getRoom(room)?.getMember(who.userId)?.membership === "ban" ? true : undefined));

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "carol", "mallory"] });
  ({ alice, bob, carol, mallory } = sys.users as Record<"alice" | "bob" | "carol" | "mallory", ChatUser>);
  bot = sys.botUserId;
  provider = new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true });
  room = await groupRoom(alice, [bob, mallory], bot);
  for (const u of [alice, bob, mallory]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
  ({ group } = await createGroup(alice, [bob, mallory], room, bot, "quorum=50% period=30d grace=1d"));
  for (const u of [alice, bob]) expect(await authorize(u, room, bot)).toMatch(/Authorised/);
}, 300_000);

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first */
  provider?.destroy();
  await sys?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
}, 60_000);

describe("the room key follows governance", () => {
  it("keeps mallory out of everything sent after her removal by a passed proposal", async () => {
    expect(await alice.client.getCrypto()!.isEncryptionEnabledInRoom(room)).toBe(true);
    await alice.say(room, "before the removal");
    await mallory.until("the message before", () => mallory.eventWith(room, /before the removal/));
    const before = alice.eventWith(room, /before the removal/) ?? (await alice.until("own message", () => alice.eventWith(room, /before the removal/)));
    expect(await mallory.tryDecrypt(before)).toBe("before the removal");
    const botBefore = await alice.until("a bot message", () => alice.eventWith(room, /authoris|Authorised/));

    expect(await alice.ask(room, "!propose remove @mallory:localhost", bot)).toMatch(/Proposal #1/);
    expect(await alice.ask(room, "!vote 1 yes", bot)).toMatch(/FOR 1/);
    expect(await bob.ask(room, "!vote 1 yes", bot)).toMatch(/passed and was executed: remove @mallory/);
    await left(mallory);
    const notice = await alice.until("the notice under a new key", () => alice.eventWith(room, /Removed @mallory:localhost: removed by proposal #1/));
    await alice.say(room, "secret after the removal");
    const after = await bob.until("the secret", () => bob.eventWith(room, /secret after the removal/));

    // New sessions, for the bot and for alice.
    expect(session(notice)).not.toBe(session(botBefore));
    expect(session(after)).not.toBe(session(before));
    // mallory's device has no key for them: a missing-key failure, and no key ever arrived.
    expect(await mallory.tryDecrypt(notice)).toBeUndefined();
    expect(await mallory.tryDecrypt(after)).toBeUndefined();
    const held = await mallory.sessionIds(room);
    expect(held.has(session(before)!)).toBe(true);
    expect(held.has(session(after)!)).toBe(false);
    expect(held.has(session(notice)!)).toBe(false);
  });

  it("keeps carol out of what was said before she was added", async () => {
    await alice.say(room, "said before carol");
    const before = await bob.until("the message", () => bob.eventWith(room, /said before carol/));
    const carolDm = await dm(carol, bot);
    expect(await linkWallet(carol, carolDm, bot, room)).toMatch(/now linked/);
    expect(await alice.ask(room, "!propose add @carol:localhost", bot)).toMatch(/Proposal #2/);
    expect(await alice.ask(room, "!vote 2 yes", bot)).toMatch(/FOR 1/);
    expect(await bob.ask(room, "!vote 2 yes", bot)).toMatch(/passed and was executed/);
    await carol.join(room);
    expect(await authorize(carol, room, bot)).toMatch(/Authorised/);
    expect(await carol.ask(room, "!join", bot)).toMatch(/Welcome/);
    await alice.say(room, "welcome carol");
    expect(await carol.until("a message after joining", () => carol.eventWith(room, /welcome carol/))).toBeTruthy();
    expect(await carol.tryDecrypt(before)).toBeUndefined();
    expect((await carol.sessionIds(room)).has(session(before)!)).toBe(false);
    // The server does not serve her the earlier history either.
    expect(carol.eventWith(room, /said before carol/)).toBeUndefined();
  });

  it("keeps out a member removed for not paying after the grace period", async () => {
    // alice and carol pay ahead from their wallets; bob does not.
    const funder = new NonceManager(new (await import("ethers")).Wallet(sys.chain.ownerKey, provider));
    for (const u of [alice, carol]) {
      await (await funder.sendTransaction({ to: u.wallet.address, value: 10n ** 17n })).wait();
      await (await groupContract(group, new NonceManager(u.wallet.connect(provider))).getFunction("renew")(u.wallet.address)).wait();
    }
    await alice.say(room, "bob can read this");
    const before = await bob.until("the message", () => bob.eventWith(room, /bob can read this/));
    await provider.send("evm_increaseTime", [32 * DAY]);
    await provider.send("evm_mine", []);
    await left(bob);
    await alice.until("the notice", () => alice.eventWith(room, /Removed @bob:localhost: membership lapsed/));
    await alice.say(room, "after bob lapsed");
    const after = await carol.until("the message", () => carol.eventWith(room, /after bob lapsed/));
    expect(session(after)).not.toBe(session(before));
    expect(await bob.tryDecrypt(after)).toBeUndefined();
    expect((await bob.sessionIds(room)).has(session(after)!)).toBe(false);
  });

  it("never flagged a message of these compliant clients in the rotation audit", async () => {
    expect(await alice.ask(room, "!status", bot)).toContain("Rotation audit: no message used a room key that someone who left may still hold.");
    expect(sys.botLines.filter((l) => /^\S+ audit: /.test(l))).toEqual([]);
  });
});
