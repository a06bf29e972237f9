/**
 * Who may make the bot spend gas, and how much. Every transaction a chat
 * command sends goes through here:
 * - only for a sender linked to an address that is a member of the group
 *   or approved for it, or, for a group's creation, for a founder named in
 *   the room's preview once every founder has consented: a stranger never
 *   makes the operator pay;
 * - within the room's daily gas budget (`limits.gasPerRoomPerDay`, counted
 *   from the receipts, per UTC day); past it, chain actions are refused with
 *   an answer that says so, and the operator reads a log line;
 * - a transaction already sent for the same intent (the same command, run
 *   again after a crash) is followed whatever the limits say now: its gas
 *   is already spent.
 * After each transaction the bot's balance is checked, and logged when it
 * is below `chain.lowBalance`; `!status` shows it too.
 */
import { Refusal } from "./context.ts";
import type { ChainPort } from "../ports/chain.ts";
import type { Store } from "../store/store.ts";
import { decodePlan } from "./plan.ts";

/** The bot's own funds. */
export interface Funds {
  /** the bot's balance, in the chain's smallest unit */
  balance(): Promise<bigint>;
  /** the gas a mined transaction used, when it is known */
  gasUsed(txHash: string): Promise<bigint | undefined>;
}

export interface SpendingOptions {
  store: Store;
  funds: Funds;
  /** gas the bot may spend for one room's commands per UTC day */
  gasPerRoomPerDay: bigint;
  /** below this balance (smallest unit) the operator is warned */
  lowBalance: bigint;
  /** the balance as people read it: "0.05 ETH" */
  formatBalance: (wei: bigint) => string;
  botAddress: string;
  log: (line: string) => void;
}

/** Who sends the command a transaction is for. */
export interface Asker {
  roomId: string;
  sender: string;
  eventId: string;
  /**
   * The address the transaction is for, when the asker is proved by that
   * address's own signature (a vote or an authorisation signed on the web
   * page) rather than by a Matrix link: it must be a member or approved.
   */
  account?: string;
}

const NOT_A_MEMBER =
  "Only members of the group and accounts approved to join can make me send transactions. Link the address that is (or is approved to be) a member, or act from your wallet.";

const NO_CONSENT = "A group is created only once every founder named in its preview has consented (!dao confirm CODE).";

const day = () => Math.floor(Date.now() / 86_400_000);

export class Spending {
  private readonly o: SpendingOptions;
  private lastBalanceWarning = 0;

  constructor(o: SpendingOptions) {
    this.o = o;
  }

  /** The key under which a command's first transaction is noted: a run after a crash is a resumption. */
  static startedKey(eventId: string): string {
    return `started:${eventId}`;
  }

  /** The chain as the command of `asker` sees it: reads as they are, transactions guarded. */
  chainFor(asker: Asker, chain: ChainPort): ChainPort {
    return {
      botAddress: chain.botAddress,
      createGroup: async (intent, settings, destination, founders, ref) => {
        const room = await this.admit(asker, intent, undefined, chain);
        const out = await chain.createGroup(intent, settings, destination, founders, ref);
        const tx = await this.o.store.getTx(intent);
        await this.spent(room, intent, tx ? await this.o.funds.gasUsed(tx.hash) : undefined);
        return out;
      },
      call: async (intent, group, fn, args, description) => {
        const room = await this.admit(asker, intent, group, chain, fn);
        const receipt = await chain.call(intent, group, fn, args, description);
        await this.spent(room, intent, receipt.gasUsed);
        return receipt;
      },
      checkCreation: (settings, destination, founders, ref) => chain.checkCreation(settings, destination, founders, ref),
      proposalByNumber: (group, number) => chain.proposalByNumber(group, number),
      proposals: (group, fromBlock) => chain.proposals(group, fromBlock),
      member: (group, address, blockTag) => chain.member(group, address, blockTag),
      voteOf: (group, proposalId, voter) => chain.voteOf(group, proposalId, voter),
      members: (group) => chain.members(group),
      settings: (group, blockTag) => chain.settings(group, blockTag),
      domain: (group) => chain.domain(group),
      nonce: (group, account) => chain.nonce(group, account),
    };
  }

  /** Refuses a transaction the asker may not have; returns the room it is counted for. */
  private async admit(asker: Asker, intent: string, group: string | undefined, chain: ChainPort, fn?: string): Promise<string> {
    const { store } = this.o;
    const room = group === undefined ? asker.roomId : (await store.getBindingByGroup(group))?.roomId;
    if (room === undefined) throw new Refusal("That group has no room here.");
    if (await store.getTx(intent)) return room;
    // Carrying out a decision the group made (a poll that passed at its
    // deadline, asked by no one): for whoever asks, once per proposal (its
    // intent), and only a passed proposal (the estimate refuses any other),
    // so it costs one transaction per proposal members made. Counted for the
    // room, never refused for its chat's budget: like the keeper's removals,
    // a decision is not held up because members chatted a lot.
    if (group !== undefined && fn === "execute") {
      await store.setState(Spending.startedKey(asker.eventId), intent);
      return room;
    }
    const address = asker.account ?? (await store.getLink(room, asker.sender))?.address;
    // A creation needs the founder's link in the room, not an account signed for from the web.
    if (address === undefined || (asker.account !== undefined && group === undefined)) throw new Refusal(NOT_A_MEMBER);
    if (group === undefined) {
      // A creation: only once every founder named in the room's preview has consented, for one of them.
      const c = await store.getCreation(room);
      const plan = c && decodePlan(c.plan);
      const consented = c ? await store.listConsents(room, c.code) : [];
      if (!plan || !plan.founders.some((f) => f.userId === asker.sender) || !plan.founders.every((f) => consented.includes(f.userId))) {
        throw new Refusal(NO_CONSENT);
      }
    } else {
      const m = await chain.member(group, address);
      if (!m.isMember && !m.approved) throw new Refusal(NOT_A_MEMBER);
    }
    const used = BigInt((await store.getState(`gas:${room}:${day()}`)) ?? "0");
    if (used >= this.o.gasPerRoomPerDay) {
      this.o.log(
        `spending: ${room} used its gas budget for today (${used} of ${this.o.gasPerRoomPerDay} gas, limits.gasPerRoomPerDay); refused ${intent} for ${asker.sender}`,
      );
      throw new Refusal(
        `This room's gas budget for today (${this.o.gasPerRoomPerDay} gas) is used up: I send no more transactions for it until 00:00 UTC. Reading commands still work, and members can act from their wallets.`,
      );
    }
    await store.setState(Spending.startedKey(asker.eventId), intent);
    return room;
  }

  /** Counts a transaction's gas once for its room, and checks the balance after it. */
  private async spent(room: string, intent: string, gas: bigint | undefined): Promise<void> {
    const { store } = this.o;
    // One atomic step, once per intent: receipts of one block and several workers add at once.
    if (gas !== undefined) await store.addToCounter(`gas:${room}:${day()}`, gas, `gas-counted:${intent}`);
    await this.low();
  }

  /** The balance when it is below the warning level (logged at most every 10 minutes), else undefined. */
  async low(): Promise<bigint | undefined> {
    let balance: bigint;
    try {
      balance = await this.o.funds.balance();
    } catch {
      return undefined;
    }
    if (balance >= this.o.lowBalance) return undefined;
    if (Date.now() - this.lastBalanceWarning > 600_000) {
      this.lastBalanceWarning = Date.now();
      this.o.log(
        `chain: the bot's balance is ${this.o.formatBalance(balance)}, below chain.lowBalance ${this.o.formatBalance(this.o.lowBalance)}: fund ${this.o.botAddress} before it runs out`,
      );
    }
    return balance;
  }

  /** What `!status` says about the bot's funds, when they are low. */
  async statusLine(): Promise<string | undefined> {
    const b = await this.low();
    return b === undefined
      ? undefined
      : `The bot's balance is low (${this.o.formatBalance(b)} left): once it runs out, chat commands that need a transaction stop working. The operator must fund ${this.o.botAddress}.`;
  }
}
