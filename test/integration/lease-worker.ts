// A worker process for the lease tests: it shares out the governed rooms of
// a PostgreSQL store (its bindings) with the other workers, and after every
// round prints one JSON line saying which rooms it may act in and until
// when (wall-clock ms), with the fences. With CONCLAVE_ENFORCE=1 it also
// enforces the pending outbox items of its rooms, as the bridge will: each
// finished with the room's fence, and reported when this worker finished it.
// It stops only when killed.
//
// usage: node test/integration/lease-worker.ts URL WORKER [TTL_MS RENEW_MS MARGIN_MS]
import { PostgresStore } from "../../src/store/postgres.ts";
import { LEASE_DEFAULTS, LeaseKeeper } from "../../src/store/leases.ts";

export interface WorkerReport {
  worker: string;
  /** wall-clock ms when the round ended */
  at: number;
  rooms: { roomId: string; token: number; until: number }[];
  /** outbox items this worker finished in this round */
  finished: string[];
}

const [url, workerArg, ttl, renew, margin] = process.argv.slice(2);
if (!url || !workerArg) throw new Error("usage: lease-worker.ts URL WORKER [TTL_MS RENEW_MS MARGIN_MS]");
const worker: string = workerArg;
const ttlMs = ttl ? Number(ttl) : LEASE_DEFAULTS.ttlMs;
const renewMs = renew ? Number(renew) : LEASE_DEFAULTS.renewMs;
const marginMs = margin ? Number(margin) : LEASE_DEFAULTS.marginMs;

const store = await PostgresStore.open(url, { maxConnections: 2 });
const keeper = new LeaseKeeper({
  leases: store.leases(),
  worker,
  rooms: async () => (await store.listBindings()).map((b) => b.roomId),
  ttlMs,
  renewMs,
  marginMs,
  log: (line) => process.stderr.write(`${worker}: ${line}\n`),
});

// performance.now() is the keeper's clock; timeOrigin turns it into wall time.
const wall = (t: number): number => performance.timeOrigin + t;
const enforce = process.env["CONCLAVE_ENFORCE"] === "1";

function report(finished: string[]): void {
  const line: WorkerReport = {
    worker,
    at: Date.now(),
    rooms: keeper.owned().map((roomId) => ({
      roomId,
      token: keeper.fence(roomId)?.token ?? -1,
      until: wall(keeper.validUntil(roomId) ?? 0),
    })),
    finished,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

for (;;) {
  await keeper.tick();
  report([]);
  if (enforce) {
    for (const item of await store.listOutbox("pending")) {
      const fence = keeper.fence(item.roomId);
      // Reported at once: only a kill between the commit and this line hides a finish.
      if (fence && (await store.finishOutboxFenced(item.id, fence))) report([item.id]);
    }
  }
  await new Promise((r) => setTimeout(r, renewMs));
}
