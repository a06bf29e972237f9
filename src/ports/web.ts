/**
 * What the web page needs of the rest of the bot. The web adapter
 * (`src/web/`) serves HTTP and depends on this port only; the bot's side
 * (`src/bot/web.ts`) implements it with the same rules as the chat commands.
 * Pure types: everything here crosses HTTP as JSON (amounts as decimal
 * strings of the token's smallest unit, times as unix seconds).
 */

/** One vote, as the group's record shows it. */
export interface RecordVote {
  voter: string;
  /** the voter's Matrix id, only when the voter chose to show it */
  userId?: string;
  choice: "yes" | "no" | "abstain";
  /** the points it carried when cast (own and delegated) */
  weight: number;
  tx: string;
}

export type ProposalStateName = "open" | "defeated" | "passed" | "executed" | "expired";

export interface RecordProposal {
  number: number;
  /** the proposal id, as a decimal string */
  id: string;
  proposer: string;
  proposerUserId?: string;
  /** what it does, in words (as the room reads it) */
  summary: string;
  changes: string[];
  /** whether the bot may vote on it for a member with the everyday scope only (add and remove) */
  everyday: boolean;
  state: ProposalStateName;
  quorumBps: number;
  quorumVotes: number;
  influence: number;
  forVotes: number;
  againstVotes: number;
  abstainVotes: number;
  snapshot: number;
  deadline: number;
  votes: RecordVote[];
  createdTx: string;
  executedTx?: string;
}

export interface RecordMember {
  address: string;
  /** only when the member chose to show it */
  userId?: string;
  active: boolean;
  /** unix seconds the membership is paid through; `lifetime` when paid for life */
  expiresAt: number;
  lifetime: boolean;
  delegate?: string;
  delegatorsIn: number;
}

/** The group's public record: what anyone may read, without a wallet. */
export interface GroupRecord {
  group: string;
  chainId: number;
  /** the bot's address (the relayer members may authorise) */
  bot: string;
  /** the chain's time when read */
  now: number;
  fee: {
    /** smallest units, decimal */
    amount: string;
    /** the zero address for the native coin */
    token: string;
    decimals: number;
    symbol: string;
    /** e.g. "0.01 (native coin) every 30d" */
    text: string;
  };
  /** seconds; 0 = paid once, for life */
  period: number;
  grace: number;
  voting: number;
  mode: string;
  /** a user may join by paying, with no proposal */
  open: boolean;
  settingsLines: string[];
  feeDestination: { kind: "locked" | "release" | "custom"; target?: string; recipients: { address: string; shareBps: number }[]; text: string };
  treasury: { amount: string; text: string };
  activeCount: number;
  members: RecordMember[];
  /** newest first */
  proposals: RecordProposal[];
}

/** One address's standing in a group (public on-chain). */
export interface Standing {
  address: string;
  isMember: boolean;
  active: boolean;
  /** approved (by a proposal, an admin, or an open group) and not yet paid */
  approved: boolean;
  expiresAt: number;
  lifetime: boolean;
  delegate?: string;
  /** the authority the bot holds for this address, in words, when it holds one */
  relayer?: { until: number; scope: number; words: string[] };
  /** another relayer than the bot holds authority */
  otherRelayer?: string;
}

/** A Matrix account the page has proved, and the room it came for. */
export interface WebIdentity {
  userId: string;
  roomId: string;
}

/** What the page shows about the signed-in Matrix account. */
export interface WebMe extends WebIdentity {
  /** the room's group, when the room is one */
  group?: string;
  linked?: string;
  /** a link waiting for its signature: the address and the exact message */
  pending?: { address: string; message: string };
  showId: boolean;
}

/** EIP-712 typed data, ready for `eth_signTypedData_v4` (numbers as decimal strings). */
export interface TypedData {
  domain: { name: string; version: string; chainId: number; verifyingContract: string };
  types: Record<string, { name: string; type: string }[]>;
  primaryType: string;
  message: Record<string, string | number>;
}

/** An action's outcome: done (with what to say), or refused with a reason in words. */
export type WebResult<T = unknown> = ({ ok: true; lines: string[] } & T) | { ok: false; error: string };

export interface WebActions {
  /** the public record of a group this bot serves, or undefined */
  record(group: string): Promise<GroupRecord | undefined>;
  /** an address's standing in a group, or a refusal when the bot serves no such group */
  standing(group: string, address: string): Promise<WebResult<{ standing: Standing }>>;
  /** takes a one-time link token; undefined when unknown, used or expired (a token works once) */
  redeemLinkToken(token: string): Promise<(WebIdentity & { address?: string }) | undefined>;
  /** whether `userId` is joined or invited in `roomId` (the widget's room, checked) */
  inRoom(roomId: string, userId: string): Promise<boolean>;
  me(who: WebIdentity): Promise<WebMe>;
  /** starts (or restarts) a link of `who` to `address`: the message to sign */
  startLink(who: WebIdentity, address: string): Promise<WebResult<{ message: string }>>;
  /** completes the pending link with the wallet's signature of its message */
  completeLink(who: WebIdentity, signature: string): Promise<WebResult<{ address: string }>>;
  /** shows or hides `who`'s Matrix id on the public page */
  showId(who: WebIdentity, show: boolean): Promise<void>;
  /** the typed data of a vote for `voter` to sign */
  voteRequest(group: string, voter: string, number: number, choice: "yes" | "no" | "abstain"): Promise<WebResult<{ typed: TypedData }>>;
  /** submits a signed vote (the bot pays the gas, for members only) */
  submitVote(
    group: string,
    signed: { voter: string; number: number; choice: "yes" | "no" | "abstain"; nonce: string; deadline: number; signature: string },
  ): Promise<WebResult<{ tx: string }>>;
  /** the authority in words and the typed data for `member` to sign */
  relayerRequest(
    group: string,
    member: string,
    extra: ("config" | "fees" | "custom")[],
    days: number,
  ): Promise<WebResult<{ typed: TypedData; words: string[] }>>;
  /** submits a signed authorisation of the bot */
  submitRelayer(
    group: string,
    signed: { member: string; scope: number; until: number; nonce: string; deadline: number; signature: string },
  ): Promise<WebResult<{ tx: string }>>;
  /** whether a transaction the member's wallet is about to send would succeed now, and if not why, in words */
  check(group: string, tx: { from: string; to: string; data: string; value: string }): Promise<WebResult>;
}
