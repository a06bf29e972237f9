/**
 * Chain errors in words people understand. Every custom error of the
 * contracts has a sentence; anything else gets a generic one, never a stack
 * trace. The log text keeps the technical detail.
 */
import { formatUnits, type ErrorDescription } from "ethers";
import { factoryInterface, groupInterface } from "./contracts.ts";

const STATE = ["still open", "defeated", "passed", "already executed", "expired"];
const ACTION = ["add", "remove", "config", "fee destination", "custom"];

const DURATION = ["voting period", "fee period", "grace period"];
const SCOPE = ["vote", "propose", "delegate", "accept", "config proposals", "fee-destination proposals", "custom calls"];

const pct = (bps: bigint | number) => `${Number(bps) / 100}%`;
const day = (unix: unknown) => new Date(Number(unix) * 1000).toISOString().slice(0, 10);
/** Seconds in the largest whole unit: 3650 days, 2 h, 90 s. */
export function duration(seconds: unknown): string {
  const s = Number(seconds);
  for (const [unit, n] of [
    ["d", 86_400],
    ["h", 3_600],
    ["min", 60],
  ] as const)
    if (s >= n && s % n === 0) return `${s / n}${unit}`;
  return `${s}s`;
}
/** The bits of a relayer scope, in words. */
export function scopeWords(scope: number): string {
  const words = SCOPE.filter((_, i) => (scope >> i) & 1);
  return words.length ? words.join(", ") : "nothing";
}
const short = (a: unknown) => {
  const s = String(a);
  return /^0x[0-9a-fA-F]{40}$/.test(s) ? `${s.slice(0, 6)}…${s.slice(-4)}` : s;
};

const SENTENCES: Record<string, (args: readonly unknown[]) => string> = {
  GroupNotMember: (a) => `${short(a[0])} is not a member of this group.`,
  GroupAlreadyMember: (a) => `${short(a[0])} is already a member.`,
  GroupNotApproved: () => "You have not been approved yet: a member must propose adding you, and the proposal must pass.",
  GroupNotActive: (a) => `${short(a[0])} is not an active member (not a member, or the subscription has lapsed). Pay with !join.`,
  GroupInvalidAccount: (a) => `That address (${short(a[0])}) cannot be used.`,
  GroupNoFounders: () => "A group needs at least one founder with a linked address.",
  GroupFull: () => "The group has the most active members it can count (32,767).",
  GroupWrongPayment: (a) => `Wrong payment: the fee is ${formatUnits(a[0] as bigint)}, and ${formatUnits(a[1] as bigint)} was sent.`,
  GroupPaidForLife: (a) => `${short(a[0])} is a member for life and never pays again.`,
  GroupGracePeriodNotOver: () => "That member's grace period is not over yet.",
  GroupSelfDelegation: () => "You cannot delegate to yourself; use !undelegate to vote for yourself.",
  GroupDelegateUnchanged: () => "Your delegation is already set that way.",
  GroupMembershipNotTransferable: () => "Membership is personal and cannot be transferred.",
  GroupUnauthorized: () => "The bot is not allowed to do that in this group.",
  GroupMatrixLinkTaken: () => "That Matrix account is already linked to another address in this group.",
  GroupSignatureExpired: () => "The signature has expired; sign again.",
  GroupInvalidSignature: () => "The signature does not match.",
  GroupUnknownProposal: () => "There is no such proposal.",
  GroupVotingClosed: (a) => `Voting is closed: the proposal is ${STATE[Number(a[1])] ?? "closed"}.`,
  GroupInvalidVoteType: () => "Vote yes, no or abstain.",
  GroupAlreadyVoted: () => "You have already voted on this proposal.",
  GroupNotRelayer: () => "You have not authorised the bot to act for you in this group: use !authorize, or act from your wallet.",
  GroupRelayerScope: (a) =>
    `Your authority for the bot does not cover this (it needs: ${scopeWords(Number(a[1]))}). Authorise it again with that included, or act from your wallet.`,
  GroupRelayerExpired: (a) => `Your authority for the bot ended on ${day(a[1])}: use !authorize again, or act from your wallet.`,
  GroupInvalidRelayerAuthority: () => "That authority is not valid: it needs something to cover and an end within a year.",
  GroupNonceUsed: () => "That signature was already used or cancelled; sign again.",
  GroupTooManyOpenProposals: (a) => `${short(a[0])} already has ${String(a[1])} proposals open; propose again when one of them closes.`,
  GroupProposalBurst: () => "Too many proposals were made this very second; try again in a moment.",
  GroupModeJustChanged: () => "The group's mode changed this very second; propose again in a moment.",
  GroupProposalPredatesModeChange: () => "That proposal was made before the group's mode changed, so it can no longer be executed.",
  GroupPaidTooFarAhead: (a) => `That would pay ${short(a[0])} until ${day(a[1])}, further ahead than allowed (until ${day(a[2])}).`,
  GroupBatchTooLarge: (a) => `At most ${String(a[1])} at a time (${String(a[0])} given).`,
  GroupTooManyFounders: (a) => `At most ${String(a[1])} founders (${String(a[0])} given).`,
  GroupNothingToClaim: () => "There is nothing for you to claim.",
  GroupInvalidDuration: (a) =>
    `The ${DURATION[Number(a[0])] ?? "duration"} of ${duration(a[1])} is out of range: it must be from ${duration(a[2])} to ${duration(a[3])}${Number(a[0]) === 1 ? " (or once, for life)" : ""}.`,
  GroupInvalidMaxOpenProposals: (a) => `The open-proposal limit must be 1 to ${String(a[1])} (${String(a[0])} given).`,
  GroupProposalNotSucceeded: (a) => `The proposal cannot be executed: it is ${STATE[Number(a[1])] ?? "not passed"}.`,
  GroupProposalAlreadyExecuted: () => "That proposal was already executed.",
  GroupProposalsDisabled: () => "This group is governed by an external system: members make no proposals here.",
  GroupCustomCallsDisabled: () => "This group does not allow custom calls.",
  GroupInvalidCustomTarget: () => "A custom call cannot target the group itself.",
  GroupMalformedPayload: (a) => `The ${ACTION[Number(a[0])] ?? ""} proposal is malformed.`,
  GroupInvalidQuorum: (a) => `A quorum of ${pct(a[0] as bigint)} is over 100%.`,
  GroupAdminsRequired: () => "Admin mode needs at least one admin.",
  GroupInvalidAdmins: () => "The admin list has an invalid or repeated entry, or more than 32 admins.",
  GroupControllerRequired: () => "External mode needs the address of the governing contract.",
  GroupInvalidShares: () => "Release shares must add up to 100% over 1 to 32 distinct recipients.",
  GroupInvalidDestinationTarget: () => "A custom fee destination must be a contract.",
  GroupFeesLocked: () => "Fees are locked in the group.",
  GroupNothingToRelease: () => "There are no fees to release.",
  GroupReleaseTooSoon: (a) => `Fees can be released at most once a month; next on ${new Date(Number(a[1]) * 1000).toISOString().slice(0, 10)}.`,
  ERC721NonexistentToken: () => "No member holds that token.",
  InsufficientBalance: () => "The group's treasury does not hold enough for that.",
  FactoryInvalidMinimum: () => "A safe minimum quorum cannot be over 100%.",
  FactoryInvalidImplementation: () => "The factory needs a deployed group implementation (deploy GroupExtension and Group first).",
  UnsafeGroupConfig: (a) =>
    `Unsafe: the add quorum ${pct(a[0] as bigint)} is below the safe minimum ${pct(a[1] as bigint)} and the fee ` +
    `${formatUnits(a[2] as bigint)} is below the safe minimum ${formatUnits(a[3] as bigint)}. Raise either.`,
  UnsafeGroupConfigUnknownFeeToken: (a) =>
    `Unsafe: the add quorum ${pct(a[0] as bigint)} is below the safe minimum ${pct(a[1] as bigint)}, and the fee token has no safe minimum fee here. Raise the add quorum.`,
};

/** Finds revert data in an ethers error, however deeply it is wrapped. */
export function revertData(e: unknown, depth = 0): string | undefined {
  if (!e || typeof e !== "object" || depth > 6) return undefined;
  const o = e as Record<string, unknown>;
  if (typeof o.data === "string" && o.data.startsWith("0x") && o.data.length >= 10) return o.data;
  for (const k of ["error", "info", "cause", "data"]) {
    const d = revertData(o[k], depth + 1);
    if (d) return d;
  }
  return undefined;
}

/** The contract error behind `e`, if it is one of ours. */
export function decodeChainError(e: unknown): ErrorDescription | undefined {
  const data = revertData(e);
  if (!data) return undefined;
  for (const iface of [groupInterface, factoryInterface]) {
    try {
      const parsed = iface.parseError(data);
      if (parsed) return parsed;
    } catch {
      /* not this interface */
    }
  }
  return undefined;
}

export interface HumanError {
  /** for the room */
  human: string;
  /** for the logs */
  log: string;
}

/** A sentence for the room and a line for the logs. */
export function humanChainError(e: unknown): HumanError {
  const parsed = decodeChainError(e);
  const log = e instanceof Error ? e.message.split("\n")[0]!.slice(0, 300) : String(e).slice(0, 300);
  if (parsed) {
    const sentence = SENTENCES[parsed.name];
    return { human: sentence ? sentence(parsed.args) : `The chain refused it (${parsed.name}).`, log: `${parsed.name}: ${log}` };
  }
  const code = (e as { code?: string } | undefined)?.code;
  if (code === "ECONNREFUSED" || code === "NETWORK_ERROR" || code === "TIMEOUT" || /ECONNREFUSED|fetch failed|timeout/i.test(log)) {
    return { human: "The chain cannot be reached right now; try again later.", log };
  }
  if (code === "SERVER_ERROR") {
    // The endpoint answered, but with an HTTP error: a gateway's rate limit (429), a revoked key (401, 403), a node down behind it (5xx).
    const status = (e as { info?: { responseStatus?: unknown } }).info?.responseStatus;
    // ethers gives up on a rate limit (429) after its retries with a 599 of its own making.
    const http = /maximum retry limit/.test(log) ? "429" : typeof status === "string" ? /^\d{3}/.exec(status)?.[0] : undefined;
    return { human: `The chain cannot be reached right now${http ? ` (its endpoint answered HTTP ${http})` : ""}; try again later.`, log };
  }
  if (code === "INSUFFICIENT_FUNDS" || /insufficient funds/i.test(log)) {
    return { human: "The bot's account has no funds to pay for this transaction; tell the bot's operator.", log };
  }
  return { human: "The chain refused this for an unknown reason; the bot's log has details.", log };
}

/** Names of the errors that have a sentence (for tests). */
export const KNOWN_ERRORS = Object.keys(SENTENCES);
