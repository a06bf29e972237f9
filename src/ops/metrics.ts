/**
 * The bot's Prometheus metrics (prom-client), served at `/metrics`.
 *
 * What an operator watches: how many rooms and members the bot governs, the
 * work waiting (outbox), the transactions it sent and the gas they cost per
 * room, its balance, how long commands and enforcements take, how far the
 * Matrix sync lags, and the rotation audit's flags. Values read from
 * elsewhere (rooms, outbox, balance) are read when scraped, at most once
 * every `cacheMs`, so a scraper cannot make the bot hammer its store or RPC.
 *
 * Labels are bounded: a room label only for governed rooms (the operator's
 * own list), a command label only for the bot's command names, outcomes from
 * a fixed set. Nothing a stranger types becomes a label.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

export interface MetricsSources {
  /** governed rooms */
  rooms(): Promise<number>;
  /** pending outbox items (follow-ups owed after kicks) */
  outboxPending(): Promise<number>;
  /** the bot's balance in the chain's smallest unit */
  balance(): Promise<bigint>;
  /** seconds since the last sync response from the homeserver (Infinity before the first) */
  syncLagSeconds(): number;
}

export type TxOutcomeLabel = "mined" | "failed";

/** How long a value read at scrape time is reused. */
const CACHE_MS = 5_000;

export class Metrics {
  readonly registry = new Registry();
  private readonly members: Gauge<"room">;
  private readonly txs: Counter<"room" | "outcome">;
  private readonly gas: Counter<"room">;
  private readonly fees: Counter<"room">;
  private readonly commands: Histogram<"command" | "outcome">;
  private readonly enforcements: Histogram<"action">;
  private readonly audit: Counter<"room">;
  private readonly known = new Set<string>();

  constructor(sources: MetricsSources, o: { prefix?: string; defaults?: boolean } = {}) {
    const p = o.prefix ?? "conclave_";
    const registers = [this.registry];
    if (o.defaults ?? true) collectDefaultMetrics({ register: this.registry, prefix: p });
    const cached = <T>(read: () => Promise<T>) => {
      let at = -Infinity;
      let value: Promise<T> | undefined;
      return () => {
        if (!value || performance.now() - at > CACHE_MS) {
          at = performance.now();
          value = read();
          value.catch(() => (value = undefined));
        }
        return value;
      };
    };
    const rooms = cached(() => sources.rooms());
    const outbox = cached(() => sources.outboxPending());
    const balance = cached(() => sources.balance());
    new Gauge({
      name: `${p}rooms`,
      help: "Rooms the bot governs (bound to a group)",
      registers,
      async collect() {
        await rooms().then(
          (n) => this.set(n),
          () => undefined,
        );
      },
    });
    this.members = new Gauge({ name: `${p}members`, help: "Paid-up members of each room's group at its last reconcile pass", labelNames: ["room"], registers });
    new Gauge({
      name: `${p}outbox_pending`,
      help: "Follow-ups owed after removals (new room key and notice) not yet done",
      registers,
      async collect() {
        await outbox().then(
          (n) => this.set(n),
          () => undefined,
        );
      },
    });
    this.txs = new Counter({
      name: `${p}transactions_total`,
      help: "Transactions the bot sent, by room and outcome",
      labelNames: ["room", "outcome"],
      registers,
    });
    this.gas = new Counter({ name: `${p}gas_used_total`, help: "Gas used by the bot's mined transactions, by room", labelNames: ["room"], registers });
    this.fees = new Counter({
      name: `${p}gas_spent_wei_total`,
      help: "What the bot paid for gas, in the chain's smallest unit, by room",
      labelNames: ["room"],
      registers,
    });
    new Gauge({
      name: `${p}bot_balance_wei`,
      help: "The bot's balance, in the chain's smallest unit (as a float: precise to about 16 digits)",
      registers,
      async collect() {
        // An RPC that is down leaves the last value (readyz says why).
        await balance().then(
          (n) => this.set(Number(n)),
          () => undefined,
        );
      },
    });
    this.commands = new Histogram({
      name: `${p}command_seconds`,
      help: "From a command's arrival to the bot's answer, by command and outcome",
      labelNames: ["command", "outcome"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.enforcements = new Histogram({
      name: `${p}enforcement_seconds`,
      help: "From the bot hearing of the block that decided a change (a newHeads notice, or the poll that found it) to the homeserver's answer to the invite or kick",
      labelNames: ["action"],
      buckets: [0.05, 0.1, 0.25, 0.4, 0.6, 1, 2, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: `${p}sync_lag_seconds`,
      help: "Seconds since the last sync response from the homeserver",
      registers,
      collect() {
        const lag = sources.syncLagSeconds();
        this.set(Number.isFinite(lag) ? lag : -1);
      },
    });
    this.audit = new Counter({
      name: `${p}rotation_audit_flags_total`,
      help: "Messages sent under a room key that someone who left had (flagged by the rotation audit)",
      labelNames: ["room"],
      registers,
    });
  }

  /** A room label only for rooms the bot governs; anything else is counted under "other". */
  private room(roomId: string | undefined): string {
    return roomId !== undefined && this.known.has(roomId) ? roomId : "other";
  }

  /** The governed rooms, so that their ids may be labels; a room no longer governed stops being reported. */
  setRooms(roomIds: Iterable<string>): void {
    const now = new Set(roomIds);
    for (const r of this.known) if (!now.has(r)) this.members.remove({ room: r });
    this.known.clear();
    for (const r of now) this.known.add(r);
  }

  reconciled(roomId: string, members: number): void {
    this.known.add(roomId);
    this.members.set({ room: roomId }, members);
  }

  transaction(roomId: string | undefined, outcome: TxOutcomeLabel, gasUsed?: bigint, gasPrice?: bigint): void {
    const room = this.room(roomId);
    this.txs.inc({ room, outcome });
    if (gasUsed !== undefined) {
      this.gas.inc({ room }, Number(gasUsed));
      if (gasPrice !== undefined) this.fees.inc({ room }, Number(gasUsed * gasPrice));
    }
  }

  command(name: string, outcome: "ok" | "refused" | "error", seconds: number): void {
    this.commands.observe({ command: name, outcome }, seconds);
  }

  enforced(action: "invite" | "kick" | "unban" | "ban", seconds: number): void {
    this.enforcements.observe({ action }, seconds);
  }

  auditFlag(roomId: string): void {
    this.audit.inc({ room: this.room(roomId) });
  }

  /** The text a scraper reads. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
