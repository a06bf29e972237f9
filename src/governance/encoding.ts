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
