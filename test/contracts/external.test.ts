/**
 * End to end: a group in external mode controlled by an ordinary
 * OpenZeppelin Governor + TimelockController (the group's controller is the
 * timelock). Every membership and settings change goes through a full
 * Governor proposal: propose, vote, queue, timelock delay, execute.
 */
import { describe, expect, it } from "vitest";
import { Contract, ZeroAddress, id, type Interface, type Signer } from "ethers";
import { as, createGroup, defaultSettings, deployFactory, ethers, expectGroupError, groupInterface, networkHelpers, time } from "./fixture.ts";
import { destinationValues, settingsValues } from "../../src/governance/encoding.ts";
import { DestinationKind, Mode, type GroupSettings } from "../../src/governance/types.ts";

const TIMELOCK_DELAY = 3600;
const VOTING_DELAY = 1; // blocks
const VOTING_PERIOD = 50; // blocks

/** OpenZeppelin `IGovernor.ProposalState`. */
const GovState = { Pending: 0, Active: 1, Canceled: 2, Defeated: 3, Succeeded: 4, Queued: 5, Expired: 6, Executed: 7 } as const;

// ------------------------------------------------------------------ helpers

interface Log {
  address: string;
  topics: readonly string[];
  data: string;
}

/** The events `iface` emitted from `address` in `logs`, as [name, args]. */
function eventsFrom(logs: readonly Log[], address: string, iface: Interface) {
  return logs
    .filter((l) => l.address.toLowerCase() === address.toLowerCase())
    .map((l) => iface.parseLog(l))
    .filter((p) => p !== null)
    .map((p) => ({ name: p.name, args: p.args }));
}

interface Call {
  target: string;
  value?: bigint;
  data: string;
}

interface System {
  token: Contract;
  timelock: Contract;
  governor: Contract;
  group: Contract;
  groupAddr: string;
  timelockAddr: string;
  governorAddr: string;
  deployer: Signer;
  founder: Signer;
  alice: Signer;
  voters: Signer[];
}

async function deploySystem(): Promise<System> {
  const [deployer, founder, alice, v1, v2, v3] = await ethers.getSigners();
  const voters = [v1!, v2!, v3!];

  // The external DAO: token, timelock, governor.
  const token = await ethers.deployContract("GovToken");
  for (const [i, v] of voters.entries()) {
    await (await token.getFunction("mint")(await v.getAddress(), ethers.parseEther(String(100 * (i + 1))))).wait();
    await (await as(token, v).getFunction("delegate")(await v.getAddress())).wait();
  }
  const deployerAddr = await deployer!.getAddress();
  const timelock = await ethers.deployContract("ExternalTimelock", [TIMELOCK_DELAY, [], [ZeroAddress], deployerAddr]);
  const timelockAddr = await timelock.getAddress();
  const governor = await ethers.deployContract("ExternalGovernor", [await token.getAddress(), timelockAddr]);
  const governorAddr = await governor.getAddress();

  // Wire the roles: the governor proposes and cancels, anyone executes, the deployer steps down.
  const PROPOSER = await timelock.getFunction("PROPOSER_ROLE")();
  const CANCELLER = await timelock.getFunction("CANCELLER_ROLE")();
  const EXECUTOR = await timelock.getFunction("EXECUTOR_ROLE")();
  const ADMIN = await timelock.getFunction("DEFAULT_ADMIN_ROLE")();
  await (await timelock.getFunction("grantRole")(PROPOSER, governorAddr)).wait();
  await (await timelock.getFunction("grantRole")(CANCELLER, governorAddr)).wait();
  await (await timelock.getFunction("renounceRole")(ADMIN, deployerAddr)).wait();

  expect(await timelock.getFunction("hasRole")(PROPOSER, governorAddr)).toBe(true);
  expect(await timelock.getFunction("hasRole")(CANCELLER, governorAddr)).toBe(true);
  expect(await timelock.getFunction("hasRole")(EXECUTOR, ZeroAddress)).toBe(true);
  expect(await timelock.getFunction("hasRole")(ADMIN, deployerAddr)).toBe(false);
  // Only the timelock administers itself now.
  expect(await timelock.getFunction("hasRole")(ADMIN, timelockAddr)).toBe(true);

  // The group, controlled by the timelock.
  const factory = await deployFactory();
  const group = await createGroup(factory, {
    founders: [await founder!.getAddress()],
    settings: defaultSettings({ controller: timelockAddr }, { mode: Mode.External }),
  });
  return {
    token,
    timelock,
    governor,
    group,
    groupAddr: await group.getAddress(),
    timelockAddr,
    governorAddr,
    deployer: deployer!,
    founder: founder!,
    alice: alice!,
    voters,
  };
}

/**
 * Runs `calls` through the Governor end to end and returns the receipt of
 * the execution. Checks the Governor's state at each step.
 */
async function governorPasses(sys: System, calls: Call[], description: string) {
  const { governor, voters } = sys;
  const targets = calls.map((c) => c.target);
  const values = calls.map((c) => c.value ?? 0n);
  const datas = calls.map((c) => c.data);
  const descHash = id(description);

  await (await as(governor, voters[0]!).getFunction("propose")(targets, values, datas, description)).wait();
  const proposalId: bigint = await governor.getFunction("hashProposal")(targets, values, datas, descHash);
  expect(Number(await governor.getFunction("state")(proposalId))).toBe(GovState.Pending);

  await networkHelpers.mine(VOTING_DELAY + 1);
  expect(Number(await governor.getFunction("state")(proposalId))).toBe(GovState.Active);
  for (const v of voters) {
    await (await as(governor, v).getFunction("castVote")(proposalId, 1)).wait();
  }

  await networkHelpers.mine(VOTING_PERIOD + 1);
  expect(Number(await governor.getFunction("state")(proposalId))).toBe(GovState.Succeeded);

  await (await governor.getFunction("queue")(targets, values, datas, descHash)).wait();
  expect(Number(await governor.getFunction("state")(proposalId))).toBe(GovState.Queued);

  // Executing before the timelock delay is refused.
  await expect(governor.getFunction("execute")(targets, values, datas, descHash)).rejects.toThrow();
  await time.increase(TIMELOCK_DELAY + 1);

  // Anyone may execute (the timelock's executor role is open); use an outsider.
  const tx = await as(governor, sys.deployer).getFunction("execute")(targets, values, datas, descHash);
  const receipt = await tx.wait();
  expect(Number(await governor.getFunction("state")(proposalId))).toBe(GovState.Executed);
  return receipt!;
}

/** Like `governorPasses`, up to the execution, which is returned un-awaited so a test can expect it to revert. */
async function governorQueued(sys: System, calls: Call[], description: string) {
  const { governor, voters } = sys;
  const targets = calls.map((c) => c.target);
  const values = calls.map((c) => c.value ?? 0n);
  const datas = calls.map((c) => c.data);
  const descHash = id(description);
  await (await as(governor, voters[0]!).getFunction("propose")(targets, values, datas, description)).wait();
  const proposalId: bigint = await governor.getFunction("hashProposal")(targets, values, datas, descHash);
  await networkHelpers.mine(VOTING_DELAY + 1);
  for (const v of voters) await (await as(governor, v).getFunction("castVote")(proposalId, 1)).wait();
  await networkHelpers.mine(VOTING_PERIOD + 1);
  await (await governor.getFunction("queue")(targets, values, datas, descHash)).wait();
  await time.increase(TIMELOCK_DELAY + 1);
  return () => as(governor, sys.deployer).getFunction("execute")(targets, values, datas, descHash);
}

const groupCall = (sys: System, fn: string, args: unknown[]): Call => ({
  target: sys.groupAddr,
  data: groupInterface.encodeFunctionData(fn, args),
});

function selector(signature: string): bigint {
  return BigInt(id(signature).slice(0, 10));
}

// -------------------------------------------------------------------- tests

describe("External mode: a group controlled by an OpenZeppelin Governor + Timelock", () => {
  it("is created with the timelock as controller and advertises IGroupMembership over ERC-165", async () => {
    const sys = await networkHelpers.loadFixture(deploySystem);
    const s = await sys.group.getFunction("settings")();
    expect(s.controller).toBe(sys.timelockAddr);
    expect(Number(s.config.mode)).toBe(Mode.External);
    expect(await sys.group.getFunction("isOpen")()).toBe(false);

    const expected = selector("addMember(address)") ^ selector("removeMember(address)") ^ selector("isMember(address)");
    const expectedHex = "0x" + expected.toString(16).padStart(8, "0");
    const helper = await ethers.deployContract("GroupMembershipInterfaceId");
    expect(await helper.getFunction("interfaceId")()).toBe(expectedHex);

    expect(await sys.group.getFunction("supportsInterface")(expectedHex)).toBe(true);
    expect(await sys.group.getFunction("supportsInterface")("0x01ffc9a7")).toBe(true); // ERC-165
    expect(await sys.group.getFunction("supportsInterface")("0xffffffff")).toBe(false);
    expect(await sys.group.getFunction("supportsInterface")("0x12345678")).toBe(false);
  });

  it("adds a member by Governor proposal (approval, then the account joins), and removes it the same way", async () => {
    const sys = await networkHelpers.loadFixture(deploySystem);
    const { group, groupAddr, alice } = sys;
    const aliceAddr = await alice.getAddress();
    expect(await group.getFunction("isMember")(aliceAddr)).toBe(false);

    // 1. Governor proposal: group.addMember(alice).
    const addReceipt = await governorPasses(sys, [groupCall(sys, "addMember", [aliceAddr])], "Admit alice");
    const addEvents = eventsFrom(addReceipt.logs, groupAddr, groupInterface);
    expect(addEvents.map((e) => e.name)).toEqual(["MemberApproved"]);
    expect(addEvents[0]!.args.account).toBe(aliceAddr);
    // Admitted, not yet a member: membership starts when alice accepts.
    expect(await group.getFunction("isMember")(aliceAddr)).toBe(false);
    expect((await group.getFunction("memberInfo")(aliceAddr)).approved).toBe(true);

    // 2. alice accepts (the fee is 0).
    const joinReceipt = await (await as(group, alice).getFunction("join")({ value: 0n })).wait();
    const joinEvents = eventsFrom(joinReceipt!.logs, groupAddr, groupInterface);
    const added = joinEvents.filter((e) => e.name === "MemberAdded");
    expect(added).toHaveLength(1);
    expect(added[0]!.args.account).toBe(aliceAddr);
    expect(await group.getFunction("isMember")(aliceAddr)).toBe(true);
    expect(await group.getFunction("isActive")(aliceAddr)).toBe(true);
    expect(await group.getFunction("activeMemberCount")()).toBe(2n);

    // 3. Governor proposal: group.removeMember(alice).
    const removeReceipt = await governorPasses(sys, [groupCall(sys, "removeMember", [aliceAddr])], "Remove alice");
    const removeEvents = eventsFrom(removeReceipt.logs, groupAddr, groupInterface);
    const removed = removeEvents.filter((e) => e.name === "MemberRemoved");
    expect(removed).toHaveLength(1);
    expect(removed[0]!.args.account).toBe(aliceAddr);
    expect(await group.getFunction("isMember")(aliceAddr)).toBe(false);
    expect(await group.getFunction("isActive")(aliceAddr)).toBe(false);
    expect(await group.getFunction("balanceOf")(aliceAddr)).toBe(0n);
    expect(await group.getFunction("activeMemberCount")()).toBe(1n);

    // Removal also withdrew the admission: alice cannot simply join again.
    await expectGroupError(as(group, alice).getFunction("join")({ value: 0n }), "GroupNotApproved", [aliceAddr]);
  });

  it("refuses membership and settings changes from anyone but the timelock, and member proposals", async () => {
    const sys = await networkHelpers.loadFixture(deploySystem);
    const { group, founder, alice, deployer, voters, governorAddr } = sys;
    const aliceAddr = await alice.getAddress();
    const founderAddr = await founder.getAddress();
    const current = (await group.getFunction("settings")()).toArray(true);
    const currentDest = (await group.getFunction("feeDestination")()).toArray(true);

    // An outsider, a group member, a governance token holder, the former timelock admin.
    for (const s of [alice, founder, voters[0]!, deployer]) {
      const addr = await s.getAddress();
      await expectGroupError(as(group, s).getFunction("addMember")(aliceAddr), "GroupUnauthorized", [addr]);
      await expectGroupError(as(group, s).getFunction("removeMember")(founderAddr), "GroupUnauthorized", [addr]);
      await expectGroupError(as(group, s).getFunction("updateSettings")(current), "GroupUnauthorized", [addr]);
      await expectGroupError(as(group, s).getFunction("updateFeeDestination")(currentDest), "GroupUnauthorized", [addr]);
    }

    // The governor contract itself is not the controller (the timelock is).
    await networkHelpers.setBalance(governorAddr, ethers.parseEther("1"));
    const governorSigner = await ethers.getImpersonatedSigner(governorAddr);
    await expectGroupError(as(group, governorSigner).getFunction("addMember")(aliceAddr), "GroupUnauthorized", [governorAddr]);
    await expectGroupError(as(group, governorSigner).getFunction("removeMember")(founderAddr), "GroupUnauthorized", [governorAddr]);
    await networkHelpers.stopImpersonatingAccount(governorAddr);

    // A member cannot propose in external mode, whatever the action.
    await expectGroupError(
      as(group, founder).getFunction("propose")(0, ethers.AbiCoder.defaultAbiCoder().encode(["address"], [aliceAddr])),
      "GroupProposalsDisabled",
    );
    await expectGroupError(
      as(group, founder).getFunction("propose")(1, ethers.AbiCoder.defaultAbiCoder().encode(["address"], [founderAddr])),
      "GroupProposalsDisabled",
    );
    expect(await group.getFunction("proposalCount")()).toBe(0n);
    // Nothing changed.
    expect(await group.getFunction("isMember")(founderAddr)).toBe(true);
    expect((await group.getFunction("memberInfo")(aliceAddr)).approved).toBe(false);
  });

  it("refuses a call the governor makes itself, even when a passed proposal makes it (Governor.relay)", async () => {
    const sys = await networkHelpers.loadFixture(deploySystem);
    const { governor, governorAddr, group, alice } = sys;
    const aliceAddr = await alice.getAddress();
    // The timelock calls governor.relay(group, 0, addMember(alice)): the group sees the governor as caller.
    const relay: Call = {
      target: governorAddr,
      data: governor.interface.encodeFunctionData("relay", [sys.groupAddr, 0n, groupInterface.encodeFunctionData("addMember", [aliceAddr])]),
    };
    const execute = await governorQueued(sys, [relay], "Relay addMember through the governor");
    await expectGroupError(execute(), "GroupUnauthorized", [governorAddr]);
    expect((await group.getFunction("memberInfo")(aliceAddr)).approved).toBe(false);
  });

  it("changes settings and the fee destination by Governor proposal", async () => {
    const sys = await networkHelpers.loadFixture(deploySystem);
    const { group, groupAddr, founder, alice, timelockAddr } = sys;
    const aliceAddr = await alice.getAddress();
    const founderAddr = await founder.getAddress();
    const newFee = ethers.parseEther("0.05");
    const newSettings: GroupSettings = defaultSettings({ controller: timelockAddr }, { mode: Mode.External, fee: newFee });
    const newDest = { kind: DestinationKind.Release, target: ZeroAddress, recipients: [founderAddr], sharesBps: [10_000] };

    const receipt = await governorPasses(
      sys,
      [groupCall(sys, "updateSettings", [settingsValues(newSettings)]), groupCall(sys, "updateFeeDestination", [destinationValues(newDest)])],
      "Raise the fee to 0.05 and release fees to the founder",
    );
    const names = eventsFrom(receipt.logs, groupAddr, groupInterface).map((e) => e.name);
    expect(names).toEqual(["SettingsChanged", "FeeDestinationChanged"]);

    const cfg = await group.getFunction("config")();
    expect(cfg.fee).toBe(newFee);
    expect(Number(cfg.mode)).toBe(Mode.External);
    expect((await group.getFunction("settings")()).controller).toBe(timelockAddr);
    const dest = await group.getFunction("feeDestination")();
    expect(Number(dest.kind)).toBe(DestinationKind.Release);
    expect([...dest.recipients]).toEqual([founderAddr]);

    // The new fee applies: an account admitted afterwards must pay it.
    await governorPasses(sys, [groupCall(sys, "addMember", [aliceAddr])], "Admit alice at the new fee");
    await expectGroupError(as(group, alice).getFunction("join")({ value: 0n }), "GroupWrongPayment", [newFee, 0n]);
    await (await as(group, alice).getFunction("join")({ value: newFee })).wait();
    expect(await group.getFunction("isMember")(aliceAddr)).toBe(true);
    expect(await ethers.provider.getBalance(groupAddr)).toBe(newFee);
  });
});
