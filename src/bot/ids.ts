/**
 * Branded identifiers. A value of one of these types has passed its
 * validating constructor, so code that receives a `UserId` never has to check
 * it again. The constructors never throw: they return `undefined` for
 * anything invalid, including values that are not strings at all.
 *
 * Pure: no SDK (the EIP-55 checksum needs only Keccak-256).
 */
import { keccak_256 } from "@noble/hashes/sha3";

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A Matrix user id, `@localpart:server`. */
export type UserId = Brand<string, "UserId">;
/** A Matrix room id, `!opaque:server` (or a room version 12 `!hash`). */
export type RoomId = Brand<string, "RoomId">;
/** A room's address in the homeserver directory, `#alias:server`: resolved to a room id by the homeserver. */
export type RoomAlias = Brand<string, "RoomAlias">;
/** An EVM address in its EIP-55 checksummed form. */
export type Address = Brand<string, "Address">;
/** A group's sequential proposal number (what people see as `#3`): a positive safe integer. */
export type ProposalNumber = Brand<number, "ProposalNumber">;

/** Matrix ids are at most 255 bytes long (ASCII only here, so characters). */
const MAX_ID_LENGTH = 255;

/**
 * Server name: a DNS name, an IPv4 address or a bracketed IPv6 address, with
 * an optional port.
 */
const SERVER_NAME = String.raw`(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*)(?::(\d{1,5}))?`;

/**
 * User id localpart: the spec's historical grammar (printable ASCII but `:`),
 * because real accounts with such ids exist and ids coming from the
 * homeserver must round-trip. Typed bare names are held to the strict
 * grammar, see {@link STRICT_LOCALPART}.
 */
const USER_ID = new RegExp(String.raw`^@([\x21-\x39\x3b-\x7e]+):(${SERVER_NAME})$`);
const ROOM_ALIAS = new RegExp(String.raw`^#([\x21-\x39\x3b-\x7e]+):(${SERVER_NAME})$`);
const ROOM_ID = new RegExp(String.raw`^!([\x21-\x39\x3b-\x7e]+):(${SERVER_NAME})$`);
/** Room version 12 room ids: `!` and the unpadded URL-safe base64 of a SHA-256 hash. */
const ROOM_ID_V12 = /^![A-Za-z0-9_-]{43}$/;
const SERVER_ONLY = new RegExp(`^${SERVER_NAME}$`);
/** The current spec grammar for a user id localpart. */
export const STRICT_LOCALPART = /^[a-z0-9._=\-/+]+$/;
const HEX_ADDRESS = /^0x[0-9a-fA-F]{40}$/;

function portOk(port: string | undefined): boolean {
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
}

/** `s` as a `UserId`, or `undefined` when it is not a valid Matrix user id. */
export function userId(s: unknown): UserId | undefined {
  if (typeof s !== "string" || s.length > MAX_ID_LENGTH) return undefined;
  const m = USER_ID.exec(s);
  if (m === null || !portOk(m[3])) return undefined;
  return s as UserId;
}

/** `s` as a `RoomId`, or `undefined` when it is not a valid Matrix room id. */
export function roomId(s: unknown): RoomId | undefined {
  if (typeof s !== "string" || s.length > MAX_ID_LENGTH) return undefined;
  if (ROOM_ID_V12.test(s)) return s as RoomId;
  const m = ROOM_ID.exec(s);
  if (m === null || !portOk(m[3])) return undefined;
  return s as RoomId;
}

/** `s` as a `RoomAlias`, or `undefined` when it is not a valid room alias. */
export function roomAlias(s: unknown): RoomAlias | undefined {
  if (typeof s !== "string" || s.length > MAX_ID_LENGTH) return undefined;
  const m = ROOM_ALIAS.exec(s);
  if (m === null || !portOk(m[3])) return undefined;
  return s as RoomAlias;
}

/** Whether `s` is a valid Matrix server name (`example.org`, `host:8448`, `[::1]`). */
export function isServerName(s: unknown): s is string {
  if (typeof s !== "string" || s.length > MAX_ID_LENGTH) return false;
  const m = SERVER_ONLY.exec(s);
  return m !== null && portOk(m[1]);
}

/**
 * `s` as a checksummed `Address`, or `undefined`. Accepts `0x` and 40 hex
 * digits, all lower case, all upper case, or mixed case with a correct EIP-55
 * checksum (a wrong checksum is a typo: refused). ICAP and other forms that
 * ethers would also take are refused.
 */
export function address(s: unknown): Address | undefined {
  if (typeof s !== "string" || !HEX_ADDRESS.test(s)) return undefined;
  const hex = s.slice(2);
  const checksummed = checksum(hex);
  if (hex === hex.toLowerCase() || hex === hex.toUpperCase()) return checksummed;
  return s === checksummed ? checksummed : undefined;
}

/** EIP-55: a hex digit is upper case when the matching nibble of keccak256(lower-case hex) is 8 or more. */
function checksum(hex: string): Address {
  const lower = hex.toLowerCase();
  const hash = keccak_256(new TextEncoder().encode(lower));
  let out = "0x";
  for (let i = 0; i < 40; i++) {
    const nibble = ((hash[i >> 1] ?? 0) >> (i % 2 === 0 ? 4 : 0)) & 0xf;
    out += nibble >= 8 ? lower[i]!.toUpperCase() : lower[i]!;
  }
  return out as Address;
}

/**
 * `n` as a `ProposalNumber`, or `undefined`. Takes a number, or a string of
 * decimal digits (no sign, no `#`, no exponent).
 */
export function proposalNumber(n: unknown): ProposalNumber | undefined {
  let v: number;
  if (typeof n === "number") v = n;
  else if (typeof n === "string" && /^\d{1,16}$/.test(n)) v = Number(n);
  else return undefined;
  return Number.isSafeInteger(v) && v >= 1 ? (v as ProposalNumber) : undefined;
}

/** The localpart of a user id (without `@`). */
export function localpart(id: UserId): string {
  return id.slice(1, id.indexOf(":"));
}

/** Every address (0x and exactly 40 hex digits) in `text`, EIP-55 checksummed; hashes and signatures (longer) are left alone. */
export function checksumAddresses(text: string): string {
  return text.replace(/(?<![0-9A-Za-z])0x[0-9a-fA-F]{40}(?![0-9A-Za-z])/g, (a) => checksum(a.slice(2)));
}
