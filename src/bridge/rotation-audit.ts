/**
 * The rotation audit: catches a member's client that keeps encrypting under
 * a room key someone who left may still hold.
 *
 * Megolm keys belong to senders: each client rotates its own outbound
 * session when someone leaves, or does not. The bot cannot rotate for
 * them; it can notice. For every room it is in, it remembers each session
 * it met (the room key arriving, or a message using it) and since when,
 * and every departure (a joined member leaving, kicked or banned, from the
 * member events of the timeline). A message in a governed room is flagged
 * when its session was in use before someone left and the message came
 * after (by more than `graceMs`, the time a client needs to see the
 * departure): the one who left received that key, and can read the
 * message if its ciphertext reaches them. Someone who is back in the room
 * holds it rightly, and does not count.
 *
 * A flagged message is counted (`!status`), answered in a thread once per
 * session, with the sender mentioned, and redacted when the room asks for
 * it (`org.conclave.audit` state `{ "redact": true }`; `audit.redact` is
 * the default). Everything is idempotent: an event handled again after a
 * crash is counted once, answered once (same transaction id), and its
 * redaction is harmless.
 */
import type { AuditRooms, OpenedEvent } from "../ports/rooms.ts";
import type { Departure, Store } from "../store/store.ts";
import { escapeHtml, formatTime, pill } from "../text/format.ts";

/** The room state event a room's admins set to configure the audit. */
export const AUDIT_STATE = "org.conclave.audit";

export interface AuditOptions {
  store: Store;
  rooms: AuditRooms;
  /** whether the room is governed (the audit answers and redacts only there) */
  governed: (roomId: string) => Promise<boolean>;
  /** how long after a departure a client may still send under the old key (ms) */
  graceMs: number;
  /** whether to redact flagged messages in rooms that do not say */
  redactByDefault: boolean;
  botUserId: string;
  log: (line: string) => void;
  /** a message was flagged (for the metrics); called again when a message is handled again after a crash */
  onFlag?: (roomId: string) => void;
}

function when(ms: number, relativeTo: number): string {
  const t = formatTime(Math.floor(ms / 1000));
  // "14:02 UTC" on the same day, the date too otherwise.
  return new Date(ms).toISOString().slice(0, 10) === new Date(relativeTo).toISOString().slice(0, 10) ? t.slice(11) : t;
}

// A ban is a removal that also keeps them out (the bot bans those a proposal removes).
const VERB: Record<Departure["kind"], string> = { left: "who left", kicked: "removed", banned: "removed" };

export class RotationAudit {
  private readonly o: AuditOptions;

  constructor(o: AuditOptions) {
    this.o = o;
  }

  /** A room key arrived (to-device): the session exists from now on. */
  async noteKey(k: { roomId: string; sessionId: string; sender: string; device: string; at: number }): Promise<void> {
    await this.o.store.noteSession(k);
  }

  /** Departures read from a room's timeline. */
  async noteDepartures(roomId: string, list: readonly Omit<Departure, "roomId">[]): Promise<void> {
    for (const d of list) await this.o.store.addDeparture({ ...d, roomId });
  }

  /** Whether the room asks for flagged messages to be redacted. */
  redacts(roomId: string): boolean {
    const setting = this.o.rooms.roomState(roomId, AUDIT_STATE)?.["redact"];
    return typeof setting === "boolean" ? setting : this.o.redactByDefault;
  }

  /**
   * Every message the bot opened, in the order received. Returns the
   * departures it was flagged for (empty when it was not).
   */
  async observe(e: OpenedEvent): Promise<Departure[]> {
    const { store, rooms, graceMs } = this.o;
    if (!e.encrypted || e.session === undefined || e.ts === undefined) return [];
    const first = await store.noteSession({ roomId: e.roomId, sessionId: e.session.id, sender: e.sender, device: e.session.device, at: e.ts });
    if (first >= e.ts - graceMs) return [];
    const candidates = (await store.departuresBetween(e.roomId, first, e.ts - graceMs)).filter((d) => d.userId !== e.sender && d.userId !== this.o.botUserId);
    if (candidates.length === 0 || !(await this.o.governed(e.roomId))) return [];
    const joined = new Set(await rooms.joinedMembers(e.roomId));
    const gone = candidates.filter((d) => !joined.has(d.userId));
    if (gone.length === 0) return [];
    const { firstForSession } = await store.addReuse({ eventId: e.eventId, roomId: e.roomId, sender: e.sender, sessionId: e.session.id, at: e.ts });
    this.o.onFlag?.(e.roomId);
    const redact = this.redacts(e.roomId);
    this.o.log(
      `audit: ${e.eventId} from ${e.sender} (device ${e.session.device}) in ${e.roomId} used session ${e.session.id.slice(0, 10)}…, in use before ${gone.map((d) => `${d.userId} ${d.kind} at ${new Date(d.at).toISOString()}`).join(", ")}` +
        (redact ? "; redacting it" : ""),
    );
    // The room actions may fail (no power, the homeserver away): said in the log, and never holding up
    // the sender's commands, which wait for this to return. What is recorded stays recorded.
    if (firstForSession) {
      const relation = (e.content["m.relates_to"] ?? {}) as { rel_type?: unknown; event_id?: unknown };
      const root = relation.rel_type === "m.thread" && typeof relation.event_id === "string" ? relation.event_id : e.eventId;
      await rooms
        .replyInThread(e.roomId, { root, inReplyTo: e.eventId }, this.answer(e, gone, redact), [e.sender], `audit:${e.roomId}:${e.eventId}`)
        .catch((err: unknown) => {
          this.o.log(`audit: could not answer ${e.eventId} in ${e.roomId}: ${(err as Error).message}`);
        });
    }
    if (redact) {
      await rooms.redact(e.roomId, e.eventId, "sent under a room key that someone who left may still hold").catch((err: unknown) => {
        this.o.log(`audit: could not redact ${e.eventId} in ${e.roomId}: ${(err as Error).message}`);
      });
    }
    return gone;
  }

  private answer(e: OpenedEvent, gone: Departure[], redact: boolean): { text: string; html: string } {
    const ts = e.ts ?? Date.now();
    const who = (d: Departure) => ({
      text: `${d.userId}, ${VERB[d.kind]} at ${when(d.at, ts)},`,
      html: `${pill(d.userId)}, ${VERB[d.kind]} at ${escapeHtml(when(d.at, ts))},`,
    });
    const names = gone.map(who);
    const list = (k: "text" | "html") => names.map((n) => n[k]).join(" ");
    const tail = `your client did not rotate it. Members' clients start a new key when someone leaves; update yours or use another one${redact ? ". I redacted the message" : ""}.`;
    return {
      text: `${e.sender}: this message used a room key that ${list("text")} may still hold; ${tail}`,
      html: `${pill(e.sender)}: this message used a room key that ${list("html")} may still hold; ${escapeHtml(tail)}`,
    };
  }
}
