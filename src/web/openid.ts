/**
 * Who a widget's user is: the OpenID token the widget got from its client
 * (matrix-widget-api `requestOpenIDConnectToken`) is checked here, at the
 * homeserver that issued it (`/_matrix/federation/v1/openid/userinfo`),
 * never trusted from the page. Only homeservers the operator named are
 * asked (the bot's own, and `web.openidHomeservers`): the page cannot make
 * the bot fetch an address of its choosing.
 */

export interface OpenIdToken {
  access_token: string;
  matrix_server_name: string;
}

export interface OpenIdChecker {
  /** the Matrix user id the token belongs to; a refusal in words when it cannot be shown */
  check(token: OpenIdToken): Promise<{ ok: true; userId: string } | { ok: false; error: string }>;
}

const SERVER_NAME = /^[A-Za-z0-9.-]{1,255}(:\d{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:\d{1,5})?$/;
const TOKEN = /^[A-Za-z0-9._~+/=-]{1,1024}$/;

/** Checks tokens at `homeservers` (server name → base URL of a listener serving the `openid` resource). */
export function openIdChecker(homeservers: Record<string, string>, log: (line: string) => void, timeoutMs = 5000): OpenIdChecker {
  return {
    async check(t) {
      if (
        typeof t.access_token !== "string" ||
        !TOKEN.test(t.access_token) ||
        typeof t.matrix_server_name !== "string" ||
        !SERVER_NAME.test(t.matrix_server_name)
      ) {
        return { ok: false, error: "That is not an OpenID token." };
      }
      const base = homeservers[t.matrix_server_name];
      if (base === undefined) {
        return { ok: false, error: `This bot does not check identities with ${t.matrix_server_name}: open the one-time link from !link instead.` };
      }
      let res: Response;
      try {
        res = await fetch(`${base.replace(/\/+$/, "")}/_matrix/federation/v1/openid/userinfo?access_token=${encodeURIComponent(t.access_token)}`, {
          signal: AbortSignal.timeout(timeoutMs),
          redirect: "error",
        });
      } catch (e) {
        log(`web: the homeserver ${t.matrix_server_name} did not answer an OpenID check: ${(e as Error).message}`);
        return { ok: false, error: "Your homeserver did not answer; try again." };
      }
      if (!res.ok) return { ok: false, error: "Your homeserver did not recognise that token: reopen the page to get a new one." };
      const body = (await res.json().catch(() => ({}))) as { sub?: unknown };
      const sub = body.sub;
      // A homeserver speaks only for its own users.
      if (typeof sub !== "string" || !/^@[^:\s]{1,255}:/.test(sub) || sub.slice(sub.indexOf(":") + 1) !== t.matrix_server_name) {
        log(`web: ${t.matrix_server_name} answered an OpenID check with a user that is not its own`);
        return { ok: false, error: "Your homeserver's answer did not name one of its users." };
      }
      return { ok: true, userId: sub };
    },
  };
}
