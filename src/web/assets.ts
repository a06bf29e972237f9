/**
 * The page's assets, bundled from `src/web/page/` with esbuild (from npm, no
 * download): one script, one stylesheet, one HTML shell. The page loads
 * nothing from anywhere else (no CDN, no fonts), which the
 * Content-Security-Policy enforces.
 *
 * `npm run build:page` (run by the container image's build) writes the
 * bundle to `dist/page/` with a hash of the sources it was made from; the bot
 * serves that bundle when the hash matches its sources, and bundles in
 * memory at start-up otherwise (a checkout being worked on).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { build } from "esbuild";

export interface Asset {
  body: Buffer;
  type: string;
}

const PAGE = join(import.meta.dirname, "page");
/** Where `npm run build:page` puts the bundle. */
export const BUILT = join(import.meta.dirname, "..", "..", "dist", "page");
const FILES = { "/assets/app.js": "app.js", "/assets/app.css": "app.css", "/": "index.html" } as const;
const TYPES = { "/assets/app.js": "text/javascript; charset=utf-8", "/assets/app.css": "text/css; charset=utf-8", "/": "text/html; charset=utf-8" } as const;

export const SHELL = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Conclave</title>
<link rel="stylesheet" href="/assets/app.css">
<script defer src="/assets/app.js"></script>
</head>
<body>
<main id="app"><p class="muted">Loading…</p></main>
<noscript><p>This page needs JavaScript to talk to your wallet. The group's record is also readable in its room: !proposals, !members.</p></noscript>
</body>
</html>
`;

/** Builds the page; rejects with esbuild's errors when the sources do not build. */
export async function buildPage(): Promise<Map<string, Asset>> {
  const out = await build({
    entryPoints: [join(PAGE, "main.ts")],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "none",
    write: false,
    logLevel: "silent",
  });
  const js = out.outputFiles[0];
  if (!js) throw new Error("esbuild produced no output");
  return new Map<string, Asset>([
    ["/assets/app.js", { body: Buffer.from(js.contents), type: "text/javascript; charset=utf-8" }],
    ["/assets/app.css", { body: readFileSync(join(PAGE, "style.css")), type: "text/css; charset=utf-8" }],
    ["/", { body: Buffer.from(SHELL), type: "text/html; charset=utf-8" }],
  ]);
}

/** A hash of the page's sources (names and contents), to tell a bundle made from them. */
export function sourceHash(dir = PAGE): string {
  const h = createHash("sha256");
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]))
      .sort();
  for (const f of walk(dir))
    h.update(`${relative(dir, f)}\0`)
      .update(readFileSync(f))
      .update("\0");
  return h.digest("hex");
}

/** Writes the bundle and the hash of its sources to `dir`. */
export async function writePage(dir = BUILT): Promise<void> {
  const assets = await buildPage();
  mkdirSync(dir, { recursive: true });
  for (const [path, name] of Object.entries(FILES)) writeFileSync(join(dir, name), assets.get(path)!.body);
  writeFileSync(join(dir, "sources.sha256"), `${sourceHash()}\n`);
}

/** The bundle made by `npm run build:page` when it matches the sources, else one made now. */
export async function loadPage(dir = BUILT): Promise<{ assets: Map<string, Asset>; prebuilt: boolean }> {
  const stamp = join(dir, "sources.sha256");
  if (existsSync(stamp) && readFileSync(stamp, "utf8").trim() === sourceHash()) {
    const assets = new Map<string, Asset>();
    for (const [path, name] of Object.entries(FILES) as [keyof typeof FILES, string][])
      assets.set(path, { body: readFileSync(join(dir, name)), type: TYPES[path] });
    return { assets, prebuilt: true };
  }
  return { assets: await buildPage(), prebuilt: false };
}
