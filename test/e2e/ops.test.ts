/**
 * What an operator watches, on the real bot with the real Synapse and chain:
 * /healthz, /readyz (the RPC cut and restored), /metrics after commands, a
 * relayed transaction and an enforced removal; the bot's log lines.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";

const root = join(import.meta.dirname, "../..");
let sys: System;
let alice: ChatUser, bob: ChatUser, carol: ChatUser;
let room: string;
let bot: string;
const secrets = mkdtempSync(join(tmpdir(), "conclave-ops-"));

const get = async (path: string, headers: Record<string, string> = {}) => fetch(`${sys.listenUrl}${path}`, { headers });
const metric = (text: string, line: RegExp) =>
  Number(
    text
      .split("\n")
      .find((l) => line.test(l))
      ?.split(" ")
      .at(-1) ?? NaN,
  );

beforeAll(async () => {
  quietConsole();
  // The metrics token as an operator gives it: a secret file.
  const tokenFile = join(secrets, "metrics-token");
  writeFileSync(tokenFile, "ops-test-token\n", { mode: 0o600 });
  sys = await startSystem({ root, users: ["alice", "bob", "carol"], extraConfig: `  metricsToken: { file: ${tokenFile} }\n` });
  ({ alice, bob, carol } = sys.users as Record<"alice" | "bob" | "carol", ChatUser>);
  bot = sys.botUserId;
  room = await groupRoom(alice, [bob, carol], bot);
  for (const u of [alice, bob, carol]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
  await createGroup(alice, [bob, carol], room, bot, "quorum=50%");
  for (const u of [alice, bob]) expect(await authorize(u, room, bot)).toMatch(/Authorised/);
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
  await sys?.stop();
  rmSync(secrets, { recursive: true, force: true });
}, 60_000);

describe("health and readiness", () => {
  it("says the process is up and ready, and not ready while the RPC is cut", async () => {
    const h = await get("/healthz");
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: "ok" });
    const r = await get("/readyz");
    expect(await r.json()).toEqual({ ready: true, checks: { homeserver: "ok", rpc: "ok", store: "ok" } });
    expect(r.status).toBe(200);
    await sys.rpcProxy.cut();
    try {
      // Readiness answers are reused for 2 s: wait them out.
      let down: { ready: boolean; checks: Record<string, string> } | undefined;
      for (let i = 0; i < 40 && !down; i++) {
        const res = await get("/readyz");
        const body = (await res.json()) as { ready: boolean; checks: Record<string, string> };
        if (res.status === 503) down = body;
        else await new Promise((r) => setTimeout(r, 250));
      }
      expect(down?.ready).toBe(false);
      expect(down?.checks.rpc).not.toBe("ok");
      expect(down?.checks.homeserver).toBe("ok");
      // The process itself is still up.
      expect((await get("/healthz")).status).toBe(200);
    } finally {
      await sys.rpcProxy.restore();
    }
    let back = 0;
    for (let i = 0; i < 40 && back !== 200; i++) {
      back = (await get("/readyz")).status;
      if (back !== 200) await new Promise((r) => setTimeout(r, 250));
    }
    expect(back).toBe(200);
  });
});

describe("metrics", () => {
  it("need the bearer token, and count commands, transactions and an enforced removal", async () => {
    expect((await get("/metrics")).status).toBe(401);
    expect(await alice.ask(room, "!status", bot)).toMatch(/members/i);
    expect(await alice.ask(room, "!propose remove @carol:localhost", bot)).toMatch(/Proposal #1/);
    expect(await alice.ask(room, "!vote 1 yes", bot)).toMatch(/FOR 1/);
    expect(await bob.ask(room, "!vote 1 yes", bot)).toMatch(/passed and was executed/);
    await alice.until("carol removed", () =>
      ["ban", "leave"].includes(alice.client.getRoom(room)?.getMember(carol.userId)?.membership ?? "") ? true : undefined,
    );
    // The figures are read at scrape time: poll until the removal is in them.
    let text = "";
    for (let i = 0; i < 40; i++) {
      const res = await get("/metrics", { authorization: "Bearer ops-test-token" });
      expect(res.status).toBe(200);
      text = await res.text();
      if (/conclave_enforcement_seconds_count\{action="(ban|kick)"\} [1-9]/.test(text)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(metric(text, /^conclave_rooms /)).toBe(1);
    expect(metric(text, new RegExp(`^conclave_members\\{room="${room.replace(/[.$]/g, "\\$&")}"\\}`))).toBeGreaterThanOrEqual(2);
    expect(metric(text, /^conclave_command_seconds_count\{command="status",outcome="ok"\}/)).toBeGreaterThanOrEqual(1);
    expect(metric(text, /^conclave_command_seconds_count\{command="vote",outcome="ok"\}/)).toBe(2);
    // The proposal, the votes and the execution: mined, counted for the room, with their gas.
    expect(metric(text, new RegExp(`^conclave_transactions_total\\{room="${room.replace(/[.$]/g, "\\$&")}",outcome="mined"\\}`))).toBeGreaterThanOrEqual(3);
    expect(metric(text, new RegExp(`^conclave_gas_used_total\\{room="${room.replace(/[.$]/g, "\\$&")}"\\}`))).toBeGreaterThan(100_000);
    expect(metric(text, /^conclave_enforcement_seconds_count\{action="(ban|kick)"\}/)).toBeGreaterThanOrEqual(1);
    expect(metric(text, /^conclave_bot_balance_wei /)).toBeGreaterThan(0);
    expect(metric(text, /^conclave_sync_lag_seconds /)).toBeLessThan(90);
    expect(metric(text, /^conclave_outbox_pending /)).toBeGreaterThanOrEqual(0);
    expect(text).toContain("conclave_process_resident_memory_bytes");
  });
});
