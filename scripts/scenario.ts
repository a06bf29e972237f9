// Steps people take in chat, shared by the end-to-end tests and the demo's
// scripted walk-through. Each step sends real chat text through a real
// Matrix client and returns the bot's answer.
import { NonceManager, Wallet, type JsonRpcProvider } from "ethers";
import type { ChatUser } from "./chat.ts";
import { groupContract } from "../src/governance/contracts.ts";
import { encodeAccount } from "../src/governance/encoding.ts";
import { ProposalState, VoteType } from "../src/governance/types.ts";
import { withMargin } from "../src/governance/tx.ts";

/** `!link` then `!verify` with the user's wallet; returns the bot's last answer. */
export async function linkWallet(u: ChatUser, roomId: string, bot: string, groupRoom?: string): Promise<string> {
  const asked = await u.ask(roomId, `!link ${u.wallet.address}${groupRoom ? ` ${groupRoom}` : ""}`, bot);
  const at = asked.indexOf("Conclave: link my address");
  if (at < 0) throw new Error(`no message to sign in: ${asked}`);
  const signature = await u.wallet.signMessage(asked.slice(at));
  return u.ask(roomId, `!verify ${signature}`, bot);
}

/** `!authorize`, sign the typed data, `!authorize 0xSIG`. */
export async function authorize(u: ChatUser, roomId: string, bot: string, extra = ""): Promise<string> {
  const asked = await u.ask(roomId, `!authorize${extra ? ` ${extra}` : ""}`, bot);
  const at = asked.indexOf("{");
  if (at < 0) throw new Error(`no typed data in: ${asked}`);
  const typed = JSON.parse(asked.slice(at)) as {
    domain: Record<string, unknown>;
    types: Record<string, { name: string; type: string }[]>;
    message: Record<string, unknown>;
  };
  const signature = await u.wallet.signTypedData(typed.domain, typed.types, typed.message);
  return u.ask(roomId, `!authorize ${signature}`, bot);
}

/**
 * `!dao create OPTIONS` by `owner` (a room admin), then `!dao confirm CODE`
 * by each founder, `owner` last: returns the preview and the last answer
 * (which names the new group once everyone consented).
 */
export async function createGroup(
  owner: ChatUser,
  others: ChatUser[],
  roomId: string,
  bot: string,
  options = "",
): Promise<{ preview: string; created: string; group: string }> {
  const preview = await owner.ask(roomId, `!dao create${options ? ` ${options}` : ""}`, bot);
  const code = /dao confirm ([A-Z2-9]{6})/.exec(preview)?.[1];
  if (code === undefined) throw new Error(`no preview in: ${preview}`);
  let created = "";
  for (const u of [...others, owner]) created = await u.ask(roomId, `!dao confirm ${code}`, bot);
  return { preview, created, group: /now a group: (0x[0-9a-fA-F]{40})/.exec(created)?.[1] ?? "" };
}

/** The group room: `owner` creates it (`encrypted`: from the start) and the others (and the bot) join. */
export async function groupRoom(owner: ChatUser, others: ChatUser[], bot: string, encrypted = false): Promise<string> {
  // The bot needs power to make the room invite-only, invite and kick.
  const roomId = await owner.createRoom("Governed room", [bot, ...others.map((u) => u.userId)], false, [bot], encrypted);
  for (const u of others) await u.join(roomId);
  await owner.seesJoined(roomId, bot);
  for (const u of others) await owner.seesJoined(roomId, u.userId);
  return roomId;
}

/** A direct-message room between `u` and the bot. */
export async function dm(u: ChatUser, bot: string): Promise<string> {
  const roomId = await u.createRoom("Conclave", [bot], true);
  await u.seesJoined(roomId, bot);
  return roomId;
}

export function expectMatch(text: string, re: RegExp, step: string): string {
  if (!re.test(text)) throw new Error(`${step}: expected ${re}, got:\n${text}`);
  return text;
}

/**
 * A proposal decided and executed from the members' own wallets, without the
 * bot (funded from `funderKey` for gas): what any member could do in a wallet.
 */
export async function decideOnChain(o: {
  provider: JsonRpcProvider;
  funderKey: string;
  group: string;
  voters: ChatUser[];
  action: number;
  account: string;
}): Promise<void> {
  // NonceManager: the node's "pending" count lags right after a block.
  const funder = new NonceManager(new Wallet(o.funderKey, o.provider));
  for (const v of o.voters) await (await funder.sendTransaction({ to: v.wallet.address, value: 10n ** 17n })).wait();
  const [first, ...rest] = o.voters.map((v) => groupContract(o.group, new NonceManager(v.wallet.connect(o.provider))));
  const payload = encodeAccount(o.account);
  const rc = await (await first!.getFunction("propose")(o.action, payload)).wait();
  const ev = rc!.logs.map((l: never) => first!.interface.parseLog(l)).find((e: { name: string } | null) => e?.name === "ProposalCreated")!;
  for (const g of [first!, ...rest]) {
    // Voting closes once the outcome is decided.
    if (Number(await g.getFunction("state")(ev.args.proposalId)) !== ProposalState.Active) break;
    await (await g.getFunction("castVote")(ev.args.proposalId, VoteType.For)).wait();
  }
  // Anyone may execute a passed proposal: the bot's poll of it may have done so meanwhile.
  if (Number(await first!.getFunction("state")(ev.args.proposalId)) === ProposalState.Executed) return;
  try {
    // With a margin, as the bot's sender gives: the state may change (the bot's transactions) between estimate and inclusion.
    const execute = first!.getFunction("execute");
    const gasLimit = withMargin(await execute.estimateGas(ev.args.number, o.action, payload));
    await (await execute(ev.args.number, o.action, payload, { gasLimit })).wait();
  } catch (e) {
    const state = Number(await first!.getFunction("state")(ev.args.proposalId));
    if (state !== ProposalState.Executed)
      throw new Error(`executing proposal #${String(ev.args.number)} failed in state ${state}: ${(e as Error).message.slice(0, 300)}`, { cause: e });
  }
}
