// Room leases on a real PostgreSQL: rooms shared out among workers, taken
// over from a worker that dies (SIGKILL) or stalls (SIGSTOP), and never
// served by two workers at once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { PostgresStore } from "../../src/store/postgres.ts";
import { LEASE_DEFAULTS, LeaseKeeper, type Fence } from "../../src/store/leases.ts";
import { startPostgres, type PostgresHandle } from "../../scripts/postgres.ts";
import type { WorkerReport } from "./lease-worker.ts";

const WORKER_SCRIPT = fileURLToPath(new URL("./lease-worker.ts", import.meta.url));
/** Short timings for the in-process tests (the SIGKILL test uses the defaults). */
const FAST = { ttlMs: 1200, renewMs: 200, marginMs: 300 };

let server: PostgresHandle | undefined;
let databases = 0;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  server = await startPostgres();
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await server?.stop();
});

async function database(): Promise<string> {
  if (!server) throw new Error("PostgreSQL did not start");
  return server.createDatabase(`leases_${++databases}`);
}

async function open(url: string): Promise<PostgresStore> {
  const s = await PostgresStore.open(url, { maxConnections: 2 });
  cleanups.push(() => s.close().catch(() => {}));
  return s;
}

async function governRooms(store: PostgresStore, count: number): Promise<string[]> {
  const rooms = Array.from({ length: count }, (_, i) => `!r${String(i).padStart(2, "0")}:localhost`);
  for (const [i, roomId] of rooms.entries()) {
    await store.putBinding({ roomId, group: `0x${i.toString(16)}`, chainId: 1, createdBy: "@a:localhost", createdAt: i, fromBlock: 0 });
  }
  return rooms;
}

function keeper(store: PostgresStore, worker: string, extra: Partial<ConstructorParameters<typeof LeaseKeeper>[0]> = {}): LeaseKeeper {
  const k = new LeaseKeeper({
    leases: store.leases(),
    worker,
    rooms: async () => (await store.listBindings()).map((b) => b.roomId),
    ...FAST,
    ...extra,
  });
  cleanups.push(() => k.stop().catch(() => {}));
  return k;
}

/** Fails if any room is owned by two keepers at this instant. */
function assertDisjoint(keepers: LeaseKeeper[]): void {
  const seen = new Map<string, string>();
  for (const k of keepers) {
    for (const r of k.owned()) {
      expect(seen.get(r), `${r} owned by ${seen.get(r)} and ${k.worker}`).toBeUndefined();
      seen.set(r, k.worker);
    }
  }
}

/** Polls `done` every 20 ms, checking exclusivity at every step. */
async function until(keepers: LeaseKeeper[], done: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    assertDisjoint(keepers);
    if (done()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`not reached within ${ms} ms: ${keepers.map((k) => `${k.worker}=${k.owned().length}`).join(" ")}`);
    await sleep(20);
  }
}

const counts = (keepers: LeaseKeeper[]): number[] => keepers.map((k) => k.owned().length).sort((a, b) => a - b);

describe("room leases (in one process)", () => {
  it("share the rooms evenly, make room for a new worker and take a stopped worker's rooms at once", async () => {
    const url = await database();
    const stores = [await open(url), await open(url), await open(url), await open(url)];
    await governRooms(stores[0]!, 30);
    const [a, b, c, d] = stores.map((s, i) => keeper(s, `w${i}`)) as [LeaseKeeper, LeaseKeeper, LeaseKeeper, LeaseKeeper];
    // Each registers before any claims its share, as workers started together do.
    for (const k of [a, b, c]) k.start();
    await until([a, b, c], () => counts([a, b, c]).join() === "10,10,10", 10_000);

    d.start();
    // The others give up their surplus, which expires (ttl) and passes to the new worker.
    await until([a, b, c, d], () => counts([a, b, c, d]).join() === "7,7,8,8", 10_000);

    const before = new Set(a.owned());
    await a.stop();
    expect(a.owned()).toEqual([]);
    const took = await until([b, c, d], () => counts([b, c, d]).join() === "10,10,10", 5_000);
    // A released lease needs no expiry: the next rounds take it.
    expect(took).toBeLessThan(FAST.ttlMs);
    expect([...before].every((r) => [b, c, d].some((k) => k.owns(r)))).toBe(true);
  });

  it("pass a surplus room on at the round after its holder stopped acting in it, not after the lease's lifetime", async () => {
    const url = await database();
    const [sa, sb] = [await open(url), await open(url)];
    await governRooms(sa, 4);
    // A lease lasts a minute: any hand-over seen here is a release, not an expiry.
    const slow = { ttlMs: 60_000, renewMs: 200, marginMs: 100 };
    const a = keeper(sa, "a", slow);
    const b = keeper(sb, "b", slow);
    const t0 = Date.now();
    await a.tick();
    await b.tick();
    expect([a.owned().length, b.owned().length]).toEqual([4, 0]);
    // a sees b starving: it keeps its floor and stops acting in the other two at once.
    await a.tick();
    expect([a.owned().length, b.owned().length]).toEqual([2, 0]);
    // Within the margin of actions a began before, the two are not released yet.
    await a.tick();
    await b.tick();
    expect([a.owned().length, b.owned().length]).toEqual([2, 0]);
    await sleep(slow.marginMs + 20);
    await a.tick();
    await b.tick();
    expect([a.owned().length, b.owned().length]).toEqual([2, 2]);
    assertDisjoint([a, b]);
    expect(Date.now() - t0).toBeLessThan(slow.ttlMs / 2);
  });

  it("refuse the fenced writes of a worker that lost its lease, and let it act only until its lease could end", async () => {
    const url = await database();
    const [sa, sb, observer] = [await open(url), await open(url), await open(url)];
    const [room] = await governRooms(observer, 4);
    const a = keeper(sa, "a");
    await a.tick();
    expect(a.owned()).toHaveLength(4);
    const stale = a.fence(room!) as Fence;
    expect(await observer.leases().holds(stale)).toBe(true);
    await observer.addOutbox({ id: "kick:1", roomId: room!, kind: "kick", payload: "{}", createdAt: 1 });

    // a loses the database (its renewals fail from now on); b comes.
    await sa.close();
    let gainedAt: number | undefined;
    const b = keeper(sb, "b", {
      onChange: (gained) => {
        if (gained.includes(room!)) gainedAt ??= performance.now();
      },
    });
    b.start();
    await until([a, b], () => b.owned().length === 4, 5_000);
    await a.tick(); // a failed round: logged, nothing thrown
    expect(a.owned()).toEqual([]);
    // b holds the room only after the moment a stopped trusting its lease.
    expect(gainedAt).toBeGreaterThanOrEqual(a.validUntil(room!) ?? Infinity);
    const fresh = b.fence(room!) as Fence;
    expect(fresh.token).toBeGreaterThan(stale.token);
    expect(await observer.leases().holds(stale)).toBe(false);
    expect(await observer.finishOutboxFenced("kick:1", stale)).toBe(false);
    expect((await observer.listOutbox("pending")).map((i) => i.id)).toEqual(["kick:1"]);
    expect(await observer.finishOutboxFenced("kick:1", fresh)).toBe(true);
    expect(await observer.finishOutboxFenced("kick:1", fresh)).toBe(false);
    // A fence for another room proves nothing about this one.
    expect(await observer.finishOutboxFenced("kick:1", { ...fresh, roomId: "!elsewhere:localhost" })).toBe(false);
  });

  it("refuse timings under which a worker could trust a lease it failed to renew", () => {
    const leases = { balance: async () => ({ held: [], workers: 1 }), holds: async () => false, release: async () => {}, live: async () => [] };
    expect(() => new LeaseKeeper({ leases, worker: "w", rooms: () => [], ttlMs: 1000, renewMs: 800, marginMs: 300 })).toThrow(/renewMs/);
    expect(() => new LeaseKeeper({ leases, worker: "w", rooms: () => [], ...LEASE_DEFAULTS })).not.toThrow();
  });
});

// ---------------------------------------------------------------------------
// Worker processes
// ---------------------------------------------------------------------------

interface WorkerProcess {
  id: string;
  child: ChildProcess;
  reports: WorkerReport[];
  last(): WorkerReport | undefined;
}

function spawnWorker(url: string, id: string, timings?: { ttlMs: number; renewMs: number; marginMs: number }, enforce = false): WorkerProcess {
  const args = [WORKER_SCRIPT, url, id, ...(timings ? [timings.ttlMs, timings.renewMs, timings.marginMs].map(String) : [])];
  const child = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CONCLAVE_ENFORCE: enforce ? "1" : "0" },
  });
  const w: WorkerProcess = { id, child, reports: [], last: () => w.reports.at(-1) };
  let pending = "";
  child.stdout.on("data", (d: Buffer) => {
    pending += d.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) w.reports.push(JSON.parse(line) as WorkerReport);
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  child.on("exit", (code, signal) => {
    if (signal === null && code !== 0) process.stderr.write(`lease worker ${id} exited ${code}:\n${stderr}\n`);
  });
  cleanups.push(() => {
    child.kill("SIGKILL");
  });
  return w;
}

async function waitFor(what: string, done: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!done()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(25);
  }
  return Date.now() - t0;
}

/**
 * From every worker's reports: for each room, the stretches of time each
 * worker could act in it (from the report that first showed the room to the
 * validity end of the last report that still did, or to the first report
 * that no longer did, whichever is first). Stretches of different
 * workers for one room must never overlap.
 */
function assertNeverShared(workers: WorkerProcess[]): number {
  const stretches = new Map<string, { worker: string; from: number; to: number }[]>();
  for (const w of workers) {
    const open = new Map<string, { from: number; to: number }>();
    // A stretch ends when the lease's validity would, or earlier, at the
    // round that dropped the room (a surplus given up): the worker stops
    // acting there, and the lease may then be released for another.
    const close = (roomId: string, droppedAt = Infinity): void => {
      const s = open.get(roomId);
      if (!s) return;
      stretches.set(roomId, [...(stretches.get(roomId) ?? []), { worker: w.id, from: s.from, to: Math.min(s.to, droppedAt) }]);
      open.delete(roomId);
    };
    for (const report of w.reports) {
      const now = new Set(report.rooms.map((r) => r.roomId));
      for (const roomId of [...open.keys()]) if (!now.has(roomId)) close(roomId, report.at);
      for (const r of report.rooms) {
        const s = open.get(r.roomId);
        if (s) s.to = r.until;
        else open.set(r.roomId, { from: report.at, to: r.until });
      }
    }
    for (const roomId of [...open.keys()]) close(roomId);
  }
  let checked = 0;
  for (const [roomId, list] of stretches) {
    list.sort((x, y) => x.from - y.from);
    for (let i = 1; i < list.length; i++) {
      const [p, q] = [list[i - 1]!, list[i]!];
      if (p.worker !== q.worker) {
        checked++;
        expect(q.from, `${roomId}: ${q.worker} from ${q.from} while ${p.worker} until ${p.to}`).toBeGreaterThanOrEqual(p.to);
      }
    }
  }
  return checked;
}

const roomsOf = (w: WorkerProcess): string[] => (w.last()?.rooms ?? []).map((r) => r.roomId);

describe("room leases (worker processes)", () => {
  it("a SIGKILLed worker's rooms are taken over within 30 s, with the default timings", { timeout: 90_000 }, async () => {
    const url = await database();
    const store = await open(url);
    const workers = ["a", "b", "c"].map((id) => spawnWorker(url, id));
    // All three are registered before there is anything to share.
    await waitFor("workers started", () => workers.every((w) => w.reports.length > 0), 20_000);
    const rooms = await governRooms(store, 12);
    await waitFor("4 rooms each", () => workers.every((w) => roomsOf(w).length === 4), 3 * LEASE_DEFAULTS.renewMs + 5_000);
    expect(new Set(workers.flatMap(roomsOf)).size).toBe(12);

    const [a, b, c] = workers as [WorkerProcess, WorkerProcess, WorkerProcess];
    const lost = a.last()!.rooms.map((r) => ({ roomId: r.roomId, worker: "a", token: r.token }));
    const killedAt = Date.now();
    a.child.kill("SIGKILL");
    const took = await waitFor(
      "takeover",
      () => {
        const held = [...roomsOf(b), ...roomsOf(c)];
        return held.length === 12 && new Set(held).size === 12;
      },
      30_000,
    );
    process.stderr.write(
      `leases: rooms of a SIGKILLed worker taken over in ${(took / 1000).toFixed(1)} s ` +
        `(ttl ${LEASE_DEFAULTS.ttlMs / 1000} s, renewal every ${LEASE_DEFAULTS.renewMs / 1000} s)\n`,
    );
    expect(Date.now() - killedAt).toBeLessThanOrEqual(30_000);
    expect(roomsOf(b).length).toBe(6);
    expect(roomsOf(c).length).toBe(6);
    // The dead worker's fences are worthless, and the new holders' tokens are newer.
    for (const fence of lost) {
      expect(await store.leases().holds(fence)).toBe(false);
      const now = [...b.last()!.rooms, ...c.last()!.rooms].find((r) => r.roomId === fence.roomId);
      expect(now?.token).toBeGreaterThan(fence.token);
    }
    expect(rooms.every((r) => [b, c].some((w) => roomsOf(w).includes(r)))).toBe(true);
    expect(assertNeverShared(workers)).toBeGreaterThanOrEqual(4);
  });

  it("a stalled worker (SIGSTOP) loses its rooms, and after SIGCONT never acts in them while another holds them", { timeout: 60_000 }, async () => {
    const url = await database();
    const store = await open(url);
    const timings = { ttlMs: 1500, renewMs: 250, marginMs: 400 };
    const [a, b] = [spawnWorker(url, "a", timings), spawnWorker(url, "b", timings)];
    await waitFor("workers started", () => a.reports.length > 0 && b.reports.length > 0, 20_000);
    await governRooms(store, 6);
    await waitFor("3 rooms each", () => roomsOf(a).length === 3 && roomsOf(b).length === 3, 10_000);
    const stalled = roomsOf(a);

    a.child.kill("SIGSTOP");
    await waitFor("b holds all", () => roomsOf(b).length === 6, 10_000);
    const reportsBefore = a.reports.length;
    a.child.kill("SIGCONT");
    await waitFor("a reports again", () => a.reports.length > reportsBefore, 10_000);
    // Its first round after waking: its leases were gone, so it acts nowhere.
    expect(a.reports[reportsBefore]!.rooms).toEqual([]);
    // Then b gives up its surplus and the two share again.
    await waitFor("3 rooms each again", () => roomsOf(a).length === 3 && roomsOf(b).length === 3, 10_000);
    expect(stalled.length).toBe(3);
    expect(assertNeverShared([a, b])).toBeGreaterThanOrEqual(3);
  });

  it("three workers enforce every decision once while one of them is SIGKILLed mid-run", { timeout: 60_000 }, async () => {
    const url = await database();
    const store = await open(url);
    const timings = { ttlMs: 1500, renewMs: 250, marginMs: 400 };
    const workers = ["a", "b", "c"].map((id) => spawnWorker(url, id, timings, true));
    await waitFor("workers started", () => workers.every((w) => w.reports.length > 0), 20_000);
    const rooms = await governRooms(store, 12);
    await waitFor("4 rooms each", () => workers.every((w) => roomsOf(w).length === 4), 10_000);
    const [a] = workers as [WorkerProcess];

    // Decisions keep arriving (5 per room, one every 40 ms); a dies halfway.
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) {
      if (i === 30) a.child.kill("SIGKILL");
      const id = `kick:${i}`;
      await store.addOutbox({ id, roomId: rooms[i % rooms.length]!, kind: "kick", payload: "{}", createdAt: i });
      ids.push(id);
      await sleep(40);
    }
    const pendingLeft = async (): Promise<number> => (await store.listOutbox("pending")).length;
    const t0 = Date.now();
    while ((await pendingLeft()) > 0 && Date.now() - t0 < 15_000) await sleep(50);
    expect(await pendingLeft()).toBe(0);
    expect((await store.listOutbox("done")).map((i) => i.id).sort()).toEqual([...ids].sort());

    // Each decision was finished by one worker only. (A finish of the killed
    // worker between its commit and its report may go unreported.)
    const by = new Map<string, string[]>();
    for (const w of workers) for (const r of w.reports) for (const id of r.finished) by.set(id, [...(by.get(id) ?? []), w.id]);
    for (const [id, who] of by) expect(who, id).toHaveLength(1);
    expect(by.size).toBeGreaterThanOrEqual(ids.length - 1);
    // The survivors enforced the dead worker's later decisions.
    const late = ids.slice(30).filter((id) => by.get(id)?.[0] === "a");
    expect(late.length).toBeLessThanOrEqual(1);
    expect(assertNeverShared(workers)).toBeGreaterThanOrEqual(4);
  });
});
