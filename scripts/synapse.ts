// A real Synapse homeserver for end-to-end tests and the demo.
//
// `ensureSynapse(root)` installs a pinned matrix-synapse into `<root>/.venv`
// (once; a stamp file makes later calls return at once). `startSynapse(...)`
// writes a throwaway config (SQLite, one client listener on 127.0.0.1, no
// federation listener, every rate limit raised very high), starts the server
// in its own process group and waits until the client API answers.
//
// Nothing is left running: `stop()` kills the whole process group, `stopAll()`
// runs on process exit / SIGINT / SIGTERM, and Synapse itself watches its
// stdin pipe, so it also goes away when this Node process is killed outright.
//
// usage (demo): node scripts/synapse.ts   # starts one, prints its URL, Ctrl-C stops
import { spawn, type ChildProcess } from "node:child_process";
import { createHmac, generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";

export const SYNAPSE_VERSION = "1.163.2";

const STAMP = ".conclave-synapse-stamp";
const LOCK = ".conclave-synapse-lock";
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;

function progress(line: string): void {
  process.stderr.write(`conclave: ${line}\n`);
}

// ---------------------------------------------------------------------------
// Installation
// ---------------------------------------------------------------------------

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs a command without stdin, collecting stdout and stderr together. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });
    let output = "";
    const collect = (d: Buffer): void => {
      output += d.toString();
      // Keep memory bounded; only the tail matters for error messages.
      if (output.length > 200_000) output = output.slice(-100_000);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.on("error", reject);
    child.on("close", (code, signal) => resolvePromise({ code, signal, output }));
  });
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function readStamp(venv: string): string | undefined {
  try {
    return readFileSync(join(venv, STAMP), "utf8").trim();
  } catch {
    return undefined;
  }
}

function venvPython(venv: string): string {
  return join(venv, "bin", "python");
}

function isReady(venv: string): boolean {
  return readStamp(venv) === SYNAPSE_VERSION && existsSync(venvPython(venv));
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes an exclusive lock (a directory, created atomically) so that two
 * processes (e.g. two vitest workers) never install into the same venv at
 * once. A lock left by a dead process is taken over.
 */
async function withInstallLock<T>(venv: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(venv, LOCK);
  const owner = join(lock, "pid");
  let announced = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(owner, String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let pid = Number.NaN;
      try {
        pid = Number(readFileSync(owner, "utf8"));
      } catch {
        // The owner may not have written its pid yet; give it a moment,
        // unless the lock is old (its owner died between mkdir and write).
        try {
          if (Date.now() - statSync(lock).mtimeMs < 10_000) pid = -1;
        } catch {
          continue; // lock vanished; retry at once
        }
      }
      if (pid !== -1 && !(Number.isInteger(pid) && pid > 0 && pidAlive(pid))) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!announced) {
        progress(`waiting for another process installing Synapse into ${venv}`);
        announced = true;
      }
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * Makes sure `<root>/.venv` holds matrix-synapse==SYNAPSE_VERSION and returns
 * the venv's python. Fast (a stamp check) when it is already there.
 */
export async function ensureSynapse(root: string): Promise<string> {
  const venv = join(resolve(root), ".venv");
  const python = venvPython(venv);
  if (isReady(venv)) return python;

  mkdirSync(venv, { recursive: true });
  return withInstallLock(venv, async () => {
    // Another process may have finished the install while we waited.
    if (isReady(venv)) return python;
    const started = Date.now();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PIP_NO_INPUT: "1",
      PIP_DISABLE_PIP_VERSION_CHECK: "1",
    };

    if (!existsSync(python)) {
      const base = process.env["CONCLAVE_PYTHON"] ?? "python3";
      progress(`creating Python virtualenv in ${venv} (${base} -m venv)`);
      let res: RunResult;
      try {
        res = await run(base, ["-m", "venv", venv], env);
      } catch (err) {
        throw new Error(`conclave: cannot run ${base} (set CONCLAVE_PYTHON to a Python >= 3.10): ${String(err)}`, { cause: err });
      }
      if (res.code !== 0) {
        throw new Error(`conclave: "${base} -m venv ${venv}" failed (exit ${res.code}):\n${tail(res.output)}`);
      }
    }

    progress(`installing matrix-synapse==${SYNAPSE_VERSION} into ${venv} (takes a while the first time)`);
    const res = await run(python, ["-m", "pip", "install", "--no-input", "--progress-bar", "off", `matrix-synapse==${SYNAPSE_VERSION}`], env);
    if (res.code !== 0) {
      throw new Error(`conclave: pip install matrix-synapse==${SYNAPSE_VERSION} failed (exit ${res.code ?? res.signal}):\n${tail(res.output)}`);
    }
    writeFileSync(join(venv, STAMP), `${SYNAPSE_VERSION}\n`);
    progress(`Synapse ${SYNAPSE_VERSION} installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return python;
  });
}

// ---------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------

export interface RegisteredUser {
  userId: string;
  accessToken: string;
  deviceId: string;
}

export interface SynapseHandle {
  baseUrl: string;
  serverName: string;
  dir: string;
  registerUser(localpart: string, password: string, admin?: boolean): Promise<RegisteredUser>;
  stop(): Promise<void>;
}

export interface StartSynapseOptions {
  /** Project root; the venv is `<root>/.venv` (see ensureSynapse). */
  root: string;
  /** Where config, database, media and logs go; a fresh temp dir (removed by stop) by default. */
  dir?: string;
  /** Client listener port on 127.0.0.1; a free one by default. */
  port?: number;
  /** Defaults to "localhost" (user ids like @alice:localhost). */
  serverName?: string;
  /** Receives Synapse's stdout/stderr lines (little: the real log is `<dir>/homeserver.log`). */
  log?: (line: string) => void;
  /**
   * Application services to register (no URL: nothing is pushed to them).
   * Their requests may set `?ts=`, so a test can send events whose
   * `origin_server_ts` lies, as a homeserver could.
   */
  appServices?: AppService[];
}

export interface AppService {
  id: string;
  /** the token the service authenticates with */
  asToken: string;
  /** its own user, @<senderLocalpart>:<server> */
  senderLocalpart: string;
}

/** Error from the Matrix / admin API, with the HTTP status and Matrix errcode. */
export class MatrixApiError extends Error {
  readonly status: number;
  readonly errcode: string | undefined;
  constructor(message: string, status: number, errcode: string | undefined) {
    super(message);
    this.name = "MatrixApiError";
    this.status = status;
    this.errcode = errcode;
  }
}

/** A port that was free on 127.0.0.1 a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === "object") resolvePromise(addr.port);
        else reject(new Error("conclave: could not find a free port"));
      });
    });
  });
}

/** Unpadded standard base64, as Synapse / signedjson write keys. */
function unpaddedBase64(buf: Buffer): string {
  return buf.toString("base64").replace(/=+$/, "");
}

/** A signing key file in Synapse's format: "ed25519 a_XXXX <seed base64>". */
function signingKeyFile(): string {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  if (!jwk.d) throw new Error("conclave: ed25519 key export failed");
  const seed = Buffer.from(jwk.d, "base64url");
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  const version = "a_" + Array.from(randomBytes(4), (b) => alphabet[b % alphabet.length]).join("");
  return `ed25519 ${version} ${unpaddedBase64(seed)}\n`;
}

/** Rate limits far above anything a test does. */
const HIGH = { per_second: 100_000, burst_count: 1_000_000 };

/**
 * Every rate limiter Synapse 1.163 reads (synapse/config/ratelimiting.py),
 * including the ones not in the documented sample config.
 */
function rateLimits(): Record<string, unknown> {
  return {
    rc_message: HIGH,
    rc_registration: HIGH,
    rc_registration_token_validity: HIGH,
    rc_login: { address: HIGH, account: HIGH, failed_attempts: HIGH },
    rc_admin_redaction: HIGH,
    rc_joins: { local: HIGH, remote: HIGH },
    rc_joins_per_room: HIGH,
    rc_key_requests: HIGH,
    rc_3pid_validation: HIGH,
    rc_invites: { per_room: HIGH, per_user: HIGH, per_issuer: HIGH },
    rc_third_party_invite: HIGH,
    rc_media_create: HIGH,
    rc_presence: { per_user: HIGH },
    rc_delayed_event_mgmt: HIGH,
    rc_room_creation: HIGH,
    rc_reports: HIGH,
    rc_user_directory: HIGH,
    rc_profile: HIGH,
    // Federation uses a different shape; there is no federation listener,
    // but keep outgoing/incoming limits out of the way too.
    rc_federation: { window_size: 1000, sleep_limit: 100_000, sleep_delay: 1, reject_limit: 1_000_000, concurrent: 1000 },
    federation_rr_transactions_per_room_per_second: 100_000,
    remote_media_download_per_second: "1G",
    remote_media_download_burst_count: "10G",
  };
}

function writeConfig(dir: string, port: number, serverName: string, sharedSecret: string, appServices: AppService[] = []): string {
  const logFile = join(dir, "homeserver.log");
  const logConfig = join(dir, "log.config.yaml");
  writeFileSync(
    logConfig,
    stringify({
      version: 1,
      formatters: { precise: { format: "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(message)s" } },
      handlers: {
        file: { class: "logging.FileHandler", formatter: "precise", filename: logFile, encoding: "utf8" },
      },
      root: { level: "WARNING", handlers: ["file"] },
      disable_existing_loggers: false,
    }),
  );

  const signingKey = join(dir, `${serverName}.signing.key`);
  if (!existsSync(signingKey)) writeFileSync(signingKey, signingKeyFile(), { mode: 0o600 });

  const registrations = appServices.map((a) => {
    const file = join(dir, `appservice-${a.id}.yaml`);
    writeFileSync(
      file,
      stringify({
        id: a.id,
        url: null,
        as_token: a.asToken,
        hs_token: randomBytes(16).toString("hex"),
        sender_localpart: a.senderLocalpart,
        namespaces: { users: [], rooms: [], aliases: [] },
        rate_limited: false,
      }),
    );
    return file;
  });
  const config = {
    server_name: serverName,
    ...(registrations.length > 0 ? { app_service_config_files: registrations } : {}),
    public_baseurl: `http://127.0.0.1:${port}/`,
    pid_file: join(dir, "homeserver.pid"),
    listeners: [
      {
        port,
        bind_addresses: ["127.0.0.1"],
        type: "http",
        tls: false,
        x_forwarded: false,
        // "openid": widgets prove who their user is at /_matrix/federation/v1/openid/userinfo.
        resources: [{ names: ["client", "openid"], compress: false }],
      },
    ],
    database: { name: "sqlite3", args: { database: join(dir, "homeserver.db") } },
    log_config: logConfig,
    media_store_path: join(dir, "media_store"),
    signing_key_path: signingKey,
    registration_shared_secret: sharedSecret,
    macaroon_secret_key: randomBytes(32).toString("hex"),
    form_secret: randomBytes(32).toString("hex"),
    enable_registration: false,
    report_stats: false,
    trusted_key_servers: [],
    suppress_key_server_warning: true,
    // Test server: cheap password hashing makes registration/login fast.
    bcrypt_rounds: 4,
    ...rateLimits(),
  };
  const path = join(dir, "homeserver.yaml");
  writeFileSync(path, `# Generated by scripts/synapse.ts\n${stringify(config)}`);
  return path;
}

// Runs Synapse exactly as `python -m synapse.app.homeserver -c <config>`, plus
// a watchdog thread: when our end of its stdin pipe closes (this Node process
// exited, however abruptly), it terminates its own process group.
const LAUNCHER = `
import os, runpy, signal, sys, threading, time
def _watch():
    # Raw fd reads: a buffered stdin read would abort interpreter shutdown.
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    os.killpg(0, signal.SIGTERM)
    time.sleep(${STOP_GRACE_MS / 1000})
    os.killpg(0, signal.SIGKILL)
threading.Thread(target=_watch, daemon=True).start()
sys.argv = ["synapse.app.homeserver", "-c", sys.argv[1]]
runpy.run_module("synapse.app.homeserver", run_name="__main__", alter_sys=True)
`;

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  stop: () => Promise<void>;
  killNow: () => void;
}

const running = new Set<Running>();

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function readTail(path: string, lines = 40): string {
  try {
    return tail(readFileSync(path, "utf8"), lines);
  } catch {
    return "(no log file)";
  }
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/** The chosen port was taken before Synapse could bind it. */
class PortTakenError extends Error {}

async function startOnce(opts: StartSynapseOptions, python: string, port: number, autoPort: boolean): Promise<SynapseHandle> {
  const serverName = opts.serverName ?? "localhost";
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "conclave-synapse-"));
  mkdirSync(dir, { recursive: true });
  const sharedSecret = randomBytes(32).toString("hex");
  const configPath = writeConfig(dir, port, serverName, sharedSecret, opts.appServices);
  const logFile = join(dir, "homeserver.log");
  const baseUrl = `http://127.0.0.1:${port}`;

  const child = spawn(python, ["-c", LAUNCHER, configPath], {
    cwd: dir,
    detached: true, // own process group: stop() kills it all
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1" },
  });
  // Neither the child nor its pipes keep this process alive.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void }).unref?.();
  child.stdin.on("error", () => {});

  let stdio = "";
  let pending = "";
  const onData = (d: Buffer): void => {
    const text = d.toString();
    stdio = (stdio + text).slice(-20_000);
    pending += text;
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) opts.log?.(line);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);

  let exitInfo: string | undefined;
  const exited = new Promise<void>((resolvePromise) => {
    const done = (code: number | null, signal: NodeJS.Signals | null): void => {
      exitInfo ??= signal ? `signal ${signal}` : `exit code ${code}`;
      resolvePromise();
    };
    child.on("exit", done);
    child.on("error", (err) => {
      exitInfo ??= `spawn error: ${err.message}`;
      resolvePromise();
    });
  });

  let stopping: Promise<void> | undefined;
  const entry: Running = {
    child,
    exited,
    killNow: () => signalGroup(child, "SIGKILL"),
    stop: () => {
      stopping ??= (async () => {
        if (exitInfo === undefined) {
          signalGroup(child, "SIGTERM");
          const timer = sleep(STOP_GRACE_MS).then(() => "timeout" as const);
          if ((await Promise.race([exited.then(() => "exited" as const), timer])) === "timeout") {
            signalGroup(child, "SIGKILL");
            await exited;
          }
        }
        // Children the launcher may have left behind (none expected).
        signalGroup(child, "SIGKILL");
        child.stdin.destroy();
        running.delete(entry);
        if (ownDir) rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  running.add(entry);

  const failure = (why: string): Error =>
    new Error(
      `conclave: Synapse on ${baseUrl} ${why}.\n` +
        `config: ${configPath}\n` +
        `--- stdout/stderr (tail) ---\n${tail(stdio) || "(empty)"}\n` +
        `--- ${logFile} (tail) ---\n${readTail(logFile)}`,
    );

  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exitInfo !== undefined) {
      const err = failure(`exited during startup (${exitInfo})`);
      running.delete(entry);
      if (autoPort && /Address already in use/.test(err.message)) {
        if (ownDir) rmSync(dir, { recursive: true, force: true });
        throw new PortTakenError(err.message);
      }
      throw err;
    }
    if (await answers(`${baseUrl}/_matrix/client/versions`)) break;
    if (Date.now() > deadline) {
      const err = failure(`did not answer /_matrix/client/versions within ${START_TIMEOUT_MS / 1000} s`);
      signalGroup(child, "SIGKILL");
      await exited;
      running.delete(entry);
      throw err;
    }
    await sleep(100);
  }

  async function registerUser(localpart: string, password: string, admin = false): Promise<RegisteredUser> {
    const url = `${baseUrl}/_synapse/admin/v1/register`;
    const fail = async (what: string, res: Response): Promise<never> => {
      let body: { errcode?: string; error?: string } = {};
      const text = await res.text();
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        body = { error: text };
      }
      throw new MatrixApiError(
        `registerUser(${JSON.stringify(localpart)}): ${what} failed: HTTP ${res.status}` +
          `${body.errcode ? ` ${body.errcode}` : ""}: ${body.error ?? "(no message)"}`,
        res.status,
        body.errcode,
      );
    };
    const nonceRes = await fetch(url);
    if (!nonceRes.ok) await fail("GET nonce", nonceRes);
    const { nonce } = (await nonceRes.json()) as { nonce: string };
    const mac = createHmac("sha1", sharedSecret)
      .update(nonce)
      .update("\0")
      .update(localpart)
      .update("\0")
      .update(password)
      .update("\0")
      .update(admin ? "admin" : "notadmin")
      .digest("hex");
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ nonce, username: localpart, password, admin, mac }),
    });
    if (!res.ok) await fail("register", res);
    const body = (await res.json()) as { user_id: string; access_token: string; device_id: string };
    return { userId: body.user_id, accessToken: body.access_token, deviceId: body.device_id };
  }

  return { baseUrl, serverName, dir, registerUser, stop: entry.stop };
}

/**
 * Starts a Synapse from `<root>/.venv` (call ensureSynapse first) and resolves
 * once its client API answers.
 */
export async function startSynapse(opts: StartSynapseOptions): Promise<SynapseHandle> {
  const root = resolve(opts.root);
  const venv = join(root, ".venv");
  if (!isReady(venv)) {
    throw new Error(`conclave: Synapse ${SYNAPSE_VERSION} is not installed in ${venv}; call ensureSynapse(root) first`);
  }
  installExitHooks();
  const python = venvPython(venv);
  if (opts.port !== undefined) return startOnce(opts, python, opts.port, false);
  // A free port can be taken between our probe and Synapse's bind; retry then.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, python, await freePort(), true);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof PortTakenError)) throw err;
    }
  }
}

/** Stops every Synapse this process started. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((r) => r.stop()));
}

let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // 'exit' handlers must be synchronous: no time for a graceful stop.
  process.on("exit", () => {
    for (const r of running) r.killNow();
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    const handler = (): void => {
      process.removeListener(sig, handler);
      // A second signal while we wait falls through to the default action.
      void stopAll().finally(() => {
        // Re-raise so the process still ends the way the signal asked, unless
        // someone else handles it.
        if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
      });
    };
    process.on(sig, handler);
  }
}

// ---------------------------------------------------------------------------
// Demo: `node scripts/synapse.ts` starts one and keeps it running.
// ---------------------------------------------------------------------------

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(fileURLToPath(new URL("..", import.meta.url)));
  await ensureSynapse(root);
  const t0 = Date.now();
  const hs = await startSynapse({ root, log: (l) => progress(`synapse: ${l}`) });
  progress(`Synapse ${SYNAPSE_VERSION} for ${hs.serverName} at ${hs.baseUrl} (started in ${Date.now() - t0} ms, dir ${hs.dir}); Ctrl-C stops it`);
  setInterval(() => {}, 1 << 30);
}
