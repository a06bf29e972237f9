/**
 * The on-chain vocabulary of a group, mirrored from
 * `contracts/interfaces/IGroupTypes.sol`. Numbers are the Solidity enum values.
 */

export const Mode = { Vote: 0, Admin: 1, External: 2 } as const;
export type Mode = (typeof Mode)[keyof typeof Mode];

export const Action = { AddMember: 0, RemoveMember: 1, Config: 2, FeeDestination: 3, Custom: 4 } as const;
export type Action = (typeof Action)[keyof typeof Action];

export const DestinationKind = { Locked: 0, Release: 1, Custom: 2 } as const;
export type DestinationKind = (typeof DestinationKind)[keyof typeof DestinationKind];

export const VoteType = { Against: 0, For: 1, Abstain: 2 } as const;
export type VoteType = (typeof VoteType)[keyof typeof VoteType];

export const ProposalState = { Active: 0, Defeated: 1, Succeeded: 2, Executed: 3, Expired: 4 } as const;
export type ProposalState = (typeof ProposalState)[keyof typeof ProposalState];

/** A per-action quorum equal to this means "use the default quorum". */
export const QUORUM_DEFAULT = 0xffff;
/** Paid-through time (unix seconds, as the views give it) of a lifetime membership (period 0). */
export const LIFETIME = 2n ** 64n - 1n;
/** Longest voting period, fee period and grace period, in seconds (3650 days), as the contracts enforce. */
export const MAX_DURATION = 3650 * 86_400;
/** Shortest fee period other than 0 (for life), in seconds: one day. */
export const MIN_PERIOD = 86_400;
/** Most open proposals per member a group may allow. */
export const MAX_OPEN_PROPOSALS = 3;
/** Longest authority a member may give the bot, in seconds (366 days). */
export const MAX_RELAYER_DURATION = 366 * 86_400;

/** What a relayer may do for a member: bits of `RelayerScope` in IGroupTypes.sol. */
export const RelayerScope = {
  Vote: 1,
  Propose: 2,
  Delegate: 4,
  Accept: 8,
  Config: 16,
  FeeDestination: 32,
  Custom: 64,
} as const;
export const RELAYER_SCOPE_ALL = 127;

export interface GroupConfig {
  defaultQuorumBps: number;
  addQuorumBps: number;
  removeQuorumBps: number;
  configQuorumBps: number;
  feeDestinationQuorumBps: number;
  customQuorumBps: number;
  /** seconds */
  votingPeriod: number;
  /** seconds; 0 = pay once */
  period: number;
  /** seconds */
  gracePeriod: number;
  mode: Mode;
  customCallsAllowed: boolean;
  /** how many proposals one member may have open at a time (1 .. MAX_OPEN_PROPOSALS) */
  maxOpenProposals: number;
  fee: bigint;
  /** address(0) = native coin */
  feeToken: string;
}

export interface GroupSettings {
  config: GroupConfig;
  controller: string;
  linker: string;
  admins: string[];
}

export interface FeeDestination {
  kind: DestinationKind;
  target: string;
  recipients: string[];
  sharesBps: number[];
}
