/**
 * What a command handler gets: who asks, where, and narrow capabilities.
 */
import type { Reply, RoomPort } from "../ports/rooms.ts";
import type { ChainPort } from "../ports/chain.ts";
import type { RoomMode, Store } from "../store/store.ts";
import type { FeeDestination, GroupSettings } from "../governance/types.ts";

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
  /** how long founders have to consent to a preview (ms) */
  consentWindowMs: number;
  /** how long people in a room when enforcement begins keep their place though not members (ms) */
  adoptionGraceMs: number;
  /** what a new group's room starts in, unless `!dao create watch` */
  startIn: RoomMode;
}

export interface Ctx {
  roomId: string;
  sender: string;
  eventId: string;
  /**
   * This command already sent a transaction in an earlier run, cut off by a
   * crash: follow what it sent instead of refusing what it changed.
   */
  resumed: boolean;
  rooms: RoomPort;
  store: Store;
  chain: ChainPort;
  settings: BotSettings;
  log: (line: string) => void;
  /** what `!status` says about the bot's funds when they run low */
  spending?: { statusLine(): Promise<string | undefined> };
  /** after a group is created: resolves once its room follows it (closed, encrypted), so the answer comes after */
  settle?: (roomId: string) => Promise<void>;
}

/** A command's answer: plain text and, when useful, HTML. */
export type Answer = Reply;

/** A refusal the user can act on; not an error in the bot. */
export class Refusal extends Error {}
