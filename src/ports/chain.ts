/**
 * What the bot and the bridge need of the chain. The governance adapter
 * (`src/governance/`, `ChainClient`) implements these. Pure types: the
 * views of groups, members and proposals are the adapter's, imported as
 * types only.
 */
import type { FeeDestination, GroupSettings } from "../governance/types.ts";
import type { GroupEvent, MemberInfo, ProposalInfo } from "../governance/client.ts";

/** What the bot reads of a mined transaction. */
export interface Receipt {
  hash: string;
  blockNumber: number;
  gasUsed: bigint;
  logs: readonly { topics: readonly string[]; data: string }[];
}

/** The chain as command handlers see it. */
export interface ChainPort {
  readonly botAddress: string;
  createGroup(intent: string, settings: GroupSettings, destination: FeeDestination, founders: string[], ref: string): Promise<{ group: string; block: number }>;
  /**
   * Runs the creation of a group without sending it (a call, no gas):
   * throws the chain's refusal (safety minimums, durations, founders) when
   * the factory would refuse it, so that nobody consents to a group that
   * cannot be created.
   */
  checkCreation(settings: GroupSettings, destination: FeeDestination, founders: string[], ref: string): Promise<void>;
  call(intent: string, group: string, fn: string, args: unknown[], description: string): Promise<Receipt>;
  proposalByNumber(group: string, number: number): Promise<ProposalInfo | undefined>;
  proposals(group: string, fromBlock: number): Promise<ProposalInfo[]>;
  member(group: string, address: string, blockTag?: number): Promise<MemberInfo>;
  voteOf(group: string, proposalId: bigint, voter: string): Promise<number>;
  members(group: string): Promise<MemberInfo[]>;
  settings(group: string, blockTag?: number): Promise<GroupSettings>;
  domain(group: string): Promise<{ name: string; version: string; chainId: bigint; verifyingContract: string }>;
  nonce(group: string, account: string): Promise<bigint>;
}

/** What the bridge needs of the chain beyond the bot's port. */
export interface BridgeChain extends ChainPort {
  head(): Promise<number>;
  events(group: string, from: number, to: number): Promise<GroupEvent[]>;
  /** the events of many groups in blocks [from, to], per lower-case group address, in few calls */
  eventsOf(groups: string[], from: number, to: number): Promise<Map<string, GroupEvent[]>>;
  /** every account that ever held a token, with its paid-through time (0 = no longer a member), in few calls */
  expiries(group: string, blockTag?: number): Promise<{ address: string; isMember: boolean; expiresAt: number }[]>;
  feeDestinationKind(group: string): Promise<{ kind: number; nextReleaseAt: (token: string) => Promise<number>; balance: (token: string) => Promise<bigint> }>;
  /** the name of the group function a transaction called, if it called one */
  calledFunction(txHash: string): Promise<string | undefined>;
  /** the timestamp of block `n` */
  blockTime(n: number): Promise<number>;
}

/** A proposal's tally and state now. */
export interface ProposalView {
  state: number;
  forVotes: number;
  againstVotes: number;
  abstainVotes: number;
  deadline: number;
}

/**
 * What the web page and the polls read of the chain beyond the bot's port:
 * the group's record (events, balances, the fee destination), a proposal's
 * tally by id, and whether a member's own transaction would succeed.
 */
export interface RecordChain extends ChainPort {
  head(): Promise<number>;
  /** the chain's time: the latest block's timestamp */
  now(): Promise<number>;
  events(group: string, from: number, to: number): Promise<GroupEvent[]>;
  proposalView(group: string, proposalId: bigint): Promise<ProposalView>;
  feeDestination(group: string): Promise<FeeDestination>;
  balance(token: string, owner: string): Promise<bigint>;
  tokenInfo(token: string): Promise<{ symbol: string; decimals: number } | undefined>;
  /** resolves when the transaction would succeed now, else rejects with the chain's error */
  simulate(tx: { from: string; to: string; data: string; value: bigint }): Promise<void>;
}
