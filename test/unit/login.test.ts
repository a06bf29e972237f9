import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { CredentialsRefused, establishSession, RateLimited, type SessionOptions } from "../../src/matrix/login.ts";
import { freePort } from "../../scripts/chain.ts";

/** A homeserver's login API, as far as the session needs it. */
let server: Server;
let baseUrl: string;
const tokens = new Map<string, { user: string; device: string }>();
let logins: Record<string, unknown>[] = [];
let logouts: string[] = [];
let loginStatus: { status: number; body: unknown } | undefined;

beforeEach(async () => {
  tokens.clear();
  logins = [];
  logouts = [];
  loginStatus = undefined;
  server = createServer((req, res) => {
    let data = "";
    req.on("data", (d: Buffer) => (data += d.toString()));
    req.on("end", () => {
      const token = (req.headers.authorization ?? "").replace("Bearer ", "");
      const send = (status: number, body: unknown) => ((res.statusCode = status), res.end(JSON.stringify(body)));
      if (req.url === "/_matrix/client/v3/account/whoami") {
        const t = tokens.get(token);
        return t ? send(200, { user_id: t.user, device_id: t.device }) : send(401, { errcode: "M_UNKNOWN_TOKEN", error: "Invalid access token passed." });
      }
      if (req.url === "/_matrix/client/v3/logout") {
        logouts.push(token);
        tokens.delete(token);
        return send(200, {});
      }
      if (req.url === "/_matrix/client/v3/login" && req.method === "POST") {
        const body = JSON.parse(data) as { password: string; device_id?: string };
        logins.push(body);
        if (loginStatus) return send(loginStatus.status, loginStatus.body);
        if (body.password !== "pw") return send(403, { errcode: "M_FORBIDDEN", error: "Invalid username or password" });
        const device = body.device_id ?? `NEW${logins.length}`;
        tokens.set(`t-${device}`, { user: "@bot:x", device });
        return send(200, { access_token: `t-${device}`, device_id: device, user_id: "@bot:x" });
      }
      send(404, { errcode: "M_UNRECOGNIZED" });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const a = server.address();
  baseUrl = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
});
afterEach(() => new Promise<void>((r) => server.close(() => r())));

const base = (o: Partial<SessionOptions> = {}): SessionOptions => ({ baseUrl, userId: "@bot:x", password: "pw", hasCryptoState: true, log: () => {}, ...o });

describe("the bot's Matrix session", () => {
  it("keeps the saved device while the homeserver takes its token and its crypto state is here", async () => {
    tokens.set("saved", { user: "@bot:x", device: "DEV" });
    expect(await establishSession(base({ saved: { accessToken: "saved", deviceId: "DEV" } }))).toEqual({
      accessToken: "saved",
      deviceId: "DEV",
      loggedIn: false,
    });
    expect(logins).toEqual([]);
  });

  it("logs in again as the same device when the saved token expired", async () => {
    const lines: string[] = [];
    const s = await establishSession(base({ saved: { accessToken: "expired", deviceId: "DEV" }, log: (l) => lines.push(l) }));
    expect(s).toEqual({ accessToken: "t-DEV", deviceId: "DEV", loggedIn: true });
    expect(lines).toEqual(["matrix: the saved access token is no longer accepted; logging in again with the password"]);
  });

  it("comes back as a new device, and logs the old one out, when the crypto state is gone", async () => {
    tokens.set("saved", { user: "@bot:x", device: "DEV" });
    const lines: string[] = [];
    const s = await establishSession(base({ saved: { accessToken: "saved", deviceId: "DEV" }, hasCryptoState: false, log: (l) => lines.push(l) }));
    expect(s.deviceId).not.toBe("DEV");
    expect(logins[0]).not.toHaveProperty("device_id");
    expect(logouts).toEqual(["saved"]);
    expect(lines).toEqual(["matrix: the crypto state of device DEV is missing; logging in as a new device"]);
  });

  it("refuses with one line: a wrong password, an unknown or foreign configured token", async () => {
    await expect(establishSession(base({ password: "wrong" }))).rejects.toThrow(
      new CredentialsRefused(
        "matrix: the homeserver refused the password of @bot:x (M_FORBIDDEN: Invalid username or password): check bot.password and bot.userId",
      ),
    );
    await expect(establishSession(base({ accessToken: "nope" }))).rejects.toThrow(/does not know bot\.accessToken \(M_UNKNOWN_TOKEN\)/);
    tokens.set("alices", { user: "@alice:x", device: "A" });
    await expect(establishSession(base({ accessToken: "alices" }))).rejects.toThrow("matrix: bot.accessToken is a token of @alice:x, not of bot.userId @bot:x");
    const { password: _none, ...noPassword } = base();
    await expect(establishSession(noPassword)).rejects.toThrow(CredentialsRefused);
  });

  it("takes a configured token as it is, and its device from the homeserver", async () => {
    tokens.set("given", { user: "@bot:x", device: "GIVEN" });
    expect(await establishSession(base({ accessToken: "given", saved: { deviceId: "OTHER" } }))).toEqual({
      accessToken: "given",
      deviceId: "GIVEN",
      loggedIn: false,
    });
  });

  it("waits out what may pass: a server error, a rate limit (with the wait it asks for), a homeserver that is down", async () => {
    loginStatus = { status: 502, body: {} };
    const e = await establishSession(base()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(Error);
    expect(e).not.toBeInstanceOf(CredentialsRefused);
    loginStatus = { status: 429, body: { errcode: "M_LIMIT_EXCEEDED", retry_after_ms: 777 } };
    expect(((await establishSession(base()).catch((x: unknown) => x)) as RateLimited).retryAfterMs).toBe(777);
    const down = await establishSession(base({ baseUrl: `http://127.0.0.1:${await freePort()}` })).catch((x: unknown) => x);
    expect(down).not.toBeInstanceOf(CredentialsRefused);
  });
});
