/**
 * ABI encoding of proposal payloads and group set-up, shared by the bot, the
 * web page and the tests. Pure: imports ethers' coder only.
 */
import { AbiCoder, ZeroAddress } from "ethers";
import { Action, DestinationKind, type FeeDestination, type GroupConfig, type GroupSettings } from "./types.ts";

const coder = AbiCoder.defaultAbiCoder();

export const CONFIG_TUPLE =
  "tuple(uint16 defaultQuorumBps,uint16 addQuorumBps,uint16 removeQuorumBps,uint16 configQuorumBps," +
  "uint16 feeDestinationQuorumBps,uint16 customQuorumBps,uint32 votingPeriod,uint32 period,uint32 gracePeriod," +
  "uint8 mode,bool customCallsAllowed,uint8 maxOpenProposals,uint96 fee,address feeToken)";
export const SETTINGS_TUPLE = `tuple(${CONFIG_TUPLE} config,address controller,address linker,address[] admins)`;
export const DESTINATION_TUPLE = "tuple(uint8 kind,address target,address[] recipients,uint16[] sharesBps)";

function configValues(c: GroupConfig): unknown[] {
  return [
    c.defaultQuorumBps,
    c.addQuorumBps,
    c.removeQuorumBps,
    c.configQuorumBps,
    c.feeDestinationQuorumBps,
    c.customQuorumBps,
    c.votingPeriod,
    c.period,
    c.gracePeriod,
    c.mode,
    c.customCallsAllowed,
    c.maxOpenProposals,
    c.fee,
    c.feeToken,
  ];
}

export function settingsValues(s: GroupSettings): unknown[] {
  return [configValues(s.config), s.controller, s.linker, s.admins];
}

export function destinationValues(d: FeeDestination): unknown[] {
  return [d.kind, d.target, d.recipients, d.sharesBps];
}

/** Payload of an AddMember or RemoveMember proposal. */
export function encodeAccount(account: string): string {
  return coder.encode(["address"], [account]);
}

/** Payload of a Config proposal. */
export function encodeSettings(s: GroupSettings): string {
  return coder.encode([SETTINGS_TUPLE], [settingsValues(s)]);
}

/** Payload of a FeeDestination proposal. */
export function encodeFeeDestination(d: FeeDestination): string {
  return coder.encode([DESTINATION_TUPLE], [destinationValues(d)]);
}

/** Payload of a Custom proposal. */
export function encodeCustom(target: string, value: bigint, data: string): string {
  return coder.encode(["address", "uint256", "bytes"], [target, value, data]);
}

/** The payload of `action` for a proposal about one account. */
export function accountAction(action: typeof Action.AddMember | typeof Action.RemoveMember, account: string) {
  return { action, payload: encodeAccount(account) };
}

export const LOCKED_DESTINATION: FeeDestination = {
  kind: DestinationKind.Locked,
  target: ZeroAddress,
  recipients: [],
  sharesBps: [],
};

/** A fee destination from its parts, as chat commands and the config give them. */
export function feeDestination(
  spec: { kind: "locked" } | { kind: "custom"; target: string } | { kind: "release"; recipients: { address: string; shareBps: number }[] },
): FeeDestination {
  if (spec.kind === "locked") return LOCKED_DESTINATION;
  if (spec.kind === "custom") return { kind: DestinationKind.Custom, target: spec.target, recipients: [], sharesBps: [] };
  return {
    kind: DestinationKind.Release,
    target: ZeroAddress,
    recipients: spec.recipients.map((r) => r.address),
    sharesBps: spec.recipients.map((r) => r.shareBps),
  };
}

/**
 * A `membersPage` answer (`address[] accounts, uint64[] expiries`), read
 * from its ABI words directly: addresses in lower case, expiries as numbers.
 * ethers' decoder builds a `Result` and checksums every address (a keccak
 * each), most of the bridge's CPU in a full pass over many members. Throws,
 * as ethers does, on an answer that is not such a pair (a call to an
 * account without code answers "0x").
 */
export function decodeMembersPage(data: string): { accounts: string[]; expiries: number[] } {
  const hex = data.startsWith("0x") ? data.slice(2) : data;
  const words = hex.length / 64;
  if (!Number.isInteger(words) || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error(`membersPage: not ABI words (${data.slice(0, 20)}…)`);
  const word = (i: number) => {
    if (i >= words) throw new Error(`membersPage: ${words} words, word ${i} read`);
    return hex.slice(i * 64, i * 64 + 64);
  };
  // An offset or a length: small, a whole number of words for offsets.
  const small = (i: number) => {
    const w = word(i);
    if (!/^0{48}/.test(w)) throw new Error(`membersPage: word ${i} is not a length or an offset`);
    return parseInt(w.slice(48), 16);
  };
  const array = (head: number) => {
    const offset = small(head);
    if (offset % 32 !== 0) throw new Error(`membersPage: offset ${offset} is not a whole number of words`);
    const at = offset / 32;
    const length = small(at);
    if (at + length >= words) throw new Error(`membersPage: an array of ${length} past the end`);
    return { start: at + 1, length };
  };
  const a = array(0);
  const e = array(1);
  if (a.length !== e.length) throw new Error(`membersPage: ${a.length} accounts, ${e.length} expiries`);
  const accounts: string[] = new Array<string>(a.length);
  const expiries: number[] = new Array<number>(e.length);
  for (let i = 0; i < a.length; i++) {
    const w = word(a.start + i);
    if (!/^0{24}/.test(w)) throw new Error(`membersPage: account ${i} is not an address`);
    accounts[i] = `0x${w.slice(24).toLowerCase()}`;
    // A uint64 is the word's low 8 bytes (ethers masks the rest too); the sum
    // of the halves rounds once, as converting the whole number would.
    const x = word(e.start + i);
    expiries[i] = parseInt(x.slice(48, 56), 16) * 2 ** 32 + parseInt(x.slice(56), 16);
  }
  return { accounts, expiries };
}
