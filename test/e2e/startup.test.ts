/**
 * Start-up that says what is wrong, with the real bot process against a
 * real Synapse and a real chain: what is down is waited for, what is wrong
 * stops start-up with one line, the Matrix login is checked before any gas
 * is spent, `chain.factory: deploy` deploys once whatever the crashes, and
 * `--check` reaches everything without sending anything.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { randomBytes, randomInt } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HDNodeWallet, Interface, JsonRpcProvider } from "ethers";
import { ensureSynapse, startSynapse, type SynapseHandle } from "../../scripts/synapse.ts";
import { freePort, startChain, type ChainHandle } from "../../scripts/chain.ts";
import { startProxy, type Proxy } from "../../scripts/proxy.ts";
import { lineReader } from "../../scripts/harness.ts";
import { FACTORY_ABI } from "../../src/governance/contracts.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";

const root = join(import.meta.dirname, "../..");
const PASSWORD = "conclave-bot-password";
let synapse: SynapseHandle;
let chain: ChainHandle;
let rpc: Proxy;
let provider: JsonRpcProvider;
let adminToken: string;

/** A funded development account of its own for each test (the well-known mnemonic of Hardhat and anvil). */
function account(i: number): HDNodeWallet {
  return HDNodeWallet.fromPhrase("test test test test test test test test test test test junk", undefined, `m/44'/60'/0'/0/${i}`);
}

interface Run {
  /** each line as people read it (JSON log lines as `time [level ]msg`) */
  lines: string[];
  /** each line as the bot wrote it */
  raw: string[];
  /** stderr alone: where the one line of a stopped start-up goes */
  errors: string[];
  code: Promise<number | null>;
  waitFor(re: RegExp, ms?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** The real bot process on `config`. */
function bot(config: string, env: Record<string, string> = {}, args: string[] = []): Run {
  const dir = mkdtempSync(join(tmpdir(), "conclave-startup-"));
  const file = join(dir, "config.yaml");
  writeFileSync(file, config.replaceAll("@STORE_PATH@", join(dir, "data", "conclave.sqlite")));
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", join(root, "src/main.ts"), "--config", file, ...args], {
    cwd: root,
    env: { ...process.env, CONCLAVE_BOT_PASSWORD: PASSWORD, CONCLAVE_STORE_SECRET: randomBytes(32).toString("hex"), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const raw: string[] = [];
  const errors: string[] = [];
  const waiters = new Set<() => void>();
  // Every line in `lines`, in order; stderr's in `errors` too.
  const on = (isError: boolean) =>
    lineReader(
      (l, r) => {
        lines.push(l);
        raw.push(r);
        if (isError) errors.push(l);
      },
      () => [...waiters].forEach((w) => w()),
    );
  child.stdout.on("data", on(false));
  child.stderr.on("data", on(true));
  const code = new Promise<number | null>((r) =>
    child.once("exit", (c) => {
      r(c);
      [...waiters].forEach((w) => w());
    }),
  );
  return {
    lines,
    raw,
    errors,
    code,
    waitFor: (re, ms = 60_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find((l) => re.test(l));
          if (hit !== undefined) {
            done(() => resolve(hit));
            return;
          }
          if (child.exitCode !== null) done(() => reject(new Error(`the bot exited (${child.exitCode}) before ${re}:\n${lines.join("\n")}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`timed out waiting for ${re}:\n${lines.join("\n")}`))), ms);
        const done = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      }),
    async kill(signal = "SIGTERM") {
      if (child.exitCode === null) {
        child.kill(signal);
        await code;
      }
    },
  };
}

/** A config for the bot; the store goes in a folder of its own (@STORE_PATH@). */
function config(o: { key: number; rpcUrl?: string; chainId?: number; factory?: string; homeserver?: string; botSection?: string; extra?: string }): {
  yaml: string;
  env: Record<string, string>;
} {
  const yaml = `homeserver:
  url: ${o.homeserver ?? synapse.baseUrl}
bot:
  userId: "@conclave:localhost"
  password: { env: CONCLAVE_BOT_PASSWORD }
${o.botSection ?? ""}
chain:
  rpcUrl: ${o.rpcUrl ?? rpc.url}
${o.chainId !== undefined ? `  chainId: ${o.chainId}\n` : ""}  factory: "${o.factory ?? chain.factory}"
  privateKey: { env: CONCLAVE_CHAIN_KEY }
  pollIntervalMs: 200
  confirmations: 0
store:
  path: "@STORE_PATH@"
  secret: { env: CONCLAVE_STORE_SECRET }
${o.extra ?? ""}
`;
  return { yaml, env: { CONCLAVE_CHAIN_KEY: account(o.key).privateKey } };
}

/** The bot account's devices, from Synapse's admin API. */
async function botDevices(): Promise<string[]> {
  const res = await fetch(`${synapse.baseUrl}/_synapse/admin/v2/users/${encodeURIComponent("@conclave:localhost")}/devices`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  return ((await res.json()) as { devices: { device_id: string }[] }).devices.map((d) => d.device_id).sort();
}

beforeAll(async () => {
  await ensureSynapse(root);
  synapse = await startSynapse({ root });
  chain = await startChain({ root });
  // An RPC URL with an API key in its path, as providers give (the gateway forwards to the node's root).
  rpc = await startProxy(Number(new URL(chain.rpcUrl).port), { gateway: true });
  provider = new JsonRpcProvider(chain.rpcUrl, chain.chainId, { staticNetwork: true });
  await synapse.registerUser("conclave", PASSWORD);
  adminToken = (await synapse.registerUser("admin", "admin-password", true)).accessToken;
}, 300_000);

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first */
  provider?.destroy();
  await rpc?.stop();
  await chain?.stop();
  await synapse?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
}, 60_000);

describe("start-up", () => {
  it("waits for an RPC endpoint that is down, also with chain.chainId set, and starts when it is back", async () => {
    await rpc.cut();
    const port = await freePort();
    const c = config({ key: 5, chainId: chain.chainId, extra: `log:\n  level: debug\nweb:\n  port: ${port}\n  bind: 127.0.0.1` });
    const run = bot(c.yaml, c.env);
    try {
      await run.waitFor(/warn chain: waiting for http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); retrying in 1000 ms/);
      // While it waits, probes are answered: up, and not ready.
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ ready: false, checks: { homeserver: "starting", rpc: "starting", store: "starting" } });
    } finally {
      await rpc.restore();
    }
    try {
      await run.waitFor(/ready: @conclave:localhost, chain 31337/, 120_000);
      // log.level debug lets the Matrix SDK's own lines through (they carry no time of ours).
      expect(run.lines.some((l) => !/^\d{4}-\d\d-\d\dT/.test(l))).toBe(true);
      expect(run.lines.some((l) => /failed to start/.test(l))).toBe(false);
      // Written as JSON lines (stdout is no terminal: log.format auto), with the fields read from each sentence.
      const json = run.raw.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(json.find((j) => String(j["msg"]).startsWith("chain: waiting for"))).toMatchObject({
        level: "warn",
        component: "chain",
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/) as unknown,
      });
      expect(json.find((j) => String(j["msg"]).startsWith("ready:"))).toMatchObject({ level: "info", component: "ready" });
      // Started, its own listener has the port: ready.
      let status = 0;
      for (let i = 0; i < 40 && status !== 200; i++) {
        status = (await fetch(`http://127.0.0.1:${port}/readyz`)).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 250));
      }
      expect(status).toBe(200);
    } finally {
      await run.kill();
    }
  });

  it("stops with one line naming both chain ids when they differ", async () => {
    const c = config({ key: 5, chainId: 100 });
    const run = bot(c.yaml, c.env);
    expect(await run.code).toBe(2);
    expect(run.errors).toEqual([
      `chain: chain.chainId is 100, but ${rpc.url} serves chain ${chain.chainId}: point chain.rpcUrl at chain 100, or set chain.chainId to ${chain.chainId}`,
    ]);
  });

  it("stops with a line saying the password is wrong, before spending any gas (chain.factory: deploy)", async () => {
    const c = config({ key: 6, factory: "deploy" });
    const run = bot(c.yaml, { ...c.env, CONCLAVE_BOT_PASSWORD: "not-the-password" });
    expect(await run.code).toBe(2);
    expect(run.errors).toEqual([
      "matrix: the homeserver refused the password of @conclave:localhost (M_FORBIDDEN: Invalid username or password): check bot.password and bot.userId",
    ]);
    expect(run.lines.some((l) => /not reachable|deploying/.test(l))).toBe(false);
    expect(await provider.getTransactionCount(account(6).address)).toBe(0);
  });

  it("stops with a line saying the access token is unknown", async () => {
    const c = config({ key: 6, botSection: "  accessToken: { env: CONCLAVE_BOT_TOKEN }" });
    const run = bot(c.yaml.replace("  password: { env: CONCLAVE_BOT_PASSWORD }\n", ""), { ...c.env, CONCLAVE_BOT_TOKEN: "syt_not_a_token" });
    expect(await run.code).toBe(2);
    expect(run.errors).toEqual([
      "matrix: the homeserver does not know bot.accessToken (M_UNKNOWN_TOKEN): give a token of a current session of @conclave:localhost, or a password",
    ]);
  });

  it("deploys the factory once across crashes and restarts (chain.factory: deploy), with its token minimum", async () => {
    const token = "0x6B175474E89094C44Da98b954EedeAC495271d0F";
    const c = config({ key: 7, factory: "deploy", extra: `safety:\n  minTokenFees:\n    "${token}": "2"` });
    const key = account(7);
    // One store for every run: what a crash leaves is what the next start finds.
    const dir = mkdtempSync(join(tmpdir(), "conclave-deploy-"));
    const yaml = c.yaml.replaceAll("@STORE_PATH@", join(dir, "conclave.sqlite"));
    const seed = randomInt(1_000_000);
    let rand = seed;
    const next = () => (rand = (rand * 48271) % 2147483647) / 2147483647;
    // Killed at random moments of the deployment (the seed is printed).
    for (let crash = 0; crash < 3; crash++) {
      const run = bot(yaml, c.env);
      await run.waitFor(/deploying|factory 0x[0-9a-fA-F]{40} deployed|ready:/, 120_000);
      await new Promise((r) => setTimeout(r, next() * 1500));
      await run.kill("SIGKILL");
    }
    const run = bot(yaml, c.env);
    const ready = await run.waitFor(/ready: /, 120_000);
    await run.kill();
    const factory = /factory (0x[0-9a-fA-F]{40})/.exec(ready)![1]!;
    // Three creations and one minimum: four transactions, whatever the crashes.
    expect(await provider.getTransactionCount(key.address), `seed ${seed}`).toBe(4);
    expect(await provider.getCode(factory)).not.toBe("0x");
    const f = new Interface(FACTORY_ABI);
    const [known, amount] = f.decodeFunctionResult("minFee", await provider.call({ to: factory, data: f.encodeFunctionData("minFee", [token]) }));
    expect([known, amount]).toEqual([true, 2n * 10n ** 18n]);
    // The address was recorded: the next start uses it and sends nothing.
    const again = bot(yaml, c.env);
    expect(await again.waitFor(/ready: /, 120_000)).toContain(`factory ${factory}`);
    await again.kill();
    expect(await provider.getTransactionCount(key.address)).toBe(4);
    const store = new SqliteStore(join(dir, "conclave.sqlite"));
    expect(await store.getState(`factory:${chain.chainId}`)).toBe(factory);
    await store.close();
  }, 300_000);

  it("--check: exit 0 when everything answers, without logging in or sending anything", async () => {
    const c = config({ key: 8, chainId: chain.chainId, extra: `log:\n  level: warn` });
    const devices = await botDevices();
    const run = bot(c.yaml, c.env, ["--check"]);
    expect(await run.code).toBe(0);
    expect(run.errors).toEqual([]);
    expect(run.lines.at(-1)).toMatch(/^check: ok: /);
    expect(run.lines.some((l) => /bot\.password not checked: only a login could check it/.test(l))).toBe(true);
    expect(await botDevices()).toEqual(devices);
    expect(await provider.getTransactionCount(account(8).address)).toBe(0);
  });

  it("--check: one line per problem, exit 1", async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const c = config({ key: 8, homeserver: down, rpcUrl: `${rpc.url}/v3/SECRETKEY`, chainId: 100, factory: "0x000000000000000000000000000000000000dEaD" });
    const run = bot(c.yaml, c.env, ["--check"]);
    expect(await run.code).toBe(1);
    expect(run.errors.sort()).toEqual([
      `check: chain: chain.chainId is 100, but ${rpc.url}/… serves chain ${chain.chainId}: point chain.rpcUrl at chain 100, or set chain.chainId to ${chain.chainId}`,
      `check: chain: chain.factory 0x000000000000000000000000000000000000dEaD has no code on chain ${chain.chainId}`,
      `check: homeserver: ${down} not reachable (ECONNREFUSED)`,
    ]);
    expect(run.lines.join("\n")).not.toContain("SECRETKEY");
  });

  it("log.level: warn writes warnings only, error nothing while it waits", async () => {
    await rpc.cut();
    try {
      const warn = bot(config({ key: 5, extra: "log:\n  level: warn" }).yaml, config({ key: 5 }).env);
      await warn.waitFor(/warn chain: waiting for/);
      await warn.kill();
      expect(warn.lines.filter((l) => !/^\S+ warn /.test(l))).toEqual([]);
      const quiet = bot(config({ key: 5, extra: "log:\n  level: error" }).yaml, config({ key: 5 }).env);
      await new Promise((r) => setTimeout(r, 4000));
      await quiet.kill();
      expect(quiet.lines).toEqual([]);
    } finally {
      await rpc.restore();
    }
  });
});
