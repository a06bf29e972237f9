/**
 * Whether the bot already sent a message, from any of its devices. The
 * homeserver drops a repeated send only when it comes from the same device
 * with the same transaction id; several workers are several devices, so a
 * worker that takes over a room looks at the room before sending what the
 * previous holder may have sent just before it died.
 */
import { EventType, MatrixEvent, Method, type MatrixClient } from "matrix-js-sdk";

/** The content key that carries a once-only notice's key (inside the encryption, where there is one). */
export const ONCE_KEY = "org.conclave.once";

/** Pages of the bot's own messages read back at most: far more than a hand-over's seconds bring. */
const PAGES = 10;
/** How much earlier than `since` a message may carry a timestamp (the homeserver's clock is not the worker's). */
const SKEW_MS = 5 * 60_000;

interface Raw {
  event_id?: string;
  type?: string;
  sender?: string;
  origin_server_ts?: number;
  content?: Record<string, unknown>;
}

/**
 * Whether a message of `me` in the room since `since` (ms) satisfies
 * `match`, given its content as sent (wire) and as read (decrypted). Reads
 * the room's history backwards, the bot's messages only.
 */
export async function sentSince(
  client: MatrixClient,
  roomId: string,
  me: string,
  since: number,
  match: (wire: Record<string, unknown>, clear: Record<string, unknown>) => boolean,
): Promise<boolean> {
  const filter = JSON.stringify({ senders: [me], types: [EventType.RoomMessage, EventType.RoomMessageEncrypted] });
  let from: string | undefined;
  for (let page = 0; page < PAGES; page++) {
    const res: { chunk?: Raw[]; end?: string } = await client.http.authedRequest(Method.Get, `/rooms/${encodeURIComponent(roomId)}/messages`, {
      dir: "b",
      limit: "100",
      filter,
      ...(from !== undefined ? { from } : {}),
    });
    const chunk = res.chunk ?? [];
    for (const e of chunk) {
      if ((e.origin_server_ts ?? 0) < since - SKEW_MS) return false;
      if (e.sender !== me) continue;
      const wire = e.content ?? {};
      let clear = wire;
      if (e.type === EventType.RoomMessageEncrypted) {
        const ev = new MatrixEvent({ ...e, room_id: roomId });
        await client.decryptEventIfNeeded(ev);
        clear = ev.isDecryptionFailure() ? {} : ev.getContent<Record<string, unknown>>();
      }
      if (match(wire, clear)) return true;
    }
    if (chunk.length === 0 || res.end === undefined || res.end === from) return false;
    from = res.end;
  }
  return false;
}

/** Whether `content` replies to `eventId` (the relation is in the clear also when encrypted). */
export function repliesTo(content: Record<string, unknown>, eventId: string): boolean {
  const rel = content["m.relates_to"] as { "m.in_reply_to"?: { event_id?: unknown } } | undefined;
  return rel?.["m.in_reply_to"]?.event_id === eventId;
}
