/**
 * Rows of the store's tables as the domain's records: the SQLite and the
 * PostgreSQL store keep the same columns.
 */
import type { Departure, InboundEvent, InboundStatus, Link, OutboxItem, PendingLink, RoomBinding, TxRecord, TxStatus } from "./store.ts";

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
    ...(r["error"] !== null && r["error"] !== undefined ? { error: String(r["error"]) } : {}),
  };
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
    ...(r["answer"] !== null && r["answer"] !== undefined ? { answer: String(r["answer"]) } : {}),
  };
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
