/**
 * The bot's entry point, and the only place that reads the configuration
 * and wires the adapters together.
 *
 * usage: node src/main.ts --config FILE [--check]
 *        node src/main.ts --new-recovery-key
 */
import { dirname } from "node:path";
import { formatEther, JsonRpcProvider, Network, Wallet, ZeroAddress } from "ethers";
import { ConfigError, loadConfig, type Config } from "./config/load.ts";
import { privateFolder, SqliteStore } from "./store/sqlite.ts";
import { PostgresStore } from "./store/postgres.ts";
import { TxSender } from "./governance/tx.ts";
import { ChainClient } from "./governance/client.ts";
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
    d.kind === "release" ? feeDestination({ kind: "release", recipients: d.recipients.map((r) => ({ address: r.address, shareBps: r.share })) }) : feeDestination(d);
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
  if (config.store.url !== undefined) {
    try {
      // The encryption state stays a file beside store.path, in a folder of the bot's own.
      if (config.store.path !== ":memory:") privateFolder(dirname(config.store.path));
      store = await PostgresStore.open(config.store.url, config.store.password !== undefined ? { password: config.store.password } : {});
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
  // Wait for the chain rather than crash: it may be starting, or down for a while.
  // The chain id is asked of the endpoint whatever the config says, and must match it.
  const chainId = await waitForChain(config.chain.rpcUrl, config.chain.chainId, log);
  const provider = new JsonRpcProvider(config.chain.rpcUrl, Network.from(chainId), { staticNetwork: true, pollingInterval: config.chain.pollIntervalMs });
  const wallet = new Wallet(config.chain.privateKey, provider);
  const tx = new TxSender(wallet, store, { pollMs: Math.min(config.chain.pollIntervalMs, 1000), log });

  const serverName = config.homeserver.serverName ?? config.bot.userId.slice(config.bot.userId.indexOf(":") + 1);
  let audit: RotationAudit | undefined;
  const matrix = new MatrixAdapter({
    ...(config.store.path !== ":memory:" ? { cryptoFile: `${config.store.path}.crypto` } : {}),
    cryptoPassphrase: keys.cryptoPassphrase,
    tokenBox: keys,
    ...(config.acceptInvitesFrom === "creators" ? { mayInvite: (u: string) => isCreator(settings.creators, u) } : {}),
    baseUrl: config.homeserver.url,
    userId: config.bot.userId,
    ...(config.bot.password ? { password: config.bot.password } : {}),
    ...(config.bot.accessToken ? { accessToken: config.bot.accessToken } : {}),
    ...(config.bot.deviceName ? { deviceName: config.bot.deviceName } : {}),
    ...(recoveryKey ? { recoveryKey } : {}),
    onRoomKey: (k) => void audit?.noteKey(k).catch((e: unknown) => log.warn(`audit: recording a room key failed: ${(e as Error).message}`)),
    onDepartures: async (roomId, list) => audit?.noteDepartures(roomId, list),
    store,
    log,
  });
  // The Matrix credentials are checked before anything costs gas.
  const loginProblem = (e: unknown) => (e instanceof CredentialsRefused ? new StartupProblem(e.message) : e instanceof RateLimited ? { retryAfterMs: e.retryAfterMs } : undefined);
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
          (e) => (e instanceof DeploymentGone ? new StartupProblem(`chain: ${e.message} (remove factory:${chainId} from the store to deploy anew)`) : undefined),
        );
  const chain = new ChainClient(provider, factory, tx);
  // Transactions signed before a restart: the same bytes again, followed in
  // the background (a slow chain must not keep the bot from answering).
  void tx.resumePending().then(
    (done) => done.forEach((r) => log(`chain: resumed ${r.hash}: ${r.status}`)),
    (e: unknown) => log(`chain: resuming pending transactions failed, will retry on use: ${(e as Error).message}`),
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
    ...(config.web.publicUrl ? { webUrl: config.web.publicUrl } : {}),
    linkSalt: keys.linkSalt,
    botUserId: config.bot.userId,
  };
  audit = new RotationAudit({
    store,
    rooms: matrix,
    governed: async (roomId) => (await store.getBinding(roomId)) !== undefined,
    graceMs: config.audit.graceSeconds * 1000,
    redactByDefault: config.audit.redact,
    botUserId: config.bot.userId,
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
  const bot = new Bot({ rooms: matrix, store, chain, settings, log, spending, redact });
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
  });
  // New blocks as soon as the node has them, where it offers a WebSocket; polling goes on beside it.
  const heads = config.chain.wsUrl ? watchHeads(config.chain.wsUrl, () => bridge.wake(), log, redactedUrl(config.chain.wsUrl)) : undefined;
  const journal = new CommandJournal({
    store,
    reader: matrix,
    rooms: matrix,
    bot,
    limits: new CommandLimits({ perSenderPerMinute: config.limits.commandsPerMinutePerSender, perRoomPerMinute: config.limits.commandsPerMinutePerRoom }),
    prefix: settings.prefix,
    serverName,
    log,
    // A command may have changed the group: look at the room soon.
    onAnswered: (roomId) => void store.getBinding(roomId).then((b) => b && bridge.poke(roomId)),
    observe: async (e) => audit?.observe(e),
    requireCrossSigned: config.bot.requireCrossSignedDevices,
  });
  matrix.onSynced(() => journal.poke());
  matrix.onMembershipChange((roomId) => {
    void store.getBinding(roomId).then((b) => b && bridge.poke(roomId));
  });

  const shutdown = async (signal: string) => {
    log(`stopping (${signal})`);
    journal.stop();
    heads?.stop();
    await bridge.stop();
    await matrix.stop();
    provider.destroy();
    await store.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  try {
    await matrix.start();
  } catch (e) {
    if (e instanceof CredentialsRefused) stop(e.message);
    throw e;
  }
  journal.poke();
  bridge.start();
  // The journal keeps a week of handled commands (a sync never brings one back later than that).
  setInterval(() => void store.pruneInbound(Date.now() - 7 * 86_400_000).catch(() => undefined), 3_600_000).unref();
  log(`ready: ${config.bot.userId}, chain ${chainId}, factory ${factory}, bot address ${wallet.address}`);
}

main().catch((e: unknown) => {
  if (e instanceof StartupProblem) stop(e.message);
  console.error(redact(`conclave: failed to start: ${(e as Error).stack ?? String(e)}`));
  process.exit(1);
});
