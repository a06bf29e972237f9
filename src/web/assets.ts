/**
 * The page's assets, bundled at start-up from `src/web/page/` with esbuild
 * (from npm, no download): one script, one stylesheet, one HTML shell. The
 * page loads nothing from anywhere else (no CDN, no fonts), which the
 * Content-Security-Policy enforces.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

export interface Asset {
  body: Buffer;
  type: string;
}

const PAGE = join(import.meta.dirname, "page");

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
