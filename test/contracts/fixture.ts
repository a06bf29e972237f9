/**
 * Shared set-up for the contract tests: one in-process Hardhat network per
 * test file, a factory, and helpers to create groups and run proposals.
 */
import { network } from "hardhat";
import { Contract, Interface, ZeroAddress, type Signer } from "ethers";
import { GROUP_ABI } from "../../src/governance/contracts.ts";
import { destinationValues, LOCKED_DESTINATION, settingsValues } from "../../src/governance/encoding.ts";
import {
  Action,
  Mode,
  QUORUM_DEFAULT,
  type FeeDestination,
  type GroupConfig,
  type GroupSettings,
} from "../../src/governance/types.ts";

export const conn = await network.connect();
export const { ethers, networkHelpers } = conn;
export const { time } = networkHelpers;

export const DAY = 24 * 3600;
export const MIN_ADD_QUORUM_BPS = 2000;
export const MIN_NATIVE_FEE = ethers.parseEther("0.01");

/** The group ABI the bot uses (test/unit/abi.test.ts keeps it equal to the contracts). */
export { GROUP_ABI };
export const groupInterface = new Interface(GROUP_ABI);

export function defaultConfig(overrides: Partial<GroupConfig> = {}): GroupConfig {
  return {
    defaultQuorumBps: 5000,
    addQuorumBps: QUORUM_DEFAULT,
    removeQuorumBps: QUORUM_DEFAULT,
    configQuorumBps: QUORUM_DEFAULT,
    feeDestinationQuorumBps: QUORUM_DEFAULT,
    customQuorumBps: QUORUM_DEFAULT,
    votingPeriod: 3 * DAY,
    period: 30 * DAY,
    gracePeriod: 7 * DAY,
    mode: Mode.Vote,
    customCallsAllowed: false,
    fee: 0n,
    feeToken: ZeroAddress,
    ...overrides,
  };
}

export function defaultSettings(overrides: Partial<GroupSettings> = {}, config: Partial<GroupConfig> = {}): GroupSettings {
  return { config: defaultConfig(config), controller: ZeroAddress, linker: ZeroAddress, admins: [], ...overrides };
}

export async function deployFactory(owner?: Signer): Promise<Contract> {
  const [deployer] = await ethers.getSigners();
  const o = owner ?? deployer!;
  const factory = await ethers.deployContract("GroupFactory", [
    await o.getAddress(),
    MIN_ADD_QUORUM_BPS,
    MIN_NATIVE_FEE,
  ]);
  await factory.waitForDeployment();
  return factory as unknown as Contract;
}

export interface CreateOptions {
  founders: string[];
  settings?: GroupSettings;
  destination?: FeeDestination;
  from?: Signer;
  ref?: string;
}

export function initTuple(o: CreateOptions) {
  return [settingsValues(o.settings ?? defaultSettings()), destinationValues(o.destination ?? LOCKED_DESTINATION), o.founders];
}

/** Creates a group through `factory` and returns it with the group ABI. */
export async function createGroup(factory: Contract, o: CreateOptions): Promise<Contract> {
  const f = (o.from ? factory.connect(o.from) : factory) as Contract;
  const ref = o.ref ?? ethers.ZeroHash;
  const tx = await f.getFunction("createGroup")(initTuple(o), ref);
  const receipt = await tx.wait();
  const log = receipt!.logs
    .map((l: { topics: readonly string[]; data: string }) => {
      try {
        return factory.interface.parseLog(l);
      } catch {
        return null;
      }
    })
    .find((p: { name: string } | null) => p?.name === "GroupCreated");
  if (!log) throw new Error("no GroupCreated event");
  return new Contract(log.args.group as string, GROUP_ABI, ethers.provider);
}

/** `group` connected as `signer`. */
export function as(group: Contract, signer: Signer): Contract {
  return group.connect(signer) as Contract;
}

export interface Proposed {
  id: bigint;
  number: bigint;
  action: Action;
  payload: string;
}

/** Proposes and returns the proposal's id and number from its event. */
export async function propose(group: Contract, proposer: Signer, action: Action, payload: string): Promise<Proposed> {
  const tx = await as(group, proposer).getFunction("propose")(action, payload);
  const receipt = await tx.wait();
  for (const l of receipt!.logs) {
    const parsed = group.interface.parseLog(l);
    if (parsed?.name === "ProposalCreated") {
      return { id: parsed.args.proposalId as bigint, number: parsed.args.number as bigint, action, payload };
    }
  }
  throw new Error("no ProposalCreated event");
}

export async function vote(group: Contract, voter: Signer, p: Proposed, support: number) {
  const tx = await as(group, voter).getFunction("castVote")(p.id, support);
  return tx.wait();
}

export async function execute(group: Contract, by: Signer, p: Proposed) {
  const tx = await as(group, by).getFunction("execute")(p.number, p.action, p.payload);
  return tx.wait();
}

export async function tally(group: Contract, p: Proposed) {
  const v = await group.getFunction("proposal")(p.id);
  return { for: Number(v.forVotes), against: Number(v.againstVotes), abstain: Number(v.abstainVotes), state: Number(v.state) };
}

export async function addresses(signers: Signer[]): Promise<string[]> {
  return Promise.all(signers.map((s) => s.getAddress()));
}
