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
/** Paid-through time of a lifetime membership (period 0). */
export const LIFETIME = 0xffffffff;

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
