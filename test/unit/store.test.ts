import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { StoreConflictError } from "../../src/store/store.ts";

const ROOM = "!room:localhost";

describe("SqliteStore", () => {
  it("keeps bindings, links, transactions and state across reopening", () => {
    const path = join(mkdtempSync(join(tmpdir(), "conclave-store-")), "s.sqlite");
    const a = new SqliteStore(path);
    a.putBinding({ roomId: ROOM, group: "0xAbC", chainId: 31337, createdBy: "@alice:localhost", createdAt: 1, fromBlock: 7 });
    a.putLink({ roomId: ROOM, userId: "@alice:localhost", address: "0xAAA", nonce: "n1", linkedAt: 2 });
    a.putTx({ intent: "vote:1", hash: "0x1", raw: "0xraw", nonce: 5, from: "0xBot", status: "pending", createdAt: 3, description: "vote" });
    a.setState("sync", "s123");
    a.close();
    const b = new SqliteStore(path);
    expect(b.getBinding(ROOM)?.group).toBe("0xabc");
    expect(b.getBindingByGroup("0xABC")?.roomId).toBe(ROOM);
    expect(b.getLink(ROOM, "@alice:localhost")?.address).toBe("0xaaa");
    expect(b.getLinkByAddress(ROOM, "0xAaA")?.userId).toBe("@alice:localhost");
    expect(b.listTxs("pending").map((t) => t.intent)).toEqual(["vote:1"]);
    expect(b.maxNonce("0xbot")).toBe(5);
    expect(b.getState("sync")).toBe("s123");
    b.setTxStatus("vote:1", "mined");
    expect(b.listTxs("pending")).toEqual([]);
    b.close();
  });

  it("refuses a reused nonce and an address linked to someone else", () => {
    const s = new SqliteStore(":memory:");
    s.putLink({ roomId: ROOM, userId: "@alice:localhost", address: "0xaaa", nonce: "n1", linkedAt: 1 });
    expect(s.nonceUsed("n1")).toBe(true);
    expect(() => s.putLink({ roomId: ROOM, userId: "@bob:localhost", address: "0xbbb", nonce: "n1", linkedAt: 2 })).toThrow(StoreConflictError);
    expect(() => s.putLink({ roomId: ROOM, userId: "@bob:localhost", address: "0xAAA", nonce: "n2", linkedAt: 2 })).toThrow(/linked to @alice/);
    expect(s.getLink(ROOM, "@bob:localhost")).toBeUndefined();
    // Relinking replaces; the old nonce stays used.
    s.putLink({ roomId: ROOM, userId: "@alice:localhost", address: "0xccc", nonce: "n3", linkedAt: 3 });
    expect(s.getLink(ROOM, "@alice:localhost")?.address).toBe("0xccc");
    expect(s.nonceUsed("n1")).toBe(true);
    expect(s.deleteLink(ROOM, "@alice:localhost")).toBe(true);
    expect(s.deleteLink(ROOM, "@alice:localhost")).toBe(false);
  });

  it("keeps one record per transaction intent", () => {
    const s = new SqliteStore(":memory:");
    const tx = { intent: "x", hash: "0x1", raw: "0x", nonce: 0, from: "0xb", status: "pending" as const, createdAt: 0, description: "d" };
    s.putTx(tx);
    expect(() => s.putTx({ ...tx, hash: "0x2" })).toThrow(/UNIQUE/);
    expect(s.getTx("x")?.hash).toBe("0x1");
  });
});
