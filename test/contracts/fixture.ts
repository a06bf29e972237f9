/**
 * Shared set-up for the contract tests: one in-process Hardhat network per
 * test file, a factory, and helpers to create groups and run proposals.
 */
import { expect } from "vitest";
import { network } from "hardhat";
import {
  Contract,
  Interface,
  ZeroAddress,
  keccak256,
  toBeHex,
  type ContractTransactionResponse,
  type Overrides,
  type Signer,
  type TransactionReceipt,
  type TypedDataDomain,
} from "ethers";
import { GROUP_ABI } from "../../src/governance/contracts.ts";
import { ACCEPT_TYPES, RELAYER_TYPES, VOTE_TYPES } from "../../src/governance/typed.ts";
import { destinationValues, LOCKED_DESTINATION, settingsValues } from "../../src/governance/encoding.ts";
import { Action, Mode, QUORUM_DEFAULT, type FeeDestination, type GroupConfig, type GroupSettings } from "../../src/governance/types.ts";

export const conn = await network.create();
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
    maxOpenProposals: 3,
    fee: 0n,
    feeToken: ZeroAddress,
    ...overrides,
  };
}

export function defaultSettings(overrides: Partial<GroupSettings> = {}, config: Partial<GroupConfig> = {}): GroupSettings {
  return { config: defaultConfig(config), controller: ZeroAddress, linker: ZeroAddress, admins: [], ...overrides };
}

/**
 * Deploys a factory with the test minimums. `minNativeFee` 0 makes open,
 * free groups safe: the setting where sybils join for nothing.
 */
export async function deployFactory(owner?: Signer, minNativeFee: bigint = MIN_NATIVE_FEE): Promise<Contract> {
  const [deployer] = await ethers.getSigners();
  const o = owner ?? deployer!;
  // The implementation first: with the factory it exceeds one creation's code limit (EIP-3860).
  const extension = await ethers.deployContract("GroupExtension");
  const implementation = await ethers.deployContract("Group", [await extension.getAddress()]);
  const factory = await ethers.deployContract("GroupFactory", [await o.getAddress(), MIN_ADD_QUORUM_BPS, minNativeFee, await implementation.getAddress()]);
  await factory.waitForDeployment();
  return factory;
}

/**
 * A group anyone may join for nothing (add quorum 0, fee 0, from a factory
 * whose safe minimum fee is 0): the setting sybils like best.
 */
export async function openFreeGroup(founders: string[], config: Partial<GroupConfig> = {}): Promise<Contract> {
  const factory = await deployFactory(undefined, 0n);
  return createGroup(factory, { founders, settings: defaultSettings({}, { addQuorumBps: 0, fee: 0n, ...config }) });
}

/** A group of `founders` with the default settings but for `config`, from a new factory. */
export async function groupOf(founders: Signer[], config: Partial<GroupConfig> = {}, destination?: FeeDestination): Promise<Contract> {
  return createGroup(await deployFactory(), {
    founders: await addresses(founders),
    settings: defaultSettings({}, config),
    ...(destination ? { destination } : {}),
  });
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

/** The proposal a receipt's `ProposalCreated` event announces. */
export function createdIn(receipt: TransactionReceipt | null): Proposed {
  for (const l of receipt!.logs) {
    const parsed = groupInterface.parseLog(l);
    if (parsed?.name === "ProposalCreated") {
      const { proposalId, number, action, payload } = parsed.args;
      return { id: proposalId as bigint, number: number as bigint, action: Number(action) as Action, payload: payload as string };
    }
  }
  throw new Error("no ProposalCreated event");
}

/** Proposes and returns the proposal's id and number from its event. */
export async function propose(group: Contract, proposer: Signer, action: Action, payload: string): Promise<Proposed> {
  const tx = await as(group, proposer).getFunction("propose")(action, payload);
  return createdIn(await tx.wait());
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

/**
 * Makes the next block fall at second `t` of `group`'s own clock (seconds
 * since its epoch). Gas of the expiry trees depends on where in time a call
 * falls, so comparisons of gas between groups put their calls at the same seconds.
 */
export async function setGroupTime(group: Contract, t: number): Promise<void> {
  const epoch = (await group.getFunction("epoch")()) as bigint;
  await time.setNextBlockTimestamp(epoch + BigInt(t));
}

/** Gas used by a transaction, from its receipt. */
export async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  return receipt!.gasUsed;
}

// ------------------------------------------------------- errors by name

/** Finds revert data in an ethers / Hardhat error, however deeply it is wrapped. */
export function revertData(e: unknown): string | undefined {
  const seen = new Set<unknown>();
  const walk = (x: unknown): string | undefined => {
    if (x === null || typeof x !== "object" || seen.has(x)) return undefined;
    seen.add(x);
    const o = x as Record<string, unknown>;
    if (typeof o.data === "string" && o.data.startsWith("0x") && o.data.length >= 10) return o.data;
    for (const k of ["error", "info", "cause", "data"]) {
      const r = walk(o[k]);
      if (r) return r;
    }
    return undefined;
  };
  return walk(e);
}

/** Expects `p` to revert with the group's custom error `name` (and exactly `args`, if given). */
export async function expectGroupError(p: Promise<unknown>, name: string, args?: unknown[]) {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected a revert with ${name}`).toBeDefined();
  const data = revertData(err);
  expect(data, `no revert data in: ${String(err)}`).toBeDefined();
  const parsed = groupInterface.parseError(data!);
  expect(parsed?.name).toBe(name);
  if (args) expect([...parsed!.args]).toEqual(args);
}

/** The group error a mined transaction reverted with, as [name, args] (from its trace). */
export async function minedRevert(hash: string): Promise<[string, unknown[]]> {
  const trace = (await conn.provider.request({ method: "debug_traceTransaction", params: [hash] })) as {
    failed: boolean;
    returnValue: string;
  };
  expect(trace.failed, `transaction ${hash} did not revert`).toBe(true);
  const data = trace.returnValue.startsWith("0x") ? trace.returnValue : `0x${trace.returnValue}`;
  const parsed = groupInterface.parseError(data);
  expect(parsed, `unknown revert data ${data}`).not.toBeNull();
  return [parsed!.name, [...parsed!.args]];
}

// ------------------------------------------------------------- blocks

export type Send = (overrides: Overrides) => Promise<ContractTransactionResponse>;

/**
 * Sends every transaction of `sends` into one block, in this order (each
 * with a lower priority fee than the one before, and a fixed gas limit, so
 * none is estimated against a state it will not run on), mines it, and
 * returns the receipts: a reverted transaction has status 0.
 */
export async function inOneBlock(sends: Send[]): Promise<TransactionReceipt[]> {
  const hashes: string[] = [];
  await conn.provider.request({ method: "evm_setAutomine", params: [false] });
  try {
    for (const [i, send] of sends.entries()) {
      const priority = BigInt(sends.length - i) * 10n ** 9n;
      const tx = await send({ gasLimit: 2_000_000n, maxPriorityFeePerGas: priority, maxFeePerGas: 100n * 10n ** 9n });
      hashes.push(tx.hash);
    }
    await conn.provider.request({ method: "evm_mine", params: [] });
  } finally {
    await conn.provider.request({ method: "evm_setAutomine", params: [true] });
  }
  const receipts = await Promise.all(hashes.map((h) => ethers.provider.getTransactionReceipt(h)));
  for (const [i, r] of receipts.entries()) {
    expect(r!.blockNumber, "all in one block").toBe(receipts[0]!.blockNumber);
    expect(r!.index, "in the order sent").toBe(i);
  }
  return receipts.map((r) => r!);
}

// ------------------------------------------------------ many accounts

/**
 * `n` new accounts (the same for the same `seed`), funded and impersonated,
 * so they send transactions without keys: the cheapest way to have
 * thousands of members.
 */
export async function impersonated(n: number, seed: number): Promise<string[]> {
  const accounts: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = ethers.getAddress("0x" + keccak256(toBeHex((BigInt(seed) << 32n) | BigInt(i), 32)).slice(-40));
    await conn.provider.request({ method: "hardhat_impersonateAccount", params: [a] });
    await conn.provider.request({ method: "hardhat_setBalance", params: [a, "0x56bc75e2d63100000"] });
    accounts.push(a);
  }
  return accounts;
}

/**
 * Sends `data` to `to` from `from` (a Hardhat or impersonated account) with a
 * fixed gas limit and no estimate; with automine, it is mined at once, in a
 * block (and a second) of its own. Returns the transaction hash.
 */
export async function sendFrom(from: string, to: string, data: string, value = 0n): Promise<string> {
  return (await conn.provider.request({
    method: "eth_sendTransaction",
    params: [{ from, to, data, value: toBeHex(value), gas: toBeHex(3_000_000) }],
  })) as string;
}

/** Receipt of a transaction sent with `sendFrom`, checked to have succeeded. */
export async function receiptOf(hash: string): Promise<TransactionReceipt> {
  const r = await ethers.provider.getTransactionReceipt(hash);
  expect(r?.status, `transaction ${hash} failed`).toBe(1);
  return r!;
}

/** Each of `accounts` joins the open, free `group`, each in a block (a second) of its own. */
export async function joinEach(group: Contract, accounts: string[]): Promise<void> {
  const to = await group.getAddress();
  const data = groupInterface.encodeFunctionData("join", []);
  for (const a of accounts) await sendFrom(a, to, data);
}

/** The paid-through times (unix seconds; 0 = no longer a member) of every token id, read in pages. */
export async function allExpiries(group: Contract): Promise<bigint[]> {
  const last = Number(await group.getFunction("lastTokenId")());
  const out: bigint[] = [];
  for (let from = 1; from <= last; from += 500) {
    const [, expiries] = await group.getFunction("membersPage")(from, 500);
    out.push(...(expiries as bigint[]));
  }
  return out;
}

// ---------------------------------------------------------- signatures

export { ACCEPT_TYPES, RELAYER_TYPES, VOTE_TYPES };

/** The EIP-712 domain of `group`. */
export async function domainOf(group: Contract): Promise<TypedDataDomain> {
  const { chainId } = await ethers.provider.getNetwork();
  return { name: "Conclave Group", version: "1", chainId, verifyingContract: await group.getAddress() };
}

/** `signer`'s signature of its vote `support` on `proposalId` with unordered nonce `nonce`. */
export async function signVote(
  signer: Signer,
  group: Contract,
  proposalId: bigint,
  support: number,
  nonce: bigint | number,
  deadline: bigint | number,
): Promise<string> {
  return signer.signTypedData(await domainOf(group), VOTE_TYPES, { proposalId, support, voter: await signer.getAddress(), nonce, deadline });
}
