/**
 * The bot's entry point, and the only place that reads the configuration
 * and wires the adapters together.
 *
 * usage: node src/main.ts --config FILE [--check]
 *        node src/main.ts --new-recovery-key
 */
import { dirname } from "node:path";
import { formatEther, Network, Wallet, ZeroAddress } from "ethers";
import { ConfigError, loadConfig, type Config } from "./config/load.ts";
import { privateFolder, SqliteStore } from "./store/sqlite.ts";
import { PostgresStore } from "./store/postgres.ts";
import { defaultWorkerName, deviceStore, Worker } from "./ops/workers.ts";
import { TxSender } from "./governance/tx.ts";
import { ChainClient, RPC_OPTIONS, RpcProvider } from "./governance/client.ts";
import { DeploymentGone, deployFactoryOnce } from "./governance/deploy.ts";
import { watchHeads } from "./governance/heads.ts";
import { Mode, type FeeDestination, type GroupSettings } from "./governance/types.ts";
import { feeDestination } from "./governance/encoding.ts";
import { MatrixAdapter, quietSdkLogs } from "./matrix/adapter.ts";
import { CredentialsRefused, RateLimited } from "./matrix/login.ts";
import { newRecoveryKey, parseRecoveryKey } from "./matrix/cross-signing.ts";
import { RotationAudit } from "./bridge/rotation-audit.ts";
import { StartupProblem, untilDone, waitForChain } from "./startup.ts";
import { checkConfig, storeExists } from "./check.ts";
import { createLog } from "./log.ts";
import { CommandJournal } from "./bot/journal.ts";
import { CommandLimits } from "./bot/limits.ts";
import { Spending } from "./bot/spending.ts";
import { isCreator } from "./bot/guards.ts";
import { storeKeys } from "./store/secret.ts";
import { redactedUrl, urlRedactor } from "./text/redact.ts";
import { Bot } from "./bot/bot.ts";
import { Bridge } from "./bridge/bridge.ts";
import { BotWeb } from "./bot/web.ts";
import { Polls } from "./bot/polls.ts";
import { OpsServer, WebServer } from "./web/server.ts";
import { openIdChecker } from "./web/openid.ts";
import { loadPage } from "./web/assets.ts";
import { opsRouter, startingRouter } from "./web/health.ts";
import { Metrics } from "./ops/metrics.ts";
import type { BotSettings } from "./bot/context.ts";
import type { Store } from "./store/store.ts";

quietSdkLogs();

const MODES = { vote: Mode.Vote, admin: Mode.Admin, external: Mode.External } as const;

/** Takes secrets out of what is logged (RPC URLs carry API keys); set once the config is read. */
let redact: (text: string) => string = (t) => t;

/** The bot's log; its level and redaction are set once the config is read. */
const log = createLog({ level: "info" });

/** Stops start-up with one line saying what is wrong. */
function stop(line: string, code = 2): never {
  console.error(redact(line));
  process.exit(code);
}

function defaults(c: Config): { settings: Omit<GroupSettings, "linker">; destination: FeeDestination } {
  const g = c.groupDefaults;
  const settings: Omit<GroupSettings, "linker"> = {
    config: {
      defaultQuorumBps: g.quorum.default,
      addQuorumBps: g.quorum.add,
      removeQuorumBps: g.quorum.remove,
      configQuorumBps: g.quorum.config,
      feeDestinationQuorumBps: g.quorum.feeDestination,
      customQuorumBps: g.quorum.custom,
      votingPeriod: g.votingPeriod,
      period: g.period,
      gracePeriod: g.gracePeriod,
      mode: MODES[g.mode],
      customCallsAllowed: g.customCallsAllowed,
      maxOpenProposals: g.maxOpenProposals,
      fee: g.fee,
      feeToken: g.feeToken,
    },
    controller: ZeroAddress,
    admins: [],
  };
  const d = g.feeDestination;
  const destination =
    d.kind === "release"
      ? feeDestination({ kind: "release", recipients: d.recipients.map((r) => ({ address: r.address, shareBps: r.share })) })
      : feeDestination(d);
  return { settings, destination };
}

async function main(): Promise<void> {
  if (process.argv.includes("--new-recovery-key")) {
    // Printed once, for the operator to keep as a secret (bot.recoveryKey); the bot never writes it down.
    process.stdout.write(`${newRecoveryKey()}\n`);
    return;
  }
  const i = process.argv.indexOf("--config");
  const path = i >= 0 ? process.argv[i + 1] : undefined;
  if (!path) {
    console.error("usage: npm start -- --config FILE [--check]   (see config/example.yaml)\n       npm start -- --new-recovery-key");
    process.exit(2);
  }
  let config: Config;
  try {
    const loaded = loadConfig(path);
    config = loaded.config;
    for (const w of loaded.warnings) log.warn(`config: warning: ${w}`);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }

  redact = urlRedactor([config.chain.rpcUrl, ...(config.chain.wsUrl ? [config.chain.wsUrl] : [])]);
  log.setRedact(redact);
  log.setLevel(config.log.level);
  log.setFormat(config.log.format);
  quietSdkLogs(config.log.level === "debug");
  let recoveryKey: Uint8Array<ArrayBuffer> | undefined;
  if (config.bot.recoveryKey !== undefined) {
    try {
      recoveryKey = parseRecoveryKey(config.bot.recoveryKey);
    } catch (e) {
      stop(`config: bot.recoveryKey: ${(e as Error).message}`);
    }
  }

  if (process.argv.includes("--check")) {
    const openStore = async (): Promise<Store | undefined> => {
      if (!storeExists(config)) return undefined;
      return config.store.url !== undefined
        ? PostgresStore.open(config.store.url, config.store.password !== undefined ? { password: config.store.password } : {})
        : new SqliteStore(config.store.path);
    };
    const { problems, notes } = await checkConfig(config, { openStore, ...(recoveryKey ? { recoveryKey } : {}) });
    for (const n of notes) process.stdout.write(`check: note: ${redact(n)}\n`);
    for (const p of problems) console.error(`check: ${redact(p)}`);
    process.stdout.write(problems.length === 0 ? `check: ok: ${config.homeserver.url} and the chain answer, nothing was sent\n` : "");
    process.exit(problems.length === 0 ? 0 : 1);
  }

  let store: Store;
  let pg: PostgresStore | undefined;
  if (config.store.url !== undefined) {
    try {
      // The encryption state stays a file beside store.path, in a folder of the bot's own.
      if (config.store.path !== ":memory:") privateFolder(dirname(config.store.path));
      store = pg = await PostgresStore.open(config.store.url, config.store.password !== undefined ? { password: config.store.password } : {});
    } catch (e) {
      console.error(`store: cannot open the PostgreSQL store at ${config.store.url}: ${(e as Error).message}`);
      process.exit(2);
    }
  } else {
    try {
      store = new SqliteStore(config.store.path);
    } catch (e) {
      console.error(`store: cannot open ${config.store.path} in a private folder (0700): ${(e as Error).message}; point store.path into a folder the bot owns`);
      process.exit(2);
    }
  }
  const keys = storeKeys(config.store.secret);
  // Probes get answers from here on: /healthz 200 (the process is up),
  // /readyz 503 until the bot's own listener takes the port at the end of
  // start-up (waiting for the chain, the first sync and the rooms' leases
  // can take a while, and a liveness probe must not kill the bot for it).
  const early = new OpsServer({ ops: startingRouter(), port: config.web.port, bind: config.web.bind });
  await early.start().catch((e: unknown) => log.warn(`web: cannot listen on ${config.web.bind}:${config.web.port} yet (${(e as Error).message})`));
  // Wait for the chain rather than crash: it may be starting, or down for a while.
  // The chain id is asked of the endpoint whatever the config says, and must match it.
  const chainId = await waitForChain(config.chain.rpcUrl, config.chain.chainId, log);
  const provider = new RpcProvider(config.chain.rpcUrl, Network.from(chainId), {
    staticNetwork: true,
    pollingInterval: config.chain.pollIntervalMs,
    // No answer cache, no wait before sending (see RPC_OPTIONS).
    ...RPC_OPTIONS,
  });
  const wallet = new Wallet(config.chain.privateKey, provider);
  // What operators watch (Prometheus, /metrics); sources read at scrape time.
  let lastSync = -Infinity;
  // With several workers, each reports the rooms it holds (summed over the
  // workers, each room once); set once the worker exists.
  let holds: (roomId: string) => boolean = () => true;
  const metrics = new Metrics({
    rooms: async () => {
      const bound = (await store.listBindings()).filter((b) => holds(b.roomId));
      // Only governed rooms are labels; a room no longer governed leaves the figures.
      metrics.setRooms(bound.map((b) => b.roomId));
      return bound.length;
    },
    outboxPending: async () => (await store.listOutbox("pending")).length,
    balance: () => provider.getBalance(wallet.address),
    syncLagSeconds: () => (performance.now() - lastSync) / 1000,
  });
  const roomOfGroup = async (to: string | null) => (to ? (await store.getBindingByGroup(to))?.roomId : undefined);
  const tx = new TxSender(wallet, store, {
    pollMs: Math.min(config.chain.pollIntervalMs, 1000),
    log,
    ...(config.chain.maxFeePerGas !== undefined ? { maxFeePerGas: config.chain.maxFeePerGas } : {}),
    onOutcome: (o) =>
      void roomOfGroup(o.to).then(
        (room) => metrics.transaction(room, o.status, o.gasUsed, o.gasPrice),
        () => undefined,
      ),
  });
  const serverName = config.homeserver.serverName ?? config.bot.userId.slice(config.bot.userId.indexOf(":") + 1);
  // On PostgreSQL the rooms are shared out among the workers of the bot (src/ops/workers.ts).
  const workerName = config.worker.id ?? defaultWorkerName();
  if (pg) log.setBase({ worker: workerName });
  const worker: Worker | undefined = pg
    ? new Worker({
        leases: pg.leases(),
        finishFenced: (id, fence) => pg.finishOutboxFenced(id, fence),
        name: workerName,
        rooms: async (): Promise<string[]> => [...new Set([...(await store.listBindings()).map((b) => b.roomId), ...matrix.joinedRooms()])],
        // Rooms taken on: their unanswered commands and their decisions, now.
        onGained: (gained) => {
          for (const r of gained) bridge.poke(r);
          bridge.wake();
          journal.poke();
        },
        log,
      })
    : undefined;
  if (worker) holds = (roomId) => worker.owns(roomId);
  // Set once, below: the callbacks created before then see undefined until it is (a const would throw there).
  // eslint-disable-next-line prefer-const -- see above
  let audit: RotationAudit | undefined;
  const matrix: MatrixAdapter = new MatrixAdapter({
    ...(config.store.path !== ":memory:" ? { cryptoFile: `${config.store.path}.crypto` } : {}),
    cryptoPassphrase: keys.cryptoPassphrase,
    tokenBox: keys,
    ...(config.acceptInvitesFrom === "creators" ? { mayInvite: (u: string) => isCreator(settings.creators, u) } : {}),
    // The room that replaces a group's room after an upgrade, whoever invites the bot there.
    mayFollow: async (roomId: string, predecessor: string | undefined): Promise<boolean> => {
      if ((await store.getState(`follow:${roomId}`)) !== undefined) return true;
      if (predecessor === undefined || !(await store.getBinding(predecessor))) return false;
      return (await matrix.rules(predecessor)).tombstone?.replacement === roomId;
    },
    baseUrl: config.homeserver.url,
    userId: config.bot.userId,
    ...(config.bot.password ? { password: config.bot.password } : {}),
    ...(config.bot.accessToken ? { accessToken: config.bot.accessToken } : {}),
    ...(config.bot.deviceName ? { deviceName: config.bot.deviceName } : {}),
    ...(recoveryKey ? { recoveryKey } : {}),
    onRoomKey: (k) => void audit?.noteKey(k).catch((e: unknown) => log.warn(`audit: recording a room key failed: ${(e as Error).message}`)),
    onDepartures: async (roomId, list) => audit?.noteDepartures(roomId, list),
    // Each worker is a device of its own: its device state under its name.
    store: worker ? deviceStore(store, workerName) : store,
    log,
  });
  // The Matrix credentials are checked before anything costs gas.
  const loginProblem = (e: unknown) =>
    e instanceof CredentialsRefused ? new StartupProblem(e.message) : e instanceof RateLimited ? { retryAfterMs: e.retryAfterMs } : undefined;
  await untilDone(`matrix: ${config.homeserver.url} not reachable`, () => matrix.login(), log, loginProblem);

  const factory =
    config.chain.factory !== "deploy"
      ? config.chain.factory
      : await untilDone(
          "chain: deploying the factory",
          () =>
            deployFactoryOnce({
              tx,
              provider,
              store,
              chainId,
              minimums: { minAddQuorumBps: config.safety.minAddQuorum, minNativeFee: config.safety.minFee },
              tokenMinimums: config.safety.minTokenFees,
              log,
            }),
          log,
          (e) =>
            e instanceof DeploymentGone ? new StartupProblem(`chain: ${e.message} (remove factory:${chainId} from the store to deploy anew)`) : undefined,
        );
  const chain = new ChainClient(provider, factory, tx);
  // Transactions signed before a restart: the same bytes again, followed in
  // the background (a slow chain must not keep the bot from answering).
  void tx.resumePending().then(
    (done) => done.forEach((r) => log(`chain: resumed ${r.hash}: ${r.status}`)),
    (e: unknown) => log.warn(`chain: resuming pending transactions failed, will retry on use: ${(e as Error).message}`),
  );

  const d = defaults(config);
  const settings: BotSettings = {
    prefix: config.commandPrefix,
    serverName,
    // By default, the users of the bot's own homeserver.
    creators: config.creators ?? [`*:${serverName}`],
    defaults: d.settings,
    defaultDestination: d.destination,
    feeDecimals: config.groupDefaults.feeDecimals,
    linkTtlMs: 60 * 60 * 1000,
    authorizationDays: config.bot.authorizationDays,
    ...(config.web.publicUrl ? { webUrl: config.web.publicUrl.replace(/\/+$/, ""), webLinkMs: config.web.linkMinutes * 60_000 } : {}),
    linkSalt: keys.linkSalt,
    botUserId: config.bot.userId,
    consentWindowMs: config.rooms.consentWindow * 1000,
    adoptionGraceMs: config.rooms.adoptionGrace * 1000,
    startIn: config.rooms.startIn,
  };
  audit = new RotationAudit({
    store,
    rooms: matrix,
    governed: async (roomId) => (await store.getBinding(roomId)) !== undefined,
    graceMs: config.audit.graceSeconds * 1000,
    redactByDefault: config.audit.redact,
    botUserId: config.bot.userId,
    onFlag: (roomId) => metrics.auditFlag(roomId),
    log,
  });
  const spending = new Spending({
    store,
    funds: {
      balance: () => provider.getBalance(wallet.address),
      gasUsed: async (hash) => (await provider.getTransactionReceipt(hash))?.gasUsed,
    },
    gasPerRoomPerDay: BigInt(config.limits.gasPerRoomPerDay),
    lowBalance: config.chain.lowBalance,
    formatBalance: (wei) => `${formatEther(wei)} (native coin)`,
    botAddress: wallet.address,
    log,
  });
  // The bridge is made after the bot; the bot waits for its pass over a new group's room.
  let settle: (roomId: string) => Promise<void> = async () => {};
  const bot = new Bot({
    rooms: matrix,
    store,
    chain,
    settings,
    log,
    spending,
    redact,
    settle: (roomId) => settle(roomId),
    observe: (name, outcome, seconds) => metrics.command(name, outcome, seconds),
  });
  const bridge = new Bridge({
    store,
    chain,
    rooms: matrix,
    botUserId: config.bot.userId,
    confirmations: config.chain.confirmations,
    pollMs: config.chain.pollIntervalMs,
    fullPassMs: config.bridge.fullPassSeconds * 1000,
    log,
    // The chain's clock decides lapses (a test chain may run ahead of the wall clock).
    now: async () => (await provider.getBlock("latest"))?.timestamp ?? Math.floor(Date.now() / 1000),
    adoptionGraceMs: config.rooms.adoptionGrace * 1000,
    adoptionReminderMs: config.rooms.adoptionReminder * 1000,
    prefix: settings.prefix,
    observe: {
      reconciled: (roomId, members) => metrics.reconciled(roomId, members),
      enforced: (kind, seconds) => metrics.enforced(kind, seconds),
    },
    ...(worker ? { share: worker } : {}),
  });
  // New blocks as soon as the node has them, where it offers a WebSocket; polling goes on beside it.
  const heads = config.chain.wsUrl ? watchHeads(config.chain.wsUrl, () => bridge.wake(), log, redactedUrl(config.chain.wsUrl)) : undefined;
  settle = (roomId) => bridge.settle(roomId);
  // Each proposal as a poll in its room; answers are votes.
  const polls = new Polls({
    store,
    chain,
    room: matrix,
    reader: matrix,
    bot,
    botUserId: config.bot.userId,
    prefix: settings.prefix,
    ...(settings.webUrl ? { webUrl: settings.webUrl } : {}),
    log,
    ...(worker ? { share: worker } : {}),
  });
  const journal = new CommandJournal({
    polls,
    store,
    reader: matrix,
    rooms: matrix,
    bot,
    limits: new CommandLimits({ perSenderPerMinute: config.limits.commandsPerMinutePerSender, perRoomPerMinute: config.limits.commandsPerMinutePerRoom }),
    prefix: settings.prefix,
    serverName,
    log,
    // A command may have changed the group: look at the room soon.
    onAnswered: (roomId) => {
      void store.getBinding(roomId).then((b) => b && bridge.poke(roomId));
      void polls.tick();
    },
    observe: async (e) => audit.observe(e),
    requireCrossSigned: config.bot.requireCrossSignedDevices,
    ...(worker ? { share: worker } : {}),
  });
  matrix.onSynced(() => {
    lastSync = performance.now();
    journal.poke();
  });
  matrix.onMembershipChange((roomId) => {
    void store.getBinding(roomId).then((b) => b && bridge.poke(roomId));
  });
  // A loosened rule is set back at once, not at the next full pass.
  matrix.onRulesChange((roomId) => {
    void store.getBinding(roomId).then((b) => b && bridge.poke(roomId));
  });

  // Health, readiness and metrics on the bot's listener, with or without the page.
  const ops = opsRouter({
    checks: {
      homeserver: async () => {
        const lag = (performance.now() - lastSync) / 1000;
        // A sync answers at least every 30 s (its long-poll timeout).
        if (!(lag < 90)) throw new Error(Number.isFinite(lag) ? `no sync response for ${Math.round(lag)} s` : "not synced yet");
      },
      rpc: async () => {
        await provider.getBlockNumber();
      },
      store: () => store.setState("ready:probe", String(Date.now())),
    },
    ...(config.web.metrics ? { metrics } : {}),
    metricsToken: config.web.metricsToken,
    redact: (t) => redact(t),
  });
  // The page, when it has a public URL to be reached at.
  const web = config.web.publicUrl
    ? new WebServer({
        ops,
        actions: new BotWeb({ bot, store, chain, rooms: matrix, log }),
        openid: openIdChecker({ [serverName]: config.homeserver.url, ...config.web.openidHomeservers }, log),
        assets: await loadPage().then(
          (p) => {
            if (!p.prebuilt) log("web: the page was bundled at start-up (npm run build:page bundles it ahead)");
            return p.assets;
          },
          (e: unknown) => {
            log(`web: the page did not build, serving its API only: ${(e as Error).message}`);
            return undefined;
          },
        ),
        port: config.web.port,
        bind: config.web.bind,
        readsPerMinute: config.web.requestsPerMinute,
        actionsPerMinute: config.web.actionsPerMinute,
        log,
      })
    : new OpsServer({ ops, port: config.web.port, bind: config.web.bind });

  const shutdown = async (signal: string) => {
    log(`stopping (${signal})`);
    await web.stop();
    journal.stop();
    heads?.stop();
    await bridge.stop();
    // The rooms pass to the other workers at their next round.
    await worker?.stop().catch((e: unknown) => log(`workers: giving the rooms up failed, they pass on when the leases end: ${(e as Error).message}`));
    await matrix.stop();
    provider.destroy();
    await store.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  try {
    await worker?.awaitNamesakes();
  } catch (e) {
    stop(`workers: ${(e as Error).message}`);
  }
  try {
    await matrix.start();
  } catch (e) {
    if (e instanceof CredentialsRefused) stop(e.message);
    throw e;
  }
  // Started means synced: the first sync is done (the next may be a 30 s long poll away).
  lastSync = performance.now();
  await worker?.start();
  {
    // Every pending transaction is followed until it is mined, also past a
    // command's wait: its fees are raised if it is stuck, so that no later
    // nonce waits behind it. (A worker that died between recording a
    // transaction and sending it would leave every later nonce waiting: any
    // worker sends it again.)
    let resuming = false;
    setInterval(() => {
      if (resuming) return;
      resuming = true;
      void tx
        .resumePending(10_000)
        .catch((e: unknown) => log(`chain: following pending transactions: ${(e as Error).message}`))
        .finally(() => (resuming = false));
    }, 15_000).unref();
  }
  journal.poke();
  bridge.start();
  setInterval(() => void polls.tick(), Math.max(1000, config.chain.pollIntervalMs * 5)).unref();
  try {
    await early.stop();
    const port = await web.start();
    log(
      config.web.publicUrl
        ? `web: the page is at ${config.web.publicUrl} (listening on ${config.web.bind}:${port}; /healthz, /readyz${config.web.metrics ? ", /metrics" : ""})`
        : `web: /healthz, /readyz${config.web.metrics ? ", /metrics" : ""} on ${config.web.bind}:${port} (no page: web.publicUrl is not set)`,
    );
  } catch (e) {
    log.error(`web: cannot listen on ${config.web.bind}:${config.web.port} (${(e as Error).message}); the bot runs without its page and health endpoints`);
  }
  // The journal keeps a week of handled commands (a sync never brings one back later than that).
  setInterval(() => void store.pruneInbound(Date.now() - 7 * 86_400_000).catch(() => undefined), 3_600_000).unref();
  log(
    `ready: ${config.bot.userId}, chain ${chainId}, factory ${factory}, bot address ${wallet.address}${worker ? `, worker ${worker.holder} serving ${worker.owned().length} room(s)` : ""}`,
  );
}

// An error nothing caught still ends the process (its state is not known;
// the journal and the outbox make a restart safe), but its text is redacted
// first: ethers' errors quote the RPC URL, API key and all.
for (const event of ["uncaughtException", "unhandledRejection"] as const)
  process.on(event, (e: unknown) => {
    console.error(
      redact(`conclave: ${event === "uncaughtException" ? "uncaught error" : "unhandled rejection"}: ${(e as Error | undefined)?.stack ?? String(e)}`),
    );
    process.exit(1);
  });

main().catch((e: unknown) => {
  if (e instanceof StartupProblem) stop(e.message);
  console.error(redact(`conclave: failed to start: ${(e as Error).stack ?? String(e)}`));
  process.exit(1);
});
