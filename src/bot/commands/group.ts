/**
 * `!dao create`, `!status`, `!members`, `!join`.
 */
import { formatUnits, keccak256, parseUnits, toUtf8Bytes, ZeroAddress } from "ethers";
import { Refusal, type Answer, type Ctx } from "../context.ts";
import type { GroupOptions } from "./parse.ts";
import { answer, formatDuration, formatPercent, formatTime, shortAddress } from "../../text/format.ts";
import { isCreator, requireBinding, requireLink, userOf } from "../guards.ts";
import { recordLink } from "./linking.ts";
import { humanChainError } from "../../governance/errors.ts";
import { DestinationKind, Mode, QUORUM_DEFAULT, type GroupConfig, type GroupSettings } from "../../governance/types.ts";
import type { Link } from "../../store/store.ts";

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

/** `!dao create [options]`: the room becomes a group; founders are the members who linked. */
export async function daoCreate(ctx: Ctx, options: GroupOptions): Promise<Answer> {
  // Run again after a crash, this command follows the group it created.
  if (!ctx.resumed && (await ctx.store.getBinding(ctx.roomId))) throw new Refusal("This room is already a group. !status shows it.");
  if (!isCreator(ctx.settings.creators, ctx.sender)) throw new Refusal("This bot's operator has not allowed you to create groups.");
  const joined = (await ctx.rooms.joinedMembers(ctx.roomId)).filter((u) => u !== ctx.settings.botUserId);
  if (!ctx.resumed && joined.length < 3) throw new Refusal(`A group is more than 2 people: this room has ${joined.length} besides the bot.`);
  const founders: { user: string; link: Link }[] = [];
  for (const u of joined) {
    const link = await ctx.store.getLink(ctx.roomId, u);
    if (link) founders.push({ user: u, link });
  }
  if (founders.length === 0) throw new Refusal(`Nobody here has linked an address yet. Founders send ${ctx.settings.prefix}link 0xADDRESS first.`);
  if (!founders.some((f) => f.user === ctx.sender)) throw new Refusal(`Link your own address first (${ctx.settings.prefix}link 0xADDRESS): founders are the members who linked.`);
  const base: GroupSettings = { ...ctx.settings.defaults, linker: ctx.chain.botAddress };
  const settings = await applyOptions(ctx, base, options, ctx.settings.feeDecimals);
  const addresses = founders.map((f) => f.link.address);
  const ref = keccak256(toUtf8Bytes(ctx.roomId));
  const { group, block } = await ctx.chain.createGroup(`create:${ctx.roomId}:${ctx.eventId}`, settings, ctx.settings.defaultDestination, addresses, ref);
  const { chainId } = await ctx.chain.domain(group);
  if (!(await ctx.store.getBinding(ctx.roomId))) {
    await ctx.store.putBinding({ roomId: ctx.roomId, group, chainId: Number(chainId), createdBy: ctx.sender, createdAt: Date.now(), fromBlock: block });
  }
  const warnings: string[] = [];
  try {
    await ctx.rooms.makePrivate(ctx.roomId);
  } catch (e) {
    warnings.push(`I could not make the room invite-only with history from joining on (${(e as Error).message.slice(0, 80)}): give me power level 100 and send ${ctx.settings.prefix}status.`);
  }
  for (const f of founders) {
    // The group exists: a link not recorded now (the room's gas budget, the chain) is said, not fatal.
    await recordLink(ctx, group, ctx.roomId, f.user).catch((e: unknown) => {
      warnings.push(`I could not record ${f.user}'s link on-chain: ${e instanceof Refusal ? e.message : humanChainError(e).human}`);
    });
  }
  return answer(`This room is now a group: ${group}`, [
    `Founders (active, first period paid): ${founders.map((f) => f.user).join(", ")}`,
    ...describeSettings(settings),
    `Founders: send ${ctx.settings.prefix}authorize to vote, propose and delegate from chat.`,
    ...warnings,
  ]);
}

/** `!status`: the group and your standing. */
export async function status(ctx: Ctx): Promise<Answer> {
  const b = await requireBinding(ctx);
  const settings = await ctx.chain.settings(b.group);
  const lines = [`Group contract: ${b.group}`, ...describeSettings(settings)];
  const l = await ctx.store.getLink(ctx.roomId, ctx.sender);
  if (!l) {
    lines.push(`You: not linked (${ctx.settings.prefix}link 0xADDRESS).`);
  } else {
    const m = await ctx.chain.member(b.group, l.address);
    const standing = m.isMember ? (m.active ? `active, paid through ${formatTime(m.expiresAt)}` : `lapsed since ${formatTime(m.expiresAt)}`) : m.approved ? "approved, not accepted yet" : "not a member";
    lines.push(`You: ${shortAddress(l.address)}, ${standing}`);
    if (m.delegate !== ZeroAddress) lines.push(`You delegate to ${(await userOf(ctx, m.delegate)) ?? shortAddress(m.delegate)}.`);
    if (m.delegatorsIn > 0) lines.push(`${m.delegatorsIn} member(s) delegate to you.`);
    lines.push(m.relayer.toLowerCase() === ctx.chain.botAddress.toLowerCase() ? "The bot may act for you from chat." : `The bot may not act for you (${ctx.settings.prefix}authorize).`);
  }
  const funds = await ctx.spending?.statusLine();
  if (funds) lines.push(funds);
  lines.push(auditLine(await ctx.store.countReuses(ctx.roomId)));
  return answer("Group status", lines);
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
  if (m.isMember && m.active) return answer("You are an active member", [`Paid through ${formatTime(m.expiresAt)}. To pay ahead, call renew(${l.address}) on ${b.group} with ${fee}; it extends from that date.`]);
  if (!m.isMember && !m.approved && !open) throw new Refusal("You are not approved yet: a member must propose adding you (!propose add), and the proposal must pass.");
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
    `Pay ${fee} from ${shortAddress(l.address)}: call ${call} on ${b.group} from your wallet${ctx.settings.webUrl ? `, or use ${ctx.settings.webUrl}/join?group=${b.group}` : ""}.`,
    c.fee === 0n ? `Or send ${ctx.settings.prefix}authorize, and then ${ctx.settings.prefix}join again: the bot accepts for you.` : "The bot does not pay fees for members.",
  ]);
}

export { DestinationKind };
