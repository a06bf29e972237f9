import { describe, expect, it } from "vitest";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { saveIndexedDB } from "../../src/matrix/crypto-persist.ts";

// The SQLite store's own files; what every store does is in
// test/integration/store.test.ts, run against SQLite and PostgreSQL.
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
      await saveIndexedDB(`${path}.crypto`, "tag");
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
