/**
 * `/healthz`, `/readyz` and `/metrics` on the bot's HTTP listener.
 *
 * - `/healthz`: the process is up and its event loop answers (no I/O).
 * - `/readyz`: the homeserver is synced (a sync response lately), the RPC
 *   answers, the store takes a write. Each check has a time limit and the
 *   answer is reused for a few seconds, so probing it often costs the RPC
 *   and the database nothing more. 200 when all pass, 503 otherwise, with
 *   the checks by name in a JSON body (no secrets, no URLs).
 * - `/metrics`: Prometheus text. Room ids are labels there, so when
 *   `web.metricsToken` is set it is required as a bearer token; the docs say to
 *   keep the listener (or this path) private otherwise.
 */
import { timingSafeEqual } from "node:crypto";
import { Router, type Request, type Response } from "express";
import type { Metrics } from "../ops/metrics.ts";

export interface ReadinessChecks {
  /** resolves when the homeserver sync is current; rejects with the reason otherwise */
  homeserver(): Promise<void>;
  /** resolves when the RPC answers */
  rpc(): Promise<void>;
  /** resolves when the store took a write */
  store(): Promise<void>;
}

export interface OpsOptions {
  checks: ReadinessChecks;
  metrics?: Metrics | undefined;
  /** bearer token required for /metrics, when set */
  metricsToken?: string | undefined;
  /** per check (ms); default 2,000 */
  timeoutMs?: number;
  /** how long a readiness answer is reused (ms); default 2,000 */
  cacheMs?: number;
  /** monotonic milliseconds; default performance.now */
  now?: () => number;
  /** takes secrets (RPC URLs) out of a failed check's reason; the answer is public */
  redact?: (text: string) => string;
}

export type Readiness = { ready: boolean; checks: Record<keyof ReadinessChecks, string> };

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Runs the checks at once, each within its time limit. */
export async function readiness(checks: ReadinessChecks, timeoutMs = 2_000, redact: (text: string) => string = (t) => t): Promise<Readiness> {
  const names = ["homeserver", "rpc", "store"] as const;
  const results = await Promise.allSettled(names.map((n) => within(checks[n](), timeoutMs)));
  const out = {} as Readiness["checks"];
  names.forEach((n, i) => {
    const r = results[i]!;
    // Redacted before it is cut: a cut could split a secret past recognition.
    out[n] = r.status === "fulfilled" ? "ok" : redact(String((r.reason as Error | undefined)?.message ?? r.reason)).slice(0, 200);
  });
  return { ready: Object.values(out).every((v) => v === "ok"), checks: out };
}

/** The router to mount at the listener's root. */
export function opsRouter(o: OpsOptions): Router {
  const r = Router();
  const cacheMs = o.cacheMs ?? 2_000;
  const now = o.now ?? (() => performance.now());
  let last: { at: number; answer: Promise<Readiness> } | undefined;
  r.get("/healthz", (_req, res) => {
    res.set("cache-control", "no-store").json({ status: "ok" });
  });
  r.get("/readyz", (_req, res) => {
    if (!last || now() - last.at > cacheMs) last = { at: now(), answer: readiness(o.checks, o.timeoutMs, o.redact) };
    void last.answer.then((a) =>
      res
        .status(a.ready ? 200 : 503)
        .set("cache-control", "no-store")
        .json(a),
    );
  });
  if (o.metrics) {
    const metrics = o.metrics;
    r.get("/metrics", (req: Request, res: Response) => {
      if (o.metricsToken !== undefined && !bearerIs(req.get("authorization"), o.metricsToken)) {
        res.status(401).set("www-authenticate", "Bearer").json({ error: "metrics need the bearer token (web.metricsToken)" });
        return;
      }
      void metrics.text().then(
        (m) => res.set("content-type", m.contentType).send(m.body),
        () => res.status(500).json({ error: "metrics could not be collected" }),
      );
    });
  }
  return r;
}

function bearerIs(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? "")?.[1] ?? "");
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** What the listener answers while the bot starts: up, and not ready. */
export function startingRouter(): Router {
  const r = Router();
  r.get("/healthz", (_req, res) => {
    res.set("cache-control", "no-store").json({ status: "ok" });
  });
  r.get("/readyz", (_req, res) => {
    const starting: Readiness = { ready: false, checks: { homeserver: "starting", rpc: "starting", store: "starting" } };
    res.status(503).set("cache-control", "no-store").json(starting);
  });
  return r;
}
