// Steps people take in chat, shared by the end-to-end tests and the demo's
// scripted walk-through. Each step sends real chat text through a real
// Matrix client and returns the bot's answer.
import type { ChatUser } from "./chat.ts";

/** `!link` then `!verify` with the user's wallet; returns the bot's last answer. */
export async function linkWallet(u: ChatUser, roomId: string, bot: string, groupRoom?: string): Promise<string> {
  const asked = await u.ask(roomId, `!link ${u.wallet.address}${groupRoom ? ` ${groupRoom}` : ""}`, bot);
  const at = asked.indexOf("Conclave: link my address");
  if (at < 0) throw new Error(`no message to sign in: ${asked}`);
  const signature = await u.wallet.signMessage(asked.slice(at));
  return u.ask(roomId, `!verify ${signature}`, bot);
}

/** `!authorize`, sign the typed data, `!authorize 0xSIG`. */
export async function authorize(u: ChatUser, roomId: string, bot: string): Promise<string> {
  const asked = await u.ask(roomId, "!authorize", bot);
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

/** The group room: `owner` creates it and the others (and the bot) join. */
export async function groupRoom(owner: ChatUser, others: ChatUser[], bot: string): Promise<string> {
  // The bot needs power to make the room invite-only, invite and kick.
  const roomId = await owner.createRoom("Governed room", [bot, ...others.map((u) => u.userId)], false, [bot]);
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
