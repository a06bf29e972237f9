// Worst-case section of the gas benchmark: what one member's transaction
// costs in a group of 10, 1,000 and 10,000 members, in two adversarial
// states, with real transactions on the in-process Hardhat network.
//
// - "prepaid": every member was paid a year ahead by someone else (a yearly
//   group where a third party renewed everybody), so every end lies far ahead.
// - "lapsed together": every member's period ends in the same second (all
//   joined in one second), and that second has passed.
//
// In both, a popular delegate ("hub") carries max(4, N/10) delegators, so
// that it holds three inline and the rest in its own expiry tree: the
// heaviest paths of voting, renewing, delegating and removing. For each
// operation the higher of the two states is reported.
//
// Run by Node 22's built-in type stripping (see bench/gas.ts).
import { Contract, Interface, keccak256, toBeHex, Wallet, type JsonRpcProvider } from "ethers";
import type { HardhatEthers } from "@nomicfoundation/hardhat-ethers/types";
import { deployFactory } from "../src/governance/deploy.ts";
import { ACCEPT_TYPES } from "../src/governance/typed.ts";
import { FACTORY_ABI, GROUP_ABI } from "../src/governance/contracts.ts";
import { destinationValues, encodeAccount, LOCKED_DESTINATION, settingsValues } from "../src/governance/encoding.ts";
import { Action, Mode, QUORUM_DEFAULT, VoteType, type GroupSettings } from "../src/governance/types.ts";

const DAY = 86_400;
const ZERO = "0x0000000000000000000000000000000000000000";
const group = new Interface(GROUP_ABI);

export type Op = "join" | "renew" | "vote" | "propose" | "execute" | "delegate" | "sweep64";
export type WorstCase = Record<Op, Record<string, number>>;

/** The bench's groups: vote mode, fee 0, a 10% quorum, `period`, `addQuorumBps` and `gracePeriod` as given. */
export function benchSettings(period: number, addQuorumBps: number, gracePeriod: number): GroupSettings {
  return {
    config: {
      // 10%: the hub's points alone pass a proposal at its deadline.
      defaultQuorumBps: 1000,
      addQuorumBps,
      removeQuorumBps: QUORUM_DEFAULT,
      configQuorumBps: QUORUM_DEFAULT,
      feeDestinationQuorumBps: QUORUM_DEFAULT,
      customQuorumBps: QUORUM_DEFAULT,
      votingPeriod: 3 * DAY,
      period,
      gracePeriod,
      mode: Mode.Vote,
      customCallsAllowed: false,
      maxOpenProposals: 3,
      fee: 0n,
      feeToken: ZERO,
    },
    controller: ZERO,
    linker: ZERO,
    admins: [],
  };
}

/** Deterministic member keys (fast: no HD derivation). */
const wallet = (i: number) => new Wallet(keccak256(toBeHex(i + 1, 32)));

class Chain {
  readonly provider: JsonRpcProvider;
  // The bench's own funded account: raw signed transactions skip the node's gas estimation,
  // which would replay the whole pending block for each of thousands of transactions.
  private readonly sender = new Wallet(keccak256("0x62656e6368"));
  private readonly nonces = new Map<string, number>();
  constructor(ethers: HardhatEthers) {
    this.provider = ethers.provider as unknown as JsonRpcProvider;
  }
  send(method: string, params: unknown[]): Promise<unknown> {
    return this.provider.send(method, params);
  }
  /** Queues a call from the funded bench account (mined by `mine`). */
  queue(to: string, data: string): Promise<unknown> {
    return this.queueAs(this.sender, to, data);
  }
  /** Queues a call signed by member wallet `w` (funded on first use). */
  async queueAs(w: Wallet, to: string, data: string): Promise<unknown> {
    let n = this.nonces.get(w.address);
    if (n === undefined) {
      await this.send("hardhat_setBalance", [w.address, toBeHex(10n ** 24n)]);
      n = Number(await this.send("eth_getTransactionCount", [w.address, "pending"]));
    }
    this.nonces.set(w.address, n + 1);
    const raw = await w.signTransaction({ to, data, nonce: n, gasLimit: 16_000_000n, gasPrice: 10n ** 9n, chainId: 31337n, type: 0 });
    return this.send("eth_sendRawTransaction", [raw]);
  }
  private pinned = false;
  /** The next block's timestamp is `t`. */
  async pin(t: number): Promise<void> {
    await this.send("evm_setNextBlockTimestamp", [toBeHex(t)]);
    this.pinned = true;
  }
  /**
   * Mines the queued transactions: one second after the last block unless pinned, so
   * where the ends fall in the trees (and so the gas) does not depend on how fast this
   * machine signs and sends.
   */
  async mine(): Promise<void> {
    if (!this.pinned) await this.send("evm_setNextBlockTimestamp", [toBeHex((await this.now()) + 1)]);
    this.pinned = false;
    await this.send("evm_mine", []);
  }
  async now(): Promise<number> {
    return (await this.provider.getBlock("latest"))!.timestamp;
  }
  async warpTo(t: number): Promise<void> {
    await this.pin(t);
    await this.mine();
  }
  /** Sends one transaction from `w` (or the bench account), mines it alone, returns its gas; it must succeed. */
  async measure(to: string, data: string, w?: Wallet): Promise<number> {
    const hash = (w ? await this.queueAs(w, to, data) : await this.queue(to, data)) as string;
    await this.mine();
    const rc = await this.provider.getTransactionReceipt(hash);
    if (!rc || rc.status !== 1) throw new Error(`measured transaction failed: ${group.parseTransaction({ data })?.name ?? data.slice(0, 10)}`);
    return Number(rc.gasUsed);
  }
}

interface Setup {
  g: string;
  members: Wallet[];
  hub: Wallet;
  delegators: Wallet[];
}

/** A group of `n` members whose periods last `period`; all in one second when `sameSecond`. */
async function makeGroup(c: Chain, factory: Contract, n: number, period: number, sameSecond: boolean): Promise<Setup> {
  const members = Array.from({ length: n }, (_, i) => wallet(i));
  const founders = members.slice(0, Math.min(n, 256));
  const t0 = (await c.now()) + 10;
  await c.pin(t0);
  const created = (await c.queue(
    await factory.getAddress(),
    factory.interface.encodeFunctionData("createGroup", [
      [settingsValues(benchSettings(period, 0, 0)), destinationValues(LOCKED_DESTINATION), founders.map((w) => w.address)],
      keccak256("0x"),
    ]),
  )) as string;
  await c.mine();
  const rc = await c.provider.getTransactionReceipt(created);
  const ev = rc!.logs.map((l) => factory.interface.parseLog(l)).find((e) => e?.name === "GroupCreated");
  const g = ev!.args.group as string;
  // The others accept by signature, submitted by the bench account, 500 per block.
  const domain = { name: "Conclave Group", version: "1", chainId: 31337, verifyingContract: g };
  const types = ACCEPT_TYPES;
  const deadline = t0 + 365 * DAY;
  for (let i = founders.length; i < n; i += 500) {
    for (const w of members.slice(i, i + 500)) {
      const sig = await w.signTypedData(domain, types, { account: w.address, nonce: 0, deadline });
      await c.queue(g, group.encodeFunctionData("acceptFor", [w.address, 0, deadline, sig]));
    }
    if (sameSecond) await c.pin(t0);
    await c.mine();
  }
  // The hub (the last member) gets max(4, n/10) delegators.
  const hub = members[n - 1]!;
  const delegators = members.slice(0, Math.max(4, Math.floor(n / 10)));
  for (let i = 0; i < delegators.length; i += 500) {
    for (const w of delegators.slice(i, i + 500)) await c.queueAs(w, g, group.encodeFunctionData("delegate", [hub.address]));
    await c.mine();
  }
  return { g, members, hub, delegators };
}

async function proposalOf(c: Chain, g: string, hash: string) {
  const rc = await c.provider.getTransactionReceipt(hash);
  const ev = rc!.logs.map((l) => group.parseLog(l)).find((e) => e?.name === "ProposalCreated")!;
  return { id: ev.args.proposalId as bigint, number: ev.args.number as bigint, payload: ev.args.payload as string };
}

/** State "prepaid": a yearly group, everyone renewed a year ahead by someone else. */
async function prepaid(c: Chain, factory: Contract, n: number): Promise<Partial<Record<Op, number>>> {
  const s = await makeGroup(c, factory, n, 365 * DAY, false);
  for (let i = 0; i < n; i += 500) {
    for (const w of s.members.slice(i, i + 500)) await c.queue(s.g, group.encodeFunctionData("renew", [w.address]));
    await c.mine();
  }
  const out: Partial<Record<Op, number>> = {};
  // A newcomer, whose period ends in a second of its own (nobody near it in any tree):
  // it joins, gives its point to the hub (into the hub's tree: the three inline places are
  // taken), and pays its next year (its end moves in both trees).
  const x = wallet(n + 1);
  out.join = await c.measure(s.g, group.encodeFunctionData("join", []), x);
  await c.warpTo((await c.now()) + 1);
  out.delegate = await c.measure(s.g, group.encodeFunctionData("delegate", [s.hub.address]), x);
  await c.warpTo((await c.now()) + 1);
  out.renew = await c.measure(s.g, group.encodeFunctionData("renew", [x.address]), x);
  // A proposal to remove the newcomer, passed by the hub's points.
  const payload = encodeAccount(x.address);
  const hash = (await c.queueAs(s.members[Math.floor(n / 2)]!, s.g, group.encodeFunctionData("propose", [Action.RemoveMember, payload]))) as string;
  await c.mine();
  out.propose = Number((await c.provider.getTransactionReceipt(hash))!.gasUsed);
  const p = await proposalOf(c, s.g, hash);
  out.vote = await c.measure(s.g, group.encodeFunctionData("castVote", [p.id, VoteType.For]), s.hub);
  await c.warpTo((await c.now()) + 3 * DAY + 1);
  // The heaviest removal: an active member carried in the hub's tree.
  out.execute = await c.measure(s.g, group.encodeFunctionData("execute", [p.number, Action.RemoveMember, payload]));
  return out;
}

/** State "lapsed together": every period ended in the same second, which has passed. */
async function lapsedTogether(c: Chain, factory: Contract, n: number): Promise<Partial<Record<Op, number>>> {
  const s = await makeGroup(c, factory, n, 30 * DAY, true);
  const out: Partial<Record<Op, number>> = {};
  const target = s.members[Math.floor(n / 3)]!;
  const end = Number((await new Contract(s.g, GROUP_ABI, c.provider).getFunction("memberInfo")(target.address)).expiresAt);
  // A proposal a day before everyone's period ends; votes on it after.
  await c.warpTo(end - DAY);
  const payload = encodeAccount(target.address);
  const hash = (await c.queueAs(s.members[Math.floor(n / 2)]!, s.g, group.encodeFunctionData("propose", [Action.RemoveMember, payload]))) as string;
  await c.mine();
  const p = await proposalOf(c, s.g, hash);
  await c.warpTo(end + 1);
  out.vote = await c.measure(s.g, group.encodeFunctionData("castVote", [p.id, VoteType.For]), s.hub);
  // A delegator of the hub pays again: a new period, carried by the hub once more.
  const late = s.delegators[s.delegators.length - 1]!;
  out.renew = await c.measure(s.g, group.encodeFunctionData("renew", [late.address]), late);
  out.propose = await c.measure(s.g, group.encodeFunctionData("propose", [Action.AddMember, encodeAccount(wallet(n + 5).address)]), late);
  out.join = await c.measure(s.g, group.encodeFunctionData("join", []), wallet(n + 2));
  // The keeper removes up to 64 of the lapsed (not the hub and not the one who paid again).
  const lapsed = s.members.filter((w) => w !== late && w !== s.hub).slice(0, 64);
  out.sweep64 = await c.measure(s.g, group.encodeFunctionData("removeLapsedBatch", [lapsed.map((w) => w.address)]));
  // Half a year on, the hub (paid again) votes on a new proposal: its carried count spans months of its tree.
  await c.measure(s.g, group.encodeFunctionData("renew", [s.hub.address]), s.hub);
  await c.warpTo((await c.now()) + 20 * DAY);
  for (let k = 0; k < 8; ++k) {
    for (const w of [s.hub, late]) await c.measure(s.g, group.encodeFunctionData("renew", [w.address]), w);
    await c.warpTo((await c.now()) + 25 * DAY);
  }
  const removal = encodeAccount(late.address);
  const h2 = (await c.queueAs(late, s.g, group.encodeFunctionData("propose", [Action.RemoveMember, removal]))) as string;
  await c.mine();
  const p2 = await proposalOf(c, s.g, h2);
  out.vote = Math.max(out.vote, await c.measure(s.g, group.encodeFunctionData("castVote", [p2.id, VoteType.For]), s.hub));
  await c.warpTo((await c.now()) + 3 * DAY + 1);
  out.execute = await c.measure(s.g, group.encodeFunctionData("execute", [p2.number, Action.RemoveMember, removal]));
  return out;
}

/** The worst-case table: for each operation and size, the higher of the two states. */
export async function measureWorstCase(ethers: HardhatEthers, sizes: number[], log: (line: string) => void): Promise<WorstCase> {
  const [deployer] = await ethers.getSigners();
  const c = new Chain(ethers);
  const factory = new Contract(await deployFactory(deployer!, await deployer!.getAddress(), { minAddQuorumBps: 0, minNativeFee: 0n }), FACTORY_ABI, deployer);
  await c.send("evm_setAutomine", [false]);
  const ops: Op[] = ["join", "renew", "vote", "propose", "execute", "delegate", "sweep64"];
  const table = Object.fromEntries(ops.map((o) => [o, {}])) as WorstCase;
  for (const n of sizes) {
    const started = Date.now();
    const a = await prepaid(c, factory, n);
    const b = await lapsedTogether(c, factory, n);
    for (const o of ops) table[o][String(n)] = Math.max(a[o] ?? 0, b[o] ?? 0);
    log(`worst case at ${n} members: prepaid ${JSON.stringify(a)}, lapsed together ${JSON.stringify(b)} (${Math.round((Date.now() - started) / 1000)} s)`);
  }
  await c.send("evm_setAutomine", [true]);
  return table;
}
