/**
 * Chain → room with real parts: the room follows the group. Removals by
 * proposal or by lapse are kicks with a reason; an account that is let in
 * without membership is removed; a bot that was down catches up.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { ContractFactory, JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, decideOnChain, dm, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";
import { groupContract, groupInterface } from "../../src/governance/contracts.ts";
import { Action } from "../../src/governance/types.ts";
import { EventTimeline } from "matrix-js-sdk";

const root = join(import.meta.dirname, "../..");
const DAY = 86_400;
let sys: System;
let alice: ChatUser, bob: ChatUser, carol: ChatUser, dave: ChatUser, mallory: ChatUser;
let room: string;
let bot: string;
let group: string;
let provider: JsonRpcProvider;

const membership = (u: ChatUser, who: string) => u.client.getRoom(room)?.getMember(who)?.membership;

async function rpc(method: string, params: unknown[] = []): Promise<unknown> {
  return provider.send(method, params);
}

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "carol", "dave", "mallory"] });
  ({ alice, bob, carol, dave, mallory } = sys.users as Record<"alice" | "bob" | "carol" | "dave" | "mallory", ChatUser>);
  bot = sys.botUserId;
  provider = new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true });
  room = await groupRoom(alice, [bob, carol, dave], bot);
  for (const u of [alice, bob, carol, dave]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
  ({ group } = await createGroup(alice, [bob, carol, dave], room, bot, "quorum=50% period=30d grace=1d"));
  for (const u of [alice, bob, carol]) expect(await authorize(u, room, bot)).toMatch(/Authorised/);
}, 300_000);

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first */
  provider?.destroy();
  await sys?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
}, 60_000);

describe("the room follows the group", () => {
  it("removes an account invited without membership", async () => {
    await alice.client.invite(room, mallory.userId);
    await alice.until("mallory's invite withdrawn", () => (membership(alice, mallory.userId) === "leave" ? true : undefined));
    await alice.until("the notice", () =>
      alice.messagesFrom(room, bot).find((t) => t.includes(`Removed ${mallory.userId}: not a member of the group (no linked address)`)),
    );
  });

  it("kicks a member removed by a passed proposal, naming the proposal", async () => {
    expect(await alice.ask(room, "!propose remove @dave:localhost", bot)).toMatch(/Proposal #1/);
    expect(await alice.ask(room, "!vote 1 yes", bot)).toMatch(/FOR 1/);
    expect(await bob.ask(room, "!vote 1 yes", bot)).toMatch(/FOR 2/);
    expect(await carol.ask(room, "!vote 1 yes", bot)).toMatch(/passed and was executed: remove @dave/);
    await alice.until("dave kicked", () => (membership(alice, dave.userId) === "ban" ? true : undefined));
    await alice.until("the notice", () => alice.messagesFrom(room, bot).find((t) => t.includes("Removed @dave:localhost: removed by proposal #1")));
  });

  it("catches up after being down: a removal decided meanwhile is enforced once", async () => {
    await sys.bot.stop("SIGKILL");
    // alice and bob vote from their own wallets while the bot is down.
    await decideOnChain({ provider, funderKey: sys.chain.ownerKey, group, voters: [alice, bob], action: Action.RemoveMember, account: carol.wallet.address });
    expect(membership(alice, carol.userId)).toBe("join");
    await sys.restartBot();
    await alice.until("carol kicked after the restart", () => (membership(alice, carol.userId) === "ban" ? true : undefined));
    await alice.until("the notice", () => alice.messagesFrom(room, bot).find((t) => t.includes("Removed @carol:localhost: removed by proposal #2")));
    // Once: the notice appears a single time even after another restart.
    await sys.restartBot();
    await new Promise((r) => setTimeout(r, 3000));
    expect(alice.messagesFrom(room, bot).filter((t) => t.includes("Removed @carol:localhost")).length).toBe(1);
  });

  it("says so in the room when it lacks the power to enforce", async () => {
    // A room whose creator gives the bot no power.
    const weak = await alice.createRoom("No power", [bot, bob.userId, mallory.userId]);
    for (const u of [bob, mallory]) await u.join(weak);
    await alice.seesJoined(weak, bot);
    for (const u of [alice, bob]) expect(await linkWallet(u, weak, bot)).toMatch(/now linked/);
    // Said before anyone consents, and again in the room once the group exists.
    const { preview, created } = await createGroup(alice, [bob], weak, bot);
    expect(preview).toMatch(/Warning: my power level here is 0\. I need 100 to keep the room closed/);
    expect(created).toMatch(/now a group/);
    await alice.until("the warning", () => alice.messagesFrom(weak, bot).find((t) => /I need power level \d+ to keep the room closed .* and have 0/.test(t)));
    expect(alice.client.getRoom(weak)?.getMember(mallory.userId)?.membership).toBe("join");
  });

  it("makes the group's admins room moderators in admin mode", async () => {
    const room2 = await groupRoom(alice, [bob, mallory], bot);
    for (const u of [alice, bob]) expect(await linkWallet(u, room2, bot)).toMatch(/now linked/);
    expect((await createGroup(alice, [bob], room2, bot, "mode=admin admins=@bob:localhost")).created).toMatch(/now a group/);
    await alice.until("bob promoted", () => {
      const pl = alice.client.getRoom(room2)?.getLiveTimeline().getState(EventTimeline.FORWARDS)?.getStateEvents("m.room.power_levels", "")?.getContent();
      return pl?.users?.["@bob:localhost"] === 50 ? true : undefined;
    });
  });

  it("follows an external governing contract: its additions are invited, its removals kicked", async () => {
    const artifact = JSON.parse(readFileSync(join(root, "artifacts/contracts/mocks/Forwarder.sol/Forwarder.json"), "utf8"));
    const owner = new NonceManager(new Wallet(sys.chain.ownerKey, provider));
    const fwd = await new ContractFactory(artifact.abi, artifact.bytecode, owner).deploy(await owner.getAddress());
    await fwd.waitForDeployment();
    const room3 = await groupRoom(alice, [bob, mallory], bot);
    for (const u of [alice, bob]) expect(await linkWallet(u, room3, bot)).toMatch(/now linked/);
    const { created, group: g3 } = await createGroup(alice, [bob], room3, bot, `mode=external controller=${await fwd.getAddress()}`);
    expect(created).toMatch(/now a group: 0x/);
    expect(await alice.ask(room3, "!propose remove @bob:localhost", bot)).toMatch(/governed by an external system|authorised/);
    const carolDm = await dm(carol, bot);
    expect(await linkWallet(carol, carolDm, bot, room3)).toMatch(/now linked/);
    const forward = async (fn: string, who: string) => await (await fwd.getFunction("forward")(g3, groupInterface.encodeFunctionData(fn, [who]))).wait();
    await forward("addMember", carol.wallet.address);
    await carol.until("an invite from the external decision", () => (carol.client.getRoom(room3)?.getMyMembership() === "invite" ? true : undefined));
    await forward("removeMember", bob.wallet.address);
    await alice.until("bob removed by the governing contract", () =>
      alice.client.getRoom(room3)?.getMember(bob.userId)?.membership === "ban" ? true : undefined,
    );
    await alice.until("the notice", () =>
      alice.messagesFrom(room3, bot).find((t) => t.includes("Removed @bob:localhost: removed by the group's admins or its governing contract")),
    );
  });

  it("removes a member whose grace period ended, on-chain and from the room", async () => {
    // alice pays ahead from her wallet (fee 0); bob does not.
    const g = groupContract(group, new NonceManager(alice.wallet.connect(provider)));
    await (await g.getFunction("renew")(alice.wallet.address)).wait();
    await rpc("evm_increaseTime", [31 * DAY + 1 * DAY + 60]);
    await rpc("evm_mine");
    await alice.until("bob kicked", () => (membership(alice, bob.userId) === "ban" ? true : undefined), 60_000);
    await alice.until("the notice", () => alice.messagesFrom(room, bot).find((t) => /Removed @bob:localhost: membership lapsed: not paid since/.test(t)));
    expect(await groupContract(group, provider).getFunction("isMember")(bob.wallet.address)).toBe(false);
    expect(membership(alice, alice.userId)).toBe("join");
  });
});
