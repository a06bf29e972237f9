/**
 * The bot's Matrix session: which access token and device it runs with.
 *
 * Errors come in two kinds, because start-up treats them differently:
 * - {@link CredentialsRefused}: the homeserver answered, and said no (a
 *   wrong password, a token it does not know, an account of someone
 *   else). Retrying cannot help: start-up stops with this one line.
 * - anything else (the homeserver is down, slow, rate-limiting): worth
 *   waiting for.
 *
 * Plain HTTP (no SDK): the client is made once the session is known.
 */

/** The homeserver refused the bot's credentials; the message is one line that says which and why. */
export class CredentialsRefused extends Error {
  override readonly name = "CredentialsRefused";
}

/** The homeserver asks to wait (M_LIMIT_EXCEEDED): how long, in ms. */
export class RateLimited extends Error {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

export interface Session {
  accessToken: string;
  deviceId: string;
  /** logged in just now with the password (not a token kept or given) */
  loggedIn: boolean;
}

export interface SessionOptions {
  baseUrl: string;
  userId: string;
  password?: string;
  /** a token from the config (bot.accessToken) */
  accessToken?: string;
  deviceName?: string;
  /** the token and device the bot kept from an earlier start, if any */
  saved?: { accessToken?: string; deviceId?: string };
  /**
   * Whether the crypto state of the saved device is there. Without it the
   * bot must not come back as that device: its old keys are published, and
   * new keys under the same device id collide with them (one-time keys).
   */
  hasCryptoState: boolean;
  log: (line: string) => void;
}

interface MatrixErrorBody {
  errcode?: string;
  error?: string;
  retry_after_ms?: number;
}

async function call(
  baseUrl: string,
  path: string,
  init: { method: string; token?: string; body?: unknown },
): Promise<{ status: number; body: Record<string, unknown> & MatrixErrorBody }> {
  const res = await fetch(new URL(`/_matrix/client/v3${path}`, baseUrl), {
    method: init.method,
    headers: { ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  let body: Record<string, unknown> & MatrixErrorBody = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // Not JSON: a proxy's error page; the status says enough.
  }
  return { status: res.status, body };
}

function why(r: { status: number; body: MatrixErrorBody }): string {
  return `${r.body.errcode ?? `HTTP ${r.status}`}${r.body.error ? `: ${r.body.error}` : ""}`;
}

/** Throws for what is worth waiting for (a server error, a rate limit). */
function transient(r: { status: number; body: MatrixErrorBody }, what: string): never {
  if (r.body.errcode === "M_LIMIT_EXCEEDED") throw new RateLimited(`${what}: rate-limited (${why(r)})`, r.body.retry_after_ms ?? 5_000);
  throw new Error(`${what}: ${why(r)}`);
}

/**
 * Who a token belongs to: its user and device, or undefined when the
 * homeserver does not know the token (M_UNKNOWN_TOKEN, or 401).
 */
export async function whoami(baseUrl: string, token: string): Promise<{ userId: string; deviceId?: string } | undefined> {
  const r = await call(baseUrl, "/account/whoami", { method: "GET", token });
  if (r.status === 200 && typeof r.body.user_id === "string") {
    return { userId: r.body.user_id, ...(typeof r.body.device_id === "string" ? { deviceId: r.body.device_id } : {}) };
  }
  if (r.status === 401 || r.body.errcode === "M_UNKNOWN_TOKEN") return undefined;
  if (r.status === 403) throw new CredentialsRefused(`matrix: the homeserver refused the bot's access token (${why(r)})`);
  return transient(r, "matrix: checking the access token");
}

/** Whether the homeserver offers password login (GET /login, read-only). */
export async function offersPasswordLogin(baseUrl: string): Promise<boolean> {
  const r = await call(baseUrl, "/login", { method: "GET" });
  if (r.status !== 200) return transient(r, "matrix: reading the login flows");
  const flows = Array.isArray(r.body.flows) ? (r.body.flows as { type?: unknown }[]) : [];
  return flows.some((f) => f.type === "m.login.password");
}

/**
 * The session to run with: the configured token, else the saved one (when
 * the homeserver still accepts it and its device's crypto state is here),
 * else a password login (as the saved device when its crypto state is
 * here, as a new device otherwise). Throws {@link CredentialsRefused} when
 * the homeserver says no.
 */
export async function establishSession(o: SessionOptions): Promise<Session> {
  if (o.accessToken !== undefined) {
    const me = await whoami(o.baseUrl, o.accessToken);
    if (me === undefined)
      throw new CredentialsRefused(
        `matrix: the homeserver does not know bot.accessToken (M_UNKNOWN_TOKEN): give a token of a current session of ${o.userId}, or a password`,
      );
    if (me.userId !== o.userId) throw new CredentialsRefused(`matrix: bot.accessToken is a token of ${me.userId}, not of bot.userId ${o.userId}`);
    if (me.deviceId === undefined)
      throw new CredentialsRefused("matrix: bot.accessToken has no device (an application service token?): the bot needs a device of its own for encryption");
    return { accessToken: o.accessToken, deviceId: me.deviceId, loggedIn: false };
  }
  const saved = o.saved ?? {};
  if (saved.accessToken !== undefined && o.hasCryptoState) {
    const me = await whoami(o.baseUrl, saved.accessToken);
    if (me?.userId === o.userId && me.deviceId !== undefined && me.deviceId === saved.deviceId)
      return { accessToken: saved.accessToken, deviceId: me.deviceId, loggedIn: false };
    o.log(`matrix: the saved access token is no longer accepted${me ? ` for device ${saved.deviceId ?? "?"}` : ""}; logging in again with the password`);
  }
  if (o.password === undefined) {
    throw new CredentialsRefused(`matrix: no usable session for ${o.userId} and no bot.password to log in with`);
  }
  const sameDevice = o.hasCryptoState && saved.deviceId !== undefined;
  if (!sameDevice && saved.deviceId !== undefined) {
    o.log(`matrix: the crypto state of device ${saved.deviceId} is missing; logging in as a new device`);
  }
  const r = await call(o.baseUrl, "/login", {
    method: "POST",
    body: {
      type: "m.login.password",
      identifier: { type: "m.id.user", user: o.userId },
      password: o.password,
      initial_device_display_name: o.deviceName ?? "Conclave bot",
      ...(sameDevice ? { device_id: saved.deviceId } : {}),
    },
  });
  if (r.status === 200 && typeof r.body.access_token === "string" && typeof r.body.device_id === "string") {
    if (!sameDevice && saved.accessToken !== undefined) await forget(o.baseUrl, saved.accessToken);
    return { accessToken: r.body.access_token, deviceId: r.body.device_id, loggedIn: true };
  }
  if (r.body.errcode === "M_FORBIDDEN" || r.body.errcode === "M_USER_DEACTIVATED" || r.status === 403 || r.status === 401) {
    throw new CredentialsRefused(`matrix: the homeserver refused the password of ${o.userId} (${why(r)}): check bot.password and bot.userId`);
  }
  if (r.status === 400 && r.body.errcode !== "M_LIMIT_EXCEEDED") {
    throw new CredentialsRefused(`matrix: the homeserver refused the login of ${o.userId} (${why(r)})`);
  }
  return transient(r, `matrix: logging in as ${o.userId}`);
}

/**
 * Logs out the device of a token the bot will not use again (its crypto
 * state is gone): members' clients stop encrypting for it. Best effort.
 */
async function forget(baseUrl: string, token: string): Promise<void> {
  try {
    await call(baseUrl, "/logout", { method: "POST", token, body: {} });
  } catch {
    // The device stays listed; nothing depends on it.
  }
}
