/**
 * `!propose …`, `!vote`, `!delegate`, `!undelegate`, `!proposals`, `!proposal`.
 */
import { AbiCoder, ZeroAddress } from "ethers";
import { Refusal, type Answer, type Ctx } from "../context.ts";
import type { FeeDestinationSpec, GroupOptions, VoteChoice } from "./parse.ts";
import { answer, formatPercent, formatTime } from "../../text/format.ts";
import { addressOf, requireActive, requireBinding, requireLink, requireRelayer, userOf } from "../guards.ts";
import { applyOptions } from "./group.ts";
import { decodeSettings, effectOf, oneLine, settingsChanges, type Effect } from "./effects.ts";
import { recordLink } from "./linking.ts";
import { groupInterface } from "../../governance/contracts.ts";
import { decodeChainError } from "../../governance/errors.ts";
import { encodeAccount, encodeFeeDestination, encodeSettings, feeDestination } from "../../governance/encoding.ts";
import { Action, ProposalState, VoteType } from "../../governance/types.ts";
import type { ProposalInfo } from "../../governance/client.ts";
import type { Receipt } from "../../ports/chain.ts";
import type { RoomBinding } from "../../store/store.ts";

const STATE = ["open", "defeated", "passed", "executed", "expired"];
const CHOICE: Record<VoteChoice, number> = { for: VoteType.For, against: VoteType.Against, abstain: VoteType.Abstain };

/** The sender, checked to be linked, active and to have authorised the bot. */
async function actor(ctx: Ctx) {
  const b = await requireBinding(ctx);
  const l = await requireLink(ctx);
  const m = await requireActive(ctx, b, l);
  requireRelayer(ctx, m);
  return { b, l, m };
}

/**
 * What a proposal does, compared (for a settings change) with the settings
 * at the block it was created in. A node that keeps no old state does not
 * give them: then the settings the bot saw while the proposal was open are
 * used (saved the first time it is shown, at its announcement), and without
 * those every setting is listed with its new value. A settings proposal
 * writes the whole settings: when another change passed since it was
 * proposed, executing it now would also set that back, and it says so.
 */
export async function effect(ctx: Ctx, group: string, p: ProposalInfo): Promise<Effect> {
  if (p.action !== Action.Config) return effectOf(ctx, p.action, p.payload);
  const key = `settings-before:${group.toLowerCase()}:${p.number}`;
  let before = await ctx.chain.settings(group, p.blockNumber).catch(() => undefined);
  if (!before) {
    const saved = await ctx.store.getState(key);
    try {
      before = saved !== undefined ? decodeSettings(saved) : undefined;
    } catch {
      before = undefined;
    }
  }
  const open = p.state === ProposalState.Active || p.state === ProposalState.Succeeded;
  const current = open ? await ctx.chain.settings(group).catch(() => undefined) : undefined;
  if (!before && p.state === ProposalState.Active && current) {
    before = current;
    await ctx.store.setState(key, encodeSettings(current));
  }
  const e = await effectOf(ctx, p.action, p.payload, before);
  if (current && before && encodeSettings(current) !== encodeSettings(before)) {
    // A payload that does not read as settings was said so by effectOf already.
    const next = (() => {
      try {
        return decodeSettings(p.payload);
      } catch {
        return undefined;
      }
    })();
    if (next) {
      const now = await settingsChanges(ctx, current, next);
      e.changes.push(`the settings changed since it was proposed: executing it now would ${now.length === 0 ? "change nothing" : `set ${now.join("; ")}`}`);
    }
  }
  return e;
}

/**
 * Why an open proposal that has its quorum is not decided yet
 * (GOVERNANCE.md: it passes at its deadline, or early once the outcome can
 * no longer change), or nothing.
 */
export function whyStillOpen(p: ProposalInfo): string[] {
  if (p.state !== ProposalState.Active || p.forVotes < p.quorumVotes) return [];
  const notCast = Math.max(0, p.influence - p.forVotes - p.againstVotes - p.abstainVotes);
  return [
    `It has its quorum but is still open: a proposal is decided early only once the votes not cast yet can no longer change the outcome (here ${notCast} point(s) not cast could still make AGAINST reach FOR), otherwise at its deadline, ${formatTime(p.deadline)}.`,
  ];
}

export async function announce(ctx: Ctx, group: string, p: ProposalInfo, title: string): Promise<Answer> {
  const e = await effect(ctx, group, p);
  return answer(title, [
    `What: ${e.summary}`,
    ...e.changes.map((c) => `  • ${c}`),
    `Quorum: ${formatPercent(p.quorumBps)} of ${p.influence} members = ${p.quorumVotes} vote(s) FOR, and more FOR than AGAINST`,
    ...whyStillOpen(p),
    `Deadline: ${formatTime(p.deadline)}`,
    `Vote: ${ctx.settings.prefix}vote ${p.number} yes | no | abstain`,
    ...(ctx.settings.webUrl ? [`Or vote with your wallet: ${ctx.settings.webUrl}/g/${group}/p/${p.number}`] : []),
  ]);
}

function createdNumber(receipt: Receipt): number {
  for (const log of receipt.logs) {
    try {
      const parsed = groupInterface.parseLog(log);
      if (parsed?.name === "ProposalCreated") return Number(parsed.args.number);
    } catch {
      /* not ours */
    }
  }
  throw new Error("no ProposalCreated event in the receipt");
}

/**
 * The state key that says a proposal was announced in its group's room (by
 * the answer to the command that made it there, or in its poll's thread):
 * the polls announce in the thread those nobody announced in the room.
 */
export function announcedKey(group: string, number: number): string {
  return `announced:${group.toLowerCase()}:${number}`;
}

/** Who asks is checked first; then `build` checks the target and makes the payload. */
async function proposeAction(ctx: Ctx, action: number, build: (b: RoomBinding) => Promise<string>, what: string): Promise<Answer> {
  const { b, l } = await actor(ctx);
  // Run again after a crash, the proposal this command sent is followed:
  // what it checked then may have changed since (it was proposed).
  const payload = ctx.resumed ? await build(b).catch(() => "0x") : await build(b);
  let receipt: Receipt | undefined;
  for (let attempt = 0; !receipt; attempt++) {
    try {
      receipt = await ctx.chain.call(`propose:${ctx.roomId}:${ctx.eventId}`, b.group, "proposeFor", [l.address, action, payload], `propose ${what}`);
    } catch (e) {
      // One proposal per second per group: wait for the next block and try again.
      if (attempt >= 3 || decodeChainError(e)?.name !== "GroupProposalJustMade") throw e;
      await new Promise((r) => setTimeout(r, 1200));
    }
  }
  const p = await ctx.chain.proposalByNumber(b.group, createdNumber(receipt));
  if (!p) throw new Error("the new proposal is not visible yet");
  // Announced in the group's room by this answer (not from a direct chat).
  if (ctx.roomId === b.roomId) await ctx.store.setState(announcedKey(b.group, p.number), ctx.eventId);
  return announce(ctx, b.group, p, `Proposal #${p.number} by ${ctx.sender}`);
}

/**
 * Refuses an account its homeserver does not know (a profile lookup), and
 * says so when that homeserver cannot be reached: nobody is proposed on a
 * guess. A homeserver that keeps profiles private says neither: then the
 * link the target must have made is the proof.
 */
async function requireAccount(ctx: Ctx, target: string): Promise<void> {
  const check = ctx.rooms.checkAccount?.bind(ctx.rooms);
  if (!check) return;
  const server = target.slice(target.indexOf(":") + 1);
  let found;
  try {
    found = await check(target);
  } catch (e) {
    ctx.log(`could not look up ${target}: ${(e as Error).message}`);
    throw new Refusal(`I could not check that ${target} exists: ${server} did not answer (or could not be reached). Nothing was proposed; try again later.`);
  }
  if (found === "missing")
    throw new Refusal(`There is no account ${target}: ${server} does not know it. Check the Matrix ID (Element shows it in the user's profile).`);
}

export async function proposeAdd(ctx: Ctx, target: string): Promise<Answer> {
  return proposeAction(
    ctx,
    Action.AddMember,
    async (b) => {
      await requireAccount(ctx, target);
      const address = await addressOf(ctx, target);
      if ((await ctx.chain.member(b.group, address)).isMember) throw new Refusal(`${target} is already a member.`);
      return encodeAccount(address);
    },
    `add ${target}`,
  );
}

export async function proposeRemove(ctx: Ctx, target: string): Promise<Answer> {
  return proposeAction(
    ctx,
    Action.RemoveMember,
    async (b) => {
      const address = await addressOf(ctx, target);
      const m = await ctx.chain.member(b.group, address);
      if (!m.isMember && !m.approved) throw new Refusal(`${target} is not a member.`);
      return encodeAccount(address);
    },
    `remove ${target}`,
  );
}

export async function proposeConfig(ctx: Ctx, changes: GroupOptions): Promise<Answer> {
  return proposeAction(
    ctx,
    Action.Config,
    async (b) => {
      const now = await ctx.chain.settings(b.group);
      const next = await applyOptions(ctx, now, changes, ctx.settings.feeDecimals);
      // A proposal that changes nothing would cost gas and members' attention for nothing.
      if ((await settingsChanges(ctx, now, next)).length === 0) throw new Refusal("That changes nothing: the settings already are so. !status shows them.");
      return encodeSettings(next);
    },
    "a settings change",
  );
}

export async function proposeFeeDestination(ctx: Ctx, spec: FeeDestinationSpec): Promise<Answer> {
  const d = feeDestination(spec);
  return proposeAction(ctx, Action.FeeDestination, async () => encodeFeeDestination(d), `fee destination ${spec.kind}`);
}

async function findProposal(ctx: Ctx, b: RoomBinding, number: number): Promise<ProposalInfo> {
  const p = await ctx.chain.proposalByNumber(b.group, number);
  if (!p) throw new Refusal(`There is no proposal #${number} in this group. ${ctx.settings.prefix}proposals lists them.`);
  return p;
}

/**
 * After a vote: executes a passed proposal once, and invites a newly
 * approved member. A proposal already executed (the vote's own execution
 * before a crash, or the poll's at the same moment) says so the same way.
 */
export async function executeIfPassed(ctx: Ctx, b: RoomBinding, p: ProposalInfo): Promise<string[]> {
  if (p.state === ProposalState.Succeeded) {
    await ctx.chain.call(`execute:${b.group}:${p.number}`, b.group, "execute", [p.number, p.action, p.payload], `execute proposal #${p.number}`);
  } else if (p.state !== ProposalState.Executed) {
    return [];
  }
  // Shown as executed: compared with the settings before, not with what it just set.
  const lines = [`Proposal #${p.number} passed and was executed: ${oneLine(await effect(ctx, b.group, { ...p, state: ProposalState.Executed }))}.`];
  if (p.action === Action.AddMember) {
    const [a] = AbiCoder.defaultAbiCoder().decode(["address"], p.payload);
    const who = await userOf(ctx, String(a));
    // Approved now: its link is recorded on-chain like a member's.
    if (who) await recordLink(ctx, b.group, ctx.roomId, who).catch((e: unknown) => ctx.log(`could not record the link of ${who}: ${(e as Error).message}`));
    // The room follows the chain: the bridge invites once the block is confirmed.
    if (who) lines.push(`${who}: you are approved; you will be invited. Join the room and send ${ctx.settings.prefix}join to accept.`);
  }
  return lines;
}

export async function vote(ctx: Ctx, number: number, choice: VoteChoice): Promise<Answer> {
  const { b, l } = await actor(ctx);
  const before = await findProposal(ctx, b, number);
  // Run again after a crash, this command's vote is followed, not refused as a second one.
  if (!ctx.resumed) {
    if (before.state !== ProposalState.Active) throw new Refusal(`Voting on #${number} is closed: it is ${STATE[before.state]}.`);
    const mine = await ctx.chain.voteOf(b.group, before.id, l.address);
    if (mine !== 0) throw new Refusal(`You have already voted ${["against", "for", "abstain"][mine - 1]} on #${number}; a vote cannot be changed.`);
  }
  await ctx.chain.call(
    `vote:${b.group}:${number}:${l.address}`,
    b.group,
    "castVoteFor",
    [l.address, before.id, CHOICE[choice]],
    `vote ${choice} on #${number}`,
  );
  const p = await findProposal(ctx, b, number);
  const lines = [
    `FOR ${p.forVotes} · AGAINST ${p.againstVotes} · ABSTAIN ${p.abstainVotes} (quorum ${p.quorumVotes} of ${p.influence}); ${STATE[p.state]}`,
    ...whyStillOpen(p),
  ];
  lines.push(...(await executeIfPassed(ctx, b, p)));
  return answer(`${ctx.sender} voted ${choice} on #${number}`, lines);
}

export async function delegate(ctx: Ctx, target: string | undefined): Promise<Answer> {
  const { b, l, m } = await actor(ctx);
  const to = target ? await addressOf(ctx, target) : ZeroAddress;
  if (to.toLowerCase() === l.address.toLowerCase())
    throw new Refusal(`You cannot delegate to yourself; ${ctx.settings.prefix}undelegate takes your vote back.`);
  if (!ctx.resumed && m.delegate.toLowerCase() === to.toLowerCase())
    throw new Refusal(target ? `You already delegate to ${target}.` : "You do not delegate to anyone.");
  if (target && !ctx.resumed) {
    const t = await ctx.chain.member(b.group, to);
    if (!t.isMember) throw new Refusal(`${target} is not a member of this group.`);
  }
  await ctx.chain.call(
    `delegate:${b.group}:${l.address}:${ctx.eventId}`,
    b.group,
    "delegateFor",
    [l.address, to],
    target ? `delegate to ${target}` : "undelegate",
  );
  return answer(target ? `${ctx.sender} delegates to ${target}` : `${ctx.sender} takes their vote back`, [
    target
      ? "On proposals created from now on, your point goes to their choice unless you vote yourself."
      : "From the next proposal on, your point counts only when you vote.",
  ]);
}

export async function proposals(ctx: Ctx): Promise<Answer> {
  const b = await requireBinding(ctx);
  const all = await ctx.chain.proposals(b.group, b.fromBlock);
  if (all.length === 0) return answer("No proposals yet", [`${ctx.settings.prefix}propose add @user starts one.`]);
  const lines: string[] = [];
  for (const p of all.slice(0, 20)) {
    const quorate =
      p.state === ProposalState.Active && p.forVotes >= p.quorumVotes ? " (quorum reached; decided early only once the outcome can no longer change)" : "";
    lines.push(
      `#${p.number} ${STATE[p.state]}${quorate}: ${oneLine(await effect(ctx, b.group, p))} — FOR ${p.forVotes}, AGAINST ${p.againstVotes}, ABSTAIN ${p.abstainVotes}; deadline ${formatTime(p.deadline)}`,
    );
  }
  return answer(`${all.length} proposal(s)`, lines);
}

export async function proposal(ctx: Ctx, number: number): Promise<Answer> {
  const b = await requireBinding(ctx);
  const p = await findProposal(ctx, b, number);
  const a = await announce(ctx, b.group, p, `Proposal #${p.number}: ${STATE[p.state]}`);
  const tally = `Tally: FOR ${p.forVotes} · AGAINST ${p.againstVotes} · ABSTAIN ${p.abstainVotes}`;
  return { text: `${a.text}\n${tally}`, ...(a.html ? { html: `${a.html}<br>${tally}` } : {}) };
}
