/**
 * What a received message is to the bot: a command, an edited command, a
 * command sent in the clear in an encrypted room, or nothing for it. Pure.
 *
 * - Only `m.text` messages are read (notices are other bots talking).
 * - An edit (`m.replace`) never runs a command, whatever its body looks
 *   like (with or without the `* ` fallback prefix); the bot says once that
 *   edits are not commands.
 * - A command that arrived unencrypted in an encrypted room is refused: a
 *   homeserver or anyone between could have written it.
 * - The sender's timestamp plays no part: it is set by the sender's server.
 * - With `requireCrossSigned` (bot.requireCrossSignedDevices), a command
 *   from a device its owner has not cross-signed is refused, and so is an
 *   unencrypted one (nothing tells which device sent it).
 */
import { parseCommand } from "./commands/parse.ts";
import type { IncomingMessage, OpenedEvent } from "../ports/rooms.ts";
import { readPollAnswer, type PollAnswer } from "./polls.ts";

export type Intake =
  | { kind: "ignore" }
  | { kind: "command"; message: IncomingMessage }
  /** an edit of `original` whose text is a command */
  | { kind: "edit"; original: string }
  | { kind: "cleartext" }
  /** an answer to a poll: a vote when the poll is a proposal's */
  | { kind: "poll-answer"; answer: PollAnswer }
  /** a command from a device its owner has not cross-signed (or from no known device) */
  | { kind: "untrusted-device"; answer: string };

export interface IntakeOptions {
  prefix: string;
  serverName: string;
  /** whether the room is end-to-end encrypted */
  roomEncrypted: boolean;
  /** refuse commands unless they come encrypted from a device cross-signed by its owner */
  requireCrossSigned?: boolean;
}

function isCommand(body: unknown, o: IntakeOptions): boolean {
  return typeof body === "string" && parseCommand({ body }, { prefix: o.prefix, defaultServer: o.serverName }).kind !== "none";
}

export function intake(ev: OpenedEvent, o: IntakeOptions): Intake {
  const poll = readPollAnswer(ev);
  if (poll) return o.roomEncrypted && !ev.encrypted ? { kind: "cleartext" } : { kind: "poll-answer", answer: poll };
  if (ev.type !== "m.room.message") return { kind: "ignore" };
  const c = ev.content as {
    msgtype?: unknown;
    body?: unknown;
    formatted_body?: unknown;
    "m.mentions"?: { user_ids?: unknown };
    "m.relates_to"?: { rel_type?: unknown; event_id?: unknown };
    "m.new_content"?: { body?: unknown };
  };
  if (c.msgtype !== "m.text" || typeof c.body !== "string") return { kind: "ignore" };
  // An encrypted event's relation is read where clients read it, its
  // cleartext envelope, and the ciphertext's only when the envelope has
  // none; an edit in either is an edit (a client that shows an edit never
  // sees the bot run a new command).
  const inner = c["m.relates_to"];
  const outer =
    typeof ev.outerRelation === "object" && ev.outerRelation !== null ? (ev.outerRelation as { rel_type?: unknown; event_id?: unknown }) : undefined;
  const relation = inner?.rel_type === "m.replace" ? inner : (outer ?? inner);
  if (relation?.rel_type === "m.replace") {
    const fallback = c.body.replace(/^\* /, "");
    const edited = isCommand(c["m.new_content"]?.body, o) || isCommand(fallback, o) || isCommand(c.body, o);
    return edited && typeof relation.event_id === "string" ? { kind: "edit", original: relation.event_id } : { kind: "ignore" };
  }
  if (!isCommand(c.body, o)) return { kind: "ignore" };
  if (o.roomEncrypted && !ev.encrypted) return { kind: "cleartext" };
  if (o.requireCrossSigned && ev.senderDevice !== "cross-signed") {
    return {
      kind: "untrusted-device",
      answer: !ev.encrypted ? UNENCRYPTED_DEVICE_ANSWER : ev.senderDevice === "not cross-signed" ? UNSIGNED_DEVICE_ANSWER : UNKNOWN_DEVICE_ANSWER,
    };
  }
  const mentions = Array.isArray(c["m.mentions"]?.user_ids)
    ? (c["m.mentions"].user_ids as unknown[]).filter((u): u is string => typeof u === "string")
    : undefined;
  return {
    kind: "command",
    message: {
      roomId: ev.roomId,
      eventId: ev.eventId,
      sender: ev.sender,
      // The bot's clock, never the sender's: see the module comment.
      ts: Date.now(),
      body: c.body,
      ...(typeof c.formatted_body === "string" ? { formattedBody: c.formatted_body } : {}),
      ...(mentions ? { mentions } : {}),
      // Answered in its thread: the answer's m.relates_to names the same root.
      ...(relation?.rel_type === "m.thread" && typeof relation.event_id === "string" ? { thread: relation.event_id } : {}),
    },
  };
}

export const EDIT_ANSWER = "Edits are not commands: send it again.";
export const CLEARTEXT_ANSWER = "This room is encrypted: I do not act on unencrypted commands here. Send it again with encryption on.";
export const UNSIGNED_DEVICE_ANSWER =
  "I take commands only from devices their owner has verified, and you have not verified the one you sent this from: verify it from another of your sessions (or with your recovery key), then send it again.";
export const UNKNOWN_DEVICE_ANSWER =
  "I take commands only from devices their owner has verified, and I cannot tell which device sent this one: its room key did not come to me from the sender's device (it came from a key backup, say). It works again once your client starts a new room key.";
export const UNENCRYPTED_DEVICE_ANSWER =
  "I take commands only from devices their owner has verified, and an unencrypted message does not say which device sent it: send it in an encrypted room, from a verified session.";
