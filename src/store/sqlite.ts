/**
 * The SQLite store, on Node's built-in `node:sqlite` (no native build).
 *
 * The driver is synchronous: each method does its work before its promise
 * settles, so a transaction (BEGIN … COMMIT) inside one method never
 * interleaves with another call.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { toBan, toBinding, toCreation, toDeparture, toInbound, toLink, toOutbox, toPendingLink, toPolicy, toTx, replacedAfter } from "./rows.ts";
import {
  NonceTakenError,
  StoreConflictError,
  type Departure,
  type Link,
  type InboundEvent,
  type InboundStatus,
  type NewInboundEvent,
  type OutboxItem,
  type PendingCreation,
  type PendingLink,
  type RoomBan,
  type RoomBinding,
  type RoomMode,
  type RoomPolicy,
  type SessionReuse,
  type SessionSighting,
  type Store,
  type TxRecord,
  type TxStatus,
  FORGET_OLD_SECRETS,
} from "./store.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bindings (
  room_id TEXT PRIMARY KEY, grp TEXT NOT NULL UNIQUE, chain_id INTEGER NOT NULL,
  created_by TEXT NOT NULL, created_at INTEGER NOT NULL, from_block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS links (
  room_id TEXT NOT NULL, user_id TEXT NOT NULL, address TEXT NOT NULL, nonce TEXT NOT NULL,
  linked_at INTEGER NOT NULL, PRIMARY KEY (room_id, user_id), UNIQUE (room_id, address));
CREATE TABLE IF NOT EXISTS used_nonces (nonce TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS pending_links (
  room_id TEXT NOT NULL, user_id TEXT NOT NULL, address TEXT NOT NULL, nonce TEXT NOT NULL,
  message TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (room_id, user_id));
CREATE TABLE IF NOT EXISTS txs (
  intent TEXT PRIMARY KEY, hash TEXT NOT NULL, raw TEXT NOT NULL, nonce INTEGER NOT NULL,
  sender TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,
  description TEXT NOT NULL, error TEXT, replaced TEXT);
CREATE INDEX IF NOT EXISTS txs_status ON txs (status);
CREATE UNIQUE INDEX IF NOT EXISTS txs_sender_nonce ON txs (sender, nonce);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS inbound (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL,
  sender TEXT NOT NULL, raw TEXT NOT NULL, received_at INTEGER NOT NULL, status TEXT NOT NULL, answer TEXT);
CREATE INDEX IF NOT EXISTS inbound_status ON inbound (status, seq);
CREATE INDEX IF NOT EXISTS inbound_sender ON inbound (status, sender, seq);
CREATE TABLE IF NOT EXISTS outbox (
  id TEXT PRIMARY KEY, room_id TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
  status TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS creations (
  room_id TEXT PRIMARY KEY, code TEXT NOT NULL, created_by TEXT NOT NULL, event_id TEXT NOT NULL,
  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, plan TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS consents (
  room_id TEXT NOT NULL, code TEXT NOT NULL, user_id TEXT NOT NULL, consented_at INTEGER NOT NULL,
  seq INTEGER NOT NULL, PRIMARY KEY (room_id, code, user_id));
CREATE TABLE IF NOT EXISTS room_policies (
  room_id TEXT PRIMARY KEY, mode TEXT NOT NULL, adoptees TEXT NOT NULL, adopt_until INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS room_bans (
  room_id TEXT NOT NULL, user_id TEXT NOT NULL, reason TEXT NOT NULL, banned_at INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id));
CREATE TABLE IF NOT EXISTS audit_sessions (
  room_id TEXT NOT NULL, session_id TEXT NOT NULL, sender TEXT NOT NULL, device TEXT NOT NULL,
  first_at INTEGER NOT NULL, PRIMARY KEY (room_id, session_id));
CREATE TABLE IF NOT EXISTS audit_departures (
  event_id TEXT PRIMARY KEY, room_id TEXT NOT NULL, user_id TEXT NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_departures_room ON audit_departures (room_id, at);
CREATE TABLE IF NOT EXISTS audit_reuses (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL,
  sender TEXT NOT NULL, session_id TEXT NOT NULL, at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS audit_reuses_session ON audit_reuses (room_id, session_id, seq);
`;

type Row = Record<string, string | number | null>;

export class SqliteStore implements Store {
  private readonly db: DatabaseSync;

  /**
   * Opens (and creates) the store at `path`; ":memory:" for tests. The
   * folder is made readable by the bot's user only (0700) and the database
   * and its WAL and SHM files 0600, whatever the umask.
   */
  constructor(path: string) {
    if (path !== ":memory:") privateFiles(path);
    this.db = new DatabaseSync(path);
    // WAL keeps readers and the writer apart; a crash loses nothing committed.
    // Another process writing at the same moment (a backup, an operator's
    // sqlite3 shell) is waited for up to 2 s instead of failing the write.
    this.db.exec("PRAGMA busy_timeout = 2000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;");
    if (path !== ":memory:") privateFiles(path);
    this.db.exec(SCHEMA);
    // A store made before fee bumps: the column they need.
    if (!this.all("PRAGMA table_info(txs)").some((c) => c["name"] === "replaced")) this.db.exec("ALTER TABLE txs ADD COLUMN replaced TEXT");
    if (this.get("SELECT 1 AS x FROM state WHERE key IN ('linkSalt', 'cryptoPassphrase')")) {
      // Overwritten, not only unlinked, and out of the WAL at once.
      this.db.exec(`PRAGMA secure_delete = ON; ${FORGET_OLD_SECRETS} PRAGMA secure_delete = OFF; PRAGMA wal_checkpoint(TRUNCATE);`);
    }
  }

  /**
   * Each statement prepared once (the SQL is a fixed set of strings): a
   * statement prepared per call costs a parse, and its native memory stays
   * taken until the garbage collector finalises it, which a heap of small
   * JavaScript objects does not hurry (a full pass reads a row per member).
   */
  private readonly statements = new Map<string, StatementSync>();

  private statement(sql: string): StatementSync {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  private get(sql: string, ...args: (string | number | null)[]): Row | undefined {
    return this.statement(sql).get(...args) as Row | undefined;
  }

  private all(sql: string, ...args: (string | number | null)[]): Row[] {
    return this.statement(sql).all(...args) as Row[];
  }

  private run(sql: string, ...args: (string | number | null)[]): number {
    return Number(this.statement(sql).run(...args).changes);
  }

  async getBinding(roomId: string): Promise<RoomBinding | undefined> {
    const r = this.get("SELECT * FROM bindings WHERE room_id = ?", roomId);
    return r && toBinding(r);
  }

  async getBindingByGroup(group: string): Promise<RoomBinding | undefined> {
    const r = this.get("SELECT * FROM bindings WHERE grp = ?", group.toLowerCase());
    return r && toBinding(r);
  }

  async listBindings(): Promise<RoomBinding[]> {
    return this.all("SELECT * FROM bindings ORDER BY created_at").map(toBinding);
  }

  async putBinding(b: RoomBinding): Promise<void> {
    this.run(
      "INSERT INTO bindings (room_id, grp, chain_id, created_by, created_at, from_block) VALUES (?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (room_id) DO UPDATE SET grp = excluded.grp, chain_id = excluded.chain_id, " +
        "created_by = excluded.created_by, created_at = excluded.created_at, from_block = excluded.from_block",
      b.roomId,
      b.group.toLowerCase(),
      b.chainId,
      b.createdBy,
      b.createdAt,
      b.fromBlock,
    );
  }

  async getLink(roomId: string, userId: string): Promise<Link | undefined> {
    const r = this.get("SELECT * FROM links WHERE room_id = ? AND user_id = ?", roomId, userId);
    return r && toLink(r);
  }

  async getLinkByAddress(roomId: string, address: string): Promise<Link | undefined> {
    const r = this.get("SELECT * FROM links WHERE room_id = ? AND address = ?", roomId, address.toLowerCase());
    return r && toLink(r);
  }

  async listLinks(roomId: string): Promise<Link[]> {
    return this.all("SELECT * FROM links WHERE room_id = ? ORDER BY linked_at", roomId).map(toLink);
  }

  async putLink(link: Link): Promise<void> {
    // Read and write without yielding: no other call runs in between.
    const r = this.get("SELECT * FROM links WHERE room_id = ? AND address = ?", link.roomId, link.address.toLowerCase());
    const holder = r && toLink(r);
    if (holder && holder.userId !== link.userId) {
      throw new StoreConflictError(`address ${link.address} is linked to ${holder.userId}`);
    }
    this.db.exec("BEGIN");
    try {
      this.run("INSERT INTO used_nonces (nonce) VALUES (?)", link.nonce);
      this.run(
        "INSERT INTO links (room_id, user_id, address, nonce, linked_at) VALUES (?, ?, ?, ?, ?) " +
          "ON CONFLICT (room_id, user_id) DO UPDATE SET address = excluded.address, nonce = excluded.nonce, linked_at = excluded.linked_at",
        link.roomId,
        link.userId,
        link.address.toLowerCase(),
        link.nonce,
        link.linkedAt,
      );
      this.db.exec("COMMIT");
    } catch (e) {
      this.db.exec("ROLLBACK");
      if (e instanceof Error && /UNIQUE/.test(e.message)) throw new StoreConflictError(`nonce ${link.nonce} was already used`);
      throw e;
    }
  }

  async deleteLink(roomId: string, userId: string): Promise<boolean> {
    return this.run("DELETE FROM links WHERE room_id = ? AND user_id = ?", roomId, userId) > 0;
  }

  async nonceUsed(nonce: string): Promise<boolean> {
    return this.get("SELECT 1 AS x FROM used_nonces WHERE nonce = ?", nonce) !== undefined;
  }

  async getPendingLink(roomId: string, userId: string): Promise<PendingLink | undefined> {
    const r = this.get("SELECT * FROM pending_links WHERE room_id = ? AND user_id = ?", roomId, userId);
    return r && toPendingLink(r);
  }

  async putPendingLink(p: PendingLink): Promise<void> {
    this.run(
      "INSERT INTO pending_links (room_id, user_id, address, nonce, message, created_at) VALUES (?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (room_id, user_id) DO UPDATE SET address = excluded.address, nonce = excluded.nonce, " +
        "message = excluded.message, created_at = excluded.created_at",
      p.roomId,
      p.userId,
      p.address,
      p.nonce,
      p.message,
      p.createdAt,
    );
  }

  async deletePendingLink(roomId: string, userId: string): Promise<void> {
    this.run("DELETE FROM pending_links WHERE room_id = ? AND user_id = ?", roomId, userId);
  }

  async getTx(intent: string): Promise<TxRecord | undefined> {
    const r = this.get("SELECT * FROM txs WHERE intent = ?", intent);
    return r && toTx(r);
  }

  async putTx(tx: TxRecord): Promise<void> {
    try {
      this.insertTx(tx);
    } catch (e) {
      const msg = e instanceof Error ? e.message : "";
      if (/UNIQUE.*txs\.intent/.test(msg)) throw new StoreConflictError(`a transaction for ${tx.intent} is already recorded`);
      if (/UNIQUE.*txs\.sender, txs\.nonce/.test(msg)) throw new NonceTakenError(tx.from, tx.nonce);
      throw e;
    }
  }

  private insertTx(tx: TxRecord): void {
    this.run(
      "INSERT INTO txs (intent, hash, raw, nonce, sender, status, created_at, description, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      tx.intent,
      tx.hash,
      tx.raw,
      tx.nonce,
      tx.from.toLowerCase(),
      tx.status,
      tx.createdAt,
      tx.description,
      tx.error ?? null,
    );
  }

  async setTxStatus(intent: string, status: TxStatus, error?: string): Promise<void> {
    this.run("UPDATE txs SET status = ?, error = ? WHERE intent = ?", status, error ?? null, intent);
  }

  async replaceTx(intent: string, hash: string, next: { hash: string; raw: string }): Promise<boolean> {
    const current = await this.getTx(intent);
    if (current?.hash !== hash || current.status !== "pending") return false;
    return (
      this.run(
        "UPDATE txs SET hash = ?, raw = ?, replaced = ? WHERE intent = ? AND hash = ? AND status = 'pending'",
        next.hash,
        next.raw,
        replacedAfter(current, next),
        intent,
        hash,
      ) === 1
    );
  }

  async settleTx(intent: string, hash: string, status: Exclude<TxStatus, "pending">, error?: string): Promise<boolean> {
    const current = await this.getTx(intent);
    if (current?.status !== "pending") return false;
    const version = current.hash === hash ? current : current.replaced?.find((r) => r.hash === hash);
    if (!version) return false;
    const replaced = version === current ? (current.replaced ? JSON.stringify(current.replaced) : null) : replacedAfter(current, version);
    return (
      this.run(
        "UPDATE txs SET hash = ?, raw = ?, replaced = ?, status = ?, error = ? WHERE intent = ? AND hash = ? AND status = 'pending'",
        version.hash,
        version.raw,
        replaced,
        status,
        error ?? null,
        intent,
        current.hash,
      ) === 1
    );
  }

  async listTxs(status: TxStatus): Promise<TxRecord[]> {
    return this.all("SELECT * FROM txs WHERE status = ? ORDER BY nonce", status).map(toTx);
  }

  async maxNonce(from: string): Promise<number | undefined> {
    const r = this.get("SELECT MAX(nonce) AS n FROM txs WHERE sender = ?", from.toLowerCase());
    return r?.n === null || r?.n === undefined ? undefined : Number(r.n);
  }

  async addOutbox(item: OutboxItem): Promise<boolean> {
    return (
      this.run(
        "INSERT INTO outbox (id, room_id, kind, payload, status, created_at) VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT (id) DO NOTHING",
        item.id,
        item.roomId,
        item.kind,
        item.payload,
        item.createdAt,
      ) > 0
    );
  }

  async listOutbox(status: "pending" | "done"): Promise<OutboxItem[]> {
    return this.all("SELECT * FROM outbox WHERE status = ? ORDER BY created_at, id", status).map(toOutbox);
  }

  async finishOutbox(id: string): Promise<void> {
    this.run("UPDATE outbox SET status = 'done' WHERE id = ?", id);
  }

  async addInbound(events: NewInboundEvent[]): Promise<void> {
    if (events.length === 0) return;
    // One transaction: one durable write for a whole sync response.
    this.db.exec("BEGIN");
    try {
      const insert = this.statement(
        "INSERT INTO inbound (event_id, room_id, sender, raw, received_at, status) VALUES (?, ?, ?, ?, ?, 'new') ON CONFLICT (event_id) DO NOTHING",
      );
      for (const e of events) insert.run(e.eventId, e.roomId, e.sender, e.raw, e.receivedAt);
      this.db.exec("COMMIT");
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }

  async listInbound(status: InboundStatus, limit: number, perSender?: number): Promise<InboundEvent[]> {
    if (perSender === undefined) return this.all("SELECT * FROM inbound WHERE status = ? ORDER BY seq LIMIT ?", status, limit).map(toInbound);
    return this.all(
      // Along the index (status, sender, seq): each sender found by one step
      // (a skip scan), then its oldest few; a pile of one sender's is never read whole.
      "WITH RECURSIVE senders(s) AS (SELECT MIN(sender) FROM inbound WHERE status = ?1 UNION ALL " +
        "SELECT (SELECT MIN(sender) FROM inbound WHERE status = ?1 AND sender > s) FROM senders WHERE s IS NOT NULL) " +
        "SELECT inbound.* FROM senders JOIN inbound ON inbound.seq IN (SELECT seq FROM inbound WHERE status = ?1 AND sender = senders.s ORDER BY seq LIMIT ?2) " +
        "ORDER BY inbound.seq LIMIT ?3",
      status,
      perSender,
      limit,
    ).map(toInbound);
  }

  async waitInbound(eventId: string): Promise<void> {
    this.run("UPDATE inbound SET status = 'waiting' WHERE event_id = ?", eventId);
  }

  async setInboundAnswer(eventId: string, answer: string): Promise<void> {
    this.run("UPDATE inbound SET status = 'answering', answer = ? WHERE event_id = ?", answer, eventId);
  }

  async finishInbound(eventId: string): Promise<void> {
    this.run("UPDATE inbound SET status = 'done' WHERE event_id = ?", eventId);
  }

  async pruneInbound(receivedBefore: number): Promise<number> {
    return this.run("DELETE FROM inbound WHERE status = 'done' AND received_at < ?", receivedBefore);
  }

  async getCreation(roomId: string): Promise<PendingCreation | undefined> {
    const r = this.get("SELECT * FROM creations WHERE room_id = ?", roomId);
    return r && toCreation(r);
  }

  async putCreation(c: PendingCreation): Promise<void> {
    this.transaction(() => {
      this.run("DELETE FROM consents WHERE room_id = ? AND code <> ?", c.roomId, c.code);
      this.run(
        "INSERT INTO creations (room_id, code, created_by, event_id, created_at, expires_at, plan) VALUES (?, ?, ?, ?, ?, ?, ?) " +
          "ON CONFLICT (room_id) DO UPDATE SET code = excluded.code, created_by = excluded.created_by, event_id = excluded.event_id, " +
          "created_at = excluded.created_at, expires_at = excluded.expires_at, plan = excluded.plan",
        c.roomId,
        c.code,
        c.createdBy,
        c.eventId,
        c.createdAt,
        c.expiresAt,
        c.plan,
      );
    });
  }

  async addConsent(roomId: string, code: string, userId: string, at: number): Promise<boolean> {
    // Read and write without yielding: no other call runs in between.
    if (!this.get("SELECT 1 AS x FROM creations WHERE room_id = ? AND code = ?", roomId, code)) return false;
    const seq = Number(this.get("SELECT COUNT(*) AS n FROM consents WHERE room_id = ? AND code = ?", roomId, code)?.n ?? 0);
    this.run("INSERT INTO consents (room_id, code, user_id, consented_at, seq) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", roomId, code, userId, at, seq);
    return true;
  }

  async listConsents(roomId: string, code: string): Promise<string[]> {
    return this.all("SELECT user_id FROM consents WHERE room_id = ? AND code = ? ORDER BY seq", roomId, code).map((r) => String(r.user_id));
  }

  async deleteCreation(roomId: string, code: string): Promise<boolean> {
    return this.transaction(() => {
      this.run("DELETE FROM consents WHERE room_id = ?", roomId);
      return this.run("DELETE FROM creations WHERE room_id = ? AND code = ?", roomId, code) > 0;
    });
  }

  async listCreations(): Promise<PendingCreation[]> {
    return this.all("SELECT * FROM creations ORDER BY expires_at, room_id").map(toCreation);
  }

  async getRoomPolicy(roomId: string): Promise<RoomPolicy | undefined> {
    const r = this.get("SELECT * FROM room_policies WHERE room_id = ?", roomId);
    return r && toPolicy(r);
  }

  async putRoomPolicy(p: RoomPolicy): Promise<void> {
    this.run(
      "INSERT INTO room_policies (room_id, mode, adoptees, adopt_until) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (room_id) DO UPDATE SET mode = excluded.mode, adoptees = excluded.adoptees, adopt_until = excluded.adopt_until",
      p.roomId,
      p.mode,
      JSON.stringify(p.adoptees),
      p.adoptUntil,
    );
  }

  async setRoomMode(roomId: string, mode: RoomMode): Promise<boolean> {
    return (
      this.run(
        "UPDATE room_policies SET adopt_until = CASE WHEN mode = 'watch' AND ? = 'enforce' THEN 0 ELSE adopt_until END, " +
          "adoptees = CASE WHEN mode = 'watch' AND ? = 'enforce' THEN '[]' ELSE adoptees END, mode = ? WHERE room_id = ?",
        mode,
        mode,
        mode,
        roomId,
      ) > 0
    );
  }

  async beginAdoption(roomId: string, adoptees: string[], adoptUntil: number): Promise<boolean> {
    return (
      this.run(
        "UPDATE room_policies SET adoptees = ?, adopt_until = ? WHERE room_id = ? AND mode = 'enforce' AND adopt_until = 0",
        JSON.stringify(adoptees),
        adoptUntil,
        roomId,
      ) > 0
    );
  }

  async putBan(ban: RoomBan): Promise<void> {
    this.run(
      "INSERT INTO room_bans (room_id, user_id, reason, banned_at) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (room_id, user_id) DO UPDATE SET reason = excluded.reason, banned_at = excluded.banned_at",
      ban.roomId,
      ban.userId,
      ban.reason,
      ban.bannedAt,
    );
  }

  async getBan(roomId: string, userId: string): Promise<RoomBan | undefined> {
    const r = this.get("SELECT * FROM room_bans WHERE room_id = ? AND user_id = ?", roomId, userId);
    return r && toBan(r);
  }

  async deleteBan(roomId: string, userId: string): Promise<boolean> {
    return this.run("DELETE FROM room_bans WHERE room_id = ? AND user_id = ?", roomId, userId) > 0;
  }

  async moveRoom(from: string, to: string): Promise<void> {
    if (!this.get("SELECT 1 AS x FROM bindings WHERE room_id = ?", from)) return;
    if (this.get("SELECT 1 AS x FROM bindings WHERE room_id = ?", to)) throw new StoreConflictError(`${to} is already bound to a group`);
    this.transaction(() => {
      for (const table of ["links", "pending_links", "room_policies", "room_bans"]) this.run(`DELETE FROM ${table} WHERE room_id = ?`, to);
      for (const table of ["bindings", "links", "pending_links", "room_policies", "room_bans"])
        this.run(`UPDATE ${table} SET room_id = ? WHERE room_id = ?`, to, from);
      for (const room of [from, to]) {
        this.run("DELETE FROM consents WHERE room_id = ?", room);
        this.run("DELETE FROM creations WHERE room_id = ?", room);
      }
    });
  }

  /** Runs `fn` in one SQLite transaction. */
  private transaction<T>(fn: () => T): T {
    this.db.exec("BEGIN");
    try {
      const out = fn();
      this.db.exec("COMMIT");
      return out;
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }

  async noteSession(x: SessionSighting): Promise<number> {
    this.run(
      "INSERT INTO audit_sessions (room_id, session_id, sender, device, first_at) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (room_id, session_id) DO UPDATE SET first_at = MIN(first_at, excluded.first_at)",
      x.roomId,
      x.sessionId,
      x.sender,
      x.device,
      x.at,
    );
    return Number(this.get("SELECT first_at FROM audit_sessions WHERE room_id = ? AND session_id = ?", x.roomId, x.sessionId)!["first_at"]);
  }

  async addDeparture(d: Departure): Promise<void> {
    this.run(
      "INSERT INTO audit_departures (event_id, room_id, user_id, at, kind) VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
      d.eventId,
      d.roomId,
      d.userId,
      d.at,
      d.kind,
    );
  }

  async departuresBetween(roomId: string, after: number, before: number): Promise<Departure[]> {
    return this.all("SELECT * FROM audit_departures WHERE room_id = ? AND at > ? AND at < ? ORDER BY at, event_id LIMIT 20", roomId, after, before).map(
      toDeparture,
    );
  }

  async addReuse(r: SessionReuse): Promise<{ firstForSession: boolean }> {
    this.run(
      "INSERT INTO audit_reuses (event_id, room_id, sender, session_id, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
      r.eventId,
      r.roomId,
      r.sender,
      r.sessionId,
      r.at,
    );
    const first = this.get("SELECT event_id FROM audit_reuses WHERE room_id = ? AND session_id = ? ORDER BY seq LIMIT 1", r.roomId, r.sessionId);
    return { firstForSession: first?.["event_id"] === r.eventId };
  }

  async countReuses(roomId: string): Promise<number> {
    return Number(this.get("SELECT COUNT(*) AS n FROM audit_reuses WHERE room_id = ?", roomId)!["n"]);
  }

  async getState(key: string): Promise<string | undefined> {
    const r = this.get("SELECT value FROM state WHERE key = ?", key);
    return r ? String(r.value) : undefined;
  }

  async getStates(keys: string[]): Promise<Map<string, string>> {
    if (keys.length === 0) return new Map();
    // The keys as one JSON array: one statement whatever their number.
    const rows = this.all("SELECT key, value FROM state WHERE key IN (SELECT value FROM json_each(?))", JSON.stringify(keys));
    return new Map(rows.map((r) => [String(r["key"]), String(r["value"])]));
  }

  async setState(key: string, value: string): Promise<void> {
    this.run("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  async addToCounter(key: string, delta: bigint, once: string): Promise<bigint> {
    // Within one process calls do not interleave; across processes the write transaction does the rest.
    return this.transaction(() => {
      if (this.run("INSERT INTO state (key, value) VALUES (?, '1') ON CONFLICT (key) DO NOTHING", once) > 0) {
        const total = BigInt(String(this.get("SELECT value FROM state WHERE key = ?", key)?.value ?? "0")) + delta;
        this.run("INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, total.toString());
        return total;
      }
      return BigInt(String(this.get("SELECT value FROM state WHERE key = ?", key)?.value ?? "0"));
    });
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db.close();
  }
}

/**
 * The store's folder 0700, the database 0600 (created so if missing), and
 * the WAL and SHM files 0600 when they exist. SQLite creates the WAL and SHM
 * with the mode of the database file, so they never start out wider.
 */
function privateFiles(path: string): void {
  privateFolder(dirname(path));
  closeSync(openSync(path, "a", 0o600));
  for (const f of [path, `${path}-wal`, `${path}-shm`]) if (existsSync(f)) chmodSync(f, 0o600);
}

/** A folder for the bot's files only (0700), made if missing. */
export function privateFolder(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}
