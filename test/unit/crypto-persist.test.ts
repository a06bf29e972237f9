import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

const root = join(import.meta.dirname, "../..");

/** Runs a fresh Node process (its own, empty, in-memory IndexedDB) and returns its output. */
function run(file: string, code: string): string {
  const script = `
    import { restoreIndexedDB, saveIndexedDB, savedTag } from ${JSON.stringify(join(root, "src/matrix/crypto-persist.ts"))};
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
      const before = savedTag(file);
      await saveIndexedDB(file, "the tag");
      process.stdout.write(JSON.stringify({ restored, before: before ?? "none", ed25519: keys.ed25519, curve25519: keys.curve25519 }));
      process.exit(0);
    `;
    const first = JSON.parse(run(file, init)) as { restored: boolean; before: string; ed25519: string; curve25519: string };
    const second = JSON.parse(run(file, init)) as { restored: boolean; before: string; ed25519: string; curve25519: string };
    expect(first.restored).toBe(false);
    expect(second.restored).toBe(true);
    expect([first.before, second.before]).toEqual(["none", "the tag"]);
    expect(second.ed25519).toBe(first.ed25519);
    expect(second.curve25519).toBe(first.curve25519);
  }, 60_000);
});

describe("whose crypto state a file holds", () => {
  it("tags the state with its account, device and passphrase; reads a file saved before tags; sets an unusable one aside", async () => {
    const { saveIndexedDB, savedTag, setAside, stateTag, restoreIndexedDB } = await import("../../src/matrix/crypto-persist.ts");
    const { writeFileSync, existsSync } = await import("node:fs");
    const { serialize } = await import("node:v8");
    const dir = mkdtempSync(join(tmpdir(), "conclave-tag-"));
    const file = join(dir, "s.crypto");
    expect(savedTag(file)).toBeUndefined();
    const tag = stateTag("@bot:x", "DEV", "pass");
    expect(tag).toMatch(/^@bot:x\|DEV\|[0-9a-f]{32}$/);
    expect(stateTag("@bot:x", "DEV", "other")).not.toBe(tag);
    expect(stateTag("@bot:x", "DEV2", "pass")).not.toBe(tag);
    await saveIndexedDB(file, tag);
    expect(savedTag(file)).toBe(tag);
    // The format before tags: a bare list of databases.
    writeFileSync(file, serialize([]));
    expect(savedTag(file)).toBeNull();
    expect(await restoreIndexedDB(file)).toBe(true);
    const aside = setAside(file);
    expect([existsSync(file), existsSync(aside)]).toEqual([false, true]);
    expect(aside).toMatch(/s\.crypto\.unused-\d{4}-/);
  });
});
