import { describe, expect, it } from "vitest";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { saveIndexedDB } from "../../src/matrix/crypto-persist.ts";
import { StoreConflictError } from "../../src/store/store.ts";

const ROOM = "!room:localhost";

describe("SqliteStore", () => {
  it("keeps bindings, links, transactions and state across reopening", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "conclave-store-")), "s.sqlite");
    const a = new SqliteStore(path);
    await a.putBinding({ roomId: ROOM, group: "0xAbC", chainId: 31337, createdBy: "@alice:localhost", createdAt: 1, fromBlock: 7 });
    await a.putLink({ roomId: ROOM, userId: "@alice:localhost", address: "0xAAA", nonce: "n1", linkedAt: 2 });
    await a.putTx({ intent: "vote:1", hash: "0x1", raw: "0xraw", nonce: 5, from: "0xBot", status: "pending", createdAt: 3, description: "vote" });
    await a.setState("sync", "s123");
    await a.close();
    const b = new SqliteStore(path);
    expect((await b.getBinding(ROOM))?.group).toBe("0xabc");
    expect((await b.getBindingByGroup("0xABC"))?.roomId).toBe(ROOM);
    expect((await b.getLink(ROOM, "@alice:localhost"))?.address).toBe("0xaaa");
    expect((await b.getLinkByAddress(ROOM, "0xAaA"))?.userId).toBe("@alice:localhost");
    expect((await b.listTxs("pending")).map((t) => t.intent)).toEqual(["vote:1"]);
    expect(await b.maxNonce("0xbot")).toBe(5);
    expect(await b.getState("sync")).toBe("s123");
    await b.setTxStatus("vote:1", "mined");
    expect(await b.listTxs("pending")).toEqual([]);
    await b.close();
  });

  it("refuses a reused nonce and an address linked to someone else", async () => {
    const s = new SqliteStore(":memory:");
    await s.putLink({ roomId: ROOM, userId: "@alice:localhost", address: "0xaaa", nonce: "n1", linkedAt: 1 });
    expect(await s.nonceUsed("n1")).toBe(true);
    await expect(s.putLink({ roomId: ROOM, userId: "@bob:localhost", address: "0xbbb", nonce: "n1", linkedAt: 2 })).rejects.toThrow(StoreConflictError);
    await expect(s.putLink({ roomId: ROOM, userId: "@bob:localhost", address: "0xAAA", nonce: "n2", linkedAt: 2 })).rejects.toThrow(/linked to @alice/);
    expect(await s.getLink(ROOM, "@bob:localhost")).toBeUndefined();
    // Relinking replaces; the old nonce stays used.
    await s.putLink({ roomId: ROOM, userId: "@alice:localhost", address: "0xccc", nonce: "n3", linkedAt: 3 });
    expect((await s.getLink(ROOM, "@alice:localhost"))?.address).toBe("0xccc");
    expect(await s.nonceUsed("n1")).toBe(true);
    expect(await s.deleteLink(ROOM, "@alice:localhost")).toBe(true);
    expect(await s.deleteLink(ROOM, "@alice:localhost")).toBe(false);
  });

  it("keeps one record per transaction intent", async () => {
    const s = new SqliteStore(":memory:");
    const tx = { intent: "x", hash: "0x1", raw: "0x", nonce: 0, from: "0xb", status: "pending" as const, createdAt: 0, description: "d" };
    await s.putTx(tx);
    await expect(s.putTx({ ...tx, hash: "0x2" })).rejects.toThrow(/UNIQUE/);
    expect((await s.getTx("x"))?.hash).toBe("0x1");
  });

  it("records each outbox item once and lists what is pending", async () => {
    const s = new SqliteStore(":memory:");
    const item = { id: "rotate:1", roomId: ROOM, kind: "rotate", payload: "{}", createdAt: 1 };
    expect(await s.addOutbox(item)).toBe(true);
    expect(await s.addOutbox({ ...item, payload: "other" })).toBe(false);
    expect((await s.listOutbox("pending")).map((i) => i.payload)).toEqual(["{}"]);
    await s.finishOutbox("rotate:1");
    expect(await s.listOutbox("pending")).toEqual([]);
    expect((await s.listOutbox("done")).map((i) => i.id)).toEqual(["rotate:1"]);
  });
});

describe("the command journal", () => {
  const ev = (id: string, at: number) => ({ eventId: id, roomId: ROOM, sender: "@alice:localhost", raw: `{"event_id":"${id}"}`, receivedAt: at });

  it("records each event id once, lists in the order received, and keeps the decided answer", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "conclave-store-")), "s.sqlite");
    const s = new SqliteStore(path);
    // Received later but with an earlier time: the order is the order of receipt.
    await s.addInbound([ev("$b", 20), ev("$a", 10)]);
    await s.addInbound([ev("$a", 30), ev("$c", 5)]);
    expect((await s.listInbound("new", 10)).map((e) => e.eventId)).toEqual(["$b", "$a", "$c"]);
    expect((await s.listInbound("new", 2)).map((e) => e.eventId)).toEqual(["$b", "$a"]);
    await s.waitInbound("$c");
    expect((await s.listInbound("waiting", 10)).map((e) => e.eventId)).toEqual(["$c"]);
    expect((await s.listInbound("new", 10)).map((e) => e.eventId)).toEqual(["$b", "$a"]);
    await s.setInboundAnswer("$b", '{"text":"hi"}');
    await s.finishInbound("$a");
    await s.close();
    const t = new SqliteStore(path);
    expect((await t.listInbound("answering", 10)).map((e) => [e.eventId, e.answer])).toEqual([["$b", '{"text":"hi"}']]);
    expect((await t.listInbound("waiting", 10)).map((e) => e.eventId)).toEqual(["$c"]);
    // A handled event is never recorded again as new.
    await t.addInbound([ev("$a", 40)]);
    expect((await t.listInbound("done", 10)).map((e) => e.eventId)).toEqual(["$a"]);
    expect((await t.listInbound("waiting", 10)).map((e) => e.eventId)).toEqual(["$c"]);
    // Pruning forgets only handled events older than the limit.
    expect(await t.pruneInbound(15)).toBe(1);
    expect(await t.pruneInbound(1000)).toBe(0);
    await t.close();
  });
});

describe("the store's files", () => {
  it("are readable by the bot's user only, whatever the umask", async () => {
    const old = process.umask(0);
    try {
      const dir = join(mkdtempSync(join(tmpdir(), "conclave-perm-")), "data");
      const path = join(dir, "conclave.sqlite");
      const s = new SqliteStore(path);
      await s.setState("k", "v");
      const mode = (f: string) => statSync(f).mode & 0o777;
      expect(mode(dir)).toBe(0o700);
      for (const f of [path, `${path}-wal`, `${path}-shm`]) expect([f, mode(f)]).toEqual([f, 0o600]);
      // The crypto state, also when a left-over temporary file was world-readable.
      writeFileSync(`${path}.crypto.tmp`, "old", { mode: 0o666 });
      await saveIndexedDB(`${path}.crypto`);
      expect(mode(`${path}.crypto`)).toBe(0o600);
      await s.close();
      // An existing folder and database that were too open are closed down on start.
      const { chmodSync } = await import("node:fs");
      chmodSync(dir, 0o755);
      chmodSync(path, 0o644);
      const again = new SqliteStore(path);
      expect([mode(dir), mode(path)]).toEqual([0o700, 0o600]);
      await again.close();
    } finally {
      process.umask(old);
    }
  });
});
