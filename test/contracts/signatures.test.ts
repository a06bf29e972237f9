import { describe, expect, it } from "vitest";
import { ZeroAddress } from "ethers";
import {
  addresses,
  as,
  createGroup,
  DAY,
  defaultSettings,
  deployFactory,
  domainOf,
  ethers,
  propose,
  RELAYER_TYPES,
  signVote,
  tally,
  time,
  vote,
  VOTE_TYPES,
} from "./fixture.ts";
import { Action, RelayerScope, VoteType } from "../../src/governance/types.ts";
import { encodeAccount } from "../../src/governance/encoding.ts";

async function setup() {
  const factory = await deployFactory();
  const [, alice, bob, carol, relayer] = await ethers.getSigners();
  const founders = await addresses([alice!, bob!, carol!]);
  const settings = defaultSettings({}, { defaultQuorumBps: 10000 });
  const group = await createGroup(factory, { founders, settings });
  const other = await createGroup(factory, { founders, settings });
  return { group, other, alice: alice!, bob: bob!, carol: carol!, relayer: relayer! };
}

describe("EIP-712 votes", () => {
  it("counts a signed vote submitted by anyone exactly as if the voter sent it", async () => {
    const { group, alice, bob, relayer } = await setup();
    const a = await alice.getAddress();
    await (await as(group, alice).getFunction("delegate")(await bob.getAddress())).wait();
    const p = await propose(group, bob, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    await vote(group, bob, p, VoteType.For);
    const deadline = (await time.latest()) + 600;
    const sig = await signVote(alice, group, p.id, VoteType.Against, 0, deadline);
    await (await as(group, relayer).getFunction("castVoteBySig")(p.id, VoteType.Against, a, 0, deadline, sig)).wait();
    // alice's signed vote overrides her delegation, as a direct vote would.
    expect(await tally(group, p)).toMatchObject({ for: 1, against: 1 });
    expect(await group.getFunction("voteOf")(p.id, a)).toBe(1n);
    // Nonce 0 is used: bit 0 of word 0.
    expect(await group.getFunction("nonceBitmap")(a, 0)).toBe(1n);
  });

  it("refuses a replayed, expired, foreign-domain or wrongly signed vote", async () => {
    const { group, other, alice, bob, relayer } = await setup();
    const a = await alice.getAddress();
    const p = await propose(group, bob, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    const q = await propose(group, bob, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    const deadline = (await time.latest()) + 600;
    const g = as(group, relayer);

    const forOther = await signVote(alice, other, p.id, VoteType.For, 0, deadline);
    await expect(g.getFunction("castVoteBySig")(p.id, VoteType.For, a, 0, deadline, forOther)).rejects.toThrow(/GroupInvalidSignature/);
    const byBob = await bob.signTypedData(await domainOf(group), VOTE_TYPES, { proposalId: p.id, support: 1, voter: a, nonce: 0, deadline });
    await expect(g.getFunction("castVoteBySig")(p.id, VoteType.For, a, 0, deadline, byBob)).rejects.toThrow(/GroupInvalidSignature/);
    const good = await signVote(alice, group, p.id, VoteType.For, 0, deadline);
    // Changing what was signed breaks it.
    await expect(g.getFunction("castVoteBySig")(p.id, VoteType.Against, a, 0, deadline, good)).rejects.toThrow(/GroupInvalidSignature/);
    await (await g.getFunction("castVoteBySig")(p.id, VoteType.For, a, 0, deadline, good)).wait();
    await expect(g.getFunction("castVoteBySig")(p.id, VoteType.For, a, 0, deadline, good)).rejects.toThrow(new RegExp(`GroupNonceUsed\\("${a}", 0\\)`));
    // Same nonce on another proposal: still a replay of nonce 0.
    const again = await signVote(alice, group, q.id, VoteType.For, 0, deadline);
    await expect(g.getFunction("castVoteBySig")(q.id, VoteType.For, a, 0, deadline, again)).rejects.toThrow(new RegExp(`GroupNonceUsed\\("${a}", 0\\)`));
    const expired = await signVote(alice, group, q.id, VoteType.For, 1, deadline);
    await time.increaseTo(deadline + 1);
    await expect(g.getFunction("castVoteBySig")(q.id, VoteType.For, a, 1, deadline, expired)).rejects.toThrow(
      new RegExp(`GroupSignatureExpired\\(${deadline}\\)`),
    );
  });
});

const CHAT_SCOPE = RelayerScope.Vote | RelayerScope.Propose | RelayerScope.Delegate | RelayerScope.Accept;

/** An authority until one day from now. */
async function dayAhead(): Promise<bigint> {
  return BigInt(await time.latest()) + BigInt(DAY);
}

describe("relayer", () => {
  it("lets an authorised relayer vote, propose, delegate and accept for a member until it withdraws", async () => {
    const { group, alice, bob, carol, relayer } = await setup();
    const a = await alice.getAddress();
    const rel = await relayer.getAddress();
    const p = await propose(group, bob, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    const r = as(group, relayer);
    await expect(r.getFunction("castVoteFor")(a, p.id, VoteType.For)).rejects.toThrow(/GroupNotRelayer/);
    const until = await dayAhead();
    const rc0 = await (await as(group, alice).getFunction("setRelayer")(rel, CHAT_SCOPE, until)).wait();
    const changed = rc0.logs.map((l: never) => group.interface.parseLog(l)).find((e: { name: string } | null) => e?.name === "RelayerChanged");
    expect([...changed.args]).toEqual([a, rel, BigInt(CHAT_SCOPE), until]);
    const info = await group.getFunction("memberInfo")(a);
    expect([info.relayer, info.relayerScope, info.relayerUntil]).toEqual([rel, BigInt(CHAT_SCOPE), until]);
    await (await r.getFunction("castVoteFor")(a, p.id, VoteType.For)).wait();
    expect(await tally(group, p)).toMatchObject({ for: 1 });
    await (await r.getFunction("delegateFor")(a, await carol.getAddress())).wait();
    expect((await group.getFunction("memberInfo")(a)).delegate).toBe(await carol.getAddress());
    const rc = await (await r.getFunction("proposeFor")(a, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address))).wait();
    const created = rc.logs.map((l: never) => group.interface.parseLog(l)).find((e: { name: string } | null) => e?.name === "ProposalCreated");
    expect(created.args.proposer).toBe(a);
    await (await as(group, alice).getFunction("setRelayer")(ZeroAddress, 0, 0)).wait();
    expect([...(await group.getFunction("relayerOf")(a))]).toEqual([ZeroAddress, 0n, 0n]);
    const q = await propose(group, bob, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    await expect(r.getFunction("castVoteFor")(a, q.id, VoteType.For)).rejects.toThrow(/GroupNotRelayer/);
    await expect(r.getFunction("delegateFor")(a, ZeroAddress)).rejects.toThrow(/GroupNotRelayer/);
    await expect(as(group, bob).getFunction("castVoteFor")(a, q.id, VoteType.For)).rejects.toThrow(/GroupNotRelayer/);
  });

  it("keeps the relayer within the scope the member gave", async () => {
    const { group, alice, bob, relayer } = await setup();
    const a = await alice.getAddress();
    const r = as(group, relayer);
    await (await as(group, alice).getFunction("setRelayer")(await relayer.getAddress(), RelayerScope.Vote, await dayAhead())).wait();
    const p = await propose(group, bob, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    await (await r.getFunction("castVoteFor")(a, p.id, VoteType.For)).wait();
    const need = (bits: number) => new RegExp(`GroupRelayerScope\\("${a}", ${bits}, ${RelayerScope.Vote}\\)`);
    await expect(r.getFunction("proposeFor")(a, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address))).rejects.toThrow(
      need(RelayerScope.Propose),
    );
    await expect(r.getFunction("delegateFor")(a, await bob.getAddress())).rejects.toThrow(need(RelayerScope.Delegate));
    await expect(r.getFunction("joinFor")(a)).rejects.toThrow(need(RelayerScope.Accept));
  });

  it("takes the authorisation, with its scope and end, as an EIP-712 signature anyone may submit, once", async () => {
    const { group, alice, relayer } = await setup();
    const a = await alice.getAddress();
    const rel = await relayer.getAddress();
    const deadline = (await time.latest()) + 600;
    const until = await dayAhead();
    const sig = await alice.signTypedData(await domainOf(group), RELAYER_TYPES, { member: a, relayer: rel, scope: CHAT_SCOPE, until, nonce: 0, deadline });
    const g = as(group, relayer);
    await expect(g.getFunction("setRelayerBySig")(a, ZeroAddress, CHAT_SCOPE, until, 0, deadline, sig)).rejects.toThrow(/GroupInvalidSignature/);
    // The scope and the end are signed: a wider scope or a later end is refused.
    await expect(g.getFunction("setRelayerBySig")(a, rel, CHAT_SCOPE | RelayerScope.Config, until, 0, deadline, sig)).rejects.toThrow(/GroupInvalidSignature/);
    await expect(g.getFunction("setRelayerBySig")(a, rel, CHAT_SCOPE, until + 1n, 0, deadline, sig)).rejects.toThrow(/GroupInvalidSignature/);
    await (await g.getFunction("setRelayerBySig")(a, rel, CHAT_SCOPE, until, 0, deadline, sig)).wait();
    expect([...(await group.getFunction("relayerOf")(a))]).toEqual([rel, BigInt(CHAT_SCOPE), until]);
    await expect(g.getFunction("setRelayerBySig")(a, rel, CHAT_SCOPE, until, 0, deadline, sig)).rejects.toThrow(new RegExp(`GroupNonceUsed\\("${a}", 0\\)`));
  });

  it("accepts membership for an approved account as its relayer", async () => {
    const factory = await deployFactory();
    const [, alice, bob, carol, relayer] = await ethers.getSigners();
    const group = await createGroup(factory, { founders: await addresses([alice!, bob!]), settings: defaultSettings({}, { defaultQuorumBps: 5000 }) });
    const c = await carol!.getAddress();
    await (await as(group, carol!).getFunction("setRelayer")(await relayer!.getAddress(), RelayerScope.Accept, await dayAhead())).wait();
    await expect(as(group, relayer!).getFunction("joinFor")(c)).rejects.toThrow(/GroupNotApproved/);
    const p = await propose(group, alice!, Action.AddMember, encodeAccount(c));
    await vote(group, alice!, p, VoteType.For);
    await vote(group, bob!, p, VoteType.For);
    await (await as(group, alice!).getFunction("execute")(p.number, p.action, p.payload)).wait();
    await (await as(group, relayer!).getFunction("joinFor")(c)).wait();
    expect(await group.getFunction("isActive")(c)).toBe(true);
  });
});
