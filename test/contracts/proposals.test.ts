import { describe, expect, it } from "vitest";
import { AbiCoder, Contract, keccak256, ZeroAddress, type Signer } from "ethers";
import {
  addresses,
  as,
  createdIn,
  createGroup,
  DAY,
  defaultSettings,
  deployFactory,
  ethers,
  execute,
  expectGroupError,
  inOneBlock,
  propose,
  tally,
  time,
  vote,
} from "./fixture.ts";
import { Action, DestinationKind, ProposalState, QUORUM_DEFAULT, VoteType, type GroupConfig } from "../../src/governance/types.ts";
import { encodeAccount, encodeCustom, encodeFeeDestination, encodeSettings } from "../../src/governance/encoding.ts";

const VOTING = 3 * DAY;

async function setup(n: number, config: Parameters<typeof defaultSettings>[1] = {}) {
  const factory = await deployFactory();
  const signers = (await ethers.getSigners()).slice(1);
  const members = signers.slice(0, n);
  const outsiders = signers.slice(n);
  const group = await createGroup(factory, {
    founders: await addresses(members),
    settings: defaultSettings({}, { votingPeriod: VOTING, ...config }),
  });
  return { factory, group, members, outsiders };
}

async function passAndExecute(group: Contract, members: Signer[], action: Action, payload: string) {
  const p = await propose(group, members[0]!, action, payload);
  for (const m of members) {
    if ((await tally(group, p)).state !== ProposalState.Active) break;
    await vote(group, m, p, VoteType.For);
  }
  await execute(group, members[0]!, p);
  return p;
}

describe("proposals", () => {
  it("stores the action's quorum and the influence at creation in the proposal", async () => {
    const { group, members } = await setup(4, { defaultQuorumBps: 5000, addQuorumBps: 2500, removeQuorumBps: 7500 });
    const [alice] = members;
    const stranger = ethers.Wallet.createRandom().address;
    const add = await propose(group, alice!, Action.AddMember, encodeAccount(stranger));
    const rm = await propose(group, alice!, Action.RemoveMember, encodeAccount(await members[3]!.getAddress()));
    const cfg = await propose(group, alice!, Action.Config, encodeSettings(defaultSettings()));
    const pa = await group.getFunction("proposal")(add.id);
    const pr = await group.getFunction("proposal")(rm.id);
    const pc = await group.getFunction("proposal")(cfg.id);
    expect([pa.quorumBps, pa.quorumVotes, pa.influence]).toEqual([2500n, 1n, 4n]);
    expect([pr.quorumBps, pr.quorumVotes]).toEqual([7500n, 3n]);
    // Config has no quorum of its own: the default applies.
    expect([pc.quorumBps, pc.quorumVotes]).toEqual([5000n, 2n]);
    expect(add.number).toBe(1n);
    expect(rm.number).toBe(2n);
    expect(await group.getFunction("proposalCount")()).toBe(3n);
  });

  it("passes at the deadline only when FOR reaches the quorum and beats AGAINST", async () => {
    // 6 members, quorum 50% = 3 FOR needed.
    const { group, members } = await setup(6, { defaultQuorumBps: 5000 });
    const target = () => encodeAccount(ethers.Wallet.createRandom().address);
    const cases: [number[], ProposalState][] = [
      [[1, 1, 1, 0, 0], ProposalState.Succeeded], // 3 for, 2 against
      [[1, 1, 0], ProposalState.Defeated], // below quorum
      [[1, 1, 1, 0, 0, 0], ProposalState.Defeated], // tie
      [[1, 1, 1, 2, 2, 2], ProposalState.Succeeded], // abstentions do not block
    ];
    const made = [];
    for (const [votes] of cases) {
      // One proposer each: a member may have at most 3 proposals open.
      const p = await propose(group, members[made.length]!, Action.AddMember, target());
      for (let i = 0; i < votes.length; i++) {
        const st = (await tally(group, p)).state;
        if (st !== ProposalState.Active) break;
        await vote(group, members[i]!, p, votes[i]!);
      }
      made.push(p);
    }
    await time.increase(VOTING + 1);
    for (let i = 0; i < cases.length; i++) {
      expect((await tally(group, made[i]!)).state, `case ${i}`).toBe(cases[i]![1]);
    }
  });

  it("passes early once the outcome can no longer change, and is then executable", async () => {
    const { group, members } = await setup(5, { defaultQuorumBps: 2000 });
    const p = await propose(group, members[0]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    await vote(group, members[0]!, p, VoteType.For);
    await vote(group, members[1]!, p, VoteType.For);
    expect((await tally(group, p)).state).toBe(ProposalState.Active);
    await vote(group, members[2]!, p, VoteType.For);
    // 3 of 5 FOR by own votes: AGAINST can reach at most 2.
    expect((await tally(group, p)).state).toBe(ProposalState.Succeeded);
    await expect(vote(group, members[3]!, p, VoteType.Against)).rejects.toThrow(/GroupVotingClosed/);
    await execute(group, members[4]!, p);
    expect((await tally(group, p)).state).toBe(ProposalState.Executed);
  });

  it("is defeated early once FOR can no longer win", async () => {
    const { group, members } = await setup(4, { defaultQuorumBps: 5000 });
    const p = await propose(group, members[0]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    await vote(group, members[0]!, p, VoteType.Against);
    await vote(group, members[1]!, p, VoteType.Against);
    expect((await tally(group, p)).state).toBe(ProposalState.Defeated);
    await expect(execute(group, members[0]!, p)).rejects.toThrow(/GroupProposalNotSucceeded\(\d+, 1\)/);
  });

  it("executes a passed proposal once; executing twice, a defeated or an expired one is refused", async () => {
    const { group, members } = await setup(3);
    const outsider = ethers.Wallet.createRandom().address;
    const p = await passAndExecute(group, members, Action.AddMember, encodeAccount(outsider));
    await expect(execute(group, members[0]!, p)).rejects.toThrow(/GroupProposalAlreadyExecuted/);

    const open = await propose(group, members[0]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    await expect(execute(group, members[0]!, open)).rejects.toThrow(/GroupProposalNotSucceeded\(\d+, 0\)/);

    const late = await propose(group, members[0]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    await vote(group, members[0]!, late, VoteType.For);
    await vote(group, members[1]!, late, VoteType.For);
    await time.increase(VOTING + 31 * DAY);
    expect((await tally(group, late)).state).toBe(ProposalState.Expired);
    await expect(execute(group, members[0]!, late)).rejects.toThrow(/GroupProposalNotSucceeded\(\d+, 4\)/);
    await expect(as(group, members[0]!).getFunction("execute")(99, Action.AddMember, encodeAccount(outsider))).rejects.toThrow(/GroupUnknownProposal/);
  });

  it("approves on an add and removes on a remove, with the events the bot follows", async () => {
    const { group, members, outsiders } = await setup(3);
    const carol = outsiders[0]!;
    const c = await carol.getAddress();
    const p = await propose(group, members[0]!, Action.AddMember, encodeAccount(c));
    await vote(group, members[0]!, p, VoteType.For);
    await vote(group, members[1]!, p, VoteType.For);
    const rc = await execute(group, members[2]!, p);
    const names = rc.logs.map((l: never) => group.interface.parseLog(l)?.name);
    expect(names).toEqual(["MemberApproved", "ProposalExecuted"]);
    await (await as(group, carol).getFunction("join")()).wait();
    const bob = await members[1]!.getAddress();
    const r = await passAndExecute(group, members, Action.RemoveMember, encodeAccount(bob));
    expect(await group.getFunction("isMember")(bob)).toBe(false);
    expect(r.number).toBe(2n);
    await expect(
      vote(group, members[1]!, await propose(group, members[0]!, Action.AddMember, encodeAccount(ZeroAddress.replace(/0$/, "1"))), 1),
    ).rejects.toThrow(/GroupNotActive/);
  });

  it("refuses proposals from non-members and lapsed members, and proposals that could never execute", async () => {
    const { group, members, outsiders } = await setup(2, { period: 10 * DAY });
    const m = await members[1]!.getAddress();
    await expect(propose(group, outsiders[0]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address))).rejects.toThrow(/GroupNotActive/);
    await expect(propose(group, members[0]!, Action.RemoveMember, encodeAccount(await outsiders[0]!.getAddress()))).rejects.toThrow(/GroupNotMember/);
    await expect(propose(group, members[0]!, Action.AddMember, "0x1234")).rejects.toThrow(/GroupMalformedPayload\(0\)/);
    await expect(propose(group, members[0]!, Action.Config, "0x1234")).rejects.toThrow(/GroupMalformedPayload\(2\)/);
    await expect(propose(group, members[0]!, Action.FeeDestination, "0x")).rejects.toThrow(/GroupMalformedPayload\(3\)/);
    await expect(propose(group, members[0]!, Action.Custom, encodeCustom(m, 0n, "0x"))).rejects.toThrow(/GroupCustomCallsDisabled/);
    await expect(as(group, members[0]!).getFunction("propose")(7, "0x")).rejects.toThrow();
    await time.increase(10 * DAY);
    await expect(propose(group, members[0]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address))).rejects.toThrow(/GroupNotActive/);
  });

  it("lets a current member be proposed for adding (a removal may pass first) but refuses to execute it while a member", async () => {
    const { group, members } = await setup(2);
    const bob = await members[1]!.getAddress();
    const p = await propose(group, members[0]!, Action.AddMember, encodeAccount(bob));
    for (const m of members) await vote(group, m, p, VoteType.For);
    await expect(execute(group, members[0]!, p)).rejects.toThrow(new RegExp(`GroupAlreadyMember\\("${bob}"\\)`));
  });

  it("fixes influence at creation: joining, paying or lapsing later changes nothing", async () => {
    const cfg = { period: 5 * DAY, votingPeriod: 10 * DAY, defaultQuorumBps: 10000, addQuorumBps: 0, fee: 10n ** 16n };
    const { group, members, outsiders } = await setup(3, cfg);
    const [alice, bob, carol] = members;
    const dave = outsiders[0]!;
    const p = await propose(group, alice!, Action.Config, encodeSettings(defaultSettings({}, cfg)));
    // dave joins after the snapshot: cannot vote on it.
    await (await as(group, dave).getFunction("join")({ value: 10n ** 16n })).wait();
    await expect(vote(group, dave, p, VoteType.For)).rejects.toThrow(/GroupNotActive/);
    // The founders lapse after the snapshot: they still vote with their point.
    await time.increase(5 * DAY);
    await vote(group, alice!, p, VoteType.For);
    await vote(group, bob!, p, VoteType.For);
    await vote(group, carol!, p, VoteType.For);
    expect(await tally(group, p)).toMatchObject({ for: 3, state: ProposalState.Succeeded });
    // A proposal created now counts only dave (the founders have lapsed).
    expect(await group.getFunction("isActive")(await alice!.getAddress())).toBe(false);
    await (await as(group, dave).getFunction("renew")(await dave.getAddress(), { value: 10n ** 16n })).wait();
    const q = await propose(group, dave, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    expect((await group.getFunction("proposal")(q.id)).influence).toBe(1n);
  });

  it("names each proposal keccak256(abi.encode(number, action, keccak256(payload))), whatever the payload's length", async () => {
    const { group, members } = await setup(2, { defaultQuorumBps: 5000 });
    const expected = (number: bigint, action: Action, payload: string) =>
      BigInt(keccak256(AbiCoder.defaultAbiCoder().encode(["uint256", "uint8", "bytes32"], [number, action, keccak256(payload)])));
    const add = encodeAccount(ethers.Wallet.createRandom().address);
    const cfg = encodeSettings(defaultSettings({}, { defaultQuorumBps: 6000 }));
    const p = await propose(group, members[0]!, Action.AddMember, add);
    const q = await propose(group, members[0]!, Action.Config, cfg);
    expect(p.id).toBe(expected(p.number, Action.AddMember, add));
    expect(q.id).toBe(expected(q.number, Action.Config, cfg));
    for (const payload of ["0x", "0x01", add, cfg, cfg + "ff"]) {
      expect(await group.getFunction("hashProposal")(7n, Action.Custom, payload)).toBe(expected(7n, Action.Custom, payload));
    }
  });

  it("keeps every setting exactly as given, at creation and after a change, and asks for the fee the settings name", async () => {
    // The config is stored as packed words with the group's own bits beside it: each field must read back as written.
    const first: Partial<GroupConfig> = {
      defaultQuorumBps: 5100,
      addQuorumBps: 2600,
      removeQuorumBps: 7300,
      configQuorumBps: 8100,
      feeDestinationQuorumBps: 6200,
      customQuorumBps: 9400,
      votingPeriod: VOTING + 7,
      period: 31 * DAY + 3,
      gracePeriod: 5 * DAY + 11,
      customCallsAllowed: true,
      maxOpenProposals: 2,
      fee: 0n,
    };
    const { group, members, outsiders } = await setup(2, first);
    const expectConfig = async (want: GroupConfig) => {
      const got = (await group.getFunction("config")()).toObject() as Record<string, unknown>;
      for (const [k, v] of Object.entries(want)) expect([k, String(got[k])]).toEqual([k, String(v)]);
    };
    const quorums = async () =>
      Promise.all(
        [Action.AddMember, Action.RemoveMember, Action.Config, Action.FeeDestination, Action.Custom].map(async (a) =>
          Number(await group.getFunction("quorumFor")(a)),
        ),
      );
    await expectConfig(defaultSettings({}, { votingPeriod: VOTING, ...first }).config);
    expect(await quorums()).toEqual([2600, 7300, 8100, 6200, 9400]);
    // Free: an approved account joins paying nothing, and is refused when it sends something.
    const [x, y] = outsiders;
    await passAndExecute(group, members, Action.AddMember, encodeAccount(await x!.getAddress()));
    await expectGroupError(as(group, x!).getFunction("join")({ value: 1n }), "GroupWrongPayment", [0n, 1n]);
    await (await as(group, x!).getFunction("join")()).wait();
    // Changed: other values everywhere (a default quorum where there was one of its own), and a fee.
    const second = defaultSettings(
      {},
      {
        defaultQuorumBps: 4900,
        addQuorumBps: 2100,
        removeQuorumBps: QUORUM_DEFAULT,
        configQuorumBps: 9900,
        feeDestinationQuorumBps: 1,
        customQuorumBps: 10000,
        votingPeriod: DAY + 1,
        period: 2 * DAY,
        gracePeriod: 0,
        customCallsAllowed: false,
        maxOpenProposals: 3,
        fee: 123n,
      },
    );
    await passAndExecute(group, [...members, x!], Action.Config, encodeSettings(second));
    await expectConfig(second.config);
    expect(await quorums()).toEqual([2100, 4900, 9900, 1, 10000]);
    await passAndExecute(group, [...members, x!], Action.AddMember, encodeAccount(await y!.getAddress()));
    await expectGroupError(as(group, y!).getFunction("join")(), "GroupWrongPayment", [123n, 0n]);
    await (await as(group, y!).getFunction("join")({ value: 123n })).wait();
    expect(await group.getFunction("isActive")(await y!.getAddress())).toBe(true);
  });

  it("applies a config change, checks the safety rule, and gives proposals made in the same block the config as it stood when each was made", async () => {
    const { group, members } = await setup(3, { defaultQuorumBps: 5000 });
    const unsafe = encodeSettings(defaultSettings({}, { addQuorumBps: 0, fee: 0n }));
    await expect(propose(group, members[0]!, Action.Config, unsafe)).rejects.toThrow(/UnsafeGroupConfig\(0, 2000, 0, 10000000000000000\)/);
    const next = defaultSettings({}, { defaultQuorumBps: 10000, fee: 123n, votingPeriod: DAY });
    const p = await propose(group, members[0]!, Action.Config, encodeSettings(next));
    await vote(group, members[0]!, p, VoteType.For);
    await vote(group, members[1]!, p, VoteType.For);
    // One block: a proposal, the change, another proposal. None is refused.
    const target = () => encodeAccount(ethers.Wallet.createRandom().address);
    const [before, exec, after] = await inOneBlock([
      (o) => as(group, members[1]!).getFunction("propose")(Action.AddMember, target(), o),
      (o) => as(group, members[0]!).getFunction("execute")(p.number, p.action, p.payload, o),
      (o) => as(group, members[2]!).getFunction("propose")(Action.AddMember, target(), o),
    ]);
    expect([before!.status, exec!.status, after!.status]).toEqual([1, 1, 1]);
    const cfg = await group.getFunction("config")();
    expect([cfg.defaultQuorumBps, cfg.fee, cfg.votingPeriod]).toEqual([10000n, 123n, BigInt(DAY)]);
    const b = await group.getFunction("proposal")(createdIn(before!).id);
    const a = await group.getFunction("proposal")(createdIn(after!).id);
    expect(a.snapshot).toBe(b.snapshot);
    // The one made before the change keeps the old quorum and voting period, the one after has the new.
    expect([b.quorumBps, b.deadline - b.snapshot]).toEqual([5000n, BigInt(VOTING)]);
    expect([a.quorumBps, a.deadline - a.snapshot]).toEqual([10000n, BigInt(DAY)]);
  });

  it("counts a member's proposal against its cap until its deadline, executed or not, then lets it propose again", async () => {
    // Documented in docs/contracts.md: spam is bounded by deadlines, which cost nothing to check.
    const { group, members } = await setup(2, { defaultQuorumBps: 5000, maxOpenProposals: 1 });
    const p = await propose(group, members[0]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    for (const m of members) await vote(group, m, p, VoteType.For);
    await execute(group, members[1]!, p);
    expect((await tally(group, p)).state).toBe(ProposalState.Executed);
    await expect(as(group, members[0]!).getFunction("propose")(Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address))).rejects.toThrow(
      /GroupTooManyOpenProposals/,
    );
    // Another member is not held up by it.
    await propose(group, members[1]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    // Past the deadline (rounded up to 256 s), the proposer may propose again.
    await time.increase(3 * DAY + 257);
    await propose(group, members[0]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    expect(await group.getFunction("proposalCount")()).toBe(3n);
  });

  it("keeps a proposal's quorum when the config changes during its vote", async () => {
    const { group, members } = await setup(2, { defaultQuorumBps: 5000 });
    const add = await propose(group, members[0]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    await passAndExecute(group, members, Action.Config, encodeSettings(defaultSettings({}, { defaultQuorumBps: 10000 })));
    expect((await group.getFunction("proposal")(add.id)).quorumBps).toBe(5000n);
  });

  it("changes the fee destination and runs a custom call when the group opted in", async () => {
    const { group, members } = await setup(2, { customCallsAllowed: true });
    const token = await ethers.deployContract("TestToken");
    const recipients = await addresses(members);
    await passAndExecute(
      group,
      members,
      Action.FeeDestination,
      encodeFeeDestination({ kind: DestinationKind.Release, target: ZeroAddress, recipients, sharesBps: [7000, 3000] }),
    );
    const d = await group.getFunction("feeDestination")();
    expect(Number(d.kind)).toBe(DestinationKind.Release);
    expect([...d.sharesBps]).toEqual([7000n, 3000n]);
    await expect(
      propose(
        group,
        members[0]!,
        Action.FeeDestination,
        encodeFeeDestination({ kind: DestinationKind.Release, target: ZeroAddress, recipients, sharesBps: [7000, 2000] }),
      ),
    ).rejects.toThrow(/GroupInvalidShares/);
    const data = token.interface.encodeFunctionData("mint", [recipients[0], 42n]);
    await passAndExecute(group, members, Action.Custom, encodeCustom(await token.getAddress(), 0n, data));
    expect(await token.getFunction("balanceOf")(recipients[0])).toBe(42n);
    await expect(propose(group, members[0]!, Action.Custom, encodeCustom(await group.getAddress(), 0n, "0x"))).rejects.toThrow(/GroupInvalidCustomTarget/);
  });

  it("refuses invalid votes with clear errors", async () => {
    const { group, members, outsiders } = await setup(3);
    const p = await propose(group, members[0]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    await expect(vote(group, members[0]!, p, 3)).rejects.toThrow(/GroupInvalidVoteType\(3\)/);
    await expect(vote(group, outsiders[0]!, p, 1)).rejects.toThrow(/GroupNotActive/);
    await vote(group, members[0]!, p, 1);
    await expect(vote(group, members[0]!, p, 0)).rejects.toThrow(/GroupAlreadyVoted/);
    await expect(as(group, members[0]!).getFunction("castVote")(12345n, 1)).rejects.toThrow(/GroupUnknownProposal\(12345\)/);
    expect(await group.getFunction("voteOf")(p.id, await members[0]!.getAddress())).toBe(2n);
  });
});

describe("withdrawing and switching", () => {
  it("withdraws an approval that was not accepted yet, by a remove proposal", async () => {
    const { group, members, outsiders } = await setup(2);
    const carol = outsiders[0]!;
    const c = await carol.getAddress();
    await passAndExecute(group, members, Action.AddMember, encodeAccount(c));
    const rc = await execute(
      group,
      members[0]!,
      await (async () => {
        const p = await propose(group, members[0]!, Action.RemoveMember, encodeAccount(c));
        for (const m of members) await vote(group, m, p, VoteType.For);
        return p;
      })(),
    );
    expect(rc.logs.map((l: never) => group.interface.parseLog(l)?.name)).toContain("MemberApprovalWithdrawn");
    await expect(as(group, carol).getFunction("join")()).rejects.toThrow(/GroupNotApproved/);
  });

  it("refuses to execute a members' proposal once the group is governed externally", async () => {
    const { group, members } = await setup(2);
    const controller = await ethers.deployContract("TestToken");
    const add = await propose(group, members[0]!, Action.AddMember, encodeAccount(ethers.Wallet.createRandom().address));
    for (const m of members) await vote(group, m, add, VoteType.For);
    const toExternal = defaultSettings({ controller: await controller.getAddress() }, { mode: 2, votingPeriod: VOTING });
    await passAndExecute(group, members, Action.Config, encodeSettings(toExternal));
    await expect(execute(group, members[0]!, add)).rejects.toThrow(/GroupProposalsDisabled/);
  });
});

describe("modes", () => {
  it("lets admins add and remove directly in admin mode, and nobody else", async () => {
    const factory = await deployFactory();
    const [, alice, bob, carol] = await ethers.getSigners();
    const [a, b, c] = await addresses([alice!, bob!, carol!]);
    const group = await createGroup(factory, {
      founders: [a!, b!],
      settings: defaultSettings({ admins: [a!] }, { mode: 1 }),
    });
    await expect(as(group, bob!).getFunction("addMember")(c)).rejects.toThrow(/GroupUnauthorized/);
    await (await as(group, alice!).getFunction("addMember")(c)).wait();
    await (await as(group, carol!).getFunction("join")()).wait();
    await (await as(group, alice!).getFunction("removeMember")(b)).wait();
    expect(await group.getFunction("isMember")(b)).toBe(false);
    // Members can still vote to change admins.
    const next = defaultSettings({ admins: [c!] }, { mode: 1 });
    const p = await propose(group, alice!, Action.Config, encodeSettings(next));
    await vote(group, alice!, p, 1);
    await vote(group, carol!, p, 1);
    await execute(group, alice!, p);
    expect(await group.getFunction("isAdmin")(a)).toBe(false);
    expect(await group.getFunction("isAdmin")(c)).toBe(true);
    await expect(as(group, alice!).getFunction("removeMember")(c)).rejects.toThrow(/GroupUnauthorized/);
  });

  it("refuses direct membership changes in vote mode", async () => {
    const { group, members } = await setup(2);
    await expect(as(group, members[0]!).getFunction("addMember")(ethers.Wallet.createRandom().address)).rejects.toThrow(/GroupUnauthorized/);
    await expect(as(group, members[0]!).getFunction("removeMember")(await members[1]!.getAddress())).rejects.toThrow(/GroupUnauthorized/);
  });
});
