import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const root = join(import.meta.dirname, "../..");

/** Runs a fresh Node process (its own, empty, in-memory IndexedDB) and returns its output. */
function run(file: string, code: string): string {
  const script = `
    import { restoreIndexedDB, saveIndexedDB } from ${JSON.stringify(join(root, "src/matrix/crypto-persist.ts"))};
    import { createClient } from "matrix-js-sdk";
    import { logger } from "matrix-js-sdk/lib/logger.js";
    logger.setLevel?.("error");
    for (const m of ["log", "info", "debug", "warn"]) console[m] = () => {};
    const file = ${JSON.stringify(file)};
    ${code}
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

describe("crypto state persistence", () => {
  it("keeps the device's identity keys across processes", () => {
    const file = join(mkdtempSync(join(tmpdir(), "conclave-crypto-")), "crypto.v8");
    const init = `
      const restored = await restoreIndexedDB(file);
      const c = createClient({ baseUrl: "http://127.0.0.1:9", userId: "@bot:localhost", deviceId: "BOTDEVICE", accessToken: "t" });
      await c.initRustCrypto({ useIndexedDB: true, storagePassword: "pw" });
      const keys = await c.getCrypto().getOwnDeviceKeys();
      await saveIndexedDB(file);
      process.stdout.write(JSON.stringify({ restored, ed25519: keys.ed25519, curve25519: keys.curve25519 }));
      process.exit(0);
    `;
    const first = JSON.parse(run(file, init)) as { restored: boolean; ed25519: string; curve25519: string };
    const second = JSON.parse(run(file, init)) as { restored: boolean; ed25519: string; curve25519: string };
    expect(first.restored).toBe(false);
    expect(second.restored).toBe(true);
    expect(second.ed25519).toBe(first.ed25519);
    expect(second.curve25519).toBe(first.curve25519);
  }, 60_000);
});
