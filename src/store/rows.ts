/**
 * Rows of the store's tables as the domain's records: the SQLite and the
 * PostgreSQL store keep the same columns.
 */
import type {
  Departure,
  InboundEvent,
  InboundStatus,
  Link,
  OutboxItem,
  PendingCreation,
  PendingLink,
  RoomBan,
  RoomBinding,
  RoomMode,
  RoomPolicy,
  TxRecord,
  TxStatus,
} from "./store.ts";

export type Row = Record<string, unknown>;

export function toBinding(r: Row): RoomBinding {
  return {
    roomId: String(r["room_id"]),
    group: String(r["grp"]),
    chainId: Number(r["chain_id"]),
    createdBy: String(r["created_by"]),
    createdAt: Number(r["created_at"]),
    fromBlock: Number(r["from_block"]),
  };
}

export function toLink(r: Row): Link {
  return {
    roomId: String(r["room_id"]),
    userId: String(r["user_id"]),
    address: String(r["address"]),
    nonce: String(r["nonce"]),
    linkedAt: Number(r["linked_at"]),
  };
}

export function toPendingLink(r: Row): PendingLink {
  return {
    roomId: String(r["room_id"]),
    userId: String(r["user_id"]),
    address: String(r["address"]),
    nonce: String(r["nonce"]),
    message: String(r["message"]),
    createdAt: Number(r["created_at"]),
  };
}

export function toTx(r: Row): TxRecord {
  return {
    intent: String(r["intent"]),
    hash: String(r["hash"]),
    raw: String(r["raw"]),
    nonce: Number(r["nonce"]),
    from: String(r["sender"]),
    status: String(r["status"]) as TxStatus,
    createdAt: Number(r["created_at"]),
    description: String(r["description"]),
    ...(r["error"] !== null && r["error"] !== undefined ? { error: r["error"] as string } : {}),
    ...(typeof r["replaced"] === "string" && r["replaced"] !== "" ? { replaced: JSON.parse(r["replaced"]) as { hash: string; raw: string }[] } : {}),
  };
}

/**
 * The `replaced` list of a transaction after `current` is replaced by
 * `next`: `current` is appended, and `next` leaves the list if it was in it
 * (an earlier transaction that turned out to be the one mined).
 */
export function replacedAfter(tx: TxRecord, next: { hash: string }): string {
  const list = [...(tx.replaced ?? []), { hash: tx.hash, raw: tx.raw }].filter((t) => t.hash !== next.hash);
  return JSON.stringify(list);
}

export function toOutbox(r: Row): OutboxItem {
  return {
    id: String(r["id"]),
    roomId: String(r["room_id"]),
    kind: String(r["kind"]),
    payload: String(r["payload"]),
    createdAt: Number(r["created_at"]),
  };
}

export function toInbound(r: Row): InboundEvent {
  return {
    eventId: String(r["event_id"]),
    roomId: String(r["room_id"]),
    sender: String(r["sender"]),
    raw: String(r["raw"]),
    receivedAt: Number(r["received_at"]),
    status: String(r["status"]) as InboundStatus,
    ...(r["answer"] !== null && r["answer"] !== undefined ? { answer: r["answer"] as string } : {}),
  };
}

export function toCreation(r: Row): PendingCreation {
  return {
    roomId: String(r["room_id"]),
    code: String(r["code"]),
    createdBy: String(r["created_by"]),
    eventId: String(r["event_id"]),
    createdAt: Number(r["created_at"]),
    expiresAt: Number(r["expires_at"]),
    plan: String(r["plan"]),
  };
}

export function toPolicy(r: Row): RoomPolicy {
  return {
    roomId: String(r["room_id"]),
    mode: String(r["mode"]) as RoomMode,
    adoptees: JSON.parse(String(r["adoptees"])) as string[],
    adoptUntil: Number(r["adopt_until"]),
  };
}

export function toBan(r: Row): RoomBan {
  return { roomId: String(r["room_id"]), userId: String(r["user_id"]), reason: String(r["reason"]), bannedAt: Number(r["banned_at"]) };
}
export function toDeparture(r: Row): Departure {
  return {
    roomId: String(r["room_id"]),
    userId: String(r["user_id"]),
    eventId: String(r["event_id"]),
    at: Number(r["at"]),
    kind: String(r["kind"]) as Departure["kind"],
  };
}
