/**
 * The web adapter: the governance page and its API, served by the bot's own
 * process (express). It depends on the web port only (`src/ports/web.ts`).
 *
 * Safety, in the order a request meets it:
 * - headers (helmet): a strict Content-Security-Policy (scripts, styles and
 *   requests to this origin only, no inline script, no plugins, no forms),
 *   no referrer, no MIME sniffing; framing only for the widget's page;
 * - rate limits per client address (reads and actions apart), and per
 *   signing address for what the bot relays;
 * - no cookies: a session is a random bearer token the page keeps in its
 *   tab and sends in a header, so another site cannot act with it (no CSRF),
 *   and bodies are JSON only;
 * - identity only from a one-time link token (made by `!link`, used once)
 *   or an OpenID token checked at the homeserver; everything else needs the
 *   wallet's signature, checked by the bot before it relays anything;
 * - public data only without a session or a signature; no secret is ever
 *   sent to the page.
 */
import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import express, { type NextFunction, type Request, type Response, type Router } from "express";
import helmet from "helmet";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { z } from "zod";
import type { Asset } from "./assets.ts";
import type { OpenIdChecker } from "./openid.ts";
import type { GroupRecord, WebActions, WebIdentity } from "../ports/web.ts";

export interface WebServerOptions {
  /** /healthz, /readyz and /metrics, served before anything else (no rate limit, no CSP) */
  ops?: Router;
  actions: WebActions;
  openid: OpenIdChecker;
  /** the built page (`buildPage()`); without it the API is served alone */
  assets?: Map<string, Asset> | undefined;
  port: number;
  bind: string;
  log: (line: string) => void;
  /** per client address per minute; default 300 */
  readsPerMinute?: number;
  /** actions (POST) per client address per minute; default 30 */
  actionsPerMinute?: number;
  /** how long a session lasts (ms); default 2 hours */
  sessionMs?: number;
  /** how long a group's record is reused (ms); default 2 s */
  recordCacheMs?: number;
}

interface Session extends WebIdentity {
  expiresAt: number;
}

const MAX_SESSIONS = 10_000;
const ADDRESS = z.string().regex(/^0x[0-9a-fA-F]{40}$/, "an address");
const CHOICE = z.enum(["yes", "no", "abstain"]);
const SIGNATURE = z.string().regex(/^0x[0-9a-fA-F]{130}$/, "a signature");
const NONCE = z.string().regex(/^\d{1,78}$/);
const SECONDS = z
  .number()
  .int()
  .nonnegative()
  .max(2 ** 53);

const bodies = {
  openid: z.object({ access_token: z.string().max(1024), matrix_server_name: z.string().max(300), room_id: z.string().regex(/^![^\s]{1,255}$/) }),
  link: z.object({ token: z.string().max(100) }),
  linkStart: z.object({ address: ADDRESS }),
  linkFinish: z.object({ signature: SIGNATURE }),
  showId: z.object({ show: z.boolean() }),
  voteRequest: z.object({
    voter: ADDRESS,
    number: z
      .number()
      .int()
      .min(1)
      .max(2 ** 32),
    choice: CHOICE,
  }),
  vote: z.object({
    voter: ADDRESS,
    number: z
      .number()
      .int()
      .min(1)
      .max(2 ** 32),
    choice: CHOICE,
    nonce: NONCE,
    deadline: SECONDS,
    signature: SIGNATURE,
  }),
  relayerRequest: z.object({ member: ADDRESS, extra: z.array(z.enum(["config", "fees", "custom"])).max(3), days: z.number().int().min(1).max(365) }),
  relayer: z.object({ member: ADDRESS, scope: z.number().int().min(1).max(127), until: SECONDS, nonce: NONCE, deadline: SECONDS, signature: SIGNATURE }),
  check: z.object({
    from: ADDRESS,
    to: ADDRESS,
    data: z
      .string()
      .regex(/^0x[0-9a-fA-F]*$/)
      .max(20_000),
    value: z.string().regex(/^\d{1,78}$/),
  }),
};

/** The pages the shell serves (the script reads the path). */
const PAGES = [/^\/$/, /^\/g\/0x[0-9a-fA-F]{40}(\/join|\/p\/\d{1,10})?\/?$/, /^\/link\/?$/];

function csp(frameAncestors: string[]) {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        objectSrc: ["'none'"],
        frameAncestors,
      },
    },
    // The widget's page is framed by Matrix clients; every other page refuses it.
    frameguard: frameAncestors.includes("'none'") ? { action: "deny" } : false,
    referrerPolicy: { policy: "no-referrer" },
    crossOriginEmbedderPolicy: false,
    crossOriginResourcePolicy: { policy: "same-origin" },
  });
}

export class WebServer {
  private readonly o: WebServerOptions;
  private readonly sessions = new Map<string, Session>();
  private readonly records = new Map<string, { at: number; value: Promise<GroupRecord | undefined> }>();
  private readonly reads: RateLimiterMemory;
  private readonly actions: RateLimiterMemory;
  private readonly signers: RateLimiterMemory;
  private server: Server | undefined;

  constructor(o: WebServerOptions) {
    this.o = o;
    this.reads = new RateLimiterMemory({ points: o.readsPerMinute ?? 300, duration: 60 });
    this.actions = new RateLimiterMemory({ points: o.actionsPerMinute ?? 30, duration: 60 });
    // What one address may have the bot relay: a few votes and authorisations a minute.
    this.signers = new RateLimiterMemory({ points: 10, duration: 60 });
  }

  /** The express application (for tests that call it without a socket). */
  app(): express.Express {
    const app = express();
    app.disable("x-powered-by");
    app.set("etag", false);
    if (this.o.ops) app.use(this.o.ops);
    const framed = csp(["*"]);
    const unframed = csp(["'none'"]);
    app.use((req, res, next) => (req.path === "/widget" ? framed : unframed)(req, res, next));
    app.use((req, res, next) => void this.limit(req, res, next));
    app.use(express.json({ limit: "32kb", type: "application/json" }));
    app.use("/api", (_req, res, next) => {
      res.setHeader("cache-control", "no-store");
      next();
    });

    const wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response) => {
      fn(req, res).catch((e: unknown) => {
        this.o.log(`web: ${req.method} ${req.path} failed: ${(e as Error).stack ?? String(e)}`);
        if (!res.headersSent) res.status(500).json({ ok: false, error: "Something went wrong on the bot's side; try again." });
      });
    };
    const body = <T extends z.ZodType>(schema: T, req: Request, res: Response): z.infer<T> | undefined => {
      const parsed = schema.safeParse(req.body);
      if (!parsed.success) {
        res
          .status(400)
          .json({ ok: false, error: `Malformed request: ${parsed.error.issues.map((i) => `${i.path.join(".") || "body"} ${i.message}`).join("; ")}` });
        return undefined;
      }
      return parsed.data;
    };
    const session = (req: Request, res: Response): Session | undefined => {
      const h = req.get("authorization") ?? "";
      const s = /^Bearer ([A-Za-z0-9_-]{43})$/.exec(h) ? this.sessions.get(h.slice(7)) : undefined;
      if (!s || s.expiresAt < Date.now()) {
        res.status(401).json({ ok: false, error: "Your session is over: open the page again from the room (the widget) or from a new !link." });
        return undefined;
      }
      return s;
    };
    const signer = async (address: string, res: Response): Promise<boolean> => {
      try {
        await this.signers.consume(address.toLowerCase());
        return true;
      } catch {
        res.status(429).setHeader("retry-after", "60").json({ ok: false, error: "Too many requests for this address: wait a minute." });
        return false;
      }
    };
    const a = this.o.actions;

    app.get(
      "/api/groups/:group",
      wrap(async (req, res) => {
        const g = String(req.params.group);
        const r = /^0x[0-9a-fA-F]{40}$/.test(g) ? await this.record(g) : undefined;
        if (!r) {
          res.status(404).json({ ok: false, error: "This bot serves no group at that address." });
          return;
        }
        res.json({ ok: true, record: r });
      }),
    );
    app.get(
      "/api/groups/:group/accounts/:address",
      wrap(async (req, res) => {
        const addr = String(req.params.address);
        if (!/^0x[0-9a-fA-F]{40}$/.test(addr)) {
          res.status(400).json({ ok: false, error: "That is not an address." });
          return;
        }
        res.json(await a.standing(String(req.params.group), addr));
      }),
    );
    app.post(
      "/api/session/openid",
      wrap(async (req, res) => {
        const b = body(bodies.openid, req, res);
        if (!b) return;
        const who = await this.o.openid.check(b);
        if (!who.ok) {
          res.status(403).json(who);
          return;
        }
        if (!(await a.inRoom(b.room_id, who.userId))) {
          res.status(403).json({ ok: false, error: `${who.userId} is not in that room.` });
          return;
        }
        res.json({ ok: true, session: this.open({ userId: who.userId, roomId: b.room_id }), me: await a.me({ userId: who.userId, roomId: b.room_id }) });
      }),
    );
    app.post(
      "/api/session/link",
      wrap(async (req, res) => {
        const b = body(bodies.link, req, res);
        if (!b) return;
        const who = await a.redeemLinkToken(b.token);
        if (!who) {
          res.status(403).json({ ok: false, error: "This link was already used or has expired: send !link again in the room for a fresh one." });
          return;
        }
        const identity = { userId: who.userId, roomId: who.roomId };
        res.json({ ok: true, session: this.open(identity), me: await a.me(identity) });
      }),
    );
    app.get(
      "/api/me",
      wrap(async (req, res) => {
        const s = session(req, res);
        if (s) res.json({ ok: true, me: await a.me(s) });
      }),
    );
    app.post(
      "/api/me/link/start",
      wrap(async (req, res) => {
        const s = session(req, res);
        const b = s && body(bodies.linkStart, req, res);
        if (s && b) res.json(await a.startLink(s, b.address));
      }),
    );
    app.post(
      "/api/me/link",
      wrap(async (req, res) => {
        const s = session(req, res);
        const b = s && body(bodies.linkFinish, req, res);
        if (!s || !b) return;
        const r = await a.completeLink(s, b.signature);
        if (r.ok) this.records.clear();
        res.json(r);
      }),
    );
    app.post(
      "/api/me/show-id",
      wrap(async (req, res) => {
        const s = session(req, res);
        const b = s && body(bodies.showId, req, res);
        if (!s || !b) return;
        await a.showId(s, b.show);
        this.records.clear();
        res.json({ ok: true, lines: [] });
      }),
    );
    app.post(
      "/api/groups/:group/vote/request",
      wrap(async (req, res) => {
        const b = body(bodies.voteRequest, req, res);
        if (b) res.json(await a.voteRequest(String(req.params.group), b.voter, b.number, b.choice));
      }),
    );
    app.post(
      "/api/groups/:group/vote",
      wrap(async (req, res) => {
        const b = body(bodies.vote, req, res);
        if (!b || !(await signer(b.voter, res))) return;
        const r = await a.submitVote(String(req.params.group), b);
        this.records.delete(String(req.params.group).toLowerCase());
        res.json(r);
      }),
    );
    app.post(
      "/api/groups/:group/relayer/request",
      wrap(async (req, res) => {
        const b = body(bodies.relayerRequest, req, res);
        if (b) res.json(await a.relayerRequest(String(req.params.group), b.member, b.extra, b.days));
      }),
    );
    app.post(
      "/api/groups/:group/relayer",
      wrap(async (req, res) => {
        const b = body(bodies.relayer, req, res);
        if (!b || !(await signer(b.member, res))) return;
        res.json(await a.submitRelayer(String(req.params.group), b));
      }),
    );
    app.post(
      "/api/groups/:group/check",
      wrap(async (req, res) => {
        const b = body(bodies.check, req, res);
        if (b) res.json(await a.check(String(req.params.group), b));
      }),
    );
    app.use("/api", (_req, res) => {
      res.status(404).json({ ok: false, error: "No such request." });
    });

    app.get(/^\/assets\/app\.(js|css)$/, (req, res) => {
      const asset = this.o.assets?.get(req.path);
      if (!asset) {
        res.status(404).end();
        return;
      }
      res.setHeader("cache-control", "no-cache");
      res.type(asset.type).send(asset.body);
    });
    const shell = (_req: Request, res: Response) => {
      const asset = this.o.assets?.get("/");
      if (!asset) {
        res.status(503).type("text/plain").send("The page is not built; the API works.");
        return;
      }
      res.setHeader("cache-control", "no-cache");
      res.type(asset.type).send(asset.body);
    };
    app.get("/favicon.ico", (_req, res) => {
      res.status(204).end();
    });
    app.get("/widget", shell);
    app.get(PAGES, shell);
    app.use((_req, res) => {
      res.status(404).type("text/plain").send("Not found.");
    });
    // Malformed JSON and the like: said, never a crash.
    app.use((e: unknown, req: Request, res: Response, _next: NextFunction) => {
      const status = typeof (e as { status?: unknown }).status === "number" ? (e as { status: number }).status : 500;
      if (status >= 500) this.o.log(`web: ${req.method} ${req.path}: ${(e as Error).message}`);
      res.status(status).json({
        ok: false,
        error: status === 413 ? "That request is too large." : status < 500 ? "Malformed request: send JSON." : "Something went wrong on the bot's side.",
      });
    });
    return app;
  }

  /** Listens; resolves with the port once it does. */
  async start(): Promise<number> {
    this.server = await listen(this.app(), this.o.port, this.o.bind);
    return portOf(this.server, this.o.port);
  }

  async stop(): Promise<void> {
    await close(this.server);
  }

  private async limit(req: Request, res: Response, next: NextFunction): Promise<void> {
    const key = req.ip ?? req.socket.remoteAddress ?? "unknown";
    try {
      await (req.method === "GET" || req.method === "HEAD" ? this.reads : this.actions).consume(key);
      next();
    } catch {
      res.status(429).setHeader("retry-after", "60").json({ ok: false, error: "Too many requests: wait a minute." });
    }
  }

  /** A new session for `who`: a random bearer token. */
  private open(who: WebIdentity): string {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (s.expiresAt < now) this.sessions.delete(id);
    // Bounded: the oldest go first.
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString("base64url");
    this.sessions.set(id, { ...who, expiresAt: now + (this.o.sessionMs ?? 2 * 3600_000) });
    return id;
  }

  /** A group's record, read at most every `recordCacheMs` however many ask. */
  private record(group: string): Promise<GroupRecord | undefined> {
    const key = group.toLowerCase();
    const hit = this.records.get(key);
    if (hit && Date.now() - hit.at < (this.o.recordCacheMs ?? 2000)) return hit.value;
    const value = this.o.actions.record(group);
    this.records.set(key, { at: Date.now(), value });
    value.catch(() => this.records.delete(key));
    if (this.records.size > 1000) this.records.delete(this.records.keys().next().value!);
    return value;
  }
}

function listen(app: express.Express, port: number, bind: string): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, bind, () => resolve(s));
    s.once("error", reject);
  });
}

function portOf(server: Server, fallback: number): number {
  const address = server.address();
  return typeof address === "object" && address ? address.port : fallback;
}

async function close(s: Server | undefined): Promise<void> {
  if (!s) return;
  await new Promise<void>((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });
}

/** The listener of a bot without a page: health, readiness and metrics only. */
export class OpsServer {
  private readonly o: { ops: Router; port: number; bind: string };
  private server: Server | undefined;

  constructor(o: { ops: Router; port: number; bind: string }) {
    this.o = o;
  }

  app(): express.Express {
    const app = express();
    app.disable("x-powered-by");
    app.use(helmet());
    app.use(this.o.ops);
    app.use((_req, res) => {
      res.status(404).json({ error: "not found: this bot serves /healthz, /readyz and /metrics (its page needs web.publicUrl)" });
    });
    return app;
  }

  async start(): Promise<number> {
    this.server = await listen(this.app(), this.o.port, this.o.bind);
    return portOf(this.server, this.o.port);
  }

  async stop(): Promise<void> {
    await close(this.server);
  }
}
