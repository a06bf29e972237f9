/**
 * The page's bundle made ahead (`npm run build:page`) is served only when it
 * was made from the sources the bot has; otherwise the bot bundles anew.
 */
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPage, sourceHash, writePage } from "../../src/web/assets.ts";

const dir = mkdtempSync(join(tmpdir(), "conclave-page-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the page's bundle", () => {
  it("is served as built when its sources are the bot's, and rebuilt when they differ", async () => {
    await writePage(dir);
    const built = await loadPage(dir);
    expect(built.prebuilt).toBe(true);
    expect(built.assets.get("/assets/app.js")!.body.length).toBeGreaterThan(1000);
    expect(built.assets.get("/")!.type).toMatch(/^text\/html/);
    // A bundle of other sources (an older checkout) is not used.
    writeFileSync(join(dir, "sources.sha256"), "0".repeat(64));
    const fresh = await loadPage(dir);
    expect(fresh.prebuilt).toBe(false);
    expect(fresh.assets.get("/assets/app.js")!.body.equals(built.assets.get("/assets/app.js")!.body)).toBe(true);
  });

  it("hashes names and contents", () => {
    const a = mkdtempSync(join(dir, "a-"));
    writeFileSync(join(a, "x.ts"), "1");
    const h1 = sourceHash(a);
    writeFileSync(join(a, "x.ts"), "2");
    expect(sourceHash(a)).not.toBe(h1);
  });
});
