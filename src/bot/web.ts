/**
 * The bot's side of the web page (`WebActions` of `src/ports/web.ts`): the
 * group's public record, and the page's actions under the same rules as the
 * chat commands. Nothing here trusts the page:
 * - an identity comes from a one-time link token (made by `!link`, bound to
 *   its user, room and address, used once) or from an OpenID token the web
 *   adapter checked at the homeserver;
 * - every action needs the wallet's own signature, checked here before any
 *   transaction and again by the contract; the bot pays gas only for
 *   members and approved accounts, within the room's budget (`Spending`);
 * - the public record shows a Matrix id only for members who chose to show it.
 */
import { formatUnits, getAddress, Interface, verifyTypedData, ZeroAddress } from "ethers";
import type { Bot } from "./bot.ts";
import { Refusal, type Ctx } from "./context.ts";
import { BASE_SCOPE, beginLink, completeLink, describeAuthority, webLinkKey } from "./commands/linking.ts";
import { effect, executeIfPassed } from "./commands/proposals.ts";
import { describeSettings } from "./commands/group.ts";
import { humanChainError, revertData } from "../governance/errors.ts";
import { RELAYER_TYPES, VOTE_TYPES } from "../governance/typed.ts";
import {
  Action,
  DestinationKind,
  MAX_RELAYER_DURATION,
  Mode,
  ProposalState,
  QUORUM_DEFAULT,
  RelayerScope,
  RELAYER_SCOPE_ALL,
  VoteType,
} from "../governance/types.ts";
import { formatDuration, formatPercent, shortAddress } from "../text/format.ts";
import type { RecordChain } from "../ports/chain.ts";
import type { RoomPort } from "../ports/rooms.ts";
import type { GroupRecord, RecordProposal, RecordVote, Standing, TypedData, WebActions, WebIdentity, WebMe, WebResult } from "../ports/web.ts";
import type { Store } from "../store/store.ts";
import type { ProposalInfo } from "../governance/client.ts";

export interface BotWebOptions {
  bot: Pick<Bot, "context">;
  store: Store;
  chain: RecordChain;
  rooms: Pick<RoomPort, "joinedMembers">;
  log: (line: string) => void;
}

type Choice = "yes" | "no" | "abstain";
const SUPPORT: Record<Choice, number> = { yes: VoteType.For, no: VoteType.Against, abstain: VoteType.Abstain };
const CHOICE_OF: Record<number, Choice> = { [VoteType.For]: "yes", [VoteType.Against]: "no", [VoteType.Abstain]: "abstain" };
const STATE: RecordProposal["state"][] = ["open", "defeated", "passed", "executed", "expired"];
const MODE = ["vote", "admin", "external"];
const EXTRA = { config: RelayerScope.Config, fees: RelayerScope.FeeDestination, custom: RelayerScope.Custom } as const;
/** How long a prepared signature may wait for the wallet. */
const SIGNATURE_WINDOW = 3600;

/** `eth_signTypedData_v4` wants the domain's type spelled out (the bot's own checks do not). */
const EIP712_DOMAIN = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
  { name: "verifyingContract", type: "address" },
];

/** Errors of the fee token (OpenZeppelin's ERC-20), for the member's own payments. */
const ERC20_ERRORS = new Interface([
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
]);

function refusal(e: unknown): { ok: false; error: string } {
  return { ok: false, error: e instanceof Refusal ? e.message : humanChainError(e).human };
}

function address(a: string, what = "That"): string {
  try {
    return getAddress(a);
  } catch {
    throw new Refusal(`${what} is not an address.`);
  }
}

export class BotWeb implements WebActions {
  private readonly o: BotWebOptions;
  /** one-time tokens are redeemed one at a time: two requests cannot both take one */
  private redeeming: Promise<unknown> = Promise.resolve();

  constructor(o: BotWebOptions) {
    this.o = o;
  }

  /** A context acting for `sender` in `roomId`, for this one web request. */
  private async ctx(roomId: string, sender: string, key: string, account?: string): Promise<Ctx> {
    return this.o.bot.context({ roomId, sender, eventId: `web:${key}`, ...(account ? { account } : {}) });
  }

  /**
   * A context whose store shows only the Matrix ids members chose to show:
   * proposal descriptions name linked accounts, and the record is public.
   */
  private async publicCtx(roomId: string): Promise<Ctx> {
    const ctx = await this.ctx(roomId, "@web:public", "record");
    const store = this.o.store;
    const shown: Store = Object.create(store) as Store;
    shown.getLinkByAddress = async (room, a) => {
      const l = await store.getLinkByAddress(room, a);
      return l && (await store.getState(showIdKey(room, l.userId))) === "1" ? l : undefined;
    };
    return { ...ctx, store: shown };
  }

  private async binding(group: string) {
    const b = await this.o.store.getBindingByGroup(address(group, "The group"));
    if (!b) throw new Refusal("This bot serves no group at that address.");
    return b;
  }

  async record(group: string): Promise<GroupRecord | undefined> {
    let g: string;
    try {
      g = getAddress(group);
    } catch {
      return undefined;
    }
    const b = await this.o.store.getBindingByGroup(g);
    if (!b) return undefined;
    const { chain } = this.o;
    const ctx = await this.publicCtx(b.roomId);
    const head = await chain.head();
    const [settings, dest, all, proposals, now, events, domain] = await Promise.all([
      chain.settings(b.group),
      chain.feeDestination(b.group),
      chain.members(b.group),
      chain.proposals(b.group, b.fromBlock),
      chain.now(),
      chain.events(b.group, b.fromBlock, head),
      chain.domain(b.group),
    ]);
    const c = settings.config;
    const token = c.feeToken;
    const info =
      token === ZeroAddress
        ? { symbol: "native coin", decimals: 18 }
        : ((await chain.tokenInfo(token)) ?? { symbol: `token ${shortAddress(token)}`, decimals: 0 });
    const amount = (v: bigint) => `${formatUnits(v, info.decimals)} ${token === ZeroAddress ? "(native coin)" : info.symbol}`;
    const shown = async (a: string) => (await ctx.store.getLinkByAddress(b.roomId, a))?.userId;

    const createdTx = new Map<string, string>();
    const executedTx = new Map<string, string>();
    const votes = new Map<string, RecordVote[]>();
    for (const e of events) {
      const id = String((e.args.proposalId as bigint | undefined) ?? "");
      if (e.name === "ProposalCreated") createdTx.set(id, e.txHash);
      if (e.name === "ProposalExecuted") executedTx.set(id, e.txHash);
      if (e.name === "VoteCast") {
        const voter = String(e.args.voter);
        const userId = await shown(voter);
        const list = votes.get(id) ?? [];
        list.push({
          voter,
          ...(userId ? { userId } : {}),
          choice: CHOICE_OF[Number(e.args.support)] ?? "abstain",
          weight: Number(e.args.weight),
          tx: e.txHash,
        });
        votes.set(id, list);
      }
    }

    const members = [];
    for (const m of all.filter((x) => x.isMember)) {
      const userId = await shown(m.address);
      members.push({
        address: m.address,
        ...(userId ? { userId } : {}),
        active: m.active,
        expiresAt: m.expiresAt >= 0xffffffff ? 0 : m.expiresAt,
        lifetime: m.expiresAt >= 0xffffffff,
        ...(m.delegate !== ZeroAddress ? { delegate: m.delegate } : {}),
        delegatorsIn: m.delegatorsIn,
      });
    }

    const records: RecordProposal[] = [];
    for (const p of proposals) {
      const e = await effect(ctx, b.group, p);
      const id = p.id.toString();
      const proposerUserId = await shown(p.proposer);
      const executed = executedTx.get(id);
      records.push({
        number: p.number,
        id,
        proposer: p.proposer,
        ...(proposerUserId ? { proposerUserId } : {}),
        summary: e.summary,
        changes: e.changes,
        everyday: p.action === Action.AddMember || p.action === Action.RemoveMember,
        state: STATE[p.state] ?? "open",
        quorumBps: p.quorumBps,
        quorumVotes: p.quorumVotes,
        influence: p.influence,
        forVotes: p.forVotes,
        againstVotes: p.againstVotes,
        abstainVotes: p.abstainVotes,
        snapshot: p.snapshot,
        deadline: p.deadline,
        votes: votes.get(id) ?? [],
        createdTx: createdTx.get(id) ?? "",
        ...(executed ? { executedTx: executed } : {}),
      });
    }

    const addQuorum = c.addQuorumBps === QUORUM_DEFAULT ? c.defaultQuorumBps : c.addQuorumBps;
    const treasury = await chain.balance(token, b.group);
    const kind = dest.kind === DestinationKind.Release ? "release" : dest.kind === DestinationKind.Custom ? "custom" : "locked";
    const recipients = dest.recipients.map((r, i) => ({ address: r, shareBps: dest.sharesBps[i] ?? 0 }));
    const destText =
      kind === "locked"
        ? "Fees stay in the group contract."
        : kind === "release"
          ? `Fees are released at most once a month to ${recipients.map((r) => `${r.address} (${formatPercent(r.shareBps)})`).join(", ")}.`
          : `Fees go to the contract ${dest.target}.`;
    return {
      group: getAddress(b.group),
      chainId: Number(domain.chainId),
      bot: chain.botAddress,
      now,
      fee: {
        amount: c.fee.toString(),
        token,
        decimals: info.decimals,
        symbol: info.symbol,
        text:
          c.fee === 0n
            ? `free${c.period === 0 ? "" : `, renewed every ${formatDuration(c.period)}`}`
            : `${amount(c.fee)} ${c.period === 0 ? "once, for life" : `every ${formatDuration(c.period)}`}`,
      },
      period: c.period,
      grace: c.gracePeriod,
      voting: c.votingPeriod,
      mode: MODE[c.mode] ?? String(c.mode),
      open: c.mode !== Mode.External && addQuorum === 0,
      settingsLines: describeSettings(settings),
      feeDestination: { kind, ...(kind === "custom" ? { target: dest.target } : {}), recipients, text: destText },
      treasury: { amount: treasury.toString(), text: amount(treasury) },
      activeCount: members.filter((m) => m.active).length,
      members,
      proposals: records,
    };
  }

  async standing(group: string, a: string): Promise<WebResult<{ standing: Standing }>> {
    try {
      const b = await this.binding(group);
      const m = await this.o.chain.member(b.group, address(a));
      const now = await this.o.chain.now();
      const bot = this.o.chain.botAddress;
      const holds = m.relayer !== ZeroAddress && m.relayerUntil > now;
      const standing: Standing = {
        address: m.address,
        isMember: m.isMember,
        active: m.active,
        approved: m.approved,
        expiresAt: m.expiresAt >= 0xffffffff ? 0 : m.expiresAt,
        lifetime: m.isMember && m.expiresAt >= 0xffffffff,
        ...(m.delegate !== ZeroAddress ? { delegate: m.delegate } : {}),
        ...(holds && m.relayer === bot
          ? { relayer: { until: m.relayerUntil, scope: m.relayerScope, words: describeAuthority(bot, m.address, m.relayerScope, m.relayerUntil) } }
          : {}),
        ...(holds && m.relayer !== bot ? { otherRelayer: m.relayer } : {}),
      };
      return { ok: true, lines: [], standing };
    } catch (e) {
      return refusal(e);
    }
  }

  async redeemLinkToken(token: string): Promise<(WebIdentity & { address?: string }) | undefined> {
    if (!/^[A-Za-z0-9_-]{20,64}$/.test(token)) return undefined;
    const run = this.redeeming.then(async () => {
      const key = webLinkKey(token);
      const raw = await this.o.store.getState(key);
      if (!raw) return undefined;
      // Used once: whatever happens next, this token is spent.
      await this.o.store.setState(key, "");
      const t = JSON.parse(raw) as { userId: string; roomId: string; address: string; expiresAt: number };
      if (Date.now() > t.expiresAt) return undefined;
      return { userId: t.userId, roomId: t.roomId, address: t.address };
    });
    this.redeeming = run.catch(() => undefined);
    return run;
  }

  async inRoom(roomId: string, userId: string): Promise<boolean> {
    return this.o.rooms.joinedMembers(roomId).then(
      (ms) => ms.includes(userId),
      () => false,
    );
  }

  async me(who: WebIdentity): Promise<WebMe> {
    const { store } = this.o;
    const [b, l, p, show] = await Promise.all([
      store.getBinding(who.roomId),
      store.getLink(who.roomId, who.userId),
      store.getPendingLink(who.roomId, who.userId),
      store.getState(showIdKey(who.roomId, who.userId)),
    ]);
    return {
      ...who,
      ...(b ? { group: b.group } : {}),
      ...(l ? { linked: l.address } : {}),
      ...(p ? { pending: { address: p.address, message: p.message } } : {}),
      showId: show === "1",
    };
  }

  async startLink(who: WebIdentity, a: string): Promise<WebResult<{ message: string }>> {
    try {
      const ctx = await this.ctx(who.roomId, who.userId, `link:${who.userId}:${Date.now()}`);
      const { message } = await beginLink(ctx, who.roomId, address(a));
      return { ok: true, lines: [], message };
    } catch (e) {
      return refusal(e);
    }
  }

  async completeLink(who: WebIdentity, signature: string): Promise<WebResult<{ address: string }>> {
    try {
      if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) throw new Refusal("That is not a signature.");
      const ctx = await this.ctx(who.roomId, who.userId, `verify:${who.userId}:${signature.slice(0, 20)}`);
      const lines = await completeLink(ctx, who.roomId, signature);
      const l = await this.o.store.getLink(who.roomId, who.userId);
      return { ok: true, lines, address: l?.address ?? "" };
    } catch (e) {
      return refusal(e);
    }
  }

  async showId(who: WebIdentity, show: boolean): Promise<void> {
    await this.o.store.setState(showIdKey(who.roomId, who.userId), show ? "1" : "");
  }

  private async typed(
    group: string,
    types: Record<string, { name: string; type: string }[]>,
    primaryType: string,
    message: Record<string, string | number>,
  ): Promise<TypedData> {
    const d = await this.o.chain.domain(group);
    return {
      domain: { name: d.name, version: d.version, chainId: Number(d.chainId), verifyingContract: d.verifyingContract },
      types: { EIP712Domain: EIP712_DOMAIN, ...types },
      primaryType,
      message,
    };
  }

  /** The proposal `number`, open for votes, and `voter`'s standing: refusals say why not. */
  private async votable(group: string, voter: string, number: number): Promise<ProposalInfo> {
    const { chain } = this.o;
    const p = await chain.proposalByNumber(group, number);
    if (!p) throw new Refusal(`There is no proposal #${number} in this group.`);
    if (p.state !== ProposalState.Active) throw new Refusal(`Voting on #${number} is closed: it is ${STATE[p.state]}.`);
    const m = await chain.member(group, voter);
    if (!m.isMember)
      throw new Refusal(`${shortAddress(voter)} is not a member of this group${m.approved ? ": it is approved, and becomes a member by paying" : ""}.`);
    const mine = await chain.voteOf(group, p.id, voter);
    if (mine !== 0)
      throw new Refusal(`${shortAddress(voter)} has already voted ${["no", "yes", "abstain"][mine - 1]} on #${number}; a vote cannot be changed.`);
    return p;
  }

  async voteRequest(group: string, voter: string, number: number, choice: Choice): Promise<WebResult<{ typed: TypedData }>> {
    try {
      const b = await this.binding(group);
      const v = address(voter);
      const p = await this.votable(b.group, v, number);
      const nonce = await this.o.chain.nonce(b.group, v);
      const deadline = (await this.o.chain.now()) + SIGNATURE_WINDOW;
      const typed = await this.typed(b.group, VOTE_TYPES, "Vote", {
        proposalId: p.id.toString(),
        support: SUPPORT[choice],
        voter: v,
        nonce: nonce.toString(),
        deadline,
      });
      return { ok: true, lines: [], typed };
    } catch (e) {
      return refusal(e);
    }
  }

  async submitVote(
    group: string,
    s: { voter: string; number: number; choice: Choice; nonce: string; deadline: number; signature: string },
  ): Promise<WebResult<{ tx: string }>> {
    try {
      const b = await this.binding(group);
      const voter = address(s.voter);
      const support = SUPPORT[s.choice];
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the choice comes from the page: anything may arrive
      if (support === undefined || !/^\d{1,78}$/.test(s.nonce) || !Number.isSafeInteger(s.deadline)) throw new Refusal("That vote is malformed.");
      const p = await this.votable(b.group, voter, s.number);
      // Checked before anything is sent: the bot relays only what the voter signed.
      const d = await this.o.chain.domain(b.group);
      let signer: string;
      try {
        signer = verifyTypedData(d, VOTE_TYPES, { proposalId: p.id, support, voter, nonce: s.nonce, deadline: s.deadline }, s.signature);
      } catch {
        throw new Refusal("That is not a valid signature of the vote.");
      }
      if (signer !== voter) throw new Refusal(`That vote was signed by ${shortAddress(signer)}, not by ${shortAddress(voter)}.`);
      const user = (await this.o.store.getLinkByAddress(b.roomId, voter))?.userId;
      const ctx = await this.ctx(b.roomId, user ?? voter, `vote:${b.group}:${s.number}:${voter}:${s.nonce}`, voter);
      const receipt = await ctx.chain.call(
        `vote:${b.group}:${s.number}:${voter}`,
        b.group,
        "castVoteBySig",
        [p.id, support, voter, s.nonce, s.deadline, s.signature],
        `vote ${s.choice} on #${s.number} (signed on the web page)`,
      );
      const after = await this.o.chain.proposalByNumber(b.group, s.number);
      const lines = [`${shortAddress(voter)} voted ${s.choice} on #${s.number}.`];
      if (after) {
        lines.push(`FOR ${after.forVotes} · AGAINST ${after.againstVotes} · ABSTAIN ${after.abstainVotes} (quorum ${after.quorumVotes} of ${after.influence})`);
        // Executed as a chat vote would; what the room is told (it names Matrix accounts) stays in the room.
        const done = await executeIfPassed(ctx, b, after).catch((e: unknown) => [`It passed; executing it failed for now: ${humanChainError(e).human}`]);
        if (done.length) lines.push(done[0]!.startsWith("It passed") ? done[0]! : `Proposal #${s.number} passed and was executed.`);
      }
      return { ok: true, lines, tx: receipt.hash };
    } catch (e) {
      return refusal(e);
    }
  }

  async relayerRequest(
    group: string,
    member: string,
    extra: ("config" | "fees" | "custom")[],
    days: number,
  ): Promise<WebResult<{ typed: TypedData; words: string[] }>> {
    try {
      const b = await this.binding(group);
      const m = address(member);
      const info = await this.o.chain.member(b.group, m);
      if (!info.isMember && !info.approved) throw new Refusal(`${shortAddress(m)} is not a member of this group, nor approved: the bot acts only for members.`);
      if (!Number.isInteger(days) || days < 1 || days > 365) throw new Refusal("Choose from 1 to 365 days.");
      let scope = BASE_SCOPE;
      for (const x of extra) {
        if (!(x in EXTRA)) throw new Refusal(`Unknown extra scope ${x}.`);
        scope |= EXTRA[x];
      }
      const now = await this.o.chain.now();
      const until = now + Math.min(days * 86_400, MAX_RELAYER_DURATION - 3600);
      const nonce = await this.o.chain.nonce(b.group, m);
      const typed = await this.typed(b.group, RELAYER_TYPES, "Relayer", {
        member: m,
        relayer: this.o.chain.botAddress,
        scope,
        until,
        nonce: nonce.toString(),
        deadline: now + SIGNATURE_WINDOW,
      });
      return { ok: true, lines: [], typed, words: describeAuthority(this.o.chain.botAddress, m, scope, until) };
    } catch (e) {
      return refusal(e);
    }
  }

  async submitRelayer(
    group: string,
    s: { member: string; scope: number; until: number; nonce: string; deadline: number; signature: string },
  ): Promise<WebResult<{ tx: string }>> {
    try {
      const b = await this.binding(group);
      const member = address(s.member);
      const now = await this.o.chain.now();
      if (
        !Number.isInteger(s.scope) ||
        s.scope < 1 ||
        s.scope > RELAYER_SCOPE_ALL ||
        !/^\d{1,78}$/.test(s.nonce) ||
        !Number.isSafeInteger(s.deadline) ||
        !Number.isSafeInteger(s.until)
      ) {
        throw new Refusal("That authorisation is malformed.");
      }
      if (s.until > now + MAX_RELAYER_DURATION) throw new Refusal("An authorisation lasts at most 366 days.");
      const d = await this.o.chain.domain(b.group);
      let signer: string;
      try {
        signer = verifyTypedData(
          d,
          RELAYER_TYPES,
          { member, relayer: this.o.chain.botAddress, scope: s.scope, until: s.until, nonce: s.nonce, deadline: s.deadline },
          s.signature,
        );
      } catch {
        throw new Refusal("That is not a valid signature of the authorisation.");
      }
      if (signer !== member) throw new Refusal(`That authorisation was signed by ${shortAddress(signer)}, not by ${shortAddress(member)}.`);
      const user = (await this.o.store.getLinkByAddress(b.roomId, member))?.userId;
      const ctx = await this.ctx(b.roomId, user ?? member, `authorize:${b.group}:${member}:${s.nonce}`, member);
      const receipt = await ctx.chain.call(
        `authorize:${b.group}:${member}:${s.nonce}`,
        b.group,
        "setRelayerBySig",
        [member, this.o.chain.botAddress, s.scope, s.until, s.nonce, s.deadline, s.signature],
        `authorise the bot for ${member} (signed on the web page)`,
      );
      return { ok: true, lines: describeAuthority(this.o.chain.botAddress, member, s.scope, s.until), tx: receipt.hash };
    } catch (e) {
      return refusal(e);
    }
  }

  async check(group: string, tx: { from: string; to: string; data: string; value: string }): Promise<WebResult> {
    try {
      const b = await this.binding(group);
      const settings = await this.o.chain.settings(b.group);
      const to = address(tx.to);
      // Only the group and its fee token: the page sends nothing else.
      if (to.toLowerCase() !== b.group.toLowerCase() && to.toLowerCase() !== settings.config.feeToken.toLowerCase())
        throw new Refusal("The page only sends transactions to the group and its fee token.");
      if (!/^0x([0-9a-fA-F]{2})*$/.test(tx.data) || tx.data.length > 20_000 || !/^\d{1,78}$/.test(tx.value))
        throw new Refusal("That transaction is malformed.");
      const from = address(tx.from);
      const value = BigInt(tx.value);
      // A node may estimate without looking at the balance: look at it first.
      const coin = value > 0n ? await this.o.chain.balance(ZeroAddress, from) : 0n;
      if (coin < value) throw new Refusal(`Your wallet holds ${formatUnits(coin, 18)} of the native coin; this needs ${formatUnits(value, 18)} and the gas.`);
      await this.o.chain.simulate({ from, to, data: tx.data, value });
      return { ok: true, lines: [] };
    } catch (e) {
      if (e instanceof Refusal) return refusal(e);
      return { ok: false, error: ownTxError(e) };
    }
  }
}

export function showIdKey(roomId: string, userId: string): string {
  return `showId:${roomId}:${userId}`;
}

/** Why a member's own transaction would fail, in words. */
export function ownTxError(e: unknown): string {
  const data = revertData(e);
  if (data) {
    try {
      const parsed = ERC20_ERRORS.parseError(data);
      if (parsed?.name === "ERC20InsufficientBalance")
        return `Your wallet holds ${String(parsed.args[1])} of the fee token; this needs ${String(parsed.args[2])} (smallest units).`;
      if (parsed?.name === "ERC20InsufficientAllowance")
        return `The group may take only ${String(parsed.args[1])} of your tokens and the fee is ${String(parsed.args[2])} (smallest units): approve the fee first.`;
    } catch {
      /* not a token error */
    }
  }
  const h = humanChainError(e);
  if (/insufficient funds/i.test(h.log)) return "Your wallet does not hold enough of the native coin for this (the fee and the gas).";
  return h.human.replace("; the bot's log has details", "");
}
