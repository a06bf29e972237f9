import { describe, expect, it } from "vitest";
import { ZeroAddress, type Signer } from "ethers";
import { addresses, as, createGroup, DAY, defaultSettings, deployFactory, ethers, propose, tally, time, vote } from "./fixture.ts";
import { Action, VoteType } from "../../src/governance/types.ts";
import { encodeAccount } from "../../src/governance/encoding.ts";

const { For, Against, Abstain } = VoteType;

/** A group of `n` founders; with a 25% quorum nothing below is decided early. */
async function setup(n: number, config: Parameters<typeof defaultSettings>[1] = {}) {
  const factory = await deployFactory();
  const members = (await ethers.getSigners()).slice(1, n + 1);
  const group = await createGroup(factory, {
    founders: await addresses(members),
    settings: defaultSettings({}, { defaultQuorumBps: 2500, votingPeriod: 30 * DAY, ...config }),
  });
  const newProposal = () => propose(group, members[0]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
  return { group, members, newProposal };
}

async function delegate(group: Parameters<typeof as>[0], from: Signer, to: Signer | null) {
  await (await as(group, from).getFunction("delegate")(to ? await to.getAddress() : ZeroAddress)).wait();
}

describe("delegation", () => {
  it("gives the delegator's point to the delegate's choice", async () => {
    const { group, members, newProposal } = await setup(3);
    const [a, b] = members;
    await delegate(group, a!, b!);
    const p = await newProposal();
    await vote(group, b!, p, For);
    expect(await tally(group, p)).toMatchObject({ for: 2, against: 0 });
  });

  it("lets a delegator override by voting itself, before or after its delegate", async () => {
    const { group, members, newProposal } = await setup(4);
    const [a, b, c] = members;
    await delegate(group, a!, b!);
    await delegate(group, c!, b!);
    // Before: a votes first, so b carries only c.
    const p = await newProposal();
    await vote(group, a!, p, Against);
    await vote(group, b!, p, For);
    expect(await tally(group, p)).toMatchObject({ for: 2, against: 1 });
    // After: b votes first carrying both, then c takes its point back.
    const q = await newProposal();
    await vote(group, b!, q, For);
    expect(await tally(group, q)).toMatchObject({ for: 3 });
    await vote(group, c!, q, Abstain);
    expect(await tally(group, q)).toMatchObject({ for: 2, abstain: 1 });
  });

  it("handles circular delegation: one votes, it carries 2; both vote, 1 each", async () => {
    const { group, members, newProposal } = await setup(3);
    const [a, b] = members;
    await delegate(group, a!, b!);
    await delegate(group, b!, a!);
    const p = await newProposal();
    await vote(group, a!, p, For);
    expect(await tally(group, p)).toMatchObject({ for: 2 });
    await vote(group, b!, p, Against);
    expect(await tally(group, p)).toMatchObject({ for: 1, against: 1 });
  });

  it("is one hop: a point delegated to a delegator does not pass on", async () => {
    const { group, members, newProposal } = await setup(4);
    const [a, b, c] = members;
    await delegate(group, a!, b!);
    await delegate(group, b!, c!);
    const p = await newProposal();
    await vote(group, c!, p, For);
    // c carries b's point only; a's point would go to b's choice, and b did not vote.
    expect(await tally(group, p)).toMatchObject({ for: 2 });
  });

  it("counts a lapsed delegator's point for nobody", async () => {
    const { group, members } = await setup(3, { period: 10 * DAY });
    const [a, b, c] = members;
    await delegate(group, a!, b!);
    // b and c pay; a lapses.
    await time.increase(5 * DAY);
    for (const m of [b!, c!]) await (await as(group, m).getFunction("renew")(await m.getAddress())).wait();
    await time.increase(6 * DAY);
    const p = await propose(group, b!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    expect((await group.getFunction("proposal")(p.id)).influence).toBe(2n);
    await vote(group, b!, p, For);
    expect(await tally(group, p)).toMatchObject({ for: 1 });
    await expect(vote(group, a!, p, Against)).rejects.toThrow(/GroupNotActive/);
    // When a pays again, its delegation counts again, for new proposals.
    await (await as(group, a!).getFunction("renew")(await a!.getAddress())).wait();
    const q = await propose(group, b!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    await vote(group, b!, q, For);
    expect(await tally(group, q)).toMatchObject({ for: 2 });
  });

  it("fixes delegations at the snapshot: re-delegating or taking back later changes nothing", async () => {
    const { group, members, newProposal } = await setup(3);
    const [a, b, c] = members;
    await delegate(group, a!, b!);
    const p = await newProposal();
    await delegate(group, a!, c!);
    await vote(group, b!, p, For);
    await vote(group, c!, p, Against);
    expect(await tally(group, p)).toMatchObject({ for: 2, against: 1 });
    await delegate(group, a!, null);
    const q = await newProposal();
    await vote(group, b!, q, For);
    await vote(group, c!, q, Against);
    expect(await tally(group, q)).toMatchObject({ for: 1, against: 1 });
  });

  it("refuses self-delegation, a non-member delegate and a no-op change", async () => {
    const { group, members } = await setup(2);
    const [a, b] = members;
    await expect(as(group, a!).getFunction("delegate")(await a!.getAddress())).rejects.toThrow(/GroupSelfDelegation/);
    await expect(as(group, a!).getFunction("delegate")(ethers.Wallet.createRandom().address)).rejects.toThrow(/GroupNotMember/);
    await expect(as(group, a!).getFunction("delegate")(ZeroAddress)).rejects.toThrow(/GroupDelegateUnchanged/);
    await delegate(group, a!, b!);
    await expect(as(group, a!).getFunction("delegate")(await b!.getAddress())).rejects.toThrow(/GroupDelegateUnchanged/);
    const info = await group.getFunction("memberInfo")(await b!.getAddress());
    expect(info.delegatorsIn).toBe(1n);
  });

  it("costs the same gas for a delegate vote whatever the number of delegators", async () => {
    const small = await setup(3);
    const big = await setup(12);
    for (const g of [small, big]) {
      for (const m of g.members.slice(2)) await delegate(g.group, m, g.members[1]!);
    }
    const gas = [];
    for (const g of [small, big]) {
      const p = await g.newProposal();
      await vote(g.group, g.members[0]!, p, For);
      const rc = await vote(g.group, g.members[1]!, p, For);
      gas.push(Number(rc.gasUsed));
    }
    // Same code path and storage writes; only calldata/ids differ.
    expect(Math.abs(gas[0]! - gas[1]!)).toBeLessThan(200);
  });
});
