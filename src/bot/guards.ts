/**
 * The checks every command makes about who is asking, each with a reply
 * that says what to do. Nothing is sent on-chain when one fails.
 */
import { keccak256, toUtf8Bytes } from "ethers";
import { Refusal, type Ctx } from "./context.ts";
import type { Link, RoomBinding } from "../store/store.ts";
import type { MemberInfo } from "../governance/client.ts";

/** Whether `userId` is one of `creators` (a user id, or a `*:server` pattern for every user of that server). */
export function isCreator(creators: "anyone" | string[], userId: string): boolean {
  if (creators === "anyone") return true;
  const server = userId.slice(userId.indexOf(":") + 1);
  return creators.some((p) => p === userId || p === `*:${server}`);
}

export async function requireBinding(ctx: Ctx): Promise<RoomBinding> {
  const b = await ctx.store.getBinding(ctx.roomId);
  if (!b) throw new Refusal(`This room is not a group yet. ${ctx.settings.prefix}dao create turns it into one.`);
  return b;
}

export async function requireLink(ctx: Ctx, roomId = ctx.roomId): Promise<Link> {
  const l = await ctx.store.getLink(roomId, ctx.sender);
  if (!l) throw new Refusal(`You have not linked an address yet. Send ${ctx.settings.prefix}link 0xYOUR_ADDRESS first.`);
  return l;
}

/** The sender's standing; refuses non-members and lapsed members. */
export async function requireActive(ctx: Ctx, b: RoomBinding, l: Link): Promise<MemberInfo> {
  const m = await ctx.chain.member(b.group, l.address);
  if (!m.isMember) {
    throw new Refusal(
      m.approved
        ? `You are approved but have not accepted yet: send ${ctx.settings.prefix}join.`
        : "You are not a member of this group: a member must propose adding you, and the proposal must pass.",
    );
  }
  if (!m.active) throw new Refusal(`Your membership has lapsed: pay again to take part (${ctx.settings.prefix}join tells you how).`);
  return m;
}

/** Chat actions go through the relayer authority the member gave the bot. */
export function requireRelayer(ctx: Ctx, m: MemberInfo): void {
  if (m.relayer.toLowerCase() !== ctx.chain.botAddress.toLowerCase()) {
    throw new Refusal(
      `You have not authorised the bot to act for you in this group. Send ${ctx.settings.prefix}authorize to get the message to sign, or act from your wallet.`,
    );
  }
}

/** The address linked to `userId` in this room, or a refusal saying how to link. */
export async function addressOf(ctx: Ctx, userId: string): Promise<string> {
  const l = await ctx.store.getLink(ctx.roomId, userId);
  if (!l) {
    throw new Refusal(
      `${userId} has not linked an address for this group. They can send me, here or in a direct message, ${ctx.settings.prefix}link 0xTHEIR_ADDRESS ${ctx.roomId}`,
    );
  }
  return l.address;
}

/** The Matrix account linked to `address` in this room, if any. */
export async function userOf(ctx: Ctx, address: string): Promise<string | undefined> {
  return (await ctx.store.getLinkByAddress(ctx.roomId, address))?.userId;
}

/** The salted hash recorded on-chain for a link: it never reveals the Matrix id. */
export function linkHash(salt: string, group: string, userId: string): string {
  return keccak256(toUtf8Bytes(`${salt}|${group.toLowerCase()}|${userId}`));
}
