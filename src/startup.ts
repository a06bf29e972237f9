/**
 * Start-up that says what is wrong.
 *
 * - What is down is waited for, with backoff, saying what is awaited: the
 *   RPC endpoint (whatever the config says, `chain.chainId` included), the
 *   homeserver.
 * - What is wrong and will stay wrong stops start-up with one line that
 *   says so ({@link StartupProblem}): a chain id that differs from the
 *   endpoint's, credentials the homeserver or the endpoint refuses.
 * - `--check` ({@link checkConfig}) reads the config and reaches the
 *   homeserver and the RPC endpoint without sending anything: one line per
 *   problem.
 */
import { redactedUrl } from "./text/redact.ts";

/** A problem start-up cannot wait out: the bot stops with this one line. */
export class StartupProblem extends Error {
  override readonly name = "StartupProblem";
}

export interface Waiting {
  warn(line: string): void;
}

/** What a JSON-RPC endpoint answered to eth_chainId. */
export type ChainProbe = { ok: true; chainId: number } | { ok: false; fatal: boolean; reason: string };

/** Asks `rpcUrl` for its chain id (never quoting the URL: it may hold an API key). */
export async function probeChain(rpcUrl: string, timeoutMs = 10_000): Promise<ChainProbe> {
  let res: Response;
  try {
    res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, fatal: false, reason: cause?.code ?? cause?.message ?? (e as Error).message };
  }
  // An endpoint that refuses the request (a wrong or missing API key) will go on refusing it.
  if (res.status === 401 || res.status === 403)
    return { ok: false, fatal: true, reason: `HTTP ${res.status}: the endpoint refused the request; check the API key in chain.rpcUrl` };
  if (!res.ok) return { ok: false, fatal: false, reason: `HTTP ${res.status}` };
  try {
    const body = (await res.json()) as { result?: unknown; error?: { message?: string } };
    if (typeof body.result === "string" && /^0x[0-9a-f]+$/i.test(body.result)) return { ok: true, chainId: Number(BigInt(body.result)) };
    return { ok: false, fatal: false, reason: body.error?.message ? `error: ${body.error.message.slice(0, 120)}` : "not a JSON-RPC answer" };
  } catch {
    return { ok: false, fatal: false, reason: "not a JSON-RPC answer" };
  }
}

/** The line naming both chain ids. */
export function chainIdMismatch(configured: number, actual: number, rpcUrl: string): string {
  return `chain: chain.chainId is ${configured}, but ${redactedUrl(rpcUrl)} serves chain ${actual}: point chain.rpcUrl at chain ${configured}, or set chain.chainId to ${actual}`;
}

/** Backoff: 0.5 s, doubling, at most 30 s. */
export function backoff(attempt: number): number {
  return Math.min(30_000, 500 * 2 ** attempt);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the endpoint answers, and returns its chain id. Throws
 * StartupProblem when it differs from `expected`, or when the endpoint
 * refuses the request.
 */
export async function waitForChain(
  rpcUrl: string,
  expected: number | undefined,
  log: Waiting,
  wait: (ms: number) => Promise<unknown> = sleep,
): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const p = await probeChain(rpcUrl);
    if (p.ok) {
      if (expected !== undefined && p.chainId !== expected) throw new StartupProblem(chainIdMismatch(expected, p.chainId, rpcUrl));
      return p.chainId;
    }
    if (p.fatal) throw new StartupProblem(`chain: ${redactedUrl(rpcUrl)}: ${p.reason}`);
    const ms = backoff(attempt);
    log.warn(`chain: waiting for ${redactedUrl(rpcUrl)} (${p.reason}); retrying in ${ms} ms`);
    await wait(ms);
  }
}

/**
 * Runs `attempt` until it succeeds, waiting with backoff after each
 * failure that `isProblem` does not turn into a StartupProblem. `what`
 * names what is awaited, for the log.
 */
export async function untilDone<T>(
  what: string,
  attempt: () => Promise<T>,
  log: Waiting,
  isProblem: (e: unknown) => StartupProblem | { retryAfterMs: number } | undefined,
  wait: (ms: number) => Promise<unknown> = sleep,
): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      const p = isProblem(e);
      if (p instanceof StartupProblem) throw p;
      const ms = p?.retryAfterMs ?? backoff(n);
      log.warn(`${what}: ${(e as Error).message.split("\n")[0]!.slice(0, 160)}; retrying in ${ms} ms`);
      await wait(ms);
    }
  }
}
