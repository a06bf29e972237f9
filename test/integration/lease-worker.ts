// A worker process for the lease tests: it shares out the governed rooms of
// a PostgreSQL store (its bindings) with the other workers, and after every
// round prints one JSON line saying which rooms it may act in and until
// when (wall-clock ms), with the fences. It stops only when killed.
//
// usage: node test/integration/lease-worker.ts URL WORKER [TTL_MS RENEW_MS MARGIN_MS]
import { PostgresStore } from "../../src/store/postgres.ts";
import { LEASE_DEFAULTS, LeaseKeeper } from "../../src/store/leases.ts";

export interface WorkerReport {
  worker: string;
  /** wall-clock ms when the round ended */
  at: number;
  rooms: { roomId: string; token: number; until: number }[];
}

const [url, worker, ttl, renew, margin] = process.argv.slice(2);
if (!url || !worker) throw new Error("usage: lease-worker.ts URL WORKER [TTL_MS RENEW_MS MARGIN_MS]");
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
for (;;) {
  await keeper.tick();
  const report: WorkerReport = {
    worker,
    at: Date.now(),
    rooms: keeper.owned().map((roomId) => ({
      roomId,
      token: keeper.fence(roomId)?.token ?? -1,
      until: wall(keeper.validUntil(roomId) ?? 0),
    })),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  await new Promise((r) => setTimeout(r, renewMs));
}
