/**
 * What a proposal does, in full, so that nobody votes for a change they
 * cannot see: each changed setting as old → new in human units (and only
 * the changed ones), mode, admins, controller and linker changes with their
 * addresses, every recipient and share of a fee destination, and custom
 * calls decoded (target, value, function and arguments where the ABI is
 * known, the raw selector otherwise). The announcement, `!proposal N` and
 * `!proposals` all say it, in the plain body and in HTML alike.
 */
import { AbiCoder, formatUnits, Interface, ZeroAddress, type InterfaceAbi, type Result } from "ethers";
import type { Ctx } from "../context.ts";
import { userOf } from "../guards.ts";
import { formatDuration, formatPercent } from "../../text/format.ts";
import { DESTINATION_TUPLE, SETTINGS_TUPLE } from "../../governance/encoding.ts";
import { FACTORY_ABI, GROUP_ABI } from "../../governance/contracts.ts";
import { Action, DestinationKind, QUORUM_DEFAULT, type GroupConfig, type GroupSettings } from "../../governance/types.ts";

const coder = AbiCoder.defaultAbiCoder();
const MODE = ["vote", "admin", "external"];

/** The interfaces a custom call is decoded with: the group's own, the factory's, and ERC-20's. */
const KNOWN: { name: string; iface: Interface }[] = [
  { name: "group", iface: new Interface(GROUP_ABI) },
  { name: "group factory", iface: new Interface(FACTORY_ABI) },
  {
    name: "ERC-20 token",
    iface: new Interface([
      "function transfer(address to, uint256 amount)",
      "function approve(address spender, uint256 amount)",
      "function transferFrom(address from, address to, uint256 amount)",
    ] as InterfaceAbi),
  },
];

/** What a proposal does: a one-line summary and the parts it is made of. */
export interface Effect {
  summary: string;
  /** each change, one per line (empty when the summary says it all) */
  changes: string[];
}

/** "@alice:server (0xFull…)" when the address is linked here, else the address. */
async function who(ctx: Ctx, address: string): Promise<string> {
  const u = await userOf(ctx, address);
  return u ? `${u} (${address})` : address;
}

function fee(ctx: Ctx, c: GroupConfig): string {
  if (c.fee === 0n) return "free";
  if (c.feeToken === ZeroAddress) return `${formatUnits(c.fee, 18)} (native coin)`;
  if (c.feeToken === ctx.settings.defaults.config.feeToken) return `${formatUnits(c.fee, ctx.settings.feeDecimals)} of token ${c.feeToken}`;
  return `${c.fee} smallest units of token ${c.feeToken}`;
}

function period(seconds: number): string {
  return seconds === 0 ? "once (for life)" : formatDuration(seconds);
}

function quorum(c: GroupConfig, bps: number): string {
  return bps === QUORUM_DEFAULT ? `the default (${formatPercent(c.defaultQuorumBps)})` : formatPercent(bps);
}

async function admins(ctx: Ctx, list: string[]): Promise<string> {
  if (list.length === 0) return "none";
  const named: string[] = [];
  for (const a of list) named.push(await who(ctx, a));
  return named.join(", ");
}

/** The settings that differ, each "what old → new"; without `before`, each "what → new". */
export async function settingsChanges(ctx: Ctx, before: GroupSettings | undefined, after: GroupSettings): Promise<string[]> {
  const out: string[] = [];
  const a = after.config;
  const b = before?.config;
  const line = (what: string, old: string | undefined, now: string) => {
    if (old !== now) out.push(old === undefined ? `${what} → ${now}` : `${what} ${old} → ${now}`);
  };
  const q = (c: GroupConfig | undefined, pick: (c: GroupConfig) => number) => (c ? quorum(c, pick(c)) : undefined);
  line("default quorum", b && formatPercent(b.defaultQuorumBps), formatPercent(a.defaultQuorumBps));
  line(
    "quorum to add a member",
    q(b, (c) => c.addQuorumBps),
    quorum(a, a.addQuorumBps),
  );
  line(
    "quorum to remove a member",
    q(b, (c) => c.removeQuorumBps),
    quorum(a, a.removeQuorumBps),
  );
  line(
    "quorum to change settings",
    q(b, (c) => c.configQuorumBps),
    quorum(a, a.configQuorumBps),
  );
  line(
    "quorum to change the fee destination",
    q(b, (c) => c.feeDestinationQuorumBps),
    quorum(a, a.feeDestinationQuorumBps),
  );
  line(
    "quorum of custom calls",
    q(b, (c) => c.customQuorumBps),
    quorum(a, a.customQuorumBps),
  );
  line("voting", b && formatDuration(b.votingPeriod), formatDuration(a.votingPeriod));
  line("period", b && period(b.period), period(a.period));
  line("grace", b && formatDuration(b.gracePeriod), formatDuration(a.gracePeriod));
  line("fee", b && fee(ctx, b), fee(ctx, a));
  // Its own line: a fee of 0 says "free" whatever the token, and the token is what a later fee is paid in.
  const token = (c: GroupConfig) => (c.feeToken === ZeroAddress ? "the native coin" : c.feeToken);
  line("fee token", b && token(b), token(a));
  line("open proposals per member", b && String(b.maxOpenProposals), String(a.maxOpenProposals));
  line("mode", b && (MODE[b.mode] ?? String(b.mode)), MODE[a.mode] ?? String(a.mode));
  line("custom calls", b && (b.customCallsAllowed ? "on" : "off"), a.customCallsAllowed ? "on" : "off");
  const addr = (x: string) => (x === ZeroAddress ? "none" : x);
  line("governing contract (controller)", before && addr(before.controller), addr(after.controller));
  line("linker (the account that records Matrix links)", before && addr(before.linker), addr(after.linker));
  const same =
    before !== undefined && before.admins.length === after.admins.length && before.admins.every((x, i) => x.toLowerCase() === after.admins[i]?.toLowerCase());
  if (!same)
    out.push(
      before === undefined ? `admins → ${await admins(ctx, after.admins)}` : `admins ${await admins(ctx, before.admins)} → ${await admins(ctx, after.admins)}`,
    );
  return out;
}

export function decodeSettings(payload: string): GroupSettings {
  const s = coder.decode([SETTINGS_TUPLE], payload)[0] as Result;
  const raw = (s.getValue("config") as Result).toObject();
  // Numbers as the rest of the bot has them: the fee stays a bigint, the rest are small.
  const config = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, k !== "fee" && typeof v === "bigint" ? Number(v) : v])) as unknown as GroupConfig;
  return {
    config,
    controller: String(s.getValue("controller")),
    linker: String(s.getValue("linker")),
    admins: (s.getValue("admins") as Result).toArray().map(String),
  };
}

async function destination(ctx: Ctx, payload: string): Promise<Effect> {
  const [d] = coder.decode([DESTINATION_TUPLE], payload) as unknown as [{ kind: bigint; target: string; recipients: string[]; sharesBps: bigint[] }];
  const kind = Number(d.kind);
  if (kind === DestinationKind.Locked) return { summary: "fee destination → locked: fees stay in the group contract", changes: [] };
  if (kind === DestinationKind.Custom) return { summary: `fee destination → custom: all fees go to the contract ${await who(ctx, d.target)}`, changes: [] };
  const shares: string[] = [];
  for (const [i, r] of d.recipients.entries()) shares.push(`${await who(ctx, r)} ${formatPercent(Number(d.sharesBps[i] ?? 0))}`);
  return { summary: `fee destination → release, at most once a month, to ${d.recipients.length} recipient(s)`, changes: shares };
}

function custom(payload: string): Effect {
  const [target, value, data] = coder.decode(["address", "uint256", "bytes"], payload) as unknown as [string, bigint, string];
  const sends = value === 0n ? "no coin" : `${formatUnits(value, 18)} (native coin)`;
  for (const k of KNOWN) {
    let parsed;
    try {
      parsed = k.iface.parseTransaction({ data, value });
    } catch {
      parsed = null;
    }
    if (!parsed) continue;
    const args = parsed.fragment.inputs.map((input, i) => `${input.name || `arg${i}`} = ${String(parsed.args[i])}`);
    return {
      summary: `custom call: ${parsed.name}(${args.join(", ")}) on ${target} (read as the ${k.name} interface), sending ${sends}`,
      changes: [],
    };
  }
  const selector = data.length >= 10 ? data.slice(0, 10) : data;
  return {
    summary: `custom call to ${target}, sending ${sends}: function ${selector === "0x" ? "none (a plain transfer)" : `with selector ${selector} (unknown to this bot)`}, ${Math.max(0, (data.length - 10) / 2)} bytes of arguments`,
    changes: [],
  };
}

/**
 * The effect of a proposal. `before` is the group's settings the change is
 * compared with (at the proposal's creation); without it, a settings change
 * lists every setting with its new value.
 */
export async function effectOf(ctx: Ctx, action: number, payload: string, before?: GroupSettings): Promise<Effect> {
  try {
    if (action === Action.AddMember || action === Action.RemoveMember) {
      const [a] = coder.decode(["address"], payload) as unknown as [string];
      return { summary: `${action === Action.AddMember ? "add" : "remove"} ${await who(ctx, a)}`, changes: [] };
    }
    if (action === Action.Config) {
      const changes = await settingsChanges(ctx, before, decodeSettings(payload));
      if (changes.length === 0) return { summary: "change the settings: nothing would change", changes: [] };
      return {
        summary: changes.length === 1 ? `change the settings: ${changes[0]}` : `change ${changes.length} settings`,
        changes: changes.length === 1 ? [] : changes,
      };
    }
    if (action === Action.FeeDestination) return await destination(ctx, payload);
    if (action === Action.Custom) return custom(payload);
    return { summary: `an action of a kind this bot does not know (${action})`, changes: [] };
  } catch {
    return { summary: "an action this bot cannot read: check it on-chain before voting", changes: [] };
  }
}

/** The effect on one line, for lists. */
export function oneLine(e: Effect): string {
  return e.changes.length === 0 ? e.summary : `${e.summary}: ${e.changes.join("; ")}`;
}
