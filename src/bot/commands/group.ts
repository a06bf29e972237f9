/**
 * `!status`, `!members`, `!join`, and the settings options shared by `!dao create` and `!propose config`.
 */
import { formatUnits, parseUnits, ZeroAddress } from "ethers";
import { Refusal, type Answer, type Ctx } from "../context.ts";
import type { GroupOptions } from "./parse.ts";
import { answer, formatDuration, formatPercent, formatTime, shortAddress } from "../../text/format.ts";
import { requireBinding, requireLink, userOf } from "../guards.ts";
import { DestinationKind, Mode, QUORUM_DEFAULT, type GroupConfig, type GroupSettings } from "../../governance/types.ts";
import type { MemberInfo } from "../../governance/client.ts";

const MODE_NAME = ["vote", "admin", "external"];

/** Applies chat options to settings; admins are resolved to linked addresses in `roomId`. */
export async function applyOptions(ctx: Ctx, base: GroupSettings, o: GroupOptions, decimals: number): Promise<GroupSettings> {
  const c: GroupConfig = { ...base.config };
  if (o.feeToken !== undefined) c.feeToken = o.feeToken === "native" ? ZeroAddress : o.feeToken;
  if (o.fee !== undefined) {
    try {
      c.fee = parseUnits(o.fee, decimals);
    } catch {
      throw new Refusal(`The fee ${o.fee} has more decimals than the token (${decimals}).`);
    }
  }
  if (o.period !== undefined) c.period = o.period;
  if (o.gracePeriod !== undefined) c.gracePeriod = o.gracePeriod;
  if (o.votingPeriod !== undefined) c.votingPeriod = o.votingPeriod;
  if (o.mode !== undefined) c.mode = o.mode;
  if (o.defaultQuorumBps !== undefined) c.defaultQuorumBps = o.defaultQuorumBps;
  if (o.addQuorumBps !== undefined) c.addQuorumBps = o.addQuorumBps;
  if (o.removeQuorumBps !== undefined) c.removeQuorumBps = o.removeQuorumBps;
  if (o.configQuorumBps !== undefined) c.configQuorumBps = o.configQuorumBps;
  if (o.feeDestinationQuorumBps !== undefined) c.feeDestinationQuorumBps = o.feeDestinationQuorumBps;
  if (o.customQuorumBps !== undefined) c.customQuorumBps = o.customQuorumBps;
  if (o.customCallsAllowed !== undefined) c.customCallsAllowed = o.customCallsAllowed;
  if (o.maxOpenProposals !== undefined) c.maxOpenProposals = o.maxOpenProposals;
  let admins = base.admins;
  if (o.admins !== undefined) {
    admins = [];
    for (const u of o.admins) {
      const l = await ctx.store.getLink(ctx.roomId, u);
      if (!l) throw new Refusal(`Admin ${u} has not linked an address in this room.`);
      admins.push(l.address);
    }
  }
  const controller = o.controller ?? base.controller;
  if (c.mode === Mode.Admin && admins.length === 0) throw new Refusal("Admin mode needs admins: add admins=@alice,@bob.");
  if (c.mode === Mode.External && controller === ZeroAddress) {
    throw new Refusal("External mode needs the governing contract: add controller=0x… (a Governor's timelock, a Safe…).");
  }
  return { ...base, config: c, admins, controller };
}

/** A settings summary, one line per setting. */
export function describeSettings(s: GroupSettings): string[] {
  const c = s.config;
  const q = (bps: number) => (bps === QUORUM_DEFAULT ? `${formatPercent(c.defaultQuorumBps)} (default)` : formatPercent(bps));
  const fee = c.fee === 0n ? "free" : `${formatUnits(c.fee)} ${c.feeToken === ZeroAddress ? "(native coin)" : `of token ${shortAddress(c.feeToken)}`}`;
  return [
    `Fee: ${fee}, ${c.period === 0 ? "paid once, for life" : `every ${formatDuration(c.period)}`}, grace ${formatDuration(c.gracePeriod)}`,
    `Voting period: ${formatDuration(c.votingPeriod)}; mode: ${MODE_NAME[c.mode] ?? c.mode}`,
    `Quorums: default ${formatPercent(c.defaultQuorumBps)}, add ${q(c.addQuorumBps)}, remove ${q(c.removeQuorumBps)}, config ${q(c.configQuorumBps)}, fee destination ${q(c.feeDestinationQuorumBps)}`,
  ];
}

/** `!status`: the group and your standing. */
export async function status(ctx: Ctx): Promise<Answer> {
  const pending = await ctx.store.getCreation(ctx.roomId);
  if (pending && !(await ctx.store.getBinding(ctx.roomId))) {
    const consents = await ctx.store.listConsents(ctx.roomId, pending.code);
    return answer("Not a group yet", [
      `${pending.createdBy} previewed one (preview ${pending.code}, until ${formatTime(Math.floor(pending.expiresAt / 1000))}); consents so far: ${consents.length ? consents.join(", ") : "none"}.`,
      `Founders named in it send ${ctx.settings.prefix}dao confirm ${pending.code}.`,
    ]);
  }
  const b = await requireBinding(ctx);
  const settings = await ctx.chain.settings(b.group);
  const lines = [`Group contract: ${b.group}`, ...describeSettings(settings), renewalRule(ctx, settings.config)];
  const policy = await ctx.store.getRoomPolicy(ctx.roomId);
  if (policy?.mode === "watch") lines.push(`Room: watch mode, I only say what I would do (${ctx.settings.prefix}dao enforce, by a room admin, lets me act).`);
  else if (policy && policy.adoptUntil > Date.now())
    lines.push(
      `Room: enforced; people who were here before the group and are not members keep their place until ${formatTime(Math.floor(policy.adoptUntil / 1000))}.`,
    );
  else lines.push("Room: enforced, it follows the group.");
  const l = await ctx.store.getLink(ctx.roomId, ctx.sender);
  if (!l) {
    lines.push(`You: not linked (${ctx.settings.prefix}link 0xADDRESS).`);
  } else {
    const m = await ctx.chain.member(b.group, l.address);
    const standing = m.isMember
      ? m.active
        ? `active, paid through ${formatTime(m.expiresAt)}`
        : `lapsed since ${formatTime(m.expiresAt)}`
      : m.approved
        ? "approved, not accepted yet"
        : "not a member";
    lines.push(`You: ${shortAddress(l.address)}, ${standing}`);
    const renew = yourRenewal(ctx, settings.config, m);
    if (renew) lines.push(renew);
    if (m.delegate !== ZeroAddress) lines.push(`You delegate to ${(await userOf(ctx, m.delegate)) ?? shortAddress(m.delegate)}.`);
    if (m.delegatorsIn > 0) lines.push(`${m.delegatorsIn} member(s) delegate to you.`);
    lines.push(
      m.relayer.toLowerCase() === ctx.chain.botAddress.toLowerCase()
        ? "The bot may act for you from chat."
        : `The bot may not act for you (${ctx.settings.prefix}authorize).`,
    );
  }
  const funds = await ctx.spending?.statusLine();
  if (funds) lines.push(funds);
  lines.push(auditLine(await ctx.store.countReuses(ctx.roomId)));
  return answer("Group status", lines);
}

/** How membership is kept, for everyone: when members renew and what happens to one who does not. */
function renewalRule(ctx: Ctx, c: GroupConfig): string {
  if (c.period === 0) return "Membership: paid once, for life; nothing to renew.";
  const how = c.fee === 0n ? `free, but renewed with ${ctx.settings.prefix}join` : `renewed by paying the fee again (${ctx.settings.prefix}join says how)`;
  return `Membership: ${how} every ${formatDuration(c.period)}. A member who has not renewed by the end of its period stops counting at once, and ${formatDuration(c.gracePeriod)} later is removed from the group and from this room.`;
}

/** When the sender must renew, and what happens if not. */
function yourRenewal(ctx: Ctx, c: GroupConfig, m: MemberInfo): string | undefined {
  if (!m.isMember || c.period === 0 || m.expiresAt >= 0xffffffff) return undefined;
  const removal = formatTime(m.expiresAt + c.gracePeriod);
  const join = `${ctx.settings.prefix}join`;
  if (m.active)
    return `Renew before ${formatTime(m.expiresAt)} (${join}${c.fee === 0n ? ", free" : ""}): after that your vote no longer counts, and from ${removal} you are removed.`;
  return `Renew now (${join}${c.fee === 0n ? ", free" : ""}): your vote does not count, and from ${removal} you are removed.`;
}

/** What `!status` says of the rotation audit (src/bridge/rotation-audit.ts). */
function auditLine(reused: number): string {
  if (reused === 0) return "Rotation audit: no message used a room key that someone who left may still hold.";
  return `Rotation audit: ${reused} message${reused === 1 ? "" : "s"} used a room key that someone who left may still hold (members' clients must start a new key when someone leaves).`;
}

/** `!members`: members with their paid-through dates. */
export async function members(ctx: Ctx): Promise<Answer> {
  const b = await requireBinding(ctx);
  const all = (await ctx.chain.members(b.group)).filter((m) => m.isMember);
  const lines: string[] = [];
  for (const m of all) {
    const who = (await userOf(ctx, m.address)) ?? shortAddress(m.address);
    const until = m.active ? `paid through ${formatTime(m.expiresAt)}` : `LAPSED since ${formatTime(m.expiresAt)}`;
    const delegate = m.delegate !== ZeroAddress ? `, delegates to ${(await userOf(ctx, m.delegate)) ?? shortAddress(m.delegate)}` : "";
    lines.push(`${who} (${shortAddress(m.address)}): ${until}${delegate}`);
  }
  return answer(`${all.length} member(s), ${all.filter((m) => m.active).length} active`, lines);
}

/** `!join`: accept membership once approved (or renew), or say how to pay. */
export async function join(ctx: Ctx): Promise<Answer> {
  const b = await requireBinding(ctx);
  const l = await requireLink(ctx);
  const [m, s] = await Promise.all([ctx.chain.member(b.group, l.address), ctx.chain.settings(b.group)]);
  const c = s.config;
  const open = c.mode !== Mode.External && (c.addQuorumBps === QUORUM_DEFAULT ? c.defaultQuorumBps : c.addQuorumBps) === 0;
  const fee = c.fee === 0n ? "no fee" : `a fee of ${formatUnits(c.fee)}${c.feeToken === ZeroAddress ? "" : ` (token ${c.feeToken})`}`;
  if (m.isMember && m.active)
    return answer("You are an active member", [
      `Paid through ${formatTime(m.expiresAt)}. To pay ahead, call renew(${l.address}) on ${b.group} with ${fee}; it extends from that date.`,
    ]);
  if (!m.isMember && !m.approved && !open)
    throw new Refusal("You are not approved yet: a member must propose adding you (!propose add), and the proposal must pass.");
  const relayed = m.relayer.toLowerCase() === ctx.chain.botAddress.toLowerCase();
  if (c.fee === 0n && relayed) {
    if (m.isMember) {
      await ctx.chain.call(`renew:${b.group}:${l.address}:${ctx.eventId}`, b.group, "renew", [l.address], `renew ${ctx.sender}`);
    } else {
      await ctx.chain.call(`join:${b.group}:${l.address}:${ctx.eventId}`, b.group, "joinFor", [l.address], `accept membership for ${ctx.sender}`);
    }
    const after = await ctx.chain.member(b.group, l.address);
    return answer(`Welcome, ${ctx.sender}`, [`You are an active member, paid through ${formatTime(after.expiresAt)}.`]);
  }
  const call = m.isMember ? `renew(${l.address})` : "join()";
  return answer(m.isMember ? "Renew your membership" : "Accept your membership", [
    `Pay ${fee} from ${shortAddress(l.address)}: call ${call} on ${b.group} from your wallet${ctx.settings.webUrl ? `, or use ${ctx.settings.webUrl}/g/${b.group}/join` : ""}.`,
    c.fee === 0n
      ? `Or send ${ctx.settings.prefix}authorize, and then ${ctx.settings.prefix}join again: the bot accepts for you.`
      : "The bot does not pay fees for members.",
  ]);
}

export { DestinationKind };
