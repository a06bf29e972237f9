/**
 * The bot's view of the chain: reads groups and sends the bot's transactions
 * (through `TxSender`, so none is sent twice). Only this module and its
 * siblings import ethers.
 */
import {
  Contract,
  isCallException,
  JsonRpcProvider,
  makeError,
  ZeroAddress,
  ZeroHash,
  type EventFragment,
  type JsonRpcPayload,
  type JsonRpcResult,
  type Log,
  type Provider,
  type TransactionReceipt,
} from "ethers";
import { factoryContract, groupContract, groupInterface } from "./contracts.ts";
import { decodeMembersPage, destinationValues, settingsValues } from "./encoding.ts";
import type { TxSender } from "./tx.ts";
import type { Action, FeeDestination, GroupSettings, ProposalState, VoteType } from "./types.ts";

/** A struct as ethers decodes it (a `Result`): its fields by name, each converted where it is read. */
type Fields = Record<string, unknown>;

export interface ProposalInfo {
  id: bigint;
  number: number;
  proposer: string;
  action: Action;
  payload: string;
  snapshot: number;
  deadline: number;
  quorumBps: number;
  influence: number;
  quorumVotes: number;
  forVotes: number;
  againstVotes: number;
  abstainVotes: number;
  state: ProposalState;
  blockNumber: number;
}

export interface MemberInfo {
  address: string;
  tokenId: number;
  isMember: boolean;
  active: boolean;
  approved: boolean;
  expiresAt: number;
  delegate: string;
  delegatorsIn: number;
  relayer: string;
  /** bits of RelayerScope the relayer holds */
  relayerScope: number;
  /** unix seconds the relayer's authority ends (0 = none) */
  relayerUntil: number;
  matrixLink: string;
}

export interface GroupEvent {
  name: string;
  args: Record<string, unknown> & unknown[];
  txHash: string;
  blockNumber: number;
  logIndex: number;
}

/**
 * How the bot's JSON-RPC provider asks (beside the network and the polling
 * interval): ethers answers a repeated request from a cache for 250 ms by
 * default, so the head a new-block notice announced would be read as the
 * one before it: only requests made in the same moment share an answer.
 * And it holds every request 10 ms by default, waiting for others to send
 * in the same HTTP request: requests made in the same moment are sent
 * together anyway, and a full pass, whose rooms wait on their reads in
 * turn, would wait that long for each.
 */
export const RPC_OPTIONS = { cacheTimeout: 0, batchStallTime: 0 } as const;

/**
 * Whether an eth_getLogs failed for its size (too many blocks or results
 * for the endpoint: a JSON-RPC error, or HTTP 400 or 413), not because the
 * endpoint is unreachable, failing or rate-limiting (then asking in smaller
 * pieces would only ask more often).
 */
export function refusedForSize(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown; info?: { responseStatus?: unknown } } | undefined;
  const message = String(err?.message ?? e);
  if (err?.code === "NETWORK_ERROR" || err?.code === "TIMEOUT" || err?.code === "ECONNREFUSED") return false;
  if (/maximum retry limit|ECONNREFUSED|ECONNRESET|fetch failed|timeout/i.test(message)) return false;
  const status = err?.info?.responseStatus;
  if (err?.code === "SERVER_ERROR") return typeof status === "string" && /^(400|413)\b/.test(status);
  return true;
}

/** Requests sent at most this many times at a rate limit (HTTP 429), with ethers' doubling delays (250 ms slots). */
export const RPC_THROTTLE_ATTEMPTS = 5;

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * ethers' JSON-RPC provider over HTTP, reading each answer with the
 * platform's UTF-8 decoder: ethers' own, in JavaScript, cost more than the
 * rest of a large answer's handling (an eth_getLogs over many blocks, the
 * token holders of many groups). Otherwise its `_send`: one POST, the answer
 * or answers as a list.
 */
export class RpcProvider extends JsonRpcProvider {
  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    const request = this._getConnection();
    // At a gateway's rate limit (HTTP 429) ethers waits and asks again, by
    // default up to 12 times with doubling delays: minutes in which no
    // command is answered. 5 attempts wait at most 6.5 s in all; what still
    // fails is said ("the chain cannot be reached right now") and the bot's
    // own loops try again later.
    request.setThrottleParams({ maxAttempts: RPC_THROTTLE_ATTEMPTS });
    request.body = JSON.stringify(payload);
    request.setHeader("content-type", "application/json");
    const response = await request.send();
    response.assertOk();
    let body: unknown;
    try {
      body = JSON.parse(response.body ? UTF8.decode(response.body) : "");
    } catch {
      throw makeError("response body is not valid JSON", "UNSUPPORTED_OPERATION", { operation: "bodyJson", info: { response } });
    }
    return (Array.isArray(body) ? body : [body]) as JsonRpcResult[];
  }
}

export class ChainClient {
  readonly factory: Contract;
  readonly provider: Provider;
  private readonly tx: TxSender;

  constructor(provider: Provider, factoryAddress: string, tx: TxSender) {
    this.provider = provider;
    this.tx = tx;
    this.factory = factoryContract(factoryAddress, provider);
  }

  get botAddress(): string {
    return this.tx.address;
  }

  group(address: string): Contract {
    return groupContract(address, this.provider);
  }

  async checkCreation(settings: GroupSettings, destination: FeeDestination, founders: string[], ref: string): Promise<void> {
    const data = this.factory.interface.encodeFunctionData("createGroup", [[settingsValues(settings), destinationValues(destination), founders], ref]);
    await this.provider.call({ from: this.tx.address, to: await this.factory.getAddress(), data });
  }

  /** Creates a group; returns its address and the block it was created in. */
  async createGroup(intent: string, settings: GroupSettings, destination: FeeDestination, founders: string[], ref: string) {
    const data = this.factory.interface.encodeFunctionData("createGroup", [[settingsValues(settings), destinationValues(destination), founders], ref]);
    const out = await this.tx.send(intent, { to: await this.factory.getAddress(), data }, `create group (${founders.length} founders)`);
    const receipt = this.requireMined(out.receipt, "create the group");
    for (const log of receipt.logs) {
      try {
        const parsed = this.factory.interface.parseLog(log);
        if (parsed?.name === "GroupCreated") return { group: parsed.args.group as string, block: receipt.blockNumber };
      } catch {
        /* another contract's log */
      }
    }
    throw new Error("the factory did not report the new group");
  }

  /** Sends `fn(args)` to `group` once for `intent`; returns the receipt. */
  async call(intent: string, group: string, fn: string, args: unknown[], description: string): Promise<TransactionReceipt> {
    const data = groupInterface.encodeFunctionData(fn, args);
    const out = await this.tx.send(intent, { to: group, data }, description);
    return this.requireMined(out.receipt, description);
  }

  /** The proposal created with `number`, read from its event and its current tally. */
  async proposalByNumber(group: string, number: number): Promise<ProposalInfo | undefined> {
    const g = this.group(group);
    const logs = await g.queryFilter(g.filters.ProposalCreated!(null, number), 0);
    const log = logs[0];
    if (!log || !("args" in log)) return undefined;
    return this.withTally(group, log.args, log.blockNumber);
  }

  /** Every proposal of `group`, newest first, created from block `fromBlock`. */
  async proposals(group: string, fromBlock: number): Promise<ProposalInfo[]> {
    const g = this.group(group);
    const logs = await g.queryFilter(g.filters.ProposalCreated!(), fromBlock);
    const out: ProposalInfo[] = [];
    for (const log of logs) if ("args" in log) out.push(await this.withTally(group, log.args, log.blockNumber));
    return out.sort((a, b) => b.number - a.number);
  }

  private async withTally(group: string, args: Record<string, unknown> & unknown[], blockNumber: number): Promise<ProposalInfo> {
    const id = args.proposalId as bigint;
    const v = (await this.group(group).getFunction("proposal")(id)) as Fields;
    return {
      id,
      number: Number(args.number),
      proposer: String(args.proposer),
      action: Number(args.action) as Action,
      payload: String(args.payload),
      snapshot: Number(v.snapshot),
      deadline: Number(v.deadline),
      quorumBps: Number(v.quorumBps),
      influence: Number(v.influence),
      quorumVotes: Number(v.quorumVotes),
      forVotes: Number(v.forVotes),
      againstVotes: Number(v.againstVotes),
      abstainVotes: Number(v.abstainVotes),
      state: Number(v.state) as ProposalState,
      blockNumber,
    };
  }

  /** `voter`'s own vote on a proposal: 0 none, else VoteType + 1. */
  async voteOf(group: string, proposalId: bigint, voter: string): Promise<number> {
    return Number(await this.group(group).getFunction("voteOf")(proposalId, voter));
  }

  async member(group: string, address: string, blockTag?: number): Promise<MemberInfo> {
    const v = (await this.group(group).getFunction("memberInfo")(address, ...(blockTag !== undefined ? [{ blockTag }] : []))) as Fields;
    return {
      address,
      tokenId: Number(v.tokenId),
      isMember: Boolean(v.isMember),
      active: Boolean(v.active),
      approved: Boolean(v.approved),
      expiresAt: Number(v.expiresAt),
      delegate: String(v.delegate),
      delegatorsIn: Number(v.delegatorsIn),
      relayer: String(v.relayer),
      relayerScope: Number(v.relayerScope),
      relayerUntil: Number(v.relayerUntil),
      matrixLink: String(v.matrixLink),
    };
  }

  /** The timestamp of block `n` (seconds). */
  async blockTime(n: number): Promise<number> {
    const block = await this.provider.getBlock(n);
    if (!block) throw new Error(`block ${n} is not known to the node`);
    return block.timestamp;
  }

  /** Every account that ever held a token in `group`, with its standing now. */
  async members(group: string): Promise<MemberInfo[]> {
    const g = this.group(group);
    const last = Number(await g.getFunction("lastTokenId")());
    const out: MemberInfo[] = [];
    for (let from = 1; from <= last; from += 200) {
      const [accounts] = (await g.getFunction("membersPage")(from, 200)) as [string[], bigint[]];
      for (const a of accounts) out.push(await this.member(group, a));
    }
    return out;
  }

  async settings(group: string, blockTag?: number): Promise<GroupSettings> {
    const s = (await this.group(group).getFunction("settings")(...(blockTag !== undefined ? [{ blockTag }] : []))) as Fields;
    const c = s.config as Fields;
    return {
      config: {
        defaultQuorumBps: Number(c.defaultQuorumBps),
        addQuorumBps: Number(c.addQuorumBps),
        removeQuorumBps: Number(c.removeQuorumBps),
        configQuorumBps: Number(c.configQuorumBps),
        feeDestinationQuorumBps: Number(c.feeDestinationQuorumBps),
        customQuorumBps: Number(c.customQuorumBps),
        votingPeriod: Number(c.votingPeriod),
        period: Number(c.period),
        gracePeriod: Number(c.gracePeriod),
        mode: Number(c.mode) as GroupSettings["config"]["mode"],
        customCallsAllowed: Boolean(c.customCallsAllowed),
        maxOpenProposals: Number(c.maxOpenProposals),
        fee: c.fee as bigint,
        feeToken: String(c.feeToken),
      },
      controller: String(s.controller),
      linker: String(s.linker),
      admins: [...(s.admins as string[])],
    };
  }

  /** The fee destination's kind, and when and what each token can release. */
  async feeDestinationKind(group: string) {
    const g = this.group(group);
    const d = (await g.getFunction("feeDestination")()) as Fields;
    return {
      kind: Number(d.kind),
      nextReleaseAt: async (token: string) => Number(await g.getFunction("nextReleaseAt")(token)),
      balance: async (token: string): Promise<bigint> =>
        token === ZeroAddress
          ? this.provider.getBalance(group)
          : ((await new Contract(token, ["function balanceOf(address) view returns (uint256)"], this.provider).getFunction("balanceOf")(group)) as bigint),
    };
  }

  async calledFunction(txHash: string): Promise<string | undefined> {
    const tx = await this.provider.getTransaction(txHash);
    if (!tx) return undefined;
    try {
      return groupInterface.parseTransaction({ data: tx.data })?.name;
    } catch {
      return undefined;
    }
  }

  async head(): Promise<number> {
    return this.provider.getBlockNumber();
  }

  /**
   * Every account that ever held a token in `group` (lower case), with its
   * paid-through time (0 = no longer a member), at `blockTag`: one call per
   * 500 accounts (one for a group of fewer).
   */
  async expiries(group: string, blockTag?: number): Promise<{ address: string; isMember: boolean; expiresAt: number }[]> {
    const out: { address: string; isMember: boolean; expiresAt: number }[] = [];
    // Pages of 500 (the contract's limit) until one comes back short: no call for the count first.
    for (let from = 1; ; from += 500) {
      const { accounts, expiries } = decodeMembersPage(await this.view(group, "membersPage", [from, 500], blockTag));
      accounts.forEach((a, i) => out.push({ address: a, isMember: expiries[i] !== 0, expiresAt: expiries[i]! }));
      if (accounts.length < 500) return out;
    }
  }

  /**
   * The raw answer of a view function of `group` at `blockTag`, for the
   * reads decoded here rather than by ethers; a revert is decoded as a
   * Contract decodes it.
   */
  private async view(group: string, fn: string, args: unknown[], blockTag?: number): Promise<string> {
    const tx = { to: group, data: groupInterface.encodeFunctionData(fn, args), ...(blockTag !== undefined ? { blockTag } : {}) };
    try {
      return await this.provider.call(tx);
    } catch (e) {
      if (isCallException(e) && e.data) throw groupInterface.makeError(e.data, tx);
      throw e;
    }
  }

  /**
   * The events of all `groups` in blocks [from, to], per group (lower-case
   * address), in order. One eth_getLogs per `maxAddresses` groups and per
   * `maxBlockRange` blocks (what public endpoints accept); for the last few
   * blocks (`liveBlocks`, the path of every new head) one call, however many
   * groups.
   */
  async eventsOf(
    groups: string[],
    from: number,
    to: number,
    limits: { maxAddresses: number; maxBlockRange: number; liveBlocks?: number } = { maxAddresses: 500, maxBlockRange: 2000, liveBlocks: 64 },
  ): Promise<Map<string, GroupEvent[]>> {
    const out = new Map<string, GroupEvent[]>(groups.map((g) => [g.toLowerCase(), []]));
    if (groups.length > limits.maxAddresses && to - from < (limits.liveBlocks ?? 0)) {
      // A few new blocks and more groups than one filter holds: one call by the
      // groups' event signatures alone, kept only where the address is a group
      // of ours, so the cost of a new block does not grow with the groups.
      // Only signatures no widespread contract shares (LIVE_TOPICS), else every
      // token transfer on the chain would come too; and if the endpoint still
      // refuses, the groups are asked for by address as below.
      try {
        const logs = await this.provider.getLogs({ topics: [LIVE_TOPICS], fromBlock: from, toBlock: to });
        for (const log of logs) {
          const list = out.get(log.address.toLowerCase());
          const parsed = list && parseGroupLog(log);
          if (parsed) list.push(parsed);
        }
        return out;
      } catch (e) {
        if (!refusedForSize(e)) throw e;
        for (const list of out.values()) list.length = 0;
      }
    }
    for (let i = 0; i < groups.length; i += limits.maxAddresses) {
      const address = groups.slice(i, i + limits.maxAddresses);
      for (let start = from; start <= to; start += limits.maxBlockRange) {
        const end = Math.min(to, start + limits.maxBlockRange - 1);
        for (const log of await this.logsIn(address, start, end)) {
          const parsed = parseGroupLog(log);
          if (parsed) out.get(log.address.toLowerCase())?.push(parsed);
        }
      }
    }
    return out;
  }

  /**
   * The logs of `address` in [from, to]; a range the endpoint refuses (too
   * many blocks or results for its limits) is asked for in halves, down to
   * one block, which then fails as the endpoint said.
   */
  private async logsIn(address: string[], from: number, to: number): Promise<Log[]> {
    try {
      return await this.provider.getLogs({ address, topics: [READ_TOPICS], fromBlock: from, toBlock: to });
    } catch (e) {
      // Only a refusal of the size: an endpoint that is down or rate-limiting is not asked twice as often.
      if (from >= to || !refusedForSize(e)) throw e;
      const mid = from + Math.floor((to - from) / 2);
      return [...(await this.logsIn(address, from, mid)), ...(await this.logsIn(address, mid + 1, to))];
    }
  }

  /** The group's events in blocks [from, to], in order, with their transaction hashes. */
  async events(group: string, from: number, to: number): Promise<GroupEvent[]> {
    return (await this.eventsOf([group], from, to)).get(group.toLowerCase()) ?? [];
  }

  /** The EIP-712 domain of `group`, for signatures users make. */
  async domain(group: string) {
    const { chainId } = await this.provider.getNetwork();
    return { name: "Conclave Group", version: "1", chainId, verifyingContract: group };
  }

  /**
   * An unused signature nonce of `account`. Nonces are unordered (Permit2's
   * bitmap): the word is today's date, so a day's signatures share one
   * storage word, and the bit is random, so signatures prepared at the same
   * time do not collide.
   */
  async nonce(group: string, account: string): Promise<bigint> {
    const day = BigInt(Math.floor(Date.now() / 86_400_000));
    // More than 256 signatures in a day by one account: the next words of the day.
    for (let k = 0n; ; k++) {
      const word = day | (k << 40n);
      const used = (await this.group(group).getFunction("nonceBitmap")(account, word)) as bigint;
      const free = [...Array(256).keys()].filter((b) => ((used >> BigInt(b)) & 1n) === 0n);
      const bit = free[Math.floor(Math.random() * free.length)];
      if (bit !== undefined) return (word << 8n) | BigInt(bit);
    }
  }

  /** A proposal's current tally and state, by id (one view call). */
  async proposalView(
    group: string,
    proposalId: bigint,
  ): Promise<{ state: ProposalState; forVotes: number; againstVotes: number; abstainVotes: number; deadline: number }> {
    const v = (await this.group(group).getFunction("proposal")(proposalId)) as Fields;
    return {
      state: Number(v.state) as ProposalState,
      forVotes: Number(v.forVotes),
      againstVotes: Number(v.againstVotes),
      abstainVotes: Number(v.abstainVotes),
      deadline: Number(v.deadline),
    };
  }

  /** The group's fee destination in full. */
  async feeDestination(group: string): Promise<FeeDestination> {
    const d = (await this.group(group).getFunction("feeDestination")()) as Fields;
    return {
      kind: Number(d.kind) as FeeDestination["kind"],
      target: String(d.target),
      recipients: [...(d.recipients as string[])].map(String),
      sharesBps: [...(d.sharesBps as bigint[])].map(Number),
    };
  }

  /** What `owner` holds of `token` (the native coin for the zero address). */
  async balance(token: string, owner: string): Promise<bigint> {
    if (token === ZeroAddress) return this.provider.getBalance(owner);
    return (await new Contract(token, ERC20_ABI, this.provider).getFunction("balanceOf")(owner)) as bigint;
  }

  /** An ERC-20 token's symbol and decimals, as it reports them (undefined when it does not). */
  async tokenInfo(token: string): Promise<{ symbol: string; decimals: number } | undefined> {
    try {
      const t = new Contract(token, ERC20_ABI, this.provider);
      const [symbol, decimals] = (await Promise.all([t.getFunction("symbol")(), t.getFunction("decimals")()])) as [unknown, unknown];
      return { symbol: String(symbol).slice(0, 12), decimals: Number(decimals) };
    } catch {
      return undefined;
    }
  }

  /** The chain's time: the latest block's timestamp. */
  async now(): Promise<number> {
    return (await this.provider.getBlock("latest"))?.timestamp ?? Math.floor(Date.now() / 1000);
  }

  /**
   * Whether a transaction `from` would send succeeds now: resolves, or
   * rejects with the chain's error (its revert data decodes to a reason).
   */
  async simulate(tx: { from: string; to: string; data: string; value: bigint }): Promise<void> {
    await this.provider.estimateGas(tx);
  }

  private requireMined(receipt: TransactionReceipt | undefined, what: string): TransactionReceipt {
    if (!receipt || receipt.status !== 1) throw new Error(`the transaction to ${what} failed on-chain`);
    return receipt;
  }
}

const ERC20_ABI = ["function balanceOf(address) view returns (uint256)", "function symbol() view returns (string)", "function decimals() view returns (uint8)"];

/** Every event a group emits, by its topic. */
const GROUP_EVENTS = new Map<string, EventFragment>();
groupInterface.forEachEvent((e) => GROUP_EVENTS.set(e.topicHash, e));
/**
 * The group events asked for by signature alone (the live path for many
 * groups): all but those whose signature widespread contracts emit too,
 * ERC-20's and ERC-721's Transfer, ERC20Votes' DelegateChanged, the
 * initializers' Initialized, ERC-5267's EIP712DomainChanged and ERC-5192's
 * Locked and Unlocked. A group emits each of those beside one of its own
 * (Transfer and Locked with MemberAdded or MemberRemoved), or it changes
 * nothing in a room (a delegation).
 */
export const SHARED_SIGNATURES = ["Transfer", "DelegateChanged", "Initialized", "EIP712DomainChanged", "Locked", "Unlocked"];
/**
 * Group events nothing in the bot reads from the logs (it reads delegations,
 * authorities and payouts from the contract's state): never asked for.
 * Anyone may emit some of them at will (an unordered nonce invalidated, a
 * payout claimed), so asking for them would let a stranger fill every
 * answer past an endpoint's result limit.
 */
export const UNREAD_EVENTS = [
  "UnorderedNonceInvalidation",
  "DelegateChanged",
  "RelayerChanged",
  "FeeDestinationChanged",
  "FeesReleased",
  "PayoutDeferred",
  "PayoutClaimed",
];
const READ_TOPICS = [...GROUP_EVENTS.entries()].filter(([, e]) => !UNREAD_EVENTS.includes(e.name)).map(([t]) => t);
const LIVE_TOPICS = [...GROUP_EVENTS.entries()].filter(([, e]) => !UNREAD_EVENTS.includes(e.name) && !SHARED_SIGNATURES.includes(e.name)).map(([t]) => t);

/**
 * A log of a group, parsed; undefined when it is not one of ours. Its event
 * is found by topic here: ethers' `parseLog` hashes the signature of every
 * event of the interface to find it, for each log (a catch-up over many
 * blocks parses thousands).
 */
function parseGroupLog(log: Log): GroupEvent | undefined {
  const fragment = GROUP_EVENTS.get(log.topics[0]?.toLowerCase() ?? "");
  if (!fragment || fragment.anonymous) return undefined;
  try {
    const args = groupInterface.decodeEventLog(fragment, log.data, log.topics) as GroupEvent["args"];
    return { name: fragment.name, args, txHash: log.transactionHash, blockNumber: log.blockNumber, logIndex: log.index };
  } catch {
    /* not one of ours */
  }
  return undefined;
}

export const NO_REF = ZeroHash;
export type { VoteType };
