// One suite for every store: the SQLite file and a real PostgreSQL server
// (started for this file by scripts/postgres.ts, one database per test).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { PostgresStore } from "../../src/store/postgres.ts";
import { NonceTakenError, StoreConflictError, type Store, type TxRecord } from "../../src/store/store.ts";
import { startPostgres, type PostgresHandle } from "../../scripts/postgres.ts";

const ROOM = "!room:localhost";
const ALICE = "@alice:localhost";
const BOB = "@bob:localhost";

interface Backend {
  name: string;
  /** a fresh, empty store location */
  location(): Promise<string>;
  /** a connection to the store at `location` (several may be open at once) */
  open(location: string): Promise<Store>;
}

let server: PostgresHandle | undefined;
let databases = 0;

const backends: Backend[] = [
  {
    name: "SQLite",
    location: async () => join(mkdtempSync(join(tmpdir(), "conclave-store-")), "s.sqlite"),
    open: async (path) => new SqliteStore(path),
  },
  {
    name: "PostgreSQL",
    location: async () => {
      if (!server) throw new Error("PostgreSQL did not start");
      return server.createDatabase(`store_${++databases}`);
    },
    open: async (url) => PostgresStore.open(url),
  },
];

beforeAll(async () => {
  server = await startPostgres();
});

afterAll(async () => {
  await server?.stop();
});

function tx(intent: string, nonce: number, from = "0xBot"): TxRecord {
  return { intent, hash: `0x${intent}`, raw: "0xraw", nonce, from, status: "pending", createdAt: nonce, description: intent };
}

describe.each(backends)("$name store", (backend) => {
  const fresh = async (): Promise<Store> => backend.open(await backend.location());

  it("keeps bindings, links, transactions, outbox and state across reopening", async () => {
    const where = await backend.location();
    const a = await backend.open(where);
    await a.putBinding({ roomId: ROOM, group: "0xAbC", chainId: 31337, createdBy: ALICE, createdAt: 1, fromBlock: 7 });
    await a.putLink({ roomId: ROOM, userId: ALICE, address: "0xAAA", nonce: "n1", linkedAt: 2 });
    await a.putTx({ ...tx("vote:1", 5), createdAt: 1_764_000_000_000 });
    await a.setState("sync", "s123");
    expect(await a.addOutbox({ id: "rotate:1", roomId: ROOM, kind: "rotate", payload: '{"n":1}', createdAt: 4 })).toBe(true);
    await a.close();
    const b = await backend.open(where);
    expect(await b.getBinding(ROOM)).toEqual({ roomId: ROOM, group: "0xabc", chainId: 31337, createdBy: ALICE, createdAt: 1, fromBlock: 7 });
    expect((await b.getBindingByGroup("0xABC"))?.roomId).toBe(ROOM);
    expect(await b.getLink(ROOM, ALICE)).toEqual({ roomId: ROOM, userId: ALICE, address: "0xaaa", nonce: "n1", linkedAt: 2 });
    expect((await b.getLinkByAddress(ROOM, "0xAaA"))?.userId).toBe(ALICE);
    expect(await b.listTxs("pending")).toEqual([{ ...tx("vote:1", 5), createdAt: 1_764_000_000_000, from: "0xbot" }]);
    expect(await b.maxNonce("0xBOT")).toBe(5);
    expect(await b.maxNonce("0xother")).toBeUndefined();
    expect(await b.getState("sync")).toBe("s123");
    expect(await b.listOutbox("pending")).toEqual([{ id: "rotate:1", roomId: ROOM, kind: "rotate", payload: '{"n":1}', createdAt: 4 }]);
    await b.setTxStatus("vote:1", "failed", "reverted");
    expect(await b.listTxs("pending")).toEqual([]);
    expect((await b.getTx("vote:1"))?.error).toBe("reverted");
    await b.close();
  });

  it("replaces a room's binding and lists bindings in order", async () => {
    const s = await fresh();
    await s.putBinding({ roomId: "!b", group: "0x2", chainId: 1, createdBy: BOB, createdAt: 20, fromBlock: 1 });
    await s.putBinding({ roomId: "!a", group: "0x1", chainId: 1, createdBy: ALICE, createdAt: 10, fromBlock: 1 });
    await s.putBinding({ roomId: "!b", group: "0x3", chainId: 100, createdBy: BOB, createdAt: 30, fromBlock: 9 });
    expect((await s.listBindings()).map((b) => [b.roomId, b.group, b.chainId])).toEqual([
      ["!a", "0x1", 1],
      ["!b", "0x3", 100],
    ]);
    expect(await s.getBindingByGroup("0x2")).toBeUndefined();
    expect(await s.getBinding("!c")).toBeUndefined();
    await s.close();
  });

  it("refuses a reused nonce and an address linked to someone else", async () => {
    const s = await fresh();
    await s.putLink({ roomId: ROOM, userId: ALICE, address: "0xaaa", nonce: "n1", linkedAt: 1 });
    expect(await s.nonceUsed("n1")).toBe(true);
    expect(await s.nonceUsed("n2")).toBe(false);
    await expect(s.putLink({ roomId: ROOM, userId: BOB, address: "0xbbb", nonce: "n1", linkedAt: 2 })).rejects.toThrow(StoreConflictError);
    await expect(s.putLink({ roomId: ROOM, userId: BOB, address: "0xAAA", nonce: "n2", linkedAt: 2 })).rejects.toThrow(/linked to @alice/);
    expect(await s.getLink(ROOM, BOB)).toBeUndefined();
    // A refused link used up nothing: the nonce is still free.
    expect(await s.nonceUsed("n2")).toBe(false);
    // Relinking replaces; the old nonce stays used.
    await s.putLink({ roomId: ROOM, userId: ALICE, address: "0xccc", nonce: "n3", linkedAt: 3 });
    expect((await s.getLink(ROOM, ALICE))?.address).toBe("0xccc");
    expect(await s.getLinkByAddress(ROOM, "0xaaa")).toBeUndefined();
    expect(await s.nonceUsed("n1")).toBe(true);
    // The same address in another room is another link.
    await s.putLink({ roomId: "!other", userId: BOB, address: "0xccc", nonce: "n4", linkedAt: 4 });
    await s.putLink({ roomId: ROOM, userId: BOB, address: "0xbbb", nonce: "n5", linkedAt: 5 });
    expect((await s.listLinks(ROOM)).map((l) => l.userId)).toEqual([ALICE, BOB]);
    expect(await s.deleteLink(ROOM, ALICE)).toBe(true);
    expect(await s.deleteLink(ROOM, ALICE)).toBe(false);
    expect((await s.listLinks(ROOM)).map((l) => l.userId)).toEqual([BOB]);
    await s.close();
  });

  it("keeps one pending link per user and room", async () => {
    const s = await fresh();
    const p = { roomId: ROOM, userId: ALICE, address: "0xA", nonce: "p1", message: "sign me", createdAt: 1 };
    await s.putPendingLink(p);
    await s.putPendingLink({ ...p, nonce: "p2", message: "sign me again", createdAt: 2 });
    expect(await s.getPendingLink(ROOM, ALICE)).toEqual({ ...p, nonce: "p2", message: "sign me again", createdAt: 2 });
    expect(await s.getPendingLink(ROOM, BOB)).toBeUndefined();
    await s.deletePendingLink(ROOM, ALICE);
    expect(await s.getPendingLink(ROOM, ALICE)).toBeUndefined();
    await s.close();
  });

  it("keeps one record per intent and one transaction per sender and nonce", async () => {
    const s = await fresh();
    await s.putTx(tx("a", 0));
    await expect(s.putTx({ ...tx("a", 1), hash: "0x2" })).rejects.toThrow(StoreConflictError);
    await expect(s.putTx({ ...tx("a", 1), hash: "0x2" })).rejects.not.toThrow(NonceTakenError);
    expect((await s.getTx("a"))?.hash).toBe("0xa");
    await expect(s.putTx(tx("b", 0, "0xBOT"))).rejects.toThrow(NonceTakenError);
    // Another sender's nonce 0 is another transaction.
    await s.putTx(tx("c", 0, "0xOther"));
    await s.putTx(tx("d", 1));
    expect((await s.listTxs("pending")).map((t) => [t.intent, t.nonce])).toEqual([
      ["a", 0],
      ["c", 0],
      ["d", 1],
    ]);
    await s.close();
  });

  it("replaces a pending transaction's bytes once per version, keeping the earlier ones, across reopening", async () => {
    const where = await backend.location();
    const s = await backend.open(where);
    await s.putTx(tx("bump", 3));
    // Two workers bump the same version: one wins.
    const results = await Promise.all([
      s.replaceTx("bump", "0xbump", { hash: "0xb1", raw: "0xr1" }),
      s.replaceTx("bump", "0xbump", { hash: "0xb2", raw: "0xr2" }),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const won = results[0] ? "0xb1" : "0xb2";
    expect(await s.replaceTx("bump", won, { hash: "0xb3", raw: "0xr3" })).toBe(true);
    await s.close();
    const t = await backend.open(where);
    expect(await t.getTx("bump")).toMatchObject({
      hash: "0xb3",
      raw: "0xr3",
      nonce: 3,
      replaced: [
        { hash: "0xbump", raw: "0xraw" },
        { hash: won, raw: won === "0xb1" ? "0xr1" : "0xr2" },
      ],
    });
    // No version has this hash: nothing is finished.
    expect(await t.settleTx("bump", "0xnone", "mined")).toBe(false);
    // The first version turned out to be the one mined: it becomes the record's, and leaves the list.
    expect(await t.settleTx("bump", "0xbump", "mined")).toBe(true);
    expect(await t.getTx("bump")).toMatchObject({ hash: "0xbump", raw: "0xraw", status: "mined" });
    expect((await t.getTx("bump"))?.replaced?.map((r) => r.hash)).toEqual([won, "0xb3"]);
    // Finished once: another worker's outcome, and any replacement, change nothing.
    expect(await t.settleTx("bump", "0xb3", "failed", "reverted")).toBe(false);
    expect(await t.replaceTx("bump", "0xbump", { hash: "0xb4", raw: "0xr4" })).toBe(false);
    expect(await t.getTx("bump")).toMatchObject({ hash: "0xbump", status: "mined" });
    // The current version settled keeps its list.
    await t.putTx(tx("cur", 5));
    expect(await t.replaceTx("cur", "0xcur", { hash: "0xc2", raw: "0xrc2" })).toBe(true);
    expect(await t.settleTx("cur", "0xc2", "failed", "reverted")).toBe(true);
    expect(await t.getTx("cur")).toMatchObject({ hash: "0xc2", status: "failed", error: "reverted", replaced: [{ hash: "0xcur" }] });
    // A record never replaced has no list.
    await t.putTx(tx("plain", 4));
    expect((await t.getTx("plain"))?.replaced).toBeUndefined();
    await t.close();
  });

  it("gives two workers racing on one key distinct nonces, without gaps", async () => {
    // Each worker does what TxSender does: next nonce = maxNonce + 1, record;
    // on NonceTakenError, sign again with the next one.
    const where = await backend.location();
    const workers = [await backend.open(where), await backend.open(where)];
    const perWorker = 40;
    let conflicts = 0;
    await Promise.all(
      workers.map(async (s, w) => {
        for (let i = 0; i < perWorker; i++) {
          for (;;) {
            const n = ((await s.maxNonce("0xbot")) ?? -1) + 1;
            try {
              await s.putTx(tx(`w${w}:${i}`, n));
              break;
            } catch (e) {
              if (!(e instanceof NonceTakenError)) throw e;
              conflicts++;
            }
          }
        }
      }),
    );
    const nonces = (await workers[0]!.listTxs("pending")).map((t) => t.nonce);
    expect(nonces).toEqual([...Array(2 * perWorker).keys()]);
    // The two did collide (the test exercises the refusal), and each collision cost one retry.
    expect(conflicts).toBeGreaterThan(0);
    for (const s of workers) await s.close();
  });

  it("records each outbox item once and lists it until it is done", async () => {
    const s = await fresh();
    const item = (id: string, createdAt: number) => ({ id, roomId: ROOM, kind: "notice", payload: "{}", createdAt });
    expect(await s.addOutbox(item("b", 2))).toBe(true);
    expect(await s.addOutbox(item("a", 2))).toBe(true);
    expect(await s.addOutbox(item("c", 1))).toBe(true);
    expect(await s.addOutbox({ ...item("a", 9), payload: '{"again":true}' })).toBe(false);
    expect((await s.listOutbox("pending")).map((i) => i.id)).toEqual(["c", "a", "b"]);
    expect((await s.listOutbox("pending"))[1]?.payload).toBe("{}");
    await s.finishOutbox("a");
    expect((await s.listOutbox("pending")).map((i) => i.id)).toEqual(["c", "b"]);
    expect((await s.listOutbox("done")).map((i) => i.id)).toEqual(["a"]);
    // A finished item is never recorded again.
    expect(await s.addOutbox(item("a", 10))).toBe(false);
    await s.close();
  });

  it("journals each inbound event once, in the order received, with the decided answer", async () => {
    const ev = (id: string, at: number) => ({ eventId: id, roomId: ROOM, sender: ALICE, raw: `{"event_id":"${id}"}`, receivedAt: at });
    const where = await backend.location();
    const s = await backend.open(where);
    await s.addInbound([]);
    // Received later but with an earlier time: the order is the order of receipt.
    await s.addInbound([ev("$b", 20), ev("$a", 10)]);
    await s.addInbound([ev("$a", 30), ev("$c", 5)]);
    expect((await s.listInbound("new", 10)).map((e) => e.eventId)).toEqual(["$b", "$a", "$c"]);
    expect((await s.listInbound("new", 2)).map((e) => e.eventId)).toEqual(["$b", "$a"]);
    expect((await s.listInbound("new", 1))[0]).toEqual({ ...ev("$b", 20), status: "new" });
    // An event waiting for its room key is set aside: it holds up no other.
    await s.addInbound([ev("$d", 50)]);
    await s.waitInbound("$d");
    expect((await s.listInbound("waiting", 10)).map((e) => e.eventId)).toEqual(["$d"]);
    expect((await s.listInbound("new", 10)).map((e) => e.eventId)).toEqual(["$b", "$a", "$c"]);
    await s.setInboundAnswer("$b", '{"text":"hi"}');
    await s.finishInbound("$a");
    await s.close();
    const t = await backend.open(where);
    expect((await t.listInbound("answering", 10)).map((e) => [e.eventId, e.answer])).toEqual([["$b", '{"text":"hi"}']]);
    expect((await t.listInbound("waiting", 10)).map((e) => e.eventId)).toEqual(["$d"]);
    expect((await t.listInbound("new", 10)).map((e) => e.eventId)).toEqual(["$c"]);
    // A handled event is never recorded again as new.
    await t.addInbound([ev("$a", 40)]);
    expect((await t.listInbound("done", 10)).map((e) => [e.eventId, e.receivedAt])).toEqual([["$a", 10]]);
    expect((await t.listInbound("new", 10)).map((e) => e.eventId)).toEqual(["$c"]);
    // Pruning forgets only handled events older than the limit.
    expect(await t.pruneInbound(5)).toBe(0);
    expect(await t.pruneInbound(15)).toBe(1);
    expect(await t.pruneInbound(1000)).toBe(0);
    expect((await t.listInbound("answering", 10)).map((e) => e.eventId)).toEqual(["$b"]);
    await t.close();
  });

  it("keeps a room's pending creation and its consents, and forgets consents given to a replaced preview", async () => {
    const where = await backend.location();
    const s = await backend.open(where);
    const c = { roomId: ROOM, code: "K7Q2", createdBy: ALICE, eventId: "$create1", createdAt: 10, expiresAt: 1000, plan: '{"founders":[]}' };
    expect(await s.getCreation(ROOM)).toBeUndefined();
    expect(await s.addConsent(ROOM, "K7Q2", ALICE, 11)).toBe(false);
    await s.putCreation(c);
    expect(await s.addConsent(ROOM, "K7Q2", BOB, 12)).toBe(true);
    expect(await s.addConsent(ROOM, "K7Q2", ALICE, 13)).toBe(true);
    // Consenting twice changes nothing; a consent to another code records nothing.
    expect(await s.addConsent(ROOM, "K7Q2", BOB, 14)).toBe(true);
    expect(await s.addConsent(ROOM, "OTHER", "@carol:localhost", 15)).toBe(false);
    await s.close();
    // Across a restart: the preview and its consents, in the order given.
    const t = await backend.open(where);
    expect(await t.getCreation(ROOM)).toEqual(c);
    expect(await t.listConsents(ROOM, "K7Q2")).toEqual([BOB, ALICE]);
    expect(await t.listConsents(ROOM, "OTHER")).toEqual([]);
    // Putting the same preview again (a command run again after a crash) keeps its consents.
    await t.putCreation(c);
    expect(await t.listConsents(ROOM, "K7Q2")).toEqual([BOB, ALICE]);
    // A changed preview: the consents to the old one are gone, and a late one for it counts nowhere.
    await t.putCreation({ ...c, code: "Z9X1", eventId: "$create2", plan: '{"founders":["x"]}' });
    expect(await t.listConsents(ROOM, "K7Q2")).toEqual([]);
    expect(await t.addConsent(ROOM, "K7Q2", BOB, 16)).toBe(false);
    expect(await t.listConsents(ROOM, "Z9X1")).toEqual([]);
    await t.putCreation({ ...c, roomId: "!other", code: "AAAA", expiresAt: 500 });
    expect((await t.listCreations()).map((x) => [x.roomId, x.code])).toEqual([
      ["!other", "AAAA"],
      [ROOM, "Z9X1"],
    ]);
    // Deleting names the code: an old code deletes nothing.
    expect(await t.deleteCreation(ROOM, "K7Q2")).toBe(false);
    expect(await t.addConsent(ROOM, "Z9X1", ALICE, 17)).toBe(true);
    expect(await t.deleteCreation(ROOM, "Z9X1")).toBe(true);
    expect(await t.getCreation(ROOM)).toBeUndefined();
    expect(await t.listConsents(ROOM, "Z9X1")).toEqual([]);
    expect((await t.getCreation("!other"))?.code).toBe("AAAA");
    await t.close();
  });

  it("keeps room policies and the bot's bans", async () => {
    const s = await fresh();
    expect(await s.getRoomPolicy(ROOM)).toBeUndefined();
    expect(await s.setRoomMode(ROOM, "enforce")).toBe(false);
    expect(await s.beginAdoption(ROOM, [BOB], 5)).toBe(false);
    await s.putRoomPolicy({ roomId: ROOM, mode: "enforce", adoptees: [BOB, "@carol:localhost"], adoptUntil: 99 });
    // Staying enforced changes nothing; an adoption is recorded only once, while enforced.
    expect(await s.setRoomMode(ROOM, "enforce")).toBe(true);
    expect(await s.beginAdoption(ROOM, [BOB], 5)).toBe(false);
    expect(await s.getRoomPolicy(ROOM)).toEqual({ roomId: ROOM, mode: "enforce", adoptees: [BOB, "@carol:localhost"], adoptUntil: 99 });
    // Watching keeps the adoption; enforcing again begins anew.
    expect(await s.setRoomMode(ROOM, "watch")).toBe(true);
    expect(await s.getRoomPolicy(ROOM)).toEqual({ roomId: ROOM, mode: "watch", adoptees: [BOB, "@carol:localhost"], adoptUntil: 99 });
    expect(await s.setRoomMode(ROOM, "enforce")).toBe(true);
    expect(await s.getRoomPolicy(ROOM)).toEqual({ roomId: ROOM, mode: "enforce", adoptees: [], adoptUntil: 0 });
    expect(await s.beginAdoption(ROOM, ["@carol:localhost"], 123)).toBe(true);
    expect(await s.beginAdoption(ROOM, [BOB], 456)).toBe(false);
    expect(await s.getRoomPolicy(ROOM)).toEqual({ roomId: ROOM, mode: "enforce", adoptees: ["@carol:localhost"], adoptUntil: 123 });
    await s.putBan({ roomId: ROOM, userId: BOB, reason: "removed by proposal #1", bannedAt: 5 });
    await s.putBan({ roomId: ROOM, userId: BOB, reason: "removed by proposal #2", bannedAt: 6 });
    expect(await s.getBan(ROOM, BOB)).toEqual({ roomId: ROOM, userId: BOB, reason: "removed by proposal #2", bannedAt: 6 });
    expect(await s.getBan("!other", BOB)).toBeUndefined();
    expect(await s.deleteBan(ROOM, BOB)).toBe(true);
    expect(await s.deleteBan(ROOM, BOB)).toBe(false);
    await s.close();
  });

  it("moves a group to the room that replaces its room, once", async () => {
    const s = await fresh();
    const NEW = "!new:localhost";
    await s.putBinding({ roomId: ROOM, group: "0xg", chainId: 1, createdBy: ALICE, createdAt: 1, fromBlock: 1 });
    await s.putLink({ roomId: ROOM, userId: ALICE, address: "0xaaa", nonce: "m1", linkedAt: 1 });
    await s.putPendingLink({ roomId: ROOM, userId: BOB, address: "0xbbb", nonce: "m2", message: "sign", createdAt: 2 });
    await s.putRoomPolicy({ roomId: ROOM, mode: "enforce", adoptees: [BOB], adoptUntil: 50 });
    await s.putBan({ roomId: ROOM, userId: "@mallory:localhost", reason: "not a member", bannedAt: 3 });
    // Made in the new room before the move: replaced by the group's.
    await s.putLink({ roomId: NEW, userId: "@eve:localhost", address: "0xaaa", nonce: "m3", linkedAt: 4 });
    await s.putCreation({ roomId: NEW, code: "C", createdBy: "@eve:localhost", eventId: "$c", createdAt: 1, expiresAt: 9, plan: "{}" });
    await s.moveRoom(ROOM, NEW);
    expect(await s.getBinding(ROOM)).toBeUndefined();
    expect((await s.getBinding(NEW))?.group).toBe("0xg");
    expect((await s.getBindingByGroup("0xg"))?.roomId).toBe(NEW);
    expect((await s.listLinks(NEW)).map((l) => [l.userId, l.address])).toEqual([[ALICE, "0xaaa"]]);
    expect(await s.listLinks(ROOM)).toEqual([]);
    expect((await s.getPendingLink(NEW, BOB))?.nonce).toBe("m2");
    expect(await s.getRoomPolicy(NEW)).toEqual({ roomId: NEW, mode: "enforce", adoptees: [BOB], adoptUntil: 50 });
    expect(await s.getRoomPolicy(ROOM)).toBeUndefined();
    expect((await s.getBan(NEW, "@mallory:localhost"))?.reason).toBe("not a member");
    expect(await s.getCreation(NEW)).toBeUndefined();
    // Moving again finds nothing to move; a move onto a bound room is refused and changes nothing.
    await s.moveRoom(ROOM, NEW);
    expect((await s.getBinding(NEW))?.group).toBe("0xg");
    await s.putBinding({ roomId: "!third", group: "0xh", chainId: 1, createdBy: BOB, createdAt: 2, fromBlock: 1 });
    await expect(s.moveRoom(NEW, "!third")).rejects.toThrow(StoreConflictError);
    expect((await s.getBinding(NEW))?.group).toBe("0xg");
    expect((await s.listLinks(NEW)).map((l) => l.userId)).toEqual([ALICE]);
    await s.close();
  });

  it("keeps the rotation audit's sessions, departures and flagged messages", async () => {
    const s = await fresh();
    const sighting = { roomId: ROOM, sessionId: "S", sender: ALICE, device: "D", at: 2000 };
    expect(await s.noteSession(sighting)).toBe(2000);
    // The earliest sighting stays, whatever order they come in.
    expect(await s.noteSession({ ...sighting, at: 3000 })).toBe(2000);
    expect(await s.noteSession({ ...sighting, at: 1000 })).toBe(1000);
    expect(await s.noteSession({ ...sighting, roomId: "!other:localhost", at: 5000 })).toBe(5000);
    const gone = { roomId: ROOM, userId: BOB, eventId: "$leave", at: 1500, kind: "kicked" as const };
    await s.addDeparture(gone);
    await s.addDeparture(gone);
    await s.addDeparture({ ...gone, eventId: "$ban", at: 2500, kind: "banned" });
    await s.addDeparture({ ...gone, roomId: "!other:localhost", eventId: "$elsewhere", at: 1600 });
    expect(await s.departuresBetween(ROOM, 1000, 3000)).toEqual([gone, { ...gone, eventId: "$ban", at: 2500, kind: "banned" }]);
    expect(await s.departuresBetween(ROOM, 1500, 2500)).toEqual([]);
    const reuse = { eventId: "$m1", roomId: ROOM, sender: ALICE, sessionId: "S", at: 4000 };
    expect(await s.addReuse(reuse)).toEqual({ firstForSession: true });
    expect(await s.addReuse(reuse)).toEqual({ firstForSession: true });
    expect(await s.addReuse({ ...reuse, eventId: "$m2" })).toEqual({ firstForSession: false });
    expect(await s.addReuse({ ...reuse, eventId: "$m3", sessionId: "T" })).toEqual({ firstForSession: true });
    expect([await s.countReuses(ROOM), await s.countReuses("!other:localhost")]).toEqual([3, 0]);
    await s.close();
  });

  it("lists at most so many of each sender's inbound events, the oldest, in the order received", async () => {
    const s = await fresh();
    const ev = (id: string, sender: string) => ({ eventId: id, roomId: ROOM, sender, raw: "{}", receivedAt: 0 });
    await s.addInbound([ev("$m1", "@m:x"), ev("$m2", "@m:x"), ev("$a1", "@a:x"), ev("$m3", "@m:x"), ev("$a2", "@a:x"), ev("$b1", "@b:x")]);
    expect((await s.listInbound("new", 10, 2)).map((e) => e.eventId)).toEqual(["$m1", "$m2", "$a1", "$a2", "$b1"]);
    expect((await s.listInbound("new", 3, 1)).map((e) => e.eventId)).toEqual(["$m1", "$a1", "$b1"]);
    await s.finishInbound("$m1");
    expect((await s.listInbound("new", 10, 1)).map((e) => e.eventId)).toEqual(["$m2", "$a1", "$b1"]);
    await s.close();
  });

  it("adds to a counter atomically, once per key, when two workers add at the same moment", async () => {
    const where = await backend.location();
    const [a, b] = [await backend.open(where), await backend.open(where)];
    // 2 × 30 additions at once, and each repeated (a receipt counted again after a crash).
    await Promise.all(
      [a, b].flatMap((s, w) =>
        Array.from({ length: 30 }, async (_, i) => {
          await s.addToCounter("gas:!room:2026-12-02", 1_000_000_007n, `counted:${w}:${i}`);
          await s.addToCounter("gas:!room:2026-12-02", 1_000_000_007n, `counted:${w}:${i}`);
        }),
      ),
    );
    expect(await a.getState("gas:!room:2026-12-02")).toBe(String(60n * 1_000_000_007n));
    expect(await b.addToCounter("gas:!room:2026-12-02", 5n, "counted:0:0")).toBe(60n * 1_000_000_007n);
    expect(await b.addToCounter("other", 5n, "once")).toBe(5n);
    await a.close();
    await b.close();
  });

  it("overwrites state values", async () => {
    const s = await fresh();
    expect(await s.getState("cursor")).toBeUndefined();
    await s.setState("cursor", "1");
    await s.setState("cursor", "2");
    expect(await s.getState("cursor")).toBe("2");
    await s.close();
  });

  it("reads many state values at once, those that are set", async () => {
    const s = await fresh();
    expect(await s.getStates([])).toEqual(new Map());
    await s.setState("reason:0xg:0xa", "removed by proposal #3");
    await s.setState("reason:0xg:0xb", "");
    await s.setState("other", "x");
    const keys = ["reason:0xg:0xa", "reason:0xg:0xb", "reason:0xg:0xc", "reason:0xg:0xa", `it's "quoted" \\ ${"k".repeat(300)}`];
    expect(await s.getStates(keys)).toEqual(
      new Map([
        ["reason:0xg:0xa", "removed by proposal #3"],
        ["reason:0xg:0xb", ""],
      ]),
    );
    await s.setState(keys[4]!, "odd key");
    expect((await s.getStates(keys)).get(keys[4]!)).toBe("odd key");
    // A full pass's worth in one read.
    const many = Array.from({ length: 5000 }, (_, i) => `k${i}`);
    await s.setState("k4999", "last");
    expect(await s.getStates(many)).toEqual(new Map([["k4999", "last"]]));
    await s.close();
  });
});

describe("PostgreSQL store with several workers", () => {
  it("links an address once when two workers link it at the same moment", async () => {
    if (!server) throw new Error("PostgreSQL did not start");
    const url = await server.createDatabase(`store_${++databases}`);
    const [a, b] = [await PostgresStore.open(url), await PostgresStore.open(url)];
    // Repeated: the race is won by either side, and must never let both through.
    for (let i = 0; i < 20; i++) {
      const results = await Promise.allSettled([
        a.putLink({ roomId: ROOM, userId: `@a${i}:localhost`, address: `0x${i}`, nonce: `a${i}`, linkedAt: i }),
        b.putLink({ roomId: ROOM, userId: `@b${i}:localhost`, address: `0x${i}`, nonce: `b${i}`, linkedAt: i }),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const refused = results.find((r) => r.status === "rejected");
      expect(refused?.status === "rejected" && refused.reason).toBeInstanceOf(StoreConflictError);
    }
    expect(await a.listLinks(ROOM)).toHaveLength(20);
    await a.close();
    await b.close();
  });

  it("creates its tables once when several workers start together", async () => {
    if (!server) throw new Error("PostgreSQL did not start");
    const url = await server.createDatabase(`store_${++databases}`);
    const stores = await Promise.all([1, 2, 3, 4].map(() => PostgresStore.open(url)));
    await stores[0]!.setState("k", "v");
    expect(await stores[3]!.getState("k")).toBe("v");
    for (const s of stores) await s.close();
  });
});

describe("SQLite store made by an earlier version", () => {
  it("gains the column fee bumps need, keeping its transactions, and forgets the secrets it held", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "conclave-store-")), "old.sqlite");
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE txs (
      intent TEXT PRIMARY KEY, hash TEXT NOT NULL, raw TEXT NOT NULL, nonce INTEGER NOT NULL,
      sender TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL,
      description TEXT NOT NULL, error TEXT);
      INSERT INTO txs VALUES ('vote:1', '0x1', '0xraw', 0, '0xbot', 'pending', 1, 'vote', NULL);
      CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      INSERT INTO state VALUES ('linkSalt', 'old-salt'), ('cryptoPassphrase', 'old-pass'), ('cursor', '7');`);
    old.close();
    const s = new SqliteStore(path);
    expect(await s.getTx("vote:1")).toEqual({
      intent: "vote:1",
      hash: "0x1",
      raw: "0xraw",
      nonce: 0,
      from: "0xbot",
      status: "pending",
      createdAt: 1,
      description: "vote",
    });
    // The secrets it kept beside the data they protect are gone; the rest stays.
    expect(await s.getStates(["linkSalt", "cryptoPassphrase", "cursor"])).toEqual(new Map([["cursor", "7"]]));
    // Not left in the file's free pages or its WAL either.
    for (const f of [path, `${path}-wal`]) if (existsSync(f)) expect(readFileSync(f).includes("old-pass")).toBe(false);
    expect(await s.replaceTx("vote:1", "0x1", { hash: "0x2", raw: "0xraw2" })).toBe(true);
    expect((await s.getTx("vote:1"))?.replaced).toEqual([{ hash: "0x1", raw: "0xraw" }]);
    await s.close();
    // Opened again: the column is there once.
    await new SqliteStore(path).close();
  });
});
