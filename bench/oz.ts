// OpenZeppelin reference side of the gas benchmark.
//
// Deploys OzMemberToken (ERC721 + ERC721Votes + VotesExtended, timestamp clock)
// and OzGroupGovernor (Governor + GovernorSettings + GovernorCountingOverridable +
// GovernorVotes + GovernorVotesQuorumFraction, no timelock), runs one realistic
// group-DAO session on the given network, and returns the `gasUsed` of the
// receipts of the transactions we care about.
//
// Run by Node 22's built-in type stripping: type-only imports, `.ts` relative
// imports, no enums, no parameter properties.

import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import type { NetworkHelpers } from "@nomicfoundation/hardhat-network-helpers/types";
import type { BaseContract, Signer, TransactionReceipt } from "ethers";

/** Only `time.increase` is used, so any chain type's network helpers fit. */
export type OzNetworkHelpers = Pick<NetworkHelpers, "time">;

/** `gasUsed` of real transaction receipts, as plain numbers. */
export interface OzGas {
  /** token deploy + governor deploy + 10 `mint`s to 10 members + `transferOwnership(governor)`. */
  deploy: number;
  /** `deploy` plus the 10 self-`delegate` txs (ERC721Votes gives no voting power until delegated). */
  deployWithDelegations: number;
  /** `propose` of a single-call proposal (target = token, calldata = `mint(newMember)`). */
  propose: number;
  /** first `castVote` (For) on that proposal. */
  firstVote: number;
  /** second `castVote` (For) on the same proposal, by another voter. */
  laterVote: number;
  /**
   * `castOverrideVote` (Against) by a member whose delegate already voted For on that proposal;
   * another member has already voted Against, so no tally slot goes from zero to non-zero.
   */
  overrideVote: number;
  /** `delegate(other member)` by a member who currently self-delegates. */
  delegate: number;
  /** `execute` of a passed proposal whose call mints a token to a new member. */
  executeAdd: number;
  /** `execute` of a passed proposal whose call burns a member's token. */
  executeRemove: number;
}

const MEMBER_COUNT = 10;
// GovernorCountingOverridable.VoteType
const AGAINST = 0;
const FOR = 1;

async function addressOf(signer: Signer): Promise<string> {
  return signer.getAddress();
}

/** Sends `fn(...args)` on `contract` from `signer`; returns the mined receipt (reverts throw). */
async function send(contract: BaseContract, signer: Signer, fn: string, args: readonly unknown[]): Promise<TransactionReceipt> {
  const tx = await contract.connect(signer).getFunction(fn)(...args);
  const receipt: TransactionReceipt | null = await tx.wait();
  if (receipt === null || receipt.status !== 1) {
    throw new Error(`measureOz: ${fn} did not succeed`);
  }
  return receipt;
}

async function read<T>(contract: BaseContract, fn: string, args: readonly unknown[]): Promise<T> {
  return (await contract.getFunction(fn).staticCall(...args)) as T;
}

function gas(receipt: TransactionReceipt): number {
  return Number(receipt.gasUsed);
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`measureOz: ${message}`);
}

async function deployed(
  ethers: HardhatEthers,
  name: string,
  args: readonly unknown[],
  deployer: Signer,
): Promise<{ contract: BaseContract; receipt: TransactionReceipt }> {
  const factory = await ethers.getContractFactory(name, deployer);
  const contract = await factory.deploy(...args);
  const tx = contract.deploymentTransaction();
  if (tx === null) throw new Error(`measureOz: no deployment transaction for ${name}`);
  const receipt = await tx.wait();
  if (receipt === null || receipt.status !== 1) throw new Error(`measureOz: deploying ${name} failed`);
  return { contract, receipt };
}

/**
 * Measures the OpenZeppelin reference group DAO on the network behind `ethers`.
 *
 * Uses `signers[0]` as deployer, `signers[1..10]` as the 10 members and
 * `signers[11]` as the member added by proposal; needs at least 12 signers.
 */
export async function measureOz(ethers: HardhatEthers, signers: Signer[], networkHelpers: OzNetworkHelpers): Promise<OzGas> {
  check(signers.length >= MEMBER_COUNT + 2, `need at least ${MEMBER_COUNT + 2} signers, got ${signers.length}`);
  const deployer = signers[0]!;
  const members = signers.slice(1, MEMBER_COUNT + 1);
  const newMember = signers[MEMBER_COUNT + 1]!;
  const memberAddrs = await Promise.all(members.map(addressOf));
  const newMemberAddr = await addressOf(newMember);

  // Roles inside the session (token ids are sequential from 1: members[i] holds id i + 1).
  const proposer = members[0]!; // also the first voter
  const delegator = members[1]!; // "X": self-delegates, then delegates to Y, then overrides Y's vote
  const delegatee = members[2]!; // "Y": votes after the first voter
  const removedIndex = MEMBER_COUNT - 1; // members[9] (token id 10) is burnt by the second proposal
  const removedTokenId = BigInt(removedIndex + 1);

  // ---- deployment + initial membership -------------------------------------------------------
  const token = await deployed(ethers, "OzMemberToken", [await addressOf(deployer)], deployer);
  const tokenAddr = await token.contract.getAddress();
  const governor = await deployed(ethers, "OzGroupGovernor", [tokenAddr], deployer);
  const governorAddr = await governor.contract.getAddress();

  let deploy = gas(token.receipt) + gas(governor.receipt);
  for (const addr of memberAddrs) {
    deploy += gas(await send(token.contract, deployer, "mint", [addr]));
  }
  deploy += gas(await send(token.contract, deployer, "transferOwnership", [governorAddr]));
  check((await read<string>(token.contract, "owner", [])) === governorAddr, "governor does not own the token");

  let delegations = 0;
  for (let i = 0; i < members.length; i++) {
    delegations += gas(await send(token.contract, members[i]!, "delegate", [memberAddrs[i]]));
  }
  const deployWithDelegations = deploy + delegations;

  // ---- delegate: X (self-delegated) -> Y, before the proposal is created ----------------------
  const delegate = gas(await send(token.contract, delegator, "delegate", [memberAddrs[2]]));
  check((await read<bigint>(token.contract, "getVotes", [memberAddrs[2]])) === 2n, "Y should hold 2 votes");

  const {
    id: addId,
    receipt: proposeReceipt,
    targets,
    values,
    calldatas,
    descriptionHash,
  } = await propose(ethers, governor.contract, proposer, tokenAddr, token.contract.interface.encodeFunctionData("mint", [newMemberAddr]), "Add a new member");
  const proposeGas = gas(proposeReceipt);

  // ---- votes on the "add member" proposal ----------------------------------------------------
  const firstVote = gas(await send(governor.contract, proposer, "castVote", [addId, FOR]));
  const laterVote = gas(await send(governor.contract, delegatee, "castVote", [addId, FOR]));
  // An unmeasured Against vote first, so the override below measures the steady-state cost of
  // disagreeing with one's delegate rather than the one-off 0 -> non-zero write of the Against
  // tally slot (that write alone adds ~17k gas, like firstVote vs laterVote).
  await send(governor.contract, members[3]!, "castVote", [addId, AGAINST]);
  const overrideVote = gas(await send(governor.contract, delegator, "castOverrideVote", [addId, AGAINST, ""]));
  check(await read<boolean>(governor.contract, "hasVotedOverride", [addId, memberAddrs[1]]), "override not recorded");
  // One more (unmeasured) For vote so the proposal passes: For 1 + 2 - 1 + 1 = 3 > Against 1 + 1 = 2.
  await send(governor.contract, members[4]!, "castVote", [addId, FOR]);
  const [against, forVotes, abstain] = await read<[bigint, bigint, bigint]>(governor.contract, "proposalVotes", [addId]);
  check(against === 2n && forVotes === 3n && abstain === 0n, `unexpected tally ${against}/${forVotes}/${abstain}`);

  // ---- execute "add member" --------------------------------------------------------------------
  const votingPeriod = await read<bigint>(governor.contract, "votingPeriod", []);
  await networkHelpers.time.increase(votingPeriod + 1n);
  check((await read<bigint>(governor.contract, "state", [addId])) === 4n, "add proposal did not succeed");
  const executeAdd = gas(await send(governor.contract, deployer, "execute", [targets, values, calldatas, descriptionHash]));
  check((await read<string>(token.contract, "ownerOf", [BigInt(MEMBER_COUNT + 1)])) === newMemberAddr, "new member did not receive a token");

  // ---- "remove member" proposal: passes with one vote, then executed ---------------------------
  const remove = await propose(
    ethers,
    governor.contract,
    proposer,
    tokenAddr,
    token.contract.interface.encodeFunctionData("burn", [removedTokenId]),
    "Remove a member",
  );
  await send(governor.contract, proposer, "castVote", [remove.id, FOR]);
  await networkHelpers.time.increase(votingPeriod + 1n);
  check((await read<bigint>(governor.contract, "state", [remove.id])) === 4n, "remove proposal did not succeed");
  const executeRemove = gas(await send(governor.contract, deployer, "execute", [remove.targets, remove.values, remove.calldatas, remove.descriptionHash]));
  check((await read<bigint>(token.contract, "balanceOf", [memberAddrs[removedIndex]])) === 0n, "member token not burnt");

  return {
    deploy,
    deployWithDelegations,
    propose: proposeGas,
    firstVote,
    laterVote,
    overrideVote,
    delegate,
    executeAdd,
    executeRemove,
  };
}

async function propose(
  ethers: HardhatEthers,
  governor: BaseContract,
  proposer: Signer,
  target: string,
  calldata: string,
  description: string,
): Promise<{
  id: bigint;
  receipt: TransactionReceipt;
  targets: string[];
  values: bigint[];
  calldatas: string[];
  descriptionHash: string;
}> {
  const targets = [target];
  const values = [0n];
  const calldatas = [calldata];
  const descriptionHash = ethers.id(description);
  const receipt = await send(governor, proposer, "propose", [targets, values, calldatas, description]);
  const id = await read<bigint>(governor, "hashProposal", [targets, values, calldatas, descriptionHash]);
  // votingDelay is 0, so the snapshot is the proposal's own block timestamp: the proposal reads as
  // Pending (0) at that block and becomes Active (1) from the next one.
  const state = await read<bigint>(governor, "state", [id]);
  check(state === 0n || state === 1n, `new proposal in unexpected state ${state}`);
  return { id, receipt, targets, values, calldatas, descriptionHash };
}
