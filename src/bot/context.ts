/**
 * What a command handler gets: who asks, where, and narrow capabilities.
 */
import type { TransactionReceipt } from "ethers";
import type { Reply, RoomPort } from "./matrix.ts";
import type { Store } from "../store/store.ts";
import type { FeeDestination, GroupSettings } from "../governance/types.ts";
import type { MemberInfo, ProposalInfo } from "../governance/client.ts";

/** The chain as command handlers see it (ChainClient implements it). */
export interface ChainPort {
  readonly botAddress: string;
  createGroup(
    intent: string,
    settings: GroupSettings,
    destination: FeeDestination,
    founders: string[],
    ref: string,
  ): Promise<{ group: string; block: number }>;
  call(intent: string, group: string, fn: string, args: unknown[], description: string): Promise<TransactionReceipt>;
  proposalByNumber(group: string, number: number): Promise<ProposalInfo | undefined>;
  proposals(group: string, fromBlock: number): Promise<ProposalInfo[]>;
  member(group: string, address: string, blockTag?: number): Promise<MemberInfo>;
  voteOf(group: string, proposalId: bigint, voter: string): Promise<number>;
  members(group: string): Promise<MemberInfo[]>;
  settings(group: string, blockTag?: number): Promise<GroupSettings>;
  domain(group: string): Promise<{ name: string; version: string; chainId: bigint; verifyingContract: string }>;
  nonce(group: string, account: string): Promise<bigint>;
}

/** Settings the bot was configured with. */
export interface BotSettings {
  prefix: string;
  /** server name for bare user names (`@alice` → `@alice:server`) */
  serverName: string;
  creators: "anyone" | string[];
  defaults: Omit<GroupSettings, "linker">;
  defaultDestination: FeeDestination;
  /** decimals of the default fee token */
  feeDecimals: number;
  /** how long a `!link` message may wait for its signature */
  linkTtlMs: number;
  /** how many days the authority `!authorize` asks for lasts, unless the member says (at most 366) */
  authorizationDays: number;
  /** base URL of the web page (signing), when there is one */
  webUrl?: string;
  /** a secret salt for the Matrix link hashes recorded on-chain */
  linkSalt: string;
  /** the bot's own Matrix user id */
  botUserId: string;
}

export interface Ctx {
  roomId: string;
  sender: string;
  eventId: string;
  rooms: RoomPort;
  store: Store;
  chain: ChainPort;
  settings: BotSettings;
  log: (line: string) => void;
}

/** A command's answer: plain text and, when useful, HTML. */
export type Answer = Reply;

/** A refusal the user can act on; not an error in the bot. */
export class Refusal extends Error {}
