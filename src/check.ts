/**
 * `npm start -- --config FILE --check`: is this config ready to run?
 *
 * Reads the config (main.ts has validated it by then) and reaches every
 * service it names, sending nothing: no login (a login creates a device),
 * no transaction, no message, and the store is only read, when it exists.
 * Each problem is one line; notes say what could not be checked.
 */
import { existsSync } from "node:fs";
import { computeAddress, formatEther } from "ethers";
import type { Config } from "./config/load.ts";
import { chainIdMismatch, probeChain } from "./startup.ts";
import { offersPasswordLogin, whoami } from "./matrix/login.ts";
import { recoveryKeyFits } from "./matrix/cross-signing.ts";
import { redactedUrl } from "./text/redact.ts";
import { storeKeys } from "./store/secret.ts";
import type { Store } from "./store/store.ts";

export interface CheckResult {
  problems: string[];
  notes: string[];
}

export interface CheckOptions {
  /** the bot's store, opened read-only by the caller when it exists (for the saved session) */
  openStore?: () => Promise<Store | undefined>;
  /** the recovery key, parsed (main.ts has refused a malformed one) */
  recoveryKey?: Uint8Array<ArrayBuffer>;
}

async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { result?: unknown; error?: { message?: string } };
  if (body.error) throw new Error(body.error.message ?? "error");
  return body.result;
}

function reason(e: unknown): string {
  const cause = (e as { cause?: { code?: string } }).cause;
  return cause?.code ?? (e as Error).message;
}

export async function checkConfig(c: Config, o: CheckOptions = {}): Promise<CheckResult> {
  const problems: string[] = [];
  const notes: string[] = [];
  const [matrix, chain] = await Promise.all([checkMatrix(c, o), checkChain(c)]);
  for (const r of [matrix, chain]) {
    problems.push(...r.problems);
    notes.push(...r.notes);
  }
  return { problems, notes };
}

async function checkMatrix(c: Config, o: CheckOptions): Promise<CheckResult> {
  const problems: string[] = [];
  const notes: string[] = [];
  const hs = c.homeserver.url;
  try {
    const res = await fetch(new URL("/_matrix/client/versions", hs), { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { versions?: unknown };
    if (!res.ok || !Array.isArray(body.versions)) throw new Error(`HTTP ${res.status}, not a Matrix homeserver's answer`);
  } catch (e) {
    problems.push(`homeserver: ${hs} not reachable (${reason(e)})`);
    return { problems, notes };
  }
  // The token to check: the configured one, else the one the bot saved.
  let token = c.bot.accessToken;
  let from = "bot.accessToken";
  if (token === undefined && o.openStore) {
    const store = await o.openStore();
    if (store) {
      try {
        const sealed = await store.getState("matrix.accessToken");
        if (sealed !== undefined) {
          const opened = storeKeys(c.store.secret).open(sealed);
          if (opened === undefined)
            problems.push(
              "store: store.secret does not open the access token saved in the store: it is not the secret this store was made with, and the bot would start as a new device",
            );
          else {
            token = opened;
            from = "the access token saved in the store";
          }
        }
      } finally {
        await store.close();
      }
    }
  }
  try {
    if (token !== undefined) {
      const me = await whoami(hs, token);
      if (me === undefined) {
        if (from === "bot.accessToken") problems.push(`matrix: the homeserver does not know bot.accessToken (M_UNKNOWN_TOKEN)`);
        else notes.push("matrix: the saved access token has expired; the bot will log in again with bot.password");
        token = undefined;
      } else if (me.userId !== c.bot.userId) {
        problems.push(`matrix: ${from} is a token of ${me.userId}, not of bot.userId ${c.bot.userId}`);
        token = undefined;
      }
    }
    if (token === undefined && c.bot.password !== undefined) {
      if (!(await offersPasswordLogin(hs))) problems.push(`matrix: ${hs} offers no password login (m.login.password): give bot.accessToken`);
      else notes.push("matrix: bot.password not checked: only a login could check it, and a login creates a device");
    }
    if (token !== undefined && o.recoveryKey) {
      const fits = await recoveryKeyFits(hs, token, c.bot.userId, o.recoveryKey);
      if (fits === "wrong key") problems.push(`matrix: bot.recoveryKey does not open the secret storage of ${c.bot.userId}: give that account's recovery key`);
      if (fits === "none") notes.push(`matrix: ${c.bot.userId} has no secret storage yet; the bot will create it under bot.recoveryKey`);
    }
  } catch (e) {
    problems.push(`matrix: ${reason(e)}`);
  }
  return { problems, notes };
}

async function checkChain(c: Config): Promise<CheckResult> {
  const problems: string[] = [];
  const notes: string[] = [];
  const url = c.chain.rpcUrl;
  const shown = redactedUrl(url);
  const p = await probeChain(url);
  if (!p.ok) {
    problems.push(`chain: ${shown} ${p.fatal ? p.reason : `not reachable (${p.reason})`}`);
    return { problems, notes };
  }
  if (c.chain.chainId !== undefined && c.chain.chainId !== p.chainId) problems.push(chainIdMismatch(c.chain.chainId, p.chainId, url));
  try {
    if (c.chain.factory !== "deploy" && (await rpc(url, "eth_getCode", [c.chain.factory, "latest"])) === "0x") {
      problems.push(`chain: chain.factory ${c.chain.factory} has no code on chain ${p.chainId}`);
    }
    const address = computeAddress(c.chain.privateKey);
    const balance = BigInt(String(await rpc(url, "eth_getBalance", [address, "latest"])));
    if (balance < c.chain.lowBalance)
      notes.push(`chain: the bot's address ${address} holds ${formatEther(balance)}, below chain.lowBalance ${formatEther(c.chain.lowBalance)}: fund it`);
  } catch (e) {
    problems.push(`chain: ${shown}: ${reason(e)}`);
  }
  if (c.chain.wsUrl !== undefined) {
    const ws = c.chain.wsUrl;
    const ok = await new Promise<string | undefined>((resolve) => {
      const socket = new WebSocket(ws);
      const done = (r: string | undefined) => {
        clearTimeout(timer);
        socket.close();
        resolve(r);
      };
      const timer = setTimeout(() => done("no answer in 10 s"), 10_000);
      socket.onopen = () => done(undefined);
      socket.onerror = () => done("connection failed");
    });
    if (ok !== undefined) problems.push(`chain: chain.wsUrl ${redactedUrl(ws)} not reachable (${ok})`);
  }
  return { problems, notes };
}

/** Whether the SQLite store file exists (a check never creates one). */
export function storeExists(c: Config): boolean {
  return c.store.url !== undefined || (c.store.path !== ":memory:" && existsSync(c.store.path));
}
