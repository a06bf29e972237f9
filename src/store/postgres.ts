/**
 * The PostgreSQL store, on the `pg` driver: the same {@link Store} as the
 * SQLite one, for a bot whose several workers share one database
 * (`store.url: postgres://…`). Room leases (which worker serves which room)
 * live beside it: see leases.ts and {@link PostgresLeases}.
 *
 * Everything a worker decides alone is one statement; what needs several
 * (a link and its nonce) is one transaction. Uniqueness is the database's:
 * a transaction intent, a (sender, nonce) pair, a used link nonce and an
 * outbox id each exist once, whichever worker writes them.
 */
import pg from "pg";
import type { Fence, Lease, RoomLeases } from "./leases.ts";
import { toBan, toBinding, toCreation, toDeparture, toInbound, toLink, toOutbox, toPendingLink, toPolicy, toTx, replacedAfter, type Row } from "./rows.ts";
import {
  NonceTakenError,
  StoreConflictError,
  type Departure,
  type InboundEvent,
  type InboundStatus,
  type Link,
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
  room_id TEXT PRIMARY KEY, grp TEXT NOT NULL UNIQUE, chain_id BIGINT NOT NULL,
  created_by TEXT NOT NULL, created_at BIGINT NOT NULL, from_block BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS links (
  room_id TEXT NOT NULL, user_id TEXT NOT NULL, address TEXT NOT NULL, nonce TEXT NOT NULL,
  linked_at BIGINT NOT NULL, PRIMARY KEY (room_id, user_id),
  CONSTRAINT links_address UNIQUE (room_id, address));
CREATE TABLE IF NOT EXISTS used_nonces (nonce TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS pending_links (
  room_id TEXT NOT NULL, user_id TEXT NOT NULL, address TEXT NOT NULL, nonce TEXT NOT NULL,
  message TEXT NOT NULL, created_at BIGINT NOT NULL, PRIMARY KEY (room_id, user_id));
CREATE TABLE IF NOT EXISTS txs (
  intent TEXT PRIMARY KEY, hash TEXT NOT NULL, raw TEXT NOT NULL, nonce BIGINT NOT NULL,
  sender TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL,
  description TEXT NOT NULL, error TEXT,
  CONSTRAINT txs_sender_nonce UNIQUE (sender, nonce));
-- A store made before fee bumps: the column they need.
ALTER TABLE txs ADD COLUMN IF NOT EXISTS replaced TEXT;
CREATE INDEX IF NOT EXISTS txs_status ON txs (status);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
${FORGET_OLD_SECRETS}
CREATE TABLE IF NOT EXISTS inbound (
  seq BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL,
  sender TEXT NOT NULL, raw TEXT NOT NULL, received_at BIGINT NOT NULL, status TEXT NOT NULL, answer TEXT);
CREATE INDEX IF NOT EXISTS inbound_status ON inbound (status, seq);
CREATE INDEX IF NOT EXISTS inbound_sender ON inbound (status, sender, seq);
CREATE TABLE IF NOT EXISTS outbox (
  id TEXT PRIMARY KEY, room_id TEXT NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
  status TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_status ON outbox (status, created_at, id);
CREATE TABLE IF NOT EXISTS creations (
  room_id TEXT PRIMARY KEY, code TEXT NOT NULL, created_by TEXT NOT NULL, event_id TEXT NOT NULL,
  created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, plan TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS consents (
  room_id TEXT NOT NULL, code TEXT NOT NULL, user_id TEXT NOT NULL, consented_at BIGINT NOT NULL,
  seq BIGSERIAL, PRIMARY KEY (room_id, code, user_id));
CREATE TABLE IF NOT EXISTS room_policies (
  room_id TEXT PRIMARY KEY, mode TEXT NOT NULL, adoptees TEXT NOT NULL, adopt_until BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS room_bans (
  room_id TEXT NOT NULL, user_id TEXT NOT NULL, reason TEXT NOT NULL, banned_at BIGINT NOT NULL,
  PRIMARY KEY (room_id, user_id));
CREATE TABLE IF NOT EXISTS audit_sessions (
  room_id TEXT NOT NULL, session_id TEXT NOT NULL, sender TEXT NOT NULL, device TEXT NOT NULL,
  first_at BIGINT NOT NULL, PRIMARY KEY (room_id, session_id));
CREATE TABLE IF NOT EXISTS audit_departures (
  event_id TEXT PRIMARY KEY, room_id TEXT NOT NULL, user_id TEXT NOT NULL, at BIGINT NOT NULL, kind TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_departures_room ON audit_departures (room_id, at);
CREATE TABLE IF NOT EXISTS audit_reuses (
  seq BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, room_id TEXT NOT NULL,
  sender TEXT NOT NULL, session_id TEXT NOT NULL, at BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_reuses_session ON audit_reuses (room_id, session_id, seq);
CREATE SEQUENCE IF NOT EXISTS lease_tokens;
CREATE TABLE IF NOT EXISTS workers (id TEXT PRIMARY KEY, expires_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS room_leases (
  room_id TEXT PRIMARY KEY, owner TEXT NOT NULL, token BIGINT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL);
CREATE INDEX IF NOT EXISTS room_leases_owner ON room_leases (owner);
`;

// Any constant: the lock that keeps two workers from creating the schema at
// once (concurrent CREATE ... IF NOT EXISTS can still collide in pg_type).
const SCHEMA_LOCK = 0x636f6e636c;
const LEASE_LOCK = SCHEMA_LOCK + 1;

export interface PostgresOptions {
  /** password when the URL has none (the config's `store.password`) */
  password?: string;
  /** connections in the pool; default 10 */
  maxConnections?: number;
}

export class PostgresStore implements Store {
  private readonly pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  /**
   * Connects to `url` and creates the tables that are missing. Throws when
   * the server cannot be reached or refuses the login.
   */
  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      ...(options.password !== undefined ? { password: options.password } : {}),
    });
    // An idle connection the server drops (restart, failover) must not crash
    // the process: the pool replaces it on the next query.
    pool.on("error", () => {});
    const store = new PostgresStore(pool);
    try {
      await store.transaction(async (c) => {
        await c.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
        await c.query(SCHEMA);
      });
    } catch (e) {
      await pool.end();
      throw e;
    }
    return store;
  }

  /** The room leases kept in this database. */
  leases(): PostgresLeases {
    return new PostgresLeases(this.pool);
  }

  private async transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      const result = await fn(c);
      await c.query("COMMIT");
      return result;
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  private async rows(sql: string, args: unknown[] = []): Promise<Row[]> {
    return (await this.pool.query<Row>(sql, args)).rows;
  }

  private async row(sql: string, args: unknown[] = []): Promise<Row | undefined> {
    return (await this.rows(sql, args))[0];
  }

  private async run(sql: string, args: unknown[] = []): Promise<number> {
    return (await this.pool.query(sql, args)).rowCount ?? 0;
  }

  async getBinding(roomId: string): Promise<RoomBinding | undefined> {
    const r = await this.row("SELECT * FROM bindings WHERE room_id = $1", [roomId]);
    return r && toBinding(r);
  }

  async getBindingByGroup(group: string): Promise<RoomBinding | undefined> {
    const r = await this.row("SELECT * FROM bindings WHERE grp = $1", [group.toLowerCase()]);
    return r && toBinding(r);
  }

  async listBindings(): Promise<RoomBinding[]> {
    return (await this.rows("SELECT * FROM bindings ORDER BY created_at, room_id")).map(toBinding);
  }

  async putBinding(b: RoomBinding): Promise<void> {
    await this.run(
      "INSERT INTO bindings (room_id, grp, chain_id, created_by, created_at, from_block) VALUES ($1, $2, $3, $4, $5, $6) " +
        "ON CONFLICT (room_id) DO UPDATE SET grp = excluded.grp, chain_id = excluded.chain_id, " +
        "created_by = excluded.created_by, created_at = excluded.created_at, from_block = excluded.from_block",
      [b.roomId, b.group.toLowerCase(), b.chainId, b.createdBy, b.createdAt, b.fromBlock],
    );
  }

  async getLink(roomId: string, userId: string): Promise<Link | undefined> {
    const r = await this.row("SELECT * FROM links WHERE room_id = $1 AND user_id = $2", [roomId, userId]);
    return r && toLink(r);
  }

  async getLinkByAddress(roomId: string, address: string): Promise<Link | undefined> {
    const r = await this.row("SELECT * FROM links WHERE room_id = $1 AND address = $2", [roomId, address.toLowerCase()]);
    return r && toLink(r);
  }

  async listLinks(roomId: string): Promise<Link[]> {
    return (await this.rows("SELECT * FROM links WHERE room_id = $1 ORDER BY linked_at, user_id", [roomId])).map(toLink);
  }

  async putLink(link: Link): Promise<void> {
    const address = link.address.toLowerCase();
    try {
      await this.transaction(async (c) => {
        const holder = (await c.query<Row>("SELECT user_id FROM links WHERE room_id = $1 AND address = $2", [link.roomId, address])).rows[0];
        if (holder && holder["user_id"] !== link.userId) {
          throw new StoreConflictError(`address ${link.address} is linked to ${String(holder["user_id"])}`);
        }
        await c.query("INSERT INTO used_nonces (nonce) VALUES ($1)", [link.nonce]);
        await c.query(
          "INSERT INTO links (room_id, user_id, address, nonce, linked_at) VALUES ($1, $2, $3, $4, $5) " +
            "ON CONFLICT (room_id, user_id) DO UPDATE SET address = excluded.address, nonce = excluded.nonce, linked_at = excluded.linked_at",
          [link.roomId, link.userId, address, link.nonce, link.linkedAt],
        );
      });
    } catch (e) {
      // Another worker may link the same address between the check and the insert.
      if (uniqueViolation(e, "links_address")) throw new StoreConflictError(`address ${link.address} is linked to someone else`);
      if (uniqueViolation(e, "used_nonces_pkey")) throw new StoreConflictError(`nonce ${link.nonce} was already used`);
      throw e;
    }
  }

  async deleteLink(roomId: string, userId: string): Promise<boolean> {
    return (await this.run("DELETE FROM links WHERE room_id = $1 AND user_id = $2", [roomId, userId])) > 0;
  }

  async nonceUsed(nonce: string): Promise<boolean> {
    return (await this.row("SELECT 1 AS x FROM used_nonces WHERE nonce = $1", [nonce])) !== undefined;
  }

  async getPendingLink(roomId: string, userId: string): Promise<PendingLink | undefined> {
    const r = await this.row("SELECT * FROM pending_links WHERE room_id = $1 AND user_id = $2", [roomId, userId]);
    return r && toPendingLink(r);
  }

  async putPendingLink(p: PendingLink): Promise<void> {
    await this.run(
      "INSERT INTO pending_links (room_id, user_id, address, nonce, message, created_at) VALUES ($1, $2, $3, $4, $5, $6) " +
        "ON CONFLICT (room_id, user_id) DO UPDATE SET address = excluded.address, nonce = excluded.nonce, " +
        "message = excluded.message, created_at = excluded.created_at",
      [p.roomId, p.userId, p.address, p.nonce, p.message, p.createdAt],
    );
  }

  async deletePendingLink(roomId: string, userId: string): Promise<void> {
    await this.run("DELETE FROM pending_links WHERE room_id = $1 AND user_id = $2", [roomId, userId]);
  }

  async getTx(intent: string): Promise<TxRecord | undefined> {
    const r = await this.row("SELECT * FROM txs WHERE intent = $1", [intent]);
    return r && toTx(r);
  }

  async putTx(tx: TxRecord): Promise<void> {
    try {
      await this.run("INSERT INTO txs (intent, hash, raw, nonce, sender, status, created_at, description, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", [
        tx.intent,
        tx.hash,
        tx.raw,
        tx.nonce,
        tx.from.toLowerCase(),
        tx.status,
        tx.createdAt,
        tx.description,
        tx.error ?? null,
      ]);
    } catch (e) {
      if (uniqueViolation(e, "txs_pkey")) throw new StoreConflictError(`a transaction for ${tx.intent} is already recorded`);
      if (uniqueViolation(e, "txs_sender_nonce")) throw new NonceTakenError(tx.from, tx.nonce);
      throw e;
    }
  }

  async setTxStatus(intent: string, status: TxStatus, error?: string): Promise<void> {
    await this.run("UPDATE txs SET status = $1, error = $2 WHERE intent = $3", [status, error ?? null, intent]);
  }

  async replaceTx(intent: string, hash: string, next: { hash: string; raw: string }): Promise<boolean> {
    // Read and written under the row's lock: two workers bumping one transaction, one wins.
    return this.transaction(async (c) => {
      const r = (await c.query("SELECT * FROM txs WHERE intent = $1 FOR UPDATE", [intent])).rows[0] as Row | undefined;
      const current = r && toTx(r);
      if (current?.hash !== hash || current.status !== "pending") return false;
      await c.query("UPDATE txs SET hash = $1, raw = $2, replaced = $3 WHERE intent = $4", [next.hash, next.raw, replacedAfter(current, next), intent]);
      return true;
    });
  }

  async settleTx(intent: string, hash: string, status: Exclude<TxStatus, "pending">, error?: string): Promise<boolean> {
    return this.transaction(async (c) => {
      const r = (await c.query("SELECT * FROM txs WHERE intent = $1 FOR UPDATE", [intent])).rows[0] as Row | undefined;
      const current = r && toTx(r);
      if (current?.status !== "pending") return false;
      const version = current.hash === hash ? current : current.replaced?.find((v) => v.hash === hash);
      if (!version) return false;
      const replaced = version === current ? (current.replaced ? JSON.stringify(current.replaced) : null) : replacedAfter(current, version);
      await c.query("UPDATE txs SET hash = $1, raw = $2, replaced = $3, status = $4, error = $5 WHERE intent = $6", [
        version.hash,
        version.raw,
        replaced,
        status,
        error ?? null,
        intent,
      ]);
      return true;
    });
  }

  async listTxs(status: TxStatus): Promise<TxRecord[]> {
    return (await this.rows("SELECT * FROM txs WHERE status = $1 ORDER BY nonce", [status])).map(toTx);
  }

  async maxNonce(from: string): Promise<number | undefined> {
    const r = await this.row("SELECT MAX(nonce) AS n FROM txs WHERE sender = $1", [from.toLowerCase()]);
    return r?.["n"] === null || r?.["n"] === undefined ? undefined : Number(r["n"]);
  }

  async addOutbox(item: OutboxItem): Promise<boolean> {
    return (
      (await this.run(
        "INSERT INTO outbox (id, room_id, kind, payload, status, created_at) VALUES ($1, $2, $3, $4, 'pending', $5) ON CONFLICT (id) DO NOTHING",
        [item.id, item.roomId, item.kind, item.payload, item.createdAt],
      )) > 0
    );
  }

  async listOutbox(status: "pending" | "done"): Promise<OutboxItem[]> {
    return (await this.rows("SELECT * FROM outbox WHERE status = $1 ORDER BY created_at, id", [status])).map(toOutbox);
  }

  async finishOutbox(id: string): Promise<void> {
    await this.run("UPDATE outbox SET status = 'done' WHERE id = $1", [id]);
  }

  /**
   * Marks a pending item of the fence's room done, only while that lease is
   * current (see {@link PostgresLeases}). Returns whether this call marked
   * it: of several workers finishing one item, at most one gets `true`, and
   * never one whose lease has passed to another worker.
   */
  async finishOutboxFenced(id: string, fence: Fence): Promise<boolean> {
    return (
      (await this.run(
        "UPDATE outbox SET status = 'done' WHERE id = $1 AND status = 'pending' AND room_id = $2 AND EXISTS (" +
          "SELECT 1 FROM room_leases l WHERE l.room_id = $2 AND l.owner = $3 AND l.token = $4 AND l.expires_at > now())",
        [id, fence.roomId, fence.worker, fence.token],
      )) > 0
    );
  }

  async addInbound(events: NewInboundEvent[]): Promise<void> {
    if (events.length === 0) return;
    // One statement: one durable write for a whole sync response, in order.
    await this.run(
      "INSERT INTO inbound (event_id, room_id, sender, raw, received_at, status) " +
        "SELECT e, r, s, w, t, 'new' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS x(e, r, s, w, t, i) " +
        "ORDER BY i ON CONFLICT (event_id) DO NOTHING",
      [events.map((e) => e.eventId), events.map((e) => e.roomId), events.map((e) => e.sender), events.map((e) => e.raw), events.map((e) => e.receivedAt)],
    );
  }

  async listInbound(status: InboundStatus, limit: number, perSender?: number): Promise<InboundEvent[]> {
    if (perSender === undefined) return (await this.rows("SELECT * FROM inbound WHERE status = $1 ORDER BY seq LIMIT $2", [status, limit])).map(toInbound);
    return (
      await this.rows(
        // Along the index (status, sender, seq): each sender found by one step
        // (a skip scan), then its oldest few; a pile of one sender's is never read whole.
        "WITH RECURSIVE senders(s) AS (SELECT MIN(sender) FROM inbound WHERE status = $1 UNION ALL " +
          "SELECT (SELECT MIN(sender) FROM inbound WHERE status = $1 AND sender > s) FROM senders WHERE s IS NOT NULL) " +
          "SELECT inbound.* FROM senders JOIN inbound ON inbound.seq IN (SELECT seq FROM inbound WHERE status = $1 AND sender = senders.s ORDER BY seq LIMIT $2) " +
          "ORDER BY inbound.seq LIMIT $3",
        [status, perSender, limit],
      )
    ).map(toInbound);
  }

  async waitInbound(eventId: string): Promise<void> {
    await this.run("UPDATE inbound SET status = 'waiting' WHERE event_id = $1", [eventId]);
  }

  async setInboundAnswer(eventId: string, answer: string): Promise<void> {
    await this.run("UPDATE inbound SET status = 'answering', answer = $1 WHERE event_id = $2", [answer, eventId]);
  }

  async finishInbound(eventId: string): Promise<void> {
    await this.run("UPDATE inbound SET status = 'done' WHERE event_id = $1", [eventId]);
  }

  async pruneInbound(receivedBefore: number): Promise<number> {
    return this.run("DELETE FROM inbound WHERE status = 'done' AND received_at < $1", [receivedBefore]);
  }

  async getCreation(roomId: string): Promise<PendingCreation | undefined> {
    const r = await this.row("SELECT * FROM creations WHERE room_id = $1", [roomId]);
    return r && toCreation(r);
  }

  async putCreation(c: PendingCreation): Promise<void> {
    await this.transaction(async (t) => {
      await t.query("DELETE FROM consents WHERE room_id = $1 AND code <> $2", [c.roomId, c.code]);
      await t.query(
        "INSERT INTO creations (room_id, code, created_by, event_id, created_at, expires_at, plan) VALUES ($1, $2, $3, $4, $5, $6, $7) " +
          "ON CONFLICT (room_id) DO UPDATE SET code = excluded.code, created_by = excluded.created_by, event_id = excluded.event_id, " +
          "created_at = excluded.created_at, expires_at = excluded.expires_at, plan = excluded.plan",
        [c.roomId, c.code, c.createdBy, c.eventId, c.createdAt, c.expiresAt, c.plan],
      );
    });
  }

  async addConsent(roomId: string, code: string, userId: string, at: number): Promise<boolean> {
    // One statement: the consent is recorded only while `code` is the room's preview.
    await this.run(
      "INSERT INTO consents (room_id, code, user_id, consented_at) SELECT $1, $2, $3, $4 " +
        "WHERE EXISTS (SELECT 1 FROM creations WHERE room_id = $1 AND code = $2) ON CONFLICT DO NOTHING",
      [roomId, code, userId, at],
    );
    // A consent to a preview replaced meanwhile stays under the old code, where nothing counts it.
    return (await this.row("SELECT 1 AS x FROM creations WHERE room_id = $1 AND code = $2", [roomId, code])) !== undefined;
  }

  async listConsents(roomId: string, code: string): Promise<string[]> {
    return (await this.rows("SELECT user_id FROM consents WHERE room_id = $1 AND code = $2 ORDER BY seq", [roomId, code])).map((r) => String(r["user_id"]));
  }

  async deleteCreation(roomId: string, code: string): Promise<boolean> {
    return this.transaction(async (t) => {
      const n = (await t.query("DELETE FROM creations WHERE room_id = $1 AND code = $2", [roomId, code])).rowCount ?? 0;
      if (n > 0) await t.query("DELETE FROM consents WHERE room_id = $1", [roomId]);
      return n > 0;
    });
  }

  async listCreations(): Promise<PendingCreation[]> {
    return (await this.rows("SELECT * FROM creations ORDER BY expires_at, room_id")).map(toCreation);
  }

  async getRoomPolicy(roomId: string): Promise<RoomPolicy | undefined> {
    const r = await this.row("SELECT * FROM room_policies WHERE room_id = $1", [roomId]);
    return r && toPolicy(r);
  }

  async putRoomPolicy(p: RoomPolicy): Promise<void> {
    await this.run(
      "INSERT INTO room_policies (room_id, mode, adoptees, adopt_until) VALUES ($1, $2, $3, $4) " +
        "ON CONFLICT (room_id) DO UPDATE SET mode = excluded.mode, adoptees = excluded.adoptees, adopt_until = excluded.adopt_until",
      [p.roomId, p.mode, JSON.stringify(p.adoptees), p.adoptUntil],
    );
  }

  async setRoomMode(roomId: string, mode: RoomMode): Promise<boolean> {
    return (
      (await this.run(
        "UPDATE room_policies SET adopt_until = CASE WHEN mode = 'watch' AND $1 = 'enforce' THEN 0 ELSE adopt_until END, " +
          "adoptees = CASE WHEN mode = 'watch' AND $1 = 'enforce' THEN '[]' ELSE adoptees END, mode = $1 WHERE room_id = $2",
        [mode, roomId],
      )) > 0
    );
  }

  async beginAdoption(roomId: string, adoptees: string[], adoptUntil: number): Promise<boolean> {
    return (
      (await this.run("UPDATE room_policies SET adoptees = $1, adopt_until = $2 WHERE room_id = $3 AND mode = 'enforce' AND adopt_until = 0", [
        JSON.stringify(adoptees),
        adoptUntil,
        roomId,
      ])) > 0
    );
  }

  async putBan(ban: RoomBan): Promise<void> {
    await this.run(
      "INSERT INTO room_bans (room_id, user_id, reason, banned_at) VALUES ($1, $2, $3, $4) " +
        "ON CONFLICT (room_id, user_id) DO UPDATE SET reason = excluded.reason, banned_at = excluded.banned_at",
      [ban.roomId, ban.userId, ban.reason, ban.bannedAt],
    );
  }

  async getBan(roomId: string, userId: string): Promise<RoomBan | undefined> {
    const r = await this.row("SELECT * FROM room_bans WHERE room_id = $1 AND user_id = $2", [roomId, userId]);
    return r && toBan(r);
  }

  async deleteBan(roomId: string, userId: string): Promise<boolean> {
    return (await this.run("DELETE FROM room_bans WHERE room_id = $1 AND user_id = $2", [roomId, userId])) > 0;
  }

  async moveRoom(from: string, to: string): Promise<void> {
    try {
      await this.transaction(async (t) => {
        if ((await t.query("SELECT 1 FROM bindings WHERE room_id = $1 FOR UPDATE", [from])).rowCount === 0) return;
        for (const table of ["links", "pending_links", "room_policies", "room_bans"]) await t.query(`DELETE FROM ${table} WHERE room_id = $1`, [to]);
        // The binding first: `to` already bound is a conflict (its primary key), and nothing else moves.
        for (const table of ["bindings", "links", "pending_links", "room_policies", "room_bans"])
          await t.query(`UPDATE ${table} SET room_id = $1 WHERE room_id = $2`, [to, from]);
        await t.query("DELETE FROM consents WHERE room_id = ANY($1)", [[from, to]]);
        await t.query("DELETE FROM creations WHERE room_id = ANY($1)", [[from, to]]);
      });
    } catch (e) {
      if (uniqueViolation(e, "bindings_pkey")) throw new StoreConflictError(`${to} is already bound to a group`);
      throw e;
    }
  }

  async noteSession(x: SessionSighting): Promise<number> {
    const r = await this.row(
      "INSERT INTO audit_sessions (room_id, session_id, sender, device, first_at) VALUES ($1, $2, $3, $4, $5) " +
        "ON CONFLICT (room_id, session_id) DO UPDATE SET first_at = LEAST(audit_sessions.first_at, excluded.first_at) RETURNING first_at",
      [x.roomId, x.sessionId, x.sender, x.device, x.at],
    );
    return Number(r!["first_at"]);
  }

  async addDeparture(d: Departure): Promise<void> {
    await this.run("INSERT INTO audit_departures (event_id, room_id, user_id, at, kind) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING", [
      d.eventId,
      d.roomId,
      d.userId,
      d.at,
      d.kind,
    ]);
  }

  async departuresBetween(roomId: string, after: number, before: number): Promise<Departure[]> {
    return (
      await this.rows("SELECT * FROM audit_departures WHERE room_id = $1 AND at > $2 AND at < $3 ORDER BY at, event_id LIMIT 20", [roomId, after, before])
    ).map(toDeparture);
  }

  async addReuse(r: SessionReuse): Promise<{ firstForSession: boolean }> {
    await this.run("INSERT INTO audit_reuses (event_id, room_id, sender, session_id, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING", [
      r.eventId,
      r.roomId,
      r.sender,
      r.sessionId,
      r.at,
    ]);
    const first = await this.row("SELECT event_id FROM audit_reuses WHERE room_id = $1 AND session_id = $2 ORDER BY seq LIMIT 1", [r.roomId, r.sessionId]);
    return { firstForSession: first?.["event_id"] === r.eventId };
  }

  async countReuses(roomId: string): Promise<number> {
    return Number((await this.row("SELECT COUNT(*) AS n FROM audit_reuses WHERE room_id = $1", [roomId]))!["n"]);
  }

  async getState(key: string): Promise<string | undefined> {
    const r = await this.row("SELECT value FROM state WHERE key = $1", [key]);
    return r ? String(r["value"]) : undefined;
  }

  async getStates(keys: string[]): Promise<Map<string, string>> {
    if (keys.length === 0) return new Map();
    const rows = await this.rows("SELECT key, value FROM state WHERE key = ANY($1::text[])", [keys]);
    return new Map(rows.map((r) => [String(r["key"]), String(r["value"])]));
  }

  async setState(key: string, value: string): Promise<void> {
    await this.run("INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value]);
  }

  async addToCounter(key: string, delta: bigint, once: string): Promise<bigint> {
    return this.transaction(async (c) => {
      const first = (await c.query("INSERT INTO state (key, value) VALUES ($1, '1') ON CONFLICT (key) DO NOTHING", [once])).rowCount === 1;
      // The row's own lock (an upsert) orders two workers adding at once.
      const r = first
        ? await c.query(
            "INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = (state.value::numeric + $2::numeric)::text RETURNING value",
            [key, delta.toString()],
          )
        : await c.query("SELECT value FROM state WHERE key = $1", [key]);
      return BigInt((r.rows[0] as { value?: string } | undefined)?.value ?? "0");
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Room leases in PostgreSQL (the design is in leases.ts). Times are the
 * database's clock (`now()`), so workers' clocks never need to agree; a
 * worker measures its own margin with its monotonic clock.
 */
export class PostgresLeases implements RoomLeases {
  private readonly pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  async balance(worker: string, rooms: readonly string[], ttlMs: number, acting?: readonly string[]): Promise<{ held: Lease[]; workers: number }> {
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      // One balancing round at a time across all workers: each sees the
      // others' claims, and no two lock the same leases in another order.
      // A worker stalled inside this transaction (a pause, a partition)
      // would hold everyone's renewals up: the server ends it soon.
      await c.query("SELECT set_config('idle_in_transaction_session_timeout', $1, true)", [String(Math.max(500, Math.round(ttlMs / 6)))]);
      await c.query("SELECT pg_advisory_xact_lock($1)", [LEASE_LOCK]);
      await c.query(
        "INSERT INTO workers (id, expires_at) VALUES ($1, now() + $2 * interval '1 millisecond') " +
          "ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
        [worker, ttlMs],
      );
      const live = (await c.query<Row>("SELECT id FROM workers WHERE expires_at > now()")).rows.map((r) => String(r["id"]));
      // Every room ever leased stays known (release only expires a lease), so
      // a room is shared out even when no live worker names it.
      const all = new Set(rooms);
      for (const r of (await c.query<Row>("SELECT room_id FROM room_leases")).rows) all.add(String(r["room_id"]));
      const holding = new Map<string, number>();
      for (const r of (await c.query<Row>("SELECT owner, count(*) AS n FROM room_leases WHERE expires_at > now() GROUP BY owner")).rows) {
        holding.set(String(r["owner"]), Number(r["n"]));
      }
      // Fair shares: every live worker ends between floor and ceil of
      // rooms / workers. Rounding up lets the survivors take all of a dead
      // worker's rooms at once; a worker keeps only the floor while another
      // has less, so a newcomer gets its share.
      const n = Math.max(1, live.length);
      const ceil = Math.ceil(all.size / n);
      const floor = Math.floor(all.size / n);
      const starving = live.some((w) => w !== worker && (holding.get(w) ?? 0) < floor);
      const mine = (await c.query<Row>("SELECT room_id FROM room_leases WHERE owner = $1 AND expires_at > now() ORDER BY room_id", [worker])).rows.map((r) =>
        String(r["room_id"]),
      );
      // Above the share, the surplus is not renewed: it expires and another
      // worker takes it. Nothing is taken from a live worker by force.
      const cap = starving ? floor : ceil;
      const keep = mine.slice(0, cap);
      // A surplus the worker stopped acting on in an earlier round ends now.
      if (acting !== undefined) {
        const done = mine.slice(cap).filter((r) => !acting.includes(r));
        if (done.length > 0) await c.query("UPDATE room_leases SET expires_at = now() WHERE owner = $1 AND room_id = ANY($2)", [worker, done]);
      }
      const RETURNING = "RETURNING room_id, token, (extract(epoch FROM expires_at) * 1000)::float8 AS expires";
      // Only the leases renewed or claimed in this round are returned: the
      // worker counts its validity from this round, and must not do so for
      // a surplus lease left to expire.
      const held = (
        await c.query<Row>(
          "UPDATE room_leases SET expires_at = now() + $3 * interval '1 millisecond' " +
            `WHERE owner = $1 AND room_id = ANY($2) AND expires_at > now() ${RETURNING}`,
          [worker, keep, ttlMs],
        )
      ).rows;
      const want = cap - held.length;
      if (want > 0) {
        const taken = new Set((await c.query<Row>("SELECT room_id FROM room_leases WHERE expires_at > now()")).rows.map((r) => String(r["room_id"])));
        const free = [...all]
          .filter((r) => !taken.has(r))
          .sort()
          .slice(0, want);
        const claimed = await c.query<Row>(
          "INSERT INTO room_leases (room_id, owner, token, expires_at) " +
            "SELECT r, $1, nextval('lease_tokens'), now() + $3 * interval '1 millisecond' FROM unnest($2::text[]) AS r " +
            "ON CONFLICT (room_id) DO UPDATE SET owner = excluded.owner, token = excluded.token, expires_at = excluded.expires_at " +
            `WHERE room_leases.expires_at <= now() ${RETURNING}`,
          [worker, free, ttlMs],
        );
        held.push(...claimed.rows);
      }
      await c.query("COMMIT");
      return {
        held: held
          .map((r) => ({ roomId: String(r["room_id"]), worker, token: Number(r["token"]), expiresAt: Number(r["expires"]) }))
          .sort((x, y) => x.roomId.localeCompare(y.roomId)),
        workers: live.length,
      };
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  async holds(fence: Fence): Promise<boolean> {
    const r = await this.pool.query("SELECT 1 FROM room_leases WHERE room_id = $1 AND owner = $2 AND token = $3 AND expires_at > now()", [
      fence.roomId,
      fence.worker,
      fence.token,
    ]);
    return (r.rowCount ?? 0) > 0;
  }

  async release(worker: string): Promise<void> {
    await this.pool.query("UPDATE room_leases SET expires_at = now() WHERE owner = $1 AND expires_at > now()", [worker]);
    await this.pool.query("DELETE FROM workers WHERE id = $1", [worker]);
  }

  async live(): Promise<string[]> {
    return (await this.pool.query<Row>("SELECT id FROM workers WHERE expires_at > now() ORDER BY id")).rows.map((r) => String(r["id"]));
  }
}

function uniqueViolation(e: unknown, constraint: string): boolean {
  const err = e as { code?: string; constraint?: string };
  return err.code === "23505" && err.constraint === constraint;
}
