/**
 * Faults, with the real parts: the bot killed between sending a transaction
 * and seeing it mined; Synapse stopped and restarted; the RPC endpoint going
 * away and coming back. The room converges; nothing is sent twice.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, decideOnChain, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";
import { Action } from "../../src/governance/types.ts";

const root = join(import.meta.dirname, "../..");
let sys: System;
let alice: ChatUser, bob: ChatUser, carol: ChatUser, dave: ChatUser;
let room: string;
let bot: string;
let group: string;
let provider: JsonRpcProvider;
let botAddress: string;

const left = (who: ChatUser) =>
  alice.until(`${who.userId} out`, () => (alice.client.getRoom(room)?.getMember(who.userId)?.membership === "ban" ? true : undefined), 90_000);

/** A removal decided from the members' own wallets, without the bot. */
const removeOnChain = (target: ChatUser, voters: ChatUser[]) =>
  decideOnChain({ provider, funderKey: sys.chain.ownerKey, group, voters, action: Action.RemoveMember, account: target.wallet.address });

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "carol", "dave"] });
  ({ alice, bob, carol, dave } = sys.users as Record<"alice" | "bob" | "carol" | "dave", ChatUser>);
  bot = sys.botUserId;
  botAddress = new Wallet(sys.chain.botKey).address;
  provider = new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true });
  room = await groupRoom(alice, [bob, carol, dave], bot);
  for (const u of [alice, bob, carol, dave]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
  ({ group } = await createGroup(alice, [bob, carol, dave], room, bot, "quorum=50%"));
  for (const u of [alice, bob]) expect(await authorize(u, room, bot)).toMatch(/Authorised/);
}, 300_000);

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first */
  await provider?.send("evm_setAutomine", [true]).catch(() => undefined);
  provider?.destroy();
  await sys?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
}, 60_000);

describe("faults", () => {
  it("sends a transaction once when the bot is killed between sending it and seeing it mined", async () => {
    expect(await alice.ask(room, "!propose add @nobody:localhost", bot)).toMatch(/^There is no account @nobody:localhost/);
    const proposed = await bob.ask(room, "!propose remove @dave:localhost", bot);
    expect(proposed).toMatch(/Proposal #1/);
    const nonce = await provider.getTransactionCount(botAddress, "latest");
    await provider.send("evm_setAutomine", [false]);
    const vote = await alice.say(room, "!vote 1 yes");
    // Wait until the bot's signed vote is in the node's pending block, then kill it.
    for (let i = 0; ; i++) {
      const pending = (await provider.send("eth_getBlockByNumber", ["pending", true])) as { transactions: { from: string }[] };
      if (pending.transactions.some((t) => t.from.toLowerCase() === botAddress.toLowerCase())) break;
      if (i > 300) throw new Error("the bot's vote never reached the node");
      await new Promise((r) => setTimeout(r, 50));
    }
    await sys.bot.stop("SIGKILL");
    await sys.restartBot();
    await provider.send("evm_mine", []);
    await provider.send("evm_setAutomine", [true]);
    await sys.bot.waitFor(/resumed 0x[0-9a-f]+: mined|tx mined: vote/);
    expect(await provider.getTransactionCount(botAddress, "latest")).toBe(nonce + 1);
    // The vote cut off by the kill is confirmed to the voter, once, with its outcome read from the chain.
    expect(await alice.answerTo(room, vote, bot)).toMatch(/@alice:localhost voted for on #1[\s\S]*FOR 1 · AGAINST 0/);
    const p = await alice.ask(room, "!proposal 1", bot);
    expect(p).toMatch(/FOR 1 · AGAINST 0/);
    // Voting again is refused by the contract: the vote was counted once.
    expect(await alice.ask(room, "!vote 1 yes", bot)).toMatch(/already voted/);
    expect(await provider.getTransactionCount(botAddress, "latest")).toBe(nonce + 1);
    expect(alice.answersTo(room, vote, bot)).toHaveLength(1);
  });

  it("catches up after Synapse was stopped and restarted", async () => {
    await sys.stopSynapse();
    await removeOnChain(dave, [alice, bob, carol]);
    await new Promise((r) => setTimeout(r, 3000));
    await sys.startSynapse();
    await left(dave);
    await alice.until("the notice", () => alice.messagesFrom(room, bot).find((t) => t.includes("Removed @dave:localhost: removed by proposal")));
    // It said what it was waiting for while the homeserver was away.
    expect(sys.bot.lines.some((l) => /bridge: .*(ECONNREFUSED|fetch failed|ConnectionError|network|socket)/i.test(l))).toBe(true);
  });

  it("waits for the RPC endpoint, says so, and catches up when it returns", async () => {
    await sys.rpcProxy.cut();
    expect(await alice.ask(room, "!status", bot)).toMatch(/chain cannot be reached right now/);
    await removeOnChain(carol, [alice, bob]);
    await new Promise((r) => setTimeout(r, 2000));
    expect(alice.client.getRoom(room)?.getMember(carol.userId)?.membership).toBe("join");
    await sys.rpcProxy.restore();
    await left(carol);
    await alice.until("the notice", () => alice.messagesFrom(room, bot).find((t) => t.includes("Removed @carol:localhost: removed by proposal")));
    expect(sys.bot.lines.some((l) => /bridge: .*(ECONNREFUSED|could not|timeout|network|connect)/i.test(l))).toBe(true);
  });
});
