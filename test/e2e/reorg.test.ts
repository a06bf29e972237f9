/**
 * A chain reorganisation shallower than the confirmations setting does not
 * make the bot act on a dropped block (Hardhat's snapshot and revert make
 * the reorganisation).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { startSystem, type System } from "../../scripts/harness.ts";
import { createGroup, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";
import { groupContract } from "../../src/governance/contracts.ts";
import { encodeAccount } from "../../src/governance/encoding.ts";
import { Action, VoteType } from "../../src/governance/types.ts";

const root = join(import.meta.dirname, "../..");
const CONFIRMATIONS = 2;
let sys: System;
let alice: ChatUser, bob: ChatUser, carol: ChatUser;
let room: string;
let bot: string;
let group: string;
let provider: JsonRpcProvider;

const carolIn = () => alice.client.getRoom(room)?.getMember(carol.userId)?.membership;

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "carol"], confirmations: CONFIRMATIONS });
  ({ alice, bob, carol } = sys.users as Record<"alice" | "bob" | "carol", ChatUser>);
  bot = sys.botUserId;
  provider = new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true });
  room = await groupRoom(alice, [bob, carol], bot);
  for (const u of [alice, bob, carol]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
  ({ group } = await createGroup(alice, [bob, carol], room, bot, "quorum=50%"));
}, 300_000);

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first */
  provider?.destroy();
  await sys?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
}, 60_000);

describe("reorganisations", () => {
  it("does not act on a removal that a reorganisation shallower than the confirmations dropped", async () => {
    const funder = new NonceManager(new Wallet(sys.chain.ownerKey, provider));
    for (const u of [alice, bob]) await (await funder.sendTransaction({ to: u.wallet.address, value: 10n ** 17n })).wait();
    const aliceSigner = new NonceManager(alice.wallet.connect(provider));
    const a = groupContract(group, aliceSigner);
    const payload = encodeAccount(carol.wallet.address);
    const rc = await (await a.getFunction("propose")(Action.RemoveMember, payload)).wait();
    const ev = rc!.logs.map((l: never) => a.interface.parseLog(l)).find((e: { name: string } | null) => e?.name === "ProposalCreated")!;
    await (await a.getFunction("castVote")(ev.args.proposalId, VoteType.For)).wait();
    await (await groupContract(group, new NonceManager(bob.wallet.connect(provider))).getFunction("castVote")(ev.args.proposalId, VoteType.For)).wait();

    // The removal lands in one block, then that block is dropped.
    const snapshot = await provider.send("evm_snapshot", []);
    await (await a.getFunction("execute")(ev.args.number, Action.RemoveMember, payload)).wait();
    await new Promise((r) => setTimeout(r, 2500));
    expect(carolIn()).toBe("join");
    await provider.send("evm_revert", [snapshot]);
    aliceSigner.reset();
    for (let i = 0; i < CONFIRMATIONS + 2; i++) await provider.send("evm_mine", []);
    await new Promise((r) => setTimeout(r, 2500));
    expect(carolIn()).toBe("join");
    expect(sys.bot.lines.some((l) => /kicked @carol/.test(l))).toBe(false);

    // Control: the same removal, kept this time, is enforced once confirmed.
    await (await a.getFunction("execute")(ev.args.number, Action.RemoveMember, payload)).wait();
    await new Promise((r) => setTimeout(r, 1500));
    expect(carolIn()).toBe("join");
    for (let i = 0; i < CONFIRMATIONS; i++) await provider.send("evm_mine", []);
    await alice.until("carol removed once confirmed", () => (carolIn() === "ban" ? true : undefined));
  });
});
