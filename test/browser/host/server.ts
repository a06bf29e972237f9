/**
 * The test widget host's server (node:http on loopback): the host page,
 * its script (page.ts, bundled with esbuild), the cases a test sets up, and
 * the OpenID answer of each, made by the test in this process (a real
 * token from Synapse, a refusal, a forged one).
 *
 * Served as http://localhost:PORT while the bot's page is at 127.0.0.1: the
 * host and the widget are different sites, as Element and the bot often are
 * (then Chromium gives the framed page no storage); or, when asked, from
 * 127.0.0.1 too: the same site, another origin.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { build } from "esbuild";

export interface WidgetEvent {
  id: string;
  type: string;
  url: string;
  name?: string;
  creatorUserId: string;
  data?: Record<string, unknown>;
}

export type OpenIdAnswer =
  { state: "allowed"; token: { access_token: string; expires_in: number; matrix_server_name: string; token_type: string } } | { state: "blocked" };

export interface HostCase {
  /** the content of the room's `im.vector.modular.widgets` event */
  widget: WidgetEvent;
  roomId: string;
  /** who the host says its user is ($matrix_user_id) */
  userId: string;
  /** what the host answers the widget's OpenID request with */
  openid: () => Promise<OpenIdAnswer>;
  /** query parameters a hostile host adds to the widget's URL */
  query?: Record<string, string>;
  /** a hostile host: answers the OpenID request with an error of this text */
  openidError?: string;
  /**
   * another frame of the same client (a rival widget in the room) pushes
   * this token at the widget, guessing the ids of its OpenID request
   */
  rival?: OpenIdAnswer;
}

export interface WidgetHost {
  /**
   * The host page framing the widget of `c`; `sameSite`: served from the
   * bot's host name (another port), as a client and a bot under one domain
   * are, where the framed page keeps its tab's storage.
   */
  open(c: HostCase, o?: { sameSite?: boolean }): string;
  /** a host page framing `url` as it is, without the widget API (a page that must refuse to be framed) */
  frame(url: string): string;
  stop(): Promise<void>;
}

const HTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Test widget host</title><link rel="stylesheet" href="/host.css"><script defer src="/host.js"></script></head>
<body><header>Test widget host (standing in for a Matrix client)</header><div id="frame"></div><ol id="host-log"></ol></body>
</html>
`;
const CSS = `body{margin:0;font:14px system-ui,sans-serif;background:#e8eaee}header{padding:8px 12px;background:#2d3340;color:#fff}#frame{padding:8px}iframe{width:100%;height:1000px;border:1px solid #99a;background:#fff}#host-log{margin:0;padding:4px 28px 8px;color:#445;font-size:12px;word-break:break-all}`;
// The rival frame: widget API ids are "widgetapi-" and the time in ms, so every 200 ms it answers every id
// of the last 400 ms, both as the reply to the request and as the client's later push of the credentials.
const RIVAL_JS = `(async () => {
  const id = new URLSearchParams(location.search).get("case");
  const r = await (await fetch("/case/" + id + "/rival")).json();
  const from = Date.now() - 2000;
  let sent = 0;
  setInterval(() => {
    const w = parent.frames[0];
    const now = Date.now();
    for (let t = Math.max(from, now - 400); t <= now; t++) {
      const rid = "widgetapi-" + t;
      w.postMessage({ api: "fromWidget", widgetId: r.widgetId, requestId: rid, action: "get_openid", data: {}, response: { state: "allowed", ...r.token } }, "*");
      w.postMessage({ api: "toWidget", widgetId: r.widgetId, requestId: "rival-" + t, action: "openid_credentials", data: { state: "allowed", original_request_id: rid, ...r.token } }, "*");
      sent += 2;
    }
    document.title = "sent " + sent;
  }, 200);
})();`;
const FRAME_JS = `const f=document.createElement("iframe");f.id="widget";f.src=new URLSearchParams(location.search).get("url");document.getElementById("frame").append(f);`;

/** Starts the host on a free loopback port. */
export async function startWidgetHost(): Promise<WidgetHost> {
  const bundle = await build({
    entryPoints: [join(import.meta.dirname, "page.ts")],
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  const js = bundle.outputFiles[0]!.contents;
  const cases = new Map<string, HostCase>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const send = (status: number, type: string, body: string | Uint8Array) => {
      res.writeHead(status, {
        "content-type": type,
        "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-src *",
        "cache-control": "no-store",
      });
      res.end(body);
    };
    const m = /^\/case\/([a-f0-9]{16})(\/openid|\/rival)?$/.exec(url.pathname);
    if (url.pathname === "/host" || url.pathname === "/frame") {
      send(200, "text/html; charset=utf-8", url.pathname === "/host" ? HTML : HTML.replace("/host.js", "/frame.js"));
      return;
    }
    if (url.pathname === "/rival") {
      send(200, "text/html; charset=utf-8", `<!doctype html><title>rival</title><script src="/rival.js"></script>`);
      return;
    }
    if (url.pathname === "/rival.js") {
      send(200, "text/javascript; charset=utf-8", RIVAL_JS);
      return;
    }
    if (url.pathname === "/host.js") {
      send(200, "text/javascript; charset=utf-8", js);
      return;
    }
    if (url.pathname === "/frame.js") {
      send(200, "text/javascript; charset=utf-8", FRAME_JS);
      return;
    }
    if (url.pathname === "/host.css") {
      send(200, "text/css; charset=utf-8", CSS);
      return;
    }
    const c = m ? cases.get(m[1]!) : undefined;
    if (!c) {
      send(404, "text/plain", "no such case");
      return;
    }
    if (!m![2]) {
      const { openid: _openid, rival, ...shown } = c;
      send(200, "application/json", JSON.stringify({ query: {}, ...shown, rival: rival !== undefined }));
      return;
    }
    if (m![2] === "/rival") {
      send(200, "application/json", JSON.stringify({ widgetId: c.widget.id, token: c.rival?.state === "allowed" ? c.rival.token : {} }));
      return;
    }
    c.openid().then(
      (a) => send(200, "application/json", JSON.stringify(a)),
      (e: unknown) => send(500, "application/json", JSON.stringify({ error: (e as Error).message })),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const base = `http://localhost:${port}`;
  return {
    open(c, o = {}) {
      const id = randomBytes(8).toString("hex");
      cases.set(id, c);
      return `${o.sameSite ? `http://127.0.0.1:${port}` : base}/host?case=${id}`;
    },
    frame: (u) => `${base}/frame?url=${encodeURIComponent(u)}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A real OpenID token Synapse issues for the user of `accessToken` (as a Matrix client asks for its widgets). */
export async function requestOpenIdToken(baseUrl: string, userId: string, accessToken: string): Promise<OpenIdAnswer> {
  const res = await fetch(`${baseUrl}/_matrix/client/v3/user/${encodeURIComponent(userId)}/openid/request_token`, {
    method: "POST",
    headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
    body: "{}",
  });
  if (!res.ok) throw new Error(`Synapse refused an OpenID token for ${userId}: ${res.status} ${await res.text()}`);
  const token = (await res.json()) as { access_token: string; expires_in: number; matrix_server_name: string; token_type: string };
  return { state: "allowed", token };
}
