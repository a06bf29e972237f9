/**
 * `!link`, `!verify`, `!authorize`, `!unlink`: proving that a Matrix account
 * holds an address, and giving the bot the authority to act for it.
 */
import { encodeBase64, hexlify, randomBytes, sha256, toUtf8Bytes, verifyTypedData, verifyMessage, ZeroAddress } from "ethers";
import { scopeWords } from "../../governance/errors.ts";
import { MAX_RELAYER_DURATION, RelayerScope } from "../../governance/types.ts";
import { RELAYER_TYPES } from "../../governance/typed.ts";
import { Refusal, type Answer, type Ctx } from "../context.ts";
import { answer, formatTime, shortAddress } from "../../text/format.ts";
import { linkHash, requireBinding, requireLink } from "../guards.ts";
import { checksumAddresses } from "../ids.ts";
import type { MemberInfo } from "../../governance/client.ts";

/** What `!authorize` grants unless the member adds more: the everyday chat commands. */
export const BASE_SCOPE = RelayerScope.Vote | RelayerScope.Propose | RelayerScope.Delegate | RelayerScope.Accept;
const SENSITIVE = [
  [RelayerScope.Config, "+config", "config proposals and votes on them (quorums, fee, periods, mode, admins, controller)"],
  [RelayerScope.FeeDestination, "+fees", "fee-destination proposals and votes on them (where the treasury goes)"],
  [RelayerScope.Custom, "+custom", "custom-call proposals and votes on them"],
] as const;

/** The authority in words, as the member reads it before signing. */
export function describeAuthority(bot: string, member: string, scope: number, until: number): string[] {
  const lines = [
    `This lets the bot ${shortAddress(bot)} act for ${shortAddress(member)} in this group on your chat commands, until ${formatTime(until)}: ${scopeWords(scope & BASE_SCOPE)}.`,
  ];
  const covered = SENSITIVE.filter(([bit]) => scope & bit);
  const not = SENSITIVE.filter(([bit]) => !(scope & bit));
  if (covered.length) lines.push(`It also covers ${covered.map(([, , words]) => words).join("; ")}.`);
  if (not.length) {
    lines.push(
      `It does not cover ${not.map(([, , words]) => words).join("; ")}: those you sign in your wallet, or add ${not.map(([, flag]) => flag).join(" ")} to !authorize.`,
    );
  }
  lines.push("It can never move your funds, and it ends by itself on that date.");
  return lines;
}

/** The exact text a user signs to link `address` to `userId` in `room`. */
export function linkMessage(p: { userId: string; roomId: string; group?: string; address: string; nonce: string; botAddress: string }): string {
  return [
    "Conclave: link my address to my Matrix account",
    `Matrix user: ${p.userId}`,
    `Room: ${p.roomId}`,
    `Group: ${p.group ?? "not created yet"}`,
    `Address: ${p.address}`,
    `Nonce: ${p.nonce}`,
    "This proves I hold this address. It moves no funds and authorises nothing else.",
    `Chat actions will use bot ${p.botAddress} only if I also sign an authorisation (!authorize).`,
  ].join("\n");
}

/** `!link 0xADDRESS [room]`: in the group's room, or in a direct message naming the room. */
export async function link(ctx: Ctx, address: string, room?: string): Promise<Answer> {
  const target = room ?? ctx.roomId;
  if (room && room !== ctx.roomId) {
    // Only rooms the bot is in: reading their members fails otherwise.
    const ok = await ctx.rooms.joinedMembers(room).then(
      () => true,
      () => false,
    );
    if (!ok) throw new Refusal(`I am not in ${room}: name a room I am in, by its address (#room:server) or its id.`);
  }
  const { message } = await beginLink(ctx, target, address);
  await ctx.store.setState(`pendingIn:${ctx.roomId}:${ctx.sender}`, target);
  const lines = [
    `Sign the message below with ${shortAddress(address)} (personal_sign / "Sign message" in your wallet), then send ${ctx.settings.prefix}verify 0xSIGNATURE here within ${Math.round(ctx.settings.linkTtlMs / 60_000)} minutes.`,
  ];
  if (ctx.settings.webUrl) {
    const minutes = Math.round(webLinkMs(ctx) / 60_000);
    lines.push(
      `Or open ${ctx.settings.webUrl}/link#${await webLinkToken(ctx, target, address)} within ${minutes} minutes (once): your wallet signs there, nothing to paste.`,
    );
  }
  return answer("Link your address", lines, message);
}

/** How long a one-time link to the web page works. */
function webLinkMs(ctx: Ctx): number {
  return ctx.settings.webLinkMs ?? 15 * 60_000;
}

/**
 * A one-time link token for the web page, bound to the sender, the room and
 * the address being linked: it works once, for a short while, and all it
 * lets its holder do is ask that address's wallet to sign the sender's link
 * message (a stranger who sees it cannot link anything of theirs). Only its
 * hash is kept.
 */
async function webLinkToken(ctx: Ctx, roomId: string, address: string): Promise<string> {
  const token = encodeBase64(randomBytes(24)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const expiresAt = Date.now() + webLinkMs(ctx);
  await ctx.store.setState(webLinkKey(token), JSON.stringify({ userId: ctx.sender, roomId, address, expiresAt }));
  return token;
}

export function webLinkKey(token: string): string {
  return `weblink:${sha256(toUtf8Bytes(token))}`;
}

/** A fresh link message for `ctx.sender` and `address` in `target`, recorded as pending. */
export async function beginLink(ctx: Ctx, target: string, address: string): Promise<{ message: string; nonce: string }> {
  const holder = await ctx.store.getLinkByAddress(target, address);
  if (holder && holder.userId !== ctx.sender) throw new Refusal(`That address is already linked to another Matrix account in this group.`);
  const nonce = hexlify(randomBytes(16));
  // Checksummed, as every answer shows addresses (the store keeps them in lower case).
  const group = checksumAddresses((await ctx.store.getBinding(target))?.group ?? "") || undefined;
  const message = linkMessage({
    userId: ctx.sender,
    roomId: target,
    ...(group ? { group } : {}),
    address,
    nonce,
    botAddress: ctx.chain.botAddress,
  });
  await ctx.store.putPendingLink({ roomId: target, userId: ctx.sender, address, nonce, message, createdAt: Date.now() });
  return { message, nonce };
}

/** `!verify 0xSIGNATURE`: completes the pending link. */
export async function verify(ctx: Ctx, signature: string): Promise<Answer> {
  const target = (await ctx.store.getState(`pendingIn:${ctx.roomId}:${ctx.sender}`)) ?? ctx.roomId;
  return answer("Linked", await completeLink(ctx, target, signature));
}

/**
 * Completes the sender's pending link in `target` with the signature of its
 * message: the lines of the answer. Refuses an expired or used message and a
 * signature by any other key.
 */
export async function completeLink(ctx: Ctx, target: string, signature: string): Promise<string[]> {
  const pending = await ctx.store.getPendingLink(target, ctx.sender);
  if (!pending) {
    // Run again after a crash: this very command already made the link.
    const done = await ctx.store.getState(`verify:${ctx.eventId}`);
    if (done !== undefined) return linked(ctx, target, done);
    throw new Refusal(`There is nothing to verify: send ${ctx.settings.prefix}link 0xYOUR_ADDRESS first.`);
  }
  if (Date.now() - pending.createdAt > ctx.settings.linkTtlMs) {
    await ctx.store.deletePendingLink(target, ctx.sender);
    throw new Refusal(`That link request expired. Send ${ctx.settings.prefix}link again for a fresh message.`);
  }
  if (await ctx.store.nonceUsed(pending.nonce)) throw new Refusal("That message was already used. Send !link again for a fresh one.");
  let signer: string;
  try {
    signer = verifyMessage(pending.message, signature);
  } catch {
    throw new Refusal("That is not a valid signature of the message.");
  }
  if (signer.toLowerCase() !== pending.address.toLowerCase()) {
    throw new Refusal(
      `That signature was made by ${shortAddress(signer)}, not by ${shortAddress(pending.address)}. Sign the exact message with the address you are linking.`,
    );
  }
  await ctx.store.setState(`verify:${ctx.eventId}`, pending.address);
  await ctx.store.putLink({ roomId: target, userId: ctx.sender, address: pending.address, nonce: pending.nonce, linkedAt: Date.now() });
  await ctx.store.deletePendingLink(target, ctx.sender);
  return linked(ctx, target, pending.address);
}

/** The answer to a completed link, after recording it on-chain when it must be. */
async function linked(ctx: Ctx, target: string, address: string): Promise<string[]> {
  const binding = await ctx.store.getBinding(target);
  const lines = [`${ctx.sender} is now linked to ${address}.`];
  if (!binding) {
    lines.push(`When the group is created (${ctx.settings.prefix}dao create), you will be one of its founders.`);
    return lines;
  }
  const m = await recordLink(ctx, binding.group, target, ctx.sender);
  if (m?.isMember) lines.push(`To vote, propose and delegate from chat, send ${ctx.settings.prefix}authorize.`);
  else if (m?.approved) lines.push(`You are approved: send ${ctx.settings.prefix}join to accept your membership.`);
  else lines.push(`You are not a member yet: a member can now propose adding you (${ctx.settings.prefix}propose add ${ctx.sender}).`);
  return lines;
}

/**
 * Records on-chain the salted hash of `userId`'s link in `room`, when its
 * address is a member or approved (nobody else makes the bot pay) and the
 * chain does not hold that very hash already (re-linking changes nothing).
 * Returns the address's standing, or undefined when it has no link.
 */
export async function recordLink(ctx: Ctx, group: string, room: string, userId: string): Promise<MemberInfo | undefined> {
  const l = await ctx.store.getLink(room, userId);
  if (!l) return undefined;
  const m = await ctx.chain.member(group, l.address);
  const hash = linkHash(ctx.settings.linkSalt, group, userId);
  if ((m.isMember || m.approved) && m.matrixLink.toLowerCase() !== hash.toLowerCase()) {
    await ctx.chain.call(`link:${group}:${userId}:${l.nonce}`, group, "recordMatrixLink", [l.address, hash], `record link of ${userId}`);
  }
  return m;
}

/**
 * `!authorize [+config] [+fees] [+custom] [days=N]` shows the authority in
 * words and the typed data to sign; `!authorize 0xSIGNATURE` gives it on-chain.
 */
export async function authorize(ctx: Ctx, signature?: string, extraScope = 0, days?: number): Promise<Answer> {
  const target = (await ctx.store.getState(`pendingIn:${ctx.roomId}:${ctx.sender}`)) ?? ctx.roomId;
  const room = (await ctx.store.getBinding(ctx.roomId)) ? ctx.roomId : target;
  const binding = (await ctx.store.getBinding(room)) ?? (await requireBinding(ctx));
  const l = await requireLink(ctx, room);
  const key = `auth:${room}:${ctx.sender}`;
  if (!signature) {
    const now = Math.floor(Date.now() / 1000);
    const scope = BASE_SCOPE | extraScope;
    const until = now + Math.min((days ?? ctx.settings.authorizationDays) * 86_400, MAX_RELAYER_DURATION - 3600);
    const nonce = await ctx.chain.nonce(binding.group, l.address);
    const deadline = now + 3600;
    await ctx.store.setState(key, JSON.stringify({ nonce: nonce.toString(), deadline, scope, until }));
    const domain = await ctx.chain.domain(binding.group);
    const typed = {
      domain: { ...domain, chainId: Number(domain.chainId) },
      types: RELAYER_TYPES,
      primaryType: "Relayer",
      message: { member: l.address, relayer: ctx.chain.botAddress, scope, until, nonce: nonce.toString(), deadline },
    };
    return answer(
      "Authorise the bot",
      [
        ...describeAuthority(ctx.chain.botAddress, l.address, scope, until),
        `Sign this typed data (eth_signTypedData_v4) within an hour, then send ${ctx.settings.prefix}authorize 0xSIGNATURE.`,
        `Withdraw it at any time with ${ctx.settings.prefix}unlink, or by calling setRelayer(${ZeroAddress}, 0, 0) on ${binding.group} from your wallet.`,
      ],
      JSON.stringify(typed, null, 2),
    );
  }
  const saved = await ctx.store.getState(key);
  if (!saved) throw new Refusal(`Send ${ctx.settings.prefix}authorize first to get the message to sign.`);
  const { nonce, deadline, scope, until } = JSON.parse(saved) as { nonce: string; deadline: number; scope: number; until: number };
  if (deadline * 1000 < Date.now()) throw new Refusal(`That authorisation expired; send ${ctx.settings.prefix}authorize again.`);
  const domain = await ctx.chain.domain(binding.group);
  let signer: string;
  try {
    signer = verifyTypedData(domain, RELAYER_TYPES, { member: l.address, relayer: ctx.chain.botAddress, scope, until, nonce, deadline }, signature);
  } catch {
    throw new Refusal("That is not a valid signature of the authorisation.");
  }
  if (signer.toLowerCase() !== l.address.toLowerCase()) {
    throw new Refusal(`That signature was made by ${shortAddress(signer)}, not by your linked address ${shortAddress(l.address)}.`);
  }
  await ctx.chain.call(
    `authorize:${binding.group}:${l.address}:${nonce}`,
    binding.group,
    "setRelayerBySig",
    [l.address, ctx.chain.botAddress, scope, until, nonce, deadline, signature],
    `authorise the bot for ${ctx.sender}`,
  );
  await ctx.store.setState(key, "");
  return answer("Authorised", [`The bot now acts for ${shortAddress(l.address)} on your chat commands in this group until ${formatTime(until)}.`]);
}

/** `!unlink`: forgets the link; the bot stops acting for the account. */
export async function unlink(ctx: Ctx): Promise<Answer> {
  const l = await requireLink(ctx);
  const binding = await ctx.store.getBinding(ctx.roomId);
  const lines = [`${ctx.sender} is no longer linked to ${l.address}; the bot will not act for it.`];
  if (binding) {
    // Clear the on-chain record only when there is one.
    const m = await ctx.chain.member(binding.group, l.address);
    if (/^0x0*[1-9a-f]/i.test(m.matrixLink)) {
      await ctx.chain
        .call(`unlink:${binding.group}:${ctx.sender}:${l.nonce}`, binding.group, "clearMatrixLink", [l.address], `clear link of ${ctx.sender}`)
        .catch((e: unknown) => ctx.log(`unlink: could not clear the on-chain record: ${(e as Error).message}`));
    }
    // The bot gives up its authority for the address itself: nothing is left for the member to do.
    if (m.relayer.toLowerCase() === ctx.chain.botAddress.toLowerCase()) {
      await ctx.chain
        .call(`renounce:${binding.group}:${l.address}:${l.nonce}`, binding.group, "renounceRelayer", [l.address], `give up the authority of ${ctx.sender}`)
        .then(
          () => lines.push(`The bot gave up its authority to act for ${shortAddress(l.address)}.`),
          (e: unknown) => {
            ctx.log(`unlink: could not give up the relayer authority: ${(e as Error).message}`);
            lines.push(
              `The bot could not give up its on-chain authority just now; call setRelayer(${ZeroAddress}, 0, 0) on ${binding.group} from your wallet to be sure.`,
            );
          },
        );
    }
  }
  // Forgotten last: clearing the on-chain record is done for a linked member.
  await ctx.store.deleteLink(ctx.roomId, ctx.sender);
  return answer("Unlinked", lines);
}
