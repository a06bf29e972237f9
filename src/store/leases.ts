/**
 * Several workers on one database share the rooms out: each room is served
 * (its commands answered, its decisions enforced) by the one worker holding
 * its lease. Pure logic and types; the database side is PostgresLeases.
 *
 * - A lease has an expiry on the database's clock and a fencing token that
 *   grows every time the room changes hands. Workers renew their leases
 *   every `renewMs`; a worker that dies (SIGKILL, a lost host) stops
 *   renewing, and its rooms are claimed by the others once the leases have
 *   expired: within `ttlMs + renewMs` (20 s with the defaults).
 * - Rooms are shared evenly: each live worker (a heartbeat row renewed with
 *   the leases) aims at ceil(rooms / workers). A worker above its share stops
 *   renewing the surplus, which then expires and passes on; nothing is taken
 *   from a live worker by force.
 * - A worker acts in a room only while its lease is valid by its own
 *   monotonic clock, counted from *before* it asked for the renewal, minus a
 *   margin: so it stops before the database could hand the room to another
 *   worker, whatever the round-trip took, as long as no single action runs
 *   longer than `marginMs` after its check. Writes that must not happen
 *   after a hand-over also carry the token (a {@link Fence}): the database
 *   refuses them once the lease has moved on, however late they arrive.
 */

/** A worker's hold on a room. */
export interface Lease {
  roomId: string;
  worker: string;
  /** fencing token: larger for every new holder of any room */
  token: number;
  /** when the lease ends, milliseconds since the epoch on the database's clock */
  expiresAt: number;
}

/** What a write carries to prove its worker still holds the room. */
export type Fence = Pick<Lease, "roomId" | "worker" | "token">;

export interface RoomLeases {
  /**
   * One round for `worker`: its heartbeat; its leases renewed up to its fair
   * share of the rooms (those named, and every room ever leased) among the
   * live workers; free or expired rooms claimed up to that share. Returns the
   * leases this round renewed or claimed (a surplus lease left to expire is
   * not among them: its holder must stop acting on it now) and how many
   * workers are live. `acting`, when given, names the rooms the worker may
   * still be acting in (those of its previous round): any other lease of it
   * that this round does not renew (a surplus it stopped acting on a round
   * ago) ends at once, so that another worker takes it on its next round
   * instead of after the lease's lifetime.
   */
  balance(worker: string, rooms: readonly string[], ttlMs: number, acting?: readonly string[]): Promise<{ held: Lease[]; workers: number }>;
  /** Whether the fence's lease is still the current one. */
  holds(fence: Fence): Promise<boolean>;
  /** Ends the worker's leases at once (a graceful stop), so others claim them on their next round. */
  release(worker: string): Promise<void>;
  /** The workers whose heartbeat has not expired. */
  live(): Promise<string[]>;
}

export const LEASE_DEFAULTS = {
  /** how long a lease lasts without renewal */
  ttlMs: 15_000,
  /** how often a worker renews and rebalances */
  renewMs: 5_000,
  /** how long before the lease ends a worker stops acting on it */
  marginMs: 3_000,
} as const;

export interface LeaseKeeperOptions {
  leases: RoomLeases;
  /** unique per running worker */
  worker: string;
  /** the rooms to share out (the governed rooms, the rooms the bot is in) */
  rooms: () => readonly string[] | Promise<readonly string[]>;
  ttlMs?: number;
  renewMs?: number;
  marginMs?: number;
  /** monotonic milliseconds; default performance.now */
  now?: () => number;
  /** called after each round that changed what this worker serves */
  onChange?: (gained: readonly string[], lost: readonly string[]) => void;
  log?: (line: string) => void;
}

/** Keeps one worker's leases: renews them on a timer and answers "may I act here?". */
export class LeaseKeeper {
  private readonly o: Required<Omit<LeaseKeeperOptions, "onChange" | "log">> & Pick<LeaseKeeperOptions, "onChange" | "log">;
  /** room → its lease and the local time until which this worker may act on it */
  private held = new Map<string, { lease: Lease; validUntil: number }>();
  /** rooms this worker stopped acting in, and when (its actions begun before may still run for marginMs) */
  private readonly dropped = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;

  constructor(options: LeaseKeeperOptions) {
    const ttlMs = options.ttlMs ?? LEASE_DEFAULTS.ttlMs;
    const renewMs = options.renewMs ?? LEASE_DEFAULTS.renewMs;
    const marginMs = options.marginMs ?? LEASE_DEFAULTS.marginMs;
    // A renewal must come before the worker stops trusting its lease.
    if (!(renewMs > 0 && marginMs >= 0 && renewMs + marginMs < ttlMs)) {
      throw new Error(`LeaseKeeper: need 0 < renewMs (${renewMs}) and renewMs + marginMs (${marginMs}) < ttlMs (${ttlMs})`);
    }
    this.o = { ...options, ttlMs, renewMs, marginMs, now: options.now ?? (() => performance.now()) };
  }

  get worker(): string {
    return this.o.worker;
  }

  /** One renewal round now (the timer runs them every renewMs). Errors are logged; leases then lapse on time. */
  tick(): Promise<void> {
    this.round ??= this.balance().finally(() => (this.round = undefined));
    return this.round;
  }

  private async balance(): Promise<void> {
    if (this.stopped) return;
    const before = new Set(this.owned());
    // Counted from before the request: the database's expiry is later still.
    const sent = this.o.now();
    let held: Lease[];
    try {
      // What this worker may be acting in: everything of its last round,
      // and what it stopped acting in less than marginMs ago (a surplus it
      // gives up now is released by a later round, once actions begun
      // before have had their margin).
      for (const [r, at] of this.dropped) if (sent - at >= this.o.marginMs) this.dropped.delete(r);
      const acting = [...new Set([...this.held.keys(), ...this.dropped.keys()])];
      ({ held } = await this.o.leases.balance(this.o.worker, await this.o.rooms(), this.o.ttlMs, acting));
    } catch (e) {
      this.o.log?.(`leases: renewal failed, ${before.size} room(s) lapse unless the next round succeeds: ${(e as Error).message}`);
      return;
    }
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may have run during the await above
    if (this.stopped) return;
    const validUntil = sent + this.o.ttlMs - this.o.marginMs;
    const previous = [...this.held.keys()];
    this.held = new Map(held.map((lease) => [lease.roomId, { lease, validUntil }]));
    // Counted from now, also for a lease whose validity ran out earlier: later than the last action on it.
    for (const r of previous) if (!this.held.has(r)) this.dropped.set(r, this.o.now());
    const after = new Set(this.owned());
    const gained = [...after].filter((r) => !before.has(r));
    const lost = [...before].filter((r) => !after.has(r));
    if (gained.length + lost.length > 0) this.o.onChange?.(gained, lost);
  }

  /** Starts renewing: a round now, then one every renewMs. */
  start(): void {
    if (this.timer || this.stopped) return;
    const loop = (): void => {
      void this.tick().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.o.renewMs);
      });
    };
    loop();
  }

  /** Stops renewing and gives every lease up (call after the work on the rooms has stopped). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
    this.held.clear();
    await this.o.leases.release(this.o.worker);
  }

  /** Whether this worker may act in the room now. */
  owns(roomId: string): boolean {
    const h = this.held.get(roomId);
    return h !== undefined && h.validUntil > this.o.now();
  }

  /** The rooms this worker may act in now. */
  owned(): string[] {
    return [...this.held.keys()].filter((r) => this.owns(r));
  }

  /** The fence for writes about the room, while this worker owns it. */
  fence(roomId: string): Fence | undefined {
    const h = this.held.get(roomId);
    if (h === undefined || h.validUntil <= this.o.now()) return undefined;
    return { roomId, worker: h.lease.worker, token: h.lease.token };
  }

  /** Until when (local monotonic ms) this worker may act in the room, if it holds it. */
  validUntil(roomId: string): number | undefined {
    return this.held.get(roomId)?.validUntil;
  }
}
