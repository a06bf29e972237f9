/**
 * Several workers of one bot on one PostgreSQL store (`store.url`): each
 * serves the rooms whose leases it holds (src/store/leases.ts), and every
 * worker syncs the bot's account with a Matrix device of its own.
 *
 * - A worker has a name (`worker.id`, by default the host name), stable
 *   across restarts: it names the worker's device state in the shared store
 *   (access token, device id, sync position). Its end-to-end encryption
 *   state is the file beside its own `store.path`.
 * - Each run of a worker holds its leases under a holder id of its own (the
 *   name and a random part): a run never inherits the leases of the run
 *   before it, whose work it cannot know was finished. A restarted worker
 *   first waits until the previous run's heartbeat has expired, so that two
 *   processes never use one device at once, and stops with an error when a
 *   run of that name is still renewing: two workers were given one name.
 * - Every joined room is leased, DMs included: a command is answered, and a
 *   decision enforced, by the one worker holding the room.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { LeaseKeeper, LEASE_DEFAULTS, type Fence, type RoomLeases } from "../store/leases.ts";
import type { RoomShare } from "../ports/share.ts";
import type { Store } from "../store/store.ts";

/** What a worker name may be: it ends up in state keys and log lines. */
export const WORKER_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** The worker's name when the configuration gives none: the host name, stable across restarts. */
export function defaultWorkerName(host: string = hostname()): string {
  const name = host.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 64);
  return name === "" ? "worker" : name;
}

/** The lease holder of one run of the worker `name`: new at every start. */
export function leaseHolder(name: string): string {
  return `${name}/${randomBytes(4).toString("hex")}`;
}

/** The worker name of a lease holder. */
export function nameOf(holder: string): string {
  const i = holder.lastIndexOf("/");
  return i < 0 ? holder : holder.slice(0, i);
}

/**
 * The store as one worker's Matrix adapter sees it: the device's own state
 * (the `matrix.` keys: access token, device id, sync position) kept under
 * the worker's name, everything else (the command journal above all) shared.
 */
export function deviceStore(store: Store, name: string): Store {
  const key = (k: string): string => (k.startsWith("matrix.") ? `worker:${name}:${k}` : k);
  return new Proxy(store, {
    get(target, p, receiver) {
      if (p === "getState") return (k: string) => target.getState(key(k));
      if (p === "getStates")
        return async (ks: string[]) => {
          const found = await target.getStates(ks.map(key));
          return new Map(ks.flatMap((k) => (found.has(key(k)) ? [[k, found.get(key(k))!] as const] : [])));
        };
      if (p === "setState") return (k: string, v: string) => target.setState(key(k), v);
      const v = Reflect.get(target, p, receiver) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

export interface WorkerOptions {
  leases: RoomLeases;
  /** marks an outbox item done while the fence's lease is current (PostgresStore.finishOutboxFenced) */
  finishFenced: (id: string, fence: Fence) => Promise<boolean>;
  /** this worker's name (`worker.id`) */
  name: string;
  /** the rooms to share out: the governed rooms and the rooms the bot is in */
  rooms: () => Promise<readonly string[]>;
  /** rooms this worker has just taken on: look at them now (their commands, their decisions) */
  onGained: (rooms: readonly string[]) => void;
  log: (line: string) => void;
  ttlMs?: number;
  renewMs?: number;
  marginMs?: number;
  /** waits (default: a timer); tests pass their own */
  sleep?: (ms: number) => Promise<void>;
}

/** One worker's share of the rooms: its leases, renewed on a timer. */
export class Worker implements RoomShare {
  readonly holder: string;
  private readonly o: WorkerOptions;
  private readonly keeper: LeaseKeeper;

  constructor(o: WorkerOptions) {
    this.o = o;
    this.holder = leaseHolder(o.name);
    this.keeper = new LeaseKeeper({
      leases: o.leases,
      worker: this.holder,
      rooms: o.rooms,
      ...(o.ttlMs !== undefined ? { ttlMs: o.ttlMs } : {}),
      ...(o.renewMs !== undefined ? { renewMs: o.renewMs } : {}),
      ...(o.marginMs !== undefined ? { marginMs: o.marginMs } : {}),
      log: o.log,
      onChange: (gained, lost) => {
        o.log(
          `workers: ${this.holder} serves ${this.keeper.owned().length} room(s)${gained.length ? `, took ${gained.join(" ")}` : ""}${lost.length ? `, gave up ${lost.join(" ")}` : ""}`,
        );
        if (gained.length > 0) o.onGained(gained);
      },
    });
  }

  /**
   * Waits until no earlier run of this worker's name is alive: a run killed
   * a moment ago keeps its heartbeat until it expires (a lease's lifetime).
   * Throws when one is still renewing after that: another process runs with
   * this name, and two processes must not use one Matrix device.
   */
  async awaitNamesakes(): Promise<void> {
    const ttl = this.o.ttlMs ?? LEASE_DEFAULTS.ttlMs;
    const renew = this.o.renewMs ?? LEASE_DEFAULTS.renewMs;
    const sleep = this.o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const deadline = Date.now() + ttl + renew + 1_000;
    let said = false;
    for (;;) {
      const others = (await this.o.leases.live()).filter((h) => nameOf(h) === this.o.name && h !== this.holder);
      if (others.length === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`another worker named "${this.o.name}" is running (${others.join(", ")}): give each worker its own worker.id`);
      }
      if (!said)
        this.o.log(`workers: waiting for the previous run of "${this.o.name}" (${others.join(", ")}) to expire, at most ${Math.round((ttl + renew) / 1000)} s`);
      said = true;
      await sleep(Math.min(1_000, renew));
    }
  }

  /** Starts renewing; resolves after the first round (the rooms this worker starts with). */
  async start(): Promise<void> {
    this.keeper.start();
    await this.keeper.tick();
  }

  /** Gives every lease up at once (after the bot and the bridge stopped), so others take the rooms on their next round. */
  stop(): Promise<void> {
    return this.keeper.stop();
  }

  owns(roomId: string): boolean {
    return this.keeper.owns(roomId);
  }

  owned(): string[] {
    return this.keeper.owned();
  }

  async finishOutbox(item: { id: string; roomId: string }): Promise<boolean> {
    const fence = this.keeper.fence(item.roomId);
    return fence !== undefined && (await this.o.finishFenced(item.id, fence));
  }
}
