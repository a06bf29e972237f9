// The whole system, for the end-to-end tests and the demo: a real Synapse, a
// real chain and the real bot process, plus registered users.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureSynapse, startSynapse, type AppService, type SynapseHandle } from "./synapse.ts";
import { freePort, startChain, type ChainHandle } from "./chain.ts";
import { ChatUser } from "./chat.ts";
import { startProxy, type Proxy } from "./proxy.ts";
import { Wallet } from "ethers";
import { plainLine } from "../src/log.ts";
import { newRecoveryKey } from "../src/matrix/cross-signing.ts";

export interface BotProcess {
  /** every line the bot printed */
  lines: string[];
  /** the bot's process id (undefined once it could not start) */
  pid: number | undefined;
  waitFor(re: RegExp, ms?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface System {
  synapse: SynapseHandle;
  /** the bot reaches the chain through this proxy (cut it to take the RPC away) */
  rpcProxy: Proxy;
  /** stops Synapse, keeping its database */
  stopSynapse(): Promise<void>;
  /** starts Synapse again on the same port and database */
  startSynapse(): Promise<void>;
  chain: ChainHandle;
  bot: BotProcess;
  /** every worker process (`workers` > 1: the first is `bot`), by index */
  workers: BotProcess[];
  /** the worker names (`worker.id`) of `workers`, by index */
  workerNames: string[];
  /** starts worker `i` again on its own store path and config; `meanwhile` runs while it is stopped */
  restartWorker(i: number, meanwhile?: () => void | Promise<void>): Promise<void>;
  /** every line every bot process of this system printed, restarts included */
  botLines: string[];
  /** the bot's web page, when started with `web` */
  webUrl?: string;
  /** the bot's listener: /healthz, /readyz, /metrics (and the page with `web`) */
  listenUrl: string;
  botUserId: string;
  configPath: string;
  /** the bot's SQLite store (its folder holds the bot's data only) */
  storePath: string;
  /** the bot's recovery key (bot.recoveryKey) */
  recoveryKey: string;
  dir: string;
  users: Record<string, ChatUser>;
  /** starts the bot again on the same store and config; `meanwhile` runs while it is stopped */
  restartBot(meanwhile?: () => void | Promise<void>): Promise<void>;
  /** how many transactions the bot's key has had mined (its nonce at the latest block) */
  botNonce(): Promise<number>;
  stop(): Promise<void>;
}

export interface SystemOptions {
  root: string;
  users: string[];
  /** extra YAML appended to the bot's config */
  extraConfig?: string;
  /** extra YAML lines of the config's bot section (indented by two spaces) */
  botSection?: string;
  /** chain.confirmations of the bot (default 0) */
  confirmations?: number;
  /** bridge.fullPassSeconds of the bot (default 2, so tests see keeper work soon) */
  fullPassSeconds?: number;
  /** the bot's limits (default: far above what a test sends, except where it tests them) */
  limits?: Limits;
  /** fixed ports (the demo) */
  synapsePort?: number;
  chainPort?: number;
  dir?: string;
  /** application services for Synapse (see StartSynapseOptions) */
  appServices?: AppService[];
  /** a path (with a query) appended to the bot's RPC URL, e.g. an API key the logs must never show */
  rpcPath?: string;
  /** chain.lowBalance of the bot (coin units) */
  lowBalance?: string;
  /** store.url of the bot: a PostgreSQL database instead of the SQLite file */
  storeUrl?: string;
  /**
   * bot processes on that one database (default 1): each a worker with a
   * name of its own (w1, w2…), its own store.path (its crypto state) and config
   */
  workers?: number;
  /** wallets to give users (a random one otherwise) */
  wallets?: Record<string, Wallet>;
  /** serve the bot's web page on a free loopback port (or on `webPort`) */
  web?: boolean;
  webPort?: number;
  log?: (line: string) => void;
}

const BOT_PASSWORD = "conclave-bot-password";

export interface Limits {
  commandsPerMinutePerSender?: number;
  commandsPerMinutePerRoom?: number;
  gasPerRoomPerDay?: number;
}

export function botConfig(
  s: {
    baseUrl: string;
    serverName: string;
    rpcUrl: string;
    /** the node's WebSocket endpoint, for new blocks as they come */
    wsUrl?: string;
    factory: string;
    storePath: string;
    storeUrl?: string;
    confirmations?: number;
    fullPassSeconds?: number;
    limits?: Limits;
    lowBalance?: string;
    /** the bot's user name (default conclave) */
    botName?: string;
    /** bot.recoveryKey from CONCLAVE_RECOVERY_KEY (default true) */
    recoveryKey?: boolean;
    /** extra lines of the bot section */
    botSection?: string;
  },
  extra = "",
): string {
  return `homeserver:
  url: ${s.baseUrl}
  serverName: ${s.serverName}
bot:
  userId: "@${s.botName ?? "conclave"}:${s.serverName}"
  password: { env: CONCLAVE_BOT_PASSWORD }
  deviceName: Conclave bot${s.recoveryKey === false ? "" : "\n  recoveryKey: { env: CONCLAVE_RECOVERY_KEY }"}${s.botSection ? `\n${s.botSection}` : ""}
chain:
  rpcUrl: ${s.rpcUrl}${s.wsUrl ? `\n  wsUrl: ${s.wsUrl}` : ""}
  confirmations: ${s.confirmations ?? 0}
  factory: "${s.factory}"
  privateKey: { env: CONCLAVE_CHAIN_KEY }
  pollIntervalMs: 200
  lowBalance: "${s.lowBalance ?? "0.05"}"
store:
  path: ${s.storePath}
  secret: { env: CONCLAVE_STORE_SECRET }${s.storeUrl ? `\n  url: ${s.storeUrl}` : ""}
groupDefaults:
  quorum:
    default: 50%
  votingPeriod: 3d
safety:
  minAddQuorum: 20%
bridge:
  fullPassSeconds: ${s.fullPassSeconds ?? 2}
limits:
  commandsPerMinutePerSender: ${s.limits?.commandsPerMinutePerSender ?? 1000}
  commandsPerMinutePerRoom: ${s.limits?.commandsPerMinutePerRoom ?? 10000}
  gasPerRoomPerDay: ${s.limits?.gasPerRoomPerDay ?? 1_000_000_000}
${extra}`;
}

/**
 * Reads a process's output a line at a time (a chunk of a pipe may stop in
 * the middle of one), each JSON log line as the sentence people read
 * (`plainLine`); `raw` gets each line as written.
 */
export function lineReader(onLine: (line: string, raw: string) => void, after?: () => void): (d: Buffer) => void {
  let rest = "";
  return (d: Buffer) => {
    const parts = (rest + d.toString()).split("\n");
    rest = parts.pop() ?? "";
    for (const raw of parts) if (raw.trim()) onLine(plainLine(raw), raw);
    after?.();
  };
}

export function startBot(root: string, configPath: string, env: Record<string, string>, log?: (l: string) => void, all?: string[], prefix = "bot"): BotProcess {
  const child: ChildProcess = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", join(root, "src/main.ts"), "--config", configPath], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const onLine = (l: string) => {
    lines.push(l);
    all?.push(l);
    log?.(`${prefix}| ${l}`);
  };
  const wake = () => [...waiters].forEach((w) => w());
  child.stdout!.on("data", lineReader(onLine, wake));
  child.stderr!.on("data", lineReader(onLine, wake));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    pid: child.pid,
    lines,
    waitFor(re: RegExp, ms = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = lines.find((l) => re.test(l));
          if (hit !== undefined) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(hit);
          } else if (child.exitCode !== null) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`the bot exited (${child.exitCode}) before ${re}:\n${lines.slice(-20).join("\n")}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${re} in the bot's output:\n${lines.slice(-20).join("\n")}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null) {
        child.kill(signal);
        const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}

export async function startSystem(o: SystemOptions): Promise<System> {
  // CONCLAVE_E2E_LOG=FILE keeps every line the bot prints, for debugging a test.
  const logFile = process.env.CONCLAVE_E2E_LOG;
  if (logFile && !o.log) o = { ...o, log: (l: string) => appendFileSync(logFile, `${l}\n`) };
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), "conclave-system-"));
  await ensureSynapse(o.root);
  // Synapse keeps its database in the system's dir, so it can be restarted.
  const synapseDir = join(dir, "synapse");
  const appServices = o.appServices ? { appServices: o.appServices } : {};
  let synapse = await startSynapse({ root: o.root, dir: synapseDir, ...(o.synapsePort ? { port: o.synapsePort } : {}), ...appServices });
  const synapsePort = Number(new URL(synapse.baseUrl).port);
  let chain: ChainHandle | undefined;
  try {
    chain = await startChain({ root: o.root, ...(o.chainPort ? { port: o.chainPort } : {}), ...(o.log ? { log: o.log } : {}) });
    const rpcProxy = await startProxy(Number(new URL(chain.rpcUrl).port), { gateway: o.rpcPath !== undefined });
    const botReg = await synapse.registerUser("conclave", BOT_PASSWORD);
    const configPath = join(dir, "config.yaml");
    const storePath = join(dir, "bot", "conclave.sqlite");
    const botLines: string[] = [];
    // The bot's listener (health, readiness, metrics) always on a port of its own; the page with `web`.
    const webPort = o.webPort ?? (await freePort());
    const listenUrl = `http://127.0.0.1:${webPort}`;
    const webUrl = o.web ? listenUrl : undefined;
    const webConfig = (port: number) => `web:\n  port: ${port}\n  bind: 127.0.0.1\n${webUrl ? `  publicUrl: ${webUrl}\n` : ""}`;
    const writeConfig = (path: string, store: string, port: number, extra = "") =>
      writeFileSync(
        path,
        botConfig(
          {
            baseUrl: synapse.baseUrl,
            serverName: synapse.serverName,
            rpcUrl: `${rpcProxy.url}${o.rpcPath ?? ""}`,
            wsUrl: chain!.rpcUrl.replace(/^http/, "ws"),
            factory: chain!.factory,
            storePath: store,
            ...(o.confirmations !== undefined ? { confirmations: o.confirmations } : {}),
            ...(o.fullPassSeconds !== undefined ? { fullPassSeconds: o.fullPassSeconds } : {}),
            ...(o.limits ? { limits: o.limits } : {}),
            ...(o.lowBalance ? { lowBalance: o.lowBalance } : {}),
            ...(o.storeUrl ? { storeUrl: o.storeUrl } : {}),
            ...(o.botSection ? { botSection: o.botSection } : {}),
          },
          `${webConfig(port)}${o.extraConfig ?? ""}${extra}`,
        ),
      );
    writeConfig(configPath, storePath, webPort);
    // Several workers: the same bot, each with a name, a crypto state, a listener port and so a config of its own.
    const count = o.workers ?? 1;
    if (count > 1 && !o.storeUrl) throw new Error("several workers need a PostgreSQL store (storeUrl)");
    const workerNames = count > 1 ? Array.from({ length: count }, (_, i) => `w${i + 1}`) : [];
    const workerConfigs = count > 1 ? workerNames.map((name) => join(dir, `config-${name}.yaml`)) : [configPath];
    for (const [i, name] of workerNames.entries())
      writeConfig(workerConfigs[i]!, join(dir, `bot-${name}`, "conclave.sqlite"), i === 0 ? webPort : await freePort(), `\nworker:\n  id: ${name}\n`);
    const recoveryKey = newRecoveryKey();
    const env = {
      CONCLAVE_BOT_PASSWORD: BOT_PASSWORD,
      CONCLAVE_CHAIN_KEY: chain.botKey,
      CONCLAVE_STORE_SECRET: randomBytes(32).toString("hex"),
      CONCLAVE_RECOVERY_KEY: recoveryKey,
    };
    const launch = (i: number) => startBot(o.root, workerConfigs[i]!, env, o.log, botLines, workerNames[i] ?? "bot");
    const workers = workerConfigs.map((_, i) => launch(i));
    const sys: System = {
      synapse,
      rpcProxy,
      async stopSynapse() {
        await sys.synapse.stop();
      },
      async startSynapse() {
        synapse = await startSynapse({ root: o.root, dir: synapseDir, port: synapsePort, ...appServices });
        sys.synapse = synapse;
      },
      chain,
      bot: workers[0]!,
      workers,
      workerNames,
      async restartWorker(i: number, meanwhile?: () => void | Promise<void>) {
        await sys.workers[i]!.stop();
        await meanwhile?.();
        sys.workers[i] = launch(i);
        if (i === 0) sys.bot = sys.workers[0]!;
        await sys.workers[i].waitFor(/ready:/, 120_000);
      },
      botLines,
      ...(webUrl ? { webUrl } : {}),
      listenUrl,
      botUserId: botReg.userId,
      configPath,
      storePath,
      recoveryKey,
      dir,
      users: {},
      async botNonce() {
        const res = await fetch(chain!.rpcUrl, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_getTransactionCount", params: [new Wallet(chain!.botKey).address, "latest"] }),
        });
        return Number(((await res.json()) as { result: string }).result);
      },
      async restartBot(meanwhile?: () => void | Promise<void>) {
        await sys.restartWorker(0, meanwhile);
      },
      async stop() {
        for (const u of Object.values(sys.users)) u.stop();
        await Promise.all(sys.workers.map((w) => w.stop()));
        await rpcProxy.stop();
        await chain!.stop();
        await sys.synapse.stop();
        if (!o.dir) rmSync(dir, { recursive: true, force: true });
      },
    };
    await Promise.all(sys.workers.map((w) => w.waitFor(/ready:/, 120_000)));
    for (const name of o.users) {
      const reg = await synapse.registerUser(name, `${name}-password`);
      sys.users[name] = await ChatUser.login(synapse.baseUrl, reg, o.wallets?.[name]);
    }
    return sys;
  } catch (e) {
    await chain?.stop();
    await synapse.stop();
    throw e;
  }
}
