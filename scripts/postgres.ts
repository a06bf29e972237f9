// A throwaway PostgreSQL server for the store tests, as scripts/synapse.ts is
// for Synapse: `initdb` into a fresh temporary directory, the server on a
// free loopback port (and a unix socket in that directory), `stop()` ends it
// and removes the directory.
//
// initdb and postgres refuse to run as root. Run as root (CI, the developers'
// machines), the server runs as the `postgres` system user that Debian's
// package creates (Node's spawn `uid`/`gid`, no su or sudo); otherwise as the
// current user.
//
// Nothing is left running: the server runs under a small shell that reads
// its stdin pipe from this process. When that pipe closes (stop(), or this
// process died however abruptly) the shell asks the server for a fast
// shutdown, waits for it, and removes the data directory. The whole process
// group is killed on process exit as a last resort.
//
// Authentication is `trust` for local connections: the server is private to
// one test run, bound to 127.0.0.1, and gone when the run ends.
//
// usage (by hand): node scripts/postgres.ts   # starts one, prints its URL, Ctrl-C stops
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { freePort } from "./chain.ts";

/** The database superuser the harness creates; tests connect as it. */
export const PG_USER = "conclave";
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

export interface PostgresHandle {
  /** URL of the `postgres` maintenance database */
  url: string;
  port: number;
  dir: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The directory with the server binaries: CONCLAVE_PG_BINDIR, or the newest
 * of Debian's /usr/lib/postgresql/<major>/bin. Throws, saying what to
 * install, when there is none (`bash scripts/postgres-install.sh` does it).
 */
export function postgresBinDir(): string {
  const given = process.env["CONCLAVE_PG_BINDIR"];
  if (given !== undefined && given !== "") {
    if (!existsSync(join(given, "initdb"))) throw new Error(`conclave: CONCLAVE_PG_BINDIR=${given} has no initdb`);
    return given;
  }
  const base = "/usr/lib/postgresql";
  const majors = existsSync(base)
    ? readdirSync(base)
        .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = majors[0];
  if (newest === undefined) {
    throw new Error(
      "conclave: no PostgreSQL server found (no /usr/lib/postgresql/*/bin/initdb). " +
        "The store tests run a real PostgreSQL: run `bash scripts/postgres-install.sh` as root " +
        "(apt-get install -y postgresql), or set CONCLAVE_PG_BINDIR.",
    );
  }
  return join(base, newest, "bin");
}

interface RunAs {
  uid: number;
  gid: number;
}

/** Who runs initdb and the server: `postgres` when we are root, else ourselves. */
function serverUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => {
    try {
      return Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
    } catch {
      throw new Error(
        "conclave: running as root, and there is no `postgres` user to run the PostgreSQL server as " +
          "(initdb refuses root; Debian's postgresql package creates that user)",
      );
    }
  };
  return { uid: id("-u"), gid: id("-g") };
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function runAs(cmd: string, args: string[], user: RunAs | undefined, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"], ...(user ?? {}), env: { ...process.env, LC_ALL: "C" } });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, output }));
  });
}

// $1 bin dir, $2 temp dir, $3 port. Settings trade durability for speed: the
// data is thrown away at the end anyway.
const WRAPPER = `
"$1/postgres" -D "$2/data" -p "$3" -k "$2" -c listen_addresses=127.0.0.1 \\
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \\
  </dev/null >>"$2/server.log" 2>&1 &
pid=$!
cat >/dev/null
kill -INT "$pid" 2>/dev/null
wait "$pid"
rm -rf "$2"
`;

const running = new Set<{ child: ChildProcess; dir: string }>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

let hooked = false;
function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  // 'exit' handlers are synchronous: no graceful stop, but nothing stays.
  process.on("exit", () => {
    for (const r of running) {
      killGroup(r.child, "SIGKILL");
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
}

async function connects(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  c.on("error", () => {});
  try {
    await c.connect();
    await c.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/** Starts a fresh server and resolves once it accepts connections. */
export async function startPostgres(opts: { log?: (line: string) => void } = {}): Promise<PostgresHandle> {
  const bin = postgresBinDir();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), "conclave-pg-"));
  if (user) chownSync(dir, user.uid, user.gid);
  installExitHook();
  const init = await runAs(
    join(bin, "initdb"),
    ["-D", join(dir, "data"), "-U", PG_USER, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
    user,
    dir,
  );
  if (init.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`conclave: initdb failed (exit ${init.code}):\n${tail(init.output)}`);
  }

  // A free port can be taken between the probe and the server's bind: retry.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn("sh", ["-c", WRAPPER, "postgres-wrapper", bin, dir, String(port)], {
      cwd: dir,
      detached: true, // own process group: killGroup ends it all
      stdio: ["pipe", "ignore", "ignore"],
      ...(user ?? {}),
    });
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    child.stdin.on("error", () => {});
    const entry = { child, dir };
    running.add(entry);
    let exited = false;
    const exit = new Promise<void>((r) =>
      child.on("exit", () => {
        exited = true;
        r();
      }),
    );

    const url = `postgres://${PG_USER}@127.0.0.1:${port}/postgres`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    let log: string;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the exit handler meanwhile
    while (!exited && !(await connects(url))) {
      if (Date.now() > deadline) break;
      await sleep(50);
    }
    try {
      log = readFileSync(join(dir, "server.log"), "utf8");
    } catch {
      log = "";
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by the exit handler meanwhile
    if (exited || Date.now() > deadline) {
      killGroup(child, "SIGKILL");
      await exit;
      running.delete(entry);
      if (attempt < 3 && /could not bind|Address already in use/.test(log)) continue;
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`conclave: PostgreSQL on port ${port} did not start:\n${tail(log) || "(no log)"}`);
    }
    opts.log?.(`postgres: ${url} (data in ${dir})`);

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopping ??= (async () => {
        child.stdin.end();
        const late = sleep(STOP_GRACE_MS).then(() => "late" as const);
        if ((await Promise.race([exit.then(() => "done" as const), late])) === "late") {
          killGroup(child, "SIGKILL");
          await exit;
        }
        running.delete(entry);
        rmSync(dir, { recursive: true, force: true });
      })());

    return {
      url,
      port,
      dir,
      async createDatabase(name: string): Promise<string> {
        if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`conclave: bad database name ${name}`);
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        try {
          await c.query(`CREATE DATABASE ${name}`);
        } finally {
          await c.end();
        }
        return `postgres://${PG_USER}@127.0.0.1:${port}/${name}`;
      },
      stop,
    };
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  const server = await startPostgres();
  process.stderr.write(`conclave: PostgreSQL at ${server.url} (started in ${Date.now() - t0} ms); Ctrl-C stops it\n`);
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => void server.stop().then(() => process.exit(0)));
  setInterval(() => {}, 1 << 30);
}
