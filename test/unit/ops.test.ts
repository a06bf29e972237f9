/**
 * Health, readiness and metrics on a real express listener (loopback).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import { Metrics } from "../../src/ops/metrics.ts";
import { opsRouter, readiness, type ReadinessChecks } from "../../src/web/health.ts";

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});

async function serve(router: express.Router): Promise<string> {
  const app = express();
  app.use(router);
  server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const ok = async () => {};
const sources = (over: Partial<ConstructorParameters<typeof Metrics>[0]> = {}) => ({
  rooms: async () => 3,
  outboxPending: async () => 1,
  balance: async () => 5n * 10n ** 17n,
  syncLagSeconds: () => 2,
  ...over,
});

describe("readiness", () => {
  it("is ready when every check passes and says which failed otherwise", async () => {
    expect(await readiness({ homeserver: ok, rpc: ok, store: ok })).toEqual({ ready: true, checks: { homeserver: "ok", rpc: "ok", store: "ok" } });
    const down = await readiness({ homeserver: ok, rpc: async () => Promise.reject(new Error("connect ECONNREFUSED")), store: ok });
    expect(down.ready).toBe(false);
    expect(down.checks.rpc).toMatch(/ECONNREFUSED/);
  });

  it("takes secrets out of a failed check's reason before cutting it", async () => {
    const secret = "https://rpc.example.org/v3/KEY0123456789";
    const long = `server response 429 ${"x".repeat(120)} (info={ "requestUrl": "${secret}" })`;
    const r = await readiness({ homeserver: ok, rpc: async () => Promise.reject(new Error(long)), store: ok }, 2_000, (t) =>
      t.replaceAll(secret, "https://rpc.example.org/…"),
    );
    expect(r.checks.rpc).toMatch(/^server response 429/);
    // Cut first, the URL would be split past recognition and "KEY0123" left in.
    expect(r.checks.rpc).not.toContain("KEY0123");
  });

  it("gives up on a check that hangs", async () => {
    const hang = () => new Promise<void>(() => {});
    const r = await readiness({ homeserver: hang, rpc: ok, store: ok }, 50);
    expect(r).toEqual({ ready: false, checks: { homeserver: "no answer within 50 ms", rpc: "ok", store: "ok" } });
  });
});

describe("the ops endpoints", () => {
  it("/healthz answers, /readyz is 503 with the failing check and reuses its answer", async () => {
    let rpcCalls = 0;
    let rpcUp = false;
    const checks: ReadinessChecks = {
      homeserver: ok,
      store: ok,
      rpc: async () => {
        rpcCalls++;
        if (!rpcUp) throw new Error("RPC down");
      },
    };
    let clock = 0;
    const base = await serve(opsRouter({ checks, cacheMs: 2_000, now: () => clock }));
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: "ok" });
    const r1 = await fetch(`${base}/readyz`);
    expect(r1.status).toBe(503);
    expect(((await r1.json()) as { checks: { rpc: string } }).checks.rpc).toBe("RPC down");
    // A burst of probes costs the RPC one call.
    await Promise.all(Array.from({ length: 20 }, () => fetch(`${base}/readyz`)));
    expect(rpcCalls).toBe(1);
    rpcUp = true;
    clock = 1_000;
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    clock = 2_001;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(rpcCalls).toBe(2);
  });

  it("/metrics serves the bot's figures, with a bearer token when one is set", async () => {
    const m = new Metrics(sources(), { defaults: false });
    m.setRooms(["!a:x", "!b:x"]);
    m.reconciled("!a:x", 12);
    m.transaction("!a:x", "mined", 50_000n, 2n);
    m.transaction("!stranger:x", "failed");
    m.command("vote", "ok", 0.3);
    m.enforced("kick", 0.2);
    m.auditFlag("!b:x");
    const base = await serve(opsRouter({ checks: { homeserver: ok, rpc: ok, store: ok }, metrics: m, metricsToken: "s3cret" }));
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: "Bearer wrong!" } })).status).toBe(401);
    const res = await fetch(`${base}/metrics`, { headers: { authorization: "Bearer s3cret" } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain("conclave_rooms 3");
    expect(text).toContain('conclave_members{room="!a:x"} 12');
    expect(text).toContain("conclave_outbox_pending 1");
    expect(text).toContain('conclave_transactions_total{room="!a:x",outcome="mined"} 1');
    // A room the bot does not govern is not a label.
    expect(text).toContain('conclave_transactions_total{room="other",outcome="failed"} 1');
    expect(text).not.toContain("!stranger:x");
    expect(text).toContain('conclave_gas_used_total{room="!a:x"} 50000');
    expect(text).toContain('conclave_gas_spent_wei_total{room="!a:x"} 100000');
    expect(text).toContain("conclave_bot_balance_wei 500000000000000000");
    expect(text).toContain('conclave_command_seconds_count{command="vote",outcome="ok"} 1');
    expect(text).toContain('conclave_enforcement_seconds_bucket{le="0.25",action="kick"} 1');
    expect(text).toContain("conclave_sync_lag_seconds 2");
    expect(text).toContain('conclave_rotation_audit_flags_total{room="!b:x"} 1');
  });

  it("keeps the last value when a source fails, and drops rooms no longer governed", async () => {
    let fail = false;
    const m = new Metrics(sources({ rooms: async () => (fail ? Promise.reject(new Error("db down")) : 7) }), { defaults: false });
    expect((await m.text()).body).toContain("conclave_rooms 7");
    fail = true;
    await new Promise((r) => setTimeout(r, 10));
    // Within the cache the same answer; a failing read does not break the scrape.
    expect((await m.text()).body).toContain("conclave_rooms 7");
    m.reconciled("!gone:x", 4);
    m.setRooms(["!kept:x"]);
    expect((await m.text()).body).not.toContain("!gone:x");
  });
});
