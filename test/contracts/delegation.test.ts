import { describe, expect, it } from "vitest";
import { ZeroAddress, type Signer } from "ethers";
import {
  addresses,
  as,
  createGroup,
  DAY,
  defaultSettings,
  deployFactory,
  ethers,
  groupInterface,
  impersonated,
  joinEach,
  openFreeGroup,
  propose,
  receiptOf,
  sendFrom,
  setGroupTime,
  tally,
  time,
  vote,
} from "./fixture.ts";
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

  it("costs the same gas for a delegate's vote with 4 or 1,000 delegators", async () => {
    const gas: bigint[] = [];
    for (const n of [4, 1000]) {
      const [, alice, bob] = await ethers.getSigners();
      const b = await bob!.getAddress();
      const group = await openFreeGroup(await addresses([alice!, bob!]), { votingPeriod: 30 * DAY });
      const delegators = await impersonated(n, n);
      await joinEach(group, delegators);
      const to = await group.getAddress();
      const delegateToBob = groupInterface.encodeFunctionData("delegate", [b]);
      for (const d of delegators.slice(0, -1)) await sendFrom(d, to, delegateToBob);
      // The last delegation, the proposal and the vote at the same seconds of each group's clock.
      await setGroupTime(group, 5000);
      await receiptOf(await sendFrom(delegators.at(-1)!, to, delegateToBob));
      expect((await group.getFunction("memberInfo")(b)).delegatorsIn).toBe(BigInt(n));
      await setGroupTime(group, 5001);
      const p = await propose(group, alice!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
      await setGroupTime(group, 5002);
      const rc = await vote(group, bob!, p, For);
      expect(await tally(group, p)).toMatchObject({ for: n + 1 });
      gas.push(rc.gasUsed);
    }
    console.log(`delegate's vote gas: ${gas[0]} with 4 delegators, ${gas[1]} with 1,000`);
    expect(gas[1]! - gas[0]!).toBeLessThan(200n);
    expect(gas[0]! - gas[1]!).toBeLessThan(200n);
    expect(gas[1]!).toBeLessThan(100_000n);
  });
});

describe("standing views", () => {
  it("give a member's standing at a proposal's snapshot, whatever changed since", async () => {
    const { group, members, newProposal } = await setup(3, { period: 10 * DAY });
    const [a, b, c] = await addresses(members);
    await delegate(group, members[0]!, members[1]!);
    const p = await newProposal();
    await delegate(group, members[0]!, members[2]!);
    await time.increase(11 * DAY);
    const at = async (who: string) => [...(await group.getFunction("standingAtProposal")(who, p.id))];
    expect(await at(a!)).toEqual([true, b, 0n]);
    expect(await at(b!)).toEqual([true, ZeroAddress, 1n]);
    expect(await at(c!)).toEqual([true, ZeroAddress, 0n]);
    // Now everyone has lapsed; a delegates to c (memberInfo gives the standing now).
    const infoA = await group.getFunction("memberInfo")(a);
    expect([infoA.active, infoA.delegate]).toEqual([false, c]);
    const infoC = await group.getFunction("memberInfo")(c);
    expect([infoC.active, infoC.delegatorsIn]).toEqual([false, 0n]);
    await expect(group.getFunction("standingAtProposal")(a, 12345n)).rejects.toThrow(/GroupUnknownProposal\(12345\)/);
  });

  it("offer no standing at arbitrary past seconds: history is kept for proposals' snapshots only", () => {
    expect(groupInterface.getFunction("standingAt")).toBeNull();
    expect(groupInterface.getFunction("standingAtProposal")).not.toBeNull();
  });
});
