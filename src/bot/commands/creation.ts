/**
 * Binding a room to a group, with the founders' consent:
 * `!dao create` (room admins) answers with a preview, the settings in words,
 * the founders and who is not a member yet, under a code; each founder
 * consents with `!dao confirm CODE`; once all have, within the consent
 * window, the group is created. Nothing is sent on-chain before that. A new
 * `!dao create` or a founder's `!dao decline` makes a new preview (a new
 * code), which needs everyone's consent again; `!dao cancel` drops it.
 * `!dao watch` / `!dao enforce` (room admins) switch what the bridge does in
 * the room.
 *
 * Every step is kept in the store (the preview, each consent), so a restart
 * between preview and confirmation loses nothing.
 */
import { formatUnits, getAddress, keccak256, toUtf8Bytes, ZeroAddress } from "ethers";
import { Refusal, type Answer, type Ctx } from "../context.ts";
import type { GroupOptions } from "./parse.ts";
import { answer, formatDuration, formatPercent, formatTime } from "../../text/format.ts";
import { isCreator, userOf } from "../guards.ts";
import { applyOptions } from "./group.ts";
import { recordLink } from "./linking.ts";
import { humanChainError } from "../../governance/errors.ts";
import { DestinationKind, Mode, QUORUM_DEFAULT, type FeeDestination, type GroupSettings } from "../../governance/types.ts";
import { isRoomAdmin, powerOf, ROOM_ADMIN_POWER, type RoomPowers } from "../../ports/rooms.ts";
import type { PendingCreation, RoomMode } from "../../store/store.ts";
import { decodePlan, encodePlan, previewCode, type CreationPlan, type Founder } from "../plan.ts";

/** The settings of a group in words, every one of them, as founders read them before consenting. */
export async function settingsInWords(ctx: Ctx, s: GroupSettings, d: FeeDestination): Promise<string[]> {
  const c = s.config;
  const who = async (a: string) => {
    const u = await userOf(ctx, a);
    return u ? `${u} (${getAddress(a)})` : getAddress(a);
  };
  const fee =
    c.fee === 0n
      ? "free"
      : c.feeToken === ZeroAddress
        ? `${formatUnits(c.fee, 18)} (native coin)`
        : c.feeToken === ctx.settings.defaults.config.feeToken
          ? `${formatUnits(c.fee, ctx.settings.feeDecimals)} of the token ${c.feeToken}`
          : `${c.fee} smallest units of the token ${c.feeToken}`;
  const q = (bps: number) => (bps === QUORUM_DEFAULT ? `the default (${formatPercent(c.defaultQuorumBps)})` : formatPercent(bps));
  const lines = [
    `Membership: ${fee}, ${c.period === 0 ? "paid once, for life" : `paid every ${formatDuration(c.period)}`}; a member who has not paid stops counting at once and may be removed ${formatDuration(c.gracePeriod)} later.`,
    `Proposals: open for ${formatDuration(c.votingPeriod)}; one passes when YES reaches its quorum of the members at its start and YES > NO; each member may have ${c.maxOpenProposals} open at a time.`,
    `Quorums: default ${formatPercent(c.defaultQuorumBps)}; to add a member ${q(c.addQuorumBps)}; to remove one ${q(c.removeQuorumBps)}; to change settings ${q(c.configQuorumBps)}; to change where fees go ${q(c.feeDestinationQuorumBps)}; custom calls ${q(c.customQuorumBps)}.`,
  ];
  if (c.mode === Mode.Admin) {
    const names: string[] = [];
    for (const a of s.admins) names.push(await who(a));
    lines.push(
      `Mode: admin. These admins add and remove members without a vote: ${names.join(", ")}. Members still vote on everything else, admins and mode included.`,
    );
  } else if (c.mode === Mode.External) {
    lines.push(`Mode: external. The contract ${s.controller} decides who is a member (a Governor's timelock, a Safe…); members vote on everything else.`);
  } else {
    lines.push("Mode: vote. Every member is equal; members are added and removed by proposals.");
  }
  lines.push(c.customCallsAllowed ? "Custom calls: allowed (proposals may call any contract from the group)." : "Custom calls: not allowed.");
  if (d.kind === DestinationKind.Release) {
    const shares: string[] = [];
    for (const [i, r] of d.recipients.entries()) shares.push(`${await who(r)} ${formatPercent(d.sharesBps[i] ?? 0)}`);
    lines.push(`Fees: released at most once a month to ${shares.join(", ")}.`);
  } else if (d.kind === DestinationKind.Custom) {
    lines.push(`Fees: all go to the contract ${d.target}.`);
  } else {
    lines.push("Fees: kept in the group contract.");
  }
  return lines;
}

/** What the bot needs to make the room follow the group, said before anyone consents. */
function powerWarning(ctx: Ctx, p: RoomPowers): string | undefined {
  const need = Math.max(ROOM_ADMIN_POWER, p.ban, p.kick, p.invite);
  if (p.mine >= need) return undefined;
  return `Warning: my power level here is ${p.mine}. I need ${need} to keep the room closed, invite members and remove others: a room admin should raise it before the group starts (${ctx.settings.prefix}status says it later too).`;
}

/** The preview as founders read it. */
async function preview(ctx: Ctx, c: PendingCreation, plan: CreationPlan, consented: string[], warning?: string): Promise<Answer> {
  const pre = ctx.settings.prefix;
  const grace = ctx.settings.adoptionGraceMs;
  const founders = plan.founders.map((f) => `${f.userId} (${f.address})${consented.includes(f.userId) ? ": consents" : ""}`);
  const lines = [
    `Nothing is created and nothing is spent until every founder consents: send ${pre}dao confirm ${c.code} here before ${formatTime(Math.floor(c.expiresAt / 1000))}.`,
    ...(await settingsInWords(ctx, plan.settings, plan.destination)),
    `Founders (active members from the start, their first period paid): ${founders.join(", ")}.`,
    plan.notMembers.length === 0
      ? "Everyone in the room is a founder."
      : `Not members yet: ${plan.notMembers.join(", ")}. ${
          grace > 0
            ? `They keep their place for ${formatDuration(Math.round(grace / 1000))} once the room is enforced, are told how to join and reminded, and are then removed if they have not joined.`
            : "They are removed once the room is enforced."
        }`,
    plan.mode === "watch"
      ? `The room starts in watch mode: I only say what I would do, until a room admin sends ${pre}dao enforce.`
      : "Once the group exists I keep the room closed (invite-only, history from joining on, encrypted; only room admins change that) and make it follow the group.",
    `A founder who does not want to be one sends ${pre}dao decline; ${pre}dao cancel drops this preview; a new ${pre}dao create replaces it and needs everyone's consent again.`,
  ];
  if (warning) lines.push(warning);
  return answer(`Preview ${c.code} of the group for this room`, lines);
}

/** The founders: all the joined members who linked, or those named (each joined and linked). */
async function foundersOf(ctx: Ctx, joined: string[], named: string[] | undefined): Promise<Founder[]> {
  const out: Founder[] = [];
  for (const u of named ?? joined) {
    const link = await ctx.store.getLink(ctx.roomId, u);
    if (named !== undefined && !joined.includes(u)) throw new Refusal(`${u} is not in this room: founders are among its members.`);
    if (!link) {
      if (named !== undefined)
        throw new Refusal(`${u} has not linked an address here (${ctx.settings.prefix}link 0xADDRESS): founders are members who linked.`);
      continue;
    }
    // Checksummed: as the founder's wallet shows it.
    out.push({ userId: u, address: getAddress(link.address) });
  }
  return out;
}

/** Refuses unless the sender may start a group in this room: the operator allows them, and they are a room admin. */
async function requireRoomAdmin(ctx: Ctx, p: RoomPowers, what: string): Promise<void> {
  if (!isRoomAdmin(p, ctx.sender)) {
    const mine = powerOf(p, ctx.sender);
    throw new Refusal(`Only a room admin (power level ${ROOM_ADMIN_POWER}, or a creator of the room) may ${what}; your power level here is ${mine}.`);
  }
}

/** Refuses in a room that was upgraded: its group, if any, lives in the new room. */
async function requireNotReplaced(ctx: Ctx): Promise<void> {
  const rules = await ctx.rooms.rules(ctx.roomId);
  if (rules.tombstone) throw new Refusal(`This room was replaced by ${rules.tombstone.replacement} (a room upgrade): it cannot become a group.`);
}

/** `!dao create [watch] [founders=…] [options]`: the preview. */
export async function daoCreate(ctx: Ctx, options: GroupOptions, named: string[] | undefined, watch: boolean): Promise<Answer> {
  const { store, settings } = ctx;
  if (await store.getBinding(ctx.roomId)) throw new Refusal(`This room is already a group. ${settings.prefix}status shows it.`);
  // Run again after a crash: the preview this very command made.
  const pending = await store.getCreation(ctx.roomId);
  const again = pending?.eventId === ctx.eventId ? decodePlan(pending.plan) : undefined;
  if (pending && again) return preview(ctx, pending, again, await store.listConsents(ctx.roomId, pending.code));
  if (!isCreator(settings.creators, ctx.sender)) throw new Refusal("This bot's operator has not allowed you to create groups.");
  await requireNotReplaced(ctx);
  const p = await ctx.rooms.powers(ctx.roomId);
  await requireRoomAdmin(ctx, p, "make this room a group");
  const members = (await ctx.rooms.roomMembers(ctx.roomId)).filter((m) => m.userId !== settings.botUserId);
  const joined = members.filter((m) => m.membership === "join").map((m) => m.userId);
  if (joined.length < 3) throw new Refusal(`A group is more than 2 people: this room has ${joined.length} besides the bot.`);
  const founders = await foundersOf(ctx, joined, named);
  if (founders.length === 0) throw new Refusal(`Nobody here has linked an address yet. Founders send ${settings.prefix}link 0xADDRESS first.`);
  if (!founders.some((f) => f.userId === ctx.sender)) {
    throw new Refusal(`Link your own address first (${settings.prefix}link 0xADDRESS), and be one of the founders: founders are members who linked.`);
  }
  const groupSettings = await applyOptions(ctx, { ...settings.defaults, linker: ctx.chain.botAddress }, options, settings.feeDecimals);
  const destination = settings.defaultDestination;
  // Nobody consents to what the chain would refuse: the factory's checks, run as a call (no gas).
  await ctx.chain.checkCreation(
    groupSettings,
    destination,
    founders.map((f) => f.address),
    keccak256(toUtf8Bytes(ctx.roomId)),
  );
  const isFounder = new Set(founders.map((f) => f.userId));
  const notMembers = members.filter((m) => (m.membership === "join" || m.membership === "invite") && !isFounder.has(m.userId)).map((m) => m.userId);
  const plan: CreationPlan = { settings: groupSettings, destination, founders, notMembers, mode: watch ? "watch" : settings.startIn };
  const now = Date.now();
  const c: PendingCreation = {
    roomId: ctx.roomId,
    code: previewCode(ctx.eventId),
    createdBy: ctx.sender,
    eventId: ctx.eventId,
    createdAt: now,
    expiresAt: now + settings.consentWindowMs,
    plan: encodePlan(plan),
  };
  await store.putCreation(c);
  if (pending) ctx.log(`creation: ${ctx.roomId}: preview ${pending.code} replaced by ${c.code}`);
  return preview(ctx, c, plan, [], powerWarning(ctx, p));
}

/** The pending preview of the room, with its plan, or a refusal saying what to do. */
async function requirePending(ctx: Ctx): Promise<{ c: PendingCreation; plan: CreationPlan }> {
  const c = await ctx.store.getCreation(ctx.roomId);
  const plan = c && decodePlan(c.plan);
  if (!c || !plan) {
    if (await ctx.store.getBinding(ctx.roomId)) throw new Refusal(`This room is already a group. ${ctx.settings.prefix}status shows it.`);
    throw new Refusal(`There is no preview of a group here: a room admin sends ${ctx.settings.prefix}dao create first.`);
  }
  if (Date.now() > c.expiresAt) {
    await ctx.store.deleteCreation(ctx.roomId, c.code);
    throw new Refusal(
      `The preview ${c.code} lapsed at ${formatTime(Math.floor(c.expiresAt / 1000))}: nothing was created. A room admin may send ${ctx.settings.prefix}dao create again.`,
    );
  }
  return { c, plan };
}

/** `!dao confirm CODE`: a founder's consent; the last one creates the group. */
export async function daoConfirm(ctx: Ctx, code: string): Promise<Answer> {
  // Run again after a crash, after its transaction was sent: finish what it started.
  if (ctx.resumed) {
    const c = await ctx.store.getCreation(ctx.roomId);
    const plan = c && decodePlan(c.plan);
    if (c && plan) return create(ctx, c, plan);
    const b = await ctx.store.getBinding(ctx.roomId);
    if (b) return answer(`This room is now a group: ${b.group}`, [`${ctx.settings.prefix}status shows its settings.`]);
  }
  const { c, plan } = await requirePending(ctx);
  if (code !== c.code) {
    throw new Refusal(
      `${code} is not the code of this room's preview: it was replaced or cancelled. Read the preview ${c.code} and send ${ctx.settings.prefix}dao confirm ${c.code} if you consent to it.`,
    );
  }
  const me = plan.founders.find((f) => f.userId === ctx.sender);
  if (!me) throw new Refusal(`Only the founders named in the preview consent to it: ${plan.founders.map((f) => f.userId).join(", ")}.`);
  const link = await ctx.store.getLink(ctx.roomId, ctx.sender);
  if (link?.address.toLowerCase() !== me.address.toLowerCase()) {
    throw new Refusal(`Your link changed since the preview (it showed ${me.address}): a room admin must send ${ctx.settings.prefix}dao create again.`);
  }
  if (!(await ctx.store.addConsent(ctx.roomId, c.code, ctx.sender, Date.now()))) {
    throw new Refusal(`The preview ${c.code} was replaced meanwhile: read the new one before consenting.`);
  }
  const consented = await ctx.store.listConsents(ctx.roomId, c.code);
  const missing = plan.founders.filter((f) => !consented.includes(f.userId));
  if (missing.length > 0) {
    return answer(`${ctx.sender} consents to the preview ${c.code}`, [
      `${plan.founders.length - missing.length} of ${plan.founders.length} founders consent. Waiting for ${missing.map((f) => f.userId).join(", ")} (before ${formatTime(Math.floor(c.expiresAt / 1000))}).`,
    ]);
  }
  return create(ctx, c, plan);
}

/** Every founder consented: the group is created, bound to the room, and the founders' links recorded. */
async function create(ctx: Ctx, c: PendingCreation, plan: CreationPlan): Promise<Answer> {
  const { store, settings } = ctx;
  if (!ctx.resumed) {
    // The room may have changed since the preview: the last checks before any gas is spent.
    await requireNotReplaced(ctx);
    if (!isRoomAdmin(await ctx.rooms.powers(ctx.roomId), c.createdBy)) {
      await store.deleteCreation(ctx.roomId, c.code);
      throw new Refusal(`${c.createdBy}, who asked for this group, is no longer a room admin: the preview ${c.code} is dropped.`);
    }
    for (const f of plan.founders) {
      const l = await store.getLink(ctx.roomId, f.userId);
      if (l?.address.toLowerCase() !== f.address.toLowerCase()) {
        await store.deleteCreation(ctx.roomId, c.code);
        throw new Refusal(`${f.userId} changed their link since the preview: it is dropped. A room admin may send ${settings.prefix}dao create again.`);
      }
    }
  }
  const ref = keccak256(toUtf8Bytes(ctx.roomId));
  const { group, block } = await ctx.chain.createGroup(
    `create:${ctx.roomId}:${c.code}`,
    plan.settings,
    plan.destination,
    plan.founders.map((f) => f.address),
    ref,
  );
  const { chainId } = await ctx.chain.domain(group);
  // Each step once, also when run again after a crash; the preview goes last.
  if (!(await store.getBinding(ctx.roomId))) {
    await store.putBinding({ roomId: ctx.roomId, group, chainId: Number(chainId), createdBy: c.createdBy, createdAt: Date.now(), fromBlock: block });
  }
  if (!(await store.getRoomPolicy(ctx.roomId))) await store.putRoomPolicy({ roomId: ctx.roomId, mode: plan.mode, adoptees: [], adoptUntil: 0 });
  await store.deleteCreation(ctx.roomId, c.code);
  ctx.log(`creation: ${ctx.roomId} is now the group ${group} (preview ${c.code}, ${plan.founders.length} founders, ${plan.mode})`);
  const warnings: string[] = [];
  // Answered once the room is closed: the founders' next messages are encrypted.
  if (plan.mode === "enforce") await ctx.settle?.(ctx.roomId);
  for (const f of plan.founders) {
    // The group exists: a link not recorded now (the room's gas budget, the chain) is said, not fatal.
    await recordLink(ctx, group, ctx.roomId, f.userId).catch((e: unknown) => {
      warnings.push(`I could not record ${f.userId}'s link on-chain: ${e instanceof Refusal ? e.message : humanChainError(e).human}`);
    });
  }
  return answer(`This room is now a group: ${group}`, [
    `Founders (active, first period paid): ${plan.founders.map((f) => f.userId).join(", ")}`,
    plan.mode === "watch"
      ? `Watch mode: I say what I would do in this room and do nothing, until a room admin sends ${settings.prefix}dao enforce.`
      : "I now close the room and make it follow the group.",
    `Founders: send ${settings.prefix}authorize to vote, propose and delegate from chat.`,
    ...warnings,
  ]);
}

/** `!dao decline`: a founder of the preview steps out; the others see a new preview. */
export async function daoDecline(ctx: Ctx): Promise<Answer> {
  const { c, plan } = await requirePending(ctx);
  if (!plan.founders.some((f) => f.userId === ctx.sender)) throw new Refusal(`You are not a founder in the preview ${c.code}: there is nothing to decline.`);
  if (ctx.sender === c.createdBy) {
    await ctx.store.deleteCreation(ctx.roomId, c.code);
    return answer(`The preview ${c.code} is dropped`, [`${ctx.sender} asked for it and declines to be a founder: nothing was created.`]);
  }
  const next: CreationPlan = { ...plan, founders: plan.founders.filter((f) => f.userId !== ctx.sender), notMembers: [...plan.notMembers, ctx.sender] };
  const now = Date.now();
  const n: PendingCreation = {
    ...c,
    code: previewCode(ctx.eventId),
    eventId: ctx.eventId,
    createdAt: now,
    expiresAt: now + ctx.settings.consentWindowMs,
    plan: encodePlan(next),
  };
  await ctx.store.putCreation(n);
  const shown = await preview(ctx, n, next, []);
  return {
    text: `${ctx.sender} declines to be a founder: the preview ${c.code} is replaced, and every founder consents again.\n${shown.text}`,
    ...(shown.html
      ? { html: `${ctx.sender} declines to be a founder: the preview ${c.code} is replaced, and every founder consents again.<br>${shown.html}` }
      : {}),
  };
}

/** `!dao cancel`: who asked for the preview, or a room admin, drops it. */
export async function daoCancel(ctx: Ctx): Promise<Answer> {
  const { c } = await requirePending(ctx);
  if (ctx.sender !== c.createdBy) await requireRoomAdmin(ctx, await ctx.rooms.powers(ctx.roomId), "cancel someone else's preview");
  await ctx.store.deleteCreation(ctx.roomId, c.code);
  return answer(`The preview ${c.code} is cancelled`, ["Nothing was created and nothing was spent."]);
}

/** `!dao watch` / `!dao enforce`: what the bot does in a group's room (room admins). */
export async function daoMode(ctx: Ctx, mode: RoomMode): Promise<Answer> {
  const pre = ctx.settings.prefix;
  const b = await ctx.store.getBinding(ctx.roomId);
  if (!b) throw new Refusal(`This room is not a group yet: ${pre}dao create${mode === "watch" ? " watch" : ""} previews one.`);
  await requireRoomAdmin(ctx, await ctx.rooms.powers(ctx.roomId), `switch the room to ${mode}`);
  const policy = await ctx.store.getRoomPolicy(ctx.roomId);
  if (policy?.mode === mode || (!policy && mode === "enforce")) return answer(`This room is already in ${mode} mode`);
  // A group from before room policies was enforced and adopted nobody.
  if (!policy) await ctx.store.putRoomPolicy({ roomId: ctx.roomId, mode: "enforce", adoptees: [], adoptUntil: 1 });
  await ctx.store.setRoomMode(ctx.roomId, mode);
  ctx.log(`creation: ${ctx.roomId} switched to ${mode} by ${ctx.sender}`);
  const grace = ctx.settings.adoptionGraceMs;
  return mode === "watch"
    ? answer("Watch mode", [
        `I now only say in the room what I would do (invite, remove, set the room's rules back), and do nothing, until a room admin sends ${pre}dao enforce.`,
      ])
    : answer("Enforce mode", [
        grace > 0
          ? `I now make the room follow the group. People here who are not members keep their place for ${formatDuration(Math.round(grace / 1000))}: I tell them how to join, remind them, and then remove those who have not.`
          : "I now make the room follow the group: people here who are not members are removed.",
      ]);
}
