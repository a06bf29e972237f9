/**
 * Chain → room. The chain is the truth; the room follows it.
 *
 * The bridge works from full state: for a group it reads the standing of
 * every linked account (at the last confirmed block), computes the room the
 * chain wants, diffs it against the room the homeserver reports and applies
 * the difference. Chain events only say *when* to look (and *why* someone was
 * removed, for the kick reason); a periodic pass catches anything missed.
 * Its cursor (last processed block per group) and an outbox of removals
 * whose follow-up (key rotation and notice) is owed live in the store.
 *
 * Keeper duties: remove members whose grace period ended; release fees at
 * most once a month when the destination is "release".
 */
import { id, ZeroAddress } from "ethers";
import pMap from "p-map";
import { diffRoom, lapsedPastGrace, powerChanges, type RoomAction, type Standing } from "./desired.ts";
import type { BridgeChain } from "../ports/chain.ts";
import type { RoomEnforcer } from "../ports/rooms.ts";
import type { GroupEvent } from "../governance/client.ts";
import { humanChainError } from "../governance/errors.ts";
import { DestinationKind, Mode, type GroupSettings } from "../governance/types.ts";
import type { RoomShare } from "../ports/share.ts";
import type { RoomBinding, Store } from "../store/store.ts";
import { formatTime } from "../text/format.ts";

/** `port` with every method call counted in `into[name]`. */
function counted<T extends object>(port: T, into: Record<string, number>, name: string): T {
  return new Proxy(port, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== "function") return v;
      return (...args: unknown[]) => {
        into[name] = (into[name] ?? 0) + 1;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

export interface BridgeOptions {
  store: Store;
  chain: BridgeChain;
  rooms: RoomEnforcer;
  botUserId: string;
  confirmations: number;
  /** how often to look for new blocks */
  pollMs: number;
  /** how often to run a full pass over every group, and the keeper */
  fullPassMs: number;
  /** how many rooms a full pass works on at once (default 8): each waits on round trips */
  concurrency?: number;
  log: (line: string) => void;
  /** seconds since the epoch (tests may move time with the chain) */
  now?: () => Promise<number>;
  /** several workers: only the rooms this one holds are read, enforced and drained (default: every room) */
  share?: RoomShare;
}

export class Bridge {
  private readonly o: BridgeOptions;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastFull = 0;
  private readonly dirty = new Set<string>();
  private readonly warned = new Map<string, number>();
  private busy: Promise<void> = Promise.resolve();
  private waking = false;
  private readonly cursors = new Map<string, number>();
  private readonly stored = new Map<string, number>();
  // When the block a tick reads was announced, and when the tick read its events (for the timing line).
  private headAt: number | undefined;
  private timing = { head: 0, events: 0 };
  private readonly reads = new Map<string, Promise<unknown>>();
  /** outbox items this process recorded: no other device can have sent their notice */
  private readonly mine = new Set<string>();

  constructor(o: BridgeOptions) {
    // The ports counted: how many homeserver and chain requests a pass costs.
    this.o = { ...o, rooms: counted(o.rooms, this.requests, "homeserver"), chain: counted(o.chain, this.requests, "chain") };
  }

  /** Requests made through the ports since the bridge started. */
  readonly requests = { homeserver: 0, chain: 0 };

  start(): void {
    this.running = true;
    this.lastFull = 0;
    this.loop();
  }

  private loop(): void {
    if (!this.running) return;
    this.busy = this.tick()
      .catch((e: unknown) => this.o.log(`bridge: ${humanChainError(e).log}`))
      .finally(() => {
        if (this.running) this.timer = setTimeout(() => this.loop(), this.o.pollMs);
      });
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.busy;
  }

  /** A new block: look now instead of at the next poll (the tick in progress finishes first). */
  wake(): void {
    this.headAt ??= Date.now();
    if (!this.running || this.waking) return;
    this.waking = true;
    void this.busy.then(() => {
      this.waking = false;
      if (!this.running) return;
      if (this.timer) clearTimeout(this.timer);
      this.loop();
    });
  }

  /** Asks for a look at `roomId` soon (a member joined, a command changed something). */
  poke(roomId: string): void {
    this.dirty.add(roomId);
  }

  /** One step: new confirmed blocks, then the rooms they touched, then (now and then) everything. */
  async tick(): Promise<void> {
    const { store, chain, log } = this.o;
    const started = Date.now();
    const head = this.headAt ?? started;
    this.headAt = undefined;
    const safe = (await chain.head()) - this.o.confirmations;
    // Groups whose cursors agree (all of them, once caught up) are read with one eth_getLogs
    // per range: the calls per new block do not grow with the number of groups.
    const behind = new Map<number, RoomBinding[]>();
    // The rooms this worker holds, once for the tick: a room is reconciled
    // only in a tick that has read its events (a room taken on mid-tick
    // would be reconciled at a cursor from an earlier hold).
    const bindings = (await store.listBindings()).filter((b) => this.serves(b.roomId));
    const held = new Set(bindings.map((b) => b.roomId));
    for (const b of bindings) {
      const cursor = await this.cursorOf(b);
      if (safe > cursor) behind.set(cursor, [...(behind.get(cursor) ?? []), b]);
    }
    for (const [cursor, bindings] of behind) {
      const events = await chain.eventsOf(bindings.map((b) => b.group), cursor + 1, safe);
      for (const b of bindings) {
        const mine = events.get(b.group.toLowerCase()) ?? [];
        if (mine.length > 0) {
          await this.noteReasons(b, mine);
          this.dirty.add(b.roomId);
        }
        await this.advance(b, safe, mine.length > 0);
      }
    }
    this.timing = { head, events: Date.now() };
    const full = Date.now() - this.lastFull >= this.o.fullPassMs;
    const rooms = full ? [...held] : [...this.dirty].filter((r) => held.has(r));
    this.dirty.clear();
    if (full) this.lastFull = Date.now();
    const before = { ...this.requests, at: Date.now() };
    // Rooms are independent: several at once, each in order (keeper, then reconcile).
    // Reads at one block are shared by a room's keeper and reconcile within the tick.
    this.reads.clear();
    await pMap(
      rooms,
      async (roomId) => {
        const b = await store.getBinding(roomId);
        if (!b || !this.serves(roomId)) return;
        try {
          if (full) await this.keeper(b, safe);
          await this.reconcile(b);
        } catch (e) {
          log(`bridge: ${roomId}: ${humanChainError(e).log}`);
          this.dirty.add(roomId);
        }
      },
      { concurrency: this.o.concurrency ?? 8 },
    );
    this.reads.clear();
    if (full && rooms.length > 0) {
      log(
        `bridge: full pass of ${rooms.length} rooms in ${Date.now() - before.at} ms ` +
          `(${this.requests.homeserver - before.homeserver} homeserver requests, ${this.requests.chain - before.chain} chain requests)`,
      );
    }
    await this.drainOutbox();
  }

  /**
   * Where a group's events have been read to. Kept in memory and written to
   * the store when events were read, or every 64 blocks otherwise: a restart
   * reads at most that many quiet blocks again, and a quiet block costs no
   * write. (Events are only hints; the reconcile pass reads full state.)
   */
  private async cursorOf(b: RoomBinding): Promise<number> {
    const known = this.cursors.get(b.group);
    if (known !== undefined) return known;
    const stored = Number((await this.o.store.getState(`cursor:${b.group}`)) ?? String(b.fromBlock - 1));
    this.cursors.set(b.group, stored);
    this.stored.set(b.group, stored);
    return stored;
  }

  private async advance(b: RoomBinding, to: number, hadEvents: boolean): Promise<void> {
    this.cursors.set(b.group, to);
    if (hadEvents || to - (this.stored.get(b.group) ?? 0) >= 64) {
      await this.o.store.setState(`cursor:${b.group}`, String(to));
      this.stored.set(b.group, to);
    }
  }

  /** Remembers why each removed address left: the proposal that removed it, or its lapse. */
  private async noteReasons(b: RoomBinding, events: GroupEvent[]): Promise<void> {
    for (const e of events) {
      if (e.name === "ProposalCreated") await this.o.store.setState(`number:${b.group}:${String(e.args.proposalId)}`, String(e.args.number));
    }
    const executedIn = new Map<string, string>();
    for (const e of events) if (e.name === "ProposalExecuted") executedIn.set(e.txHash, String(e.args.proposalId));
    for (const e of events) {
      if (e.name !== "MemberRemoved") continue;
      const account = String(e.args.account).toLowerCase();
      const pid = executedIn.get(e.txHash);
      const number = pid ? await this.o.store.getState(`number:${b.group}:${pid}`) : undefined;
      let reason: string;
      if (pid) reason = `removed by proposal ${number ? `#${number}` : pid.slice(0, 10)}`;
      else if (["removeLapsed", "removeLapsedBatch"].includes((await this.o.chain.calledFunction(e.txHash)) ?? "")) {
        reason = "membership lapsed: not paid through the grace period";
      }
      else reason = "removed by the group's admins or its governing contract";
      // The keeper's own, more precise reason (with the date) wins.
      const key = `reason:${b.group}:${account}`;
      if (pid || !(await this.o.store.getState(key))) await this.o.store.setState(key, reason);
    }
  }

  /** Makes the room match the group at its last confirmed block. */
  async reconcile(b: RoomBinding): Promise<RoomAction[]> {
    const { store, chain, rooms } = this.o;
    // The room first, then the chain: whatever the room shows was caused by
    // chain state at least as old as the block read below.
    // No further than the events already read: a removal seen here has its
    // reason (the proposal, the lapse) recorded. (The room's members and the
    // head are asked for at once; a failure of either fails the pass.)
    const [room, head] = await Promise.all([rooms.roomMembers(b.roomId), chain.head()]);
    const at = Math.min(head - this.o.confirmations, await this.cursorOf(b));
    if (at < b.fromBlock) return [];
    const links = await store.listLinks(b.roomId);
    // The room's power levels and the chain's standings at once: each is a round trip.
    const [byAddress, p] = await Promise.all([this.standings(b.group, links.map((l) => l.address), at), rooms.powers(b.roomId)]);
    const standings: Standing[] = links.map((l) => ({ userId: l.userId, address: l.address, ...byAddress.get(l.address.toLowerCase())! }));
    const reasons = new Map<string, string>();
    for (const s of standings) {
      const r = await store.getState(`reason:${b.group}:${s.address.toLowerCase()}`);
      if (r) reasons.set(s.address.toLowerCase(), r);
    }
    const actions = diffRoom({ botUserId: this.o.botUserId, room, standings, removalReasons: reasons });
    // Membership first (what people wait for), then the admins' power levels.
    await this.enforce(b, actions, p);
    await this.followMode(b, at, p.users, p.creators);
    return actions;
  }

  private async enforce(b: RoomBinding, actions: RoomAction[], p: Awaited<ReturnType<RoomEnforcer["powers"]>>): Promise<void> {
    const { store, rooms } = this.o;
    if (actions.length === 0) return;
    for (const a of actions) {
      // A long pass may outlive this worker's hold on the room.
      if (!this.serves(b.roomId)) return;
      const need = a.kind === "kick" ? p.kick : p.invite;
      if (p.mine < need) {
        await this.warn(b.roomId, `I need power level ${need} to ${a.kind} members and have ${p.mine}: the room does not follow the group until a room admin raises it.`);
        continue;
      }
      const t = Date.now();
      try {
        if (a.kind === "invite") {
          await rooms.invite(b.roomId, a.userId);
          this.o.log(`bridge: invited ${a.userId} to ${b.roomId} (${a.reason}); ${this.timed(t)}`);
          continue;
        }
        // Nobody can kick a room creator or someone with at least the bot's power.
        const theirs = p.creators.includes(a.userId) ? Infinity : (p.users[a.userId] ?? 0);
        if (theirs >= p.mine) {
          await this.warn(b.roomId, `${a.userId} is not a member of the group (${a.reason}), but has at least my power level: a room admin must remove them.`);
          continue;
        }
        // The follow-up (new key, notice) is owed from the moment we decide
        // to kick, once: a kick cut off by a crash finds its follow-up here.
        const owed = (await store.listOutbox("pending")).find((i) => i.kind === "rotate" && i.roomId === b.roomId && (JSON.parse(i.payload) as RoomAction).userId === a.userId);
        const id = owed?.id ?? `rotate:${b.roomId}:${a.userId}:${Date.now()}`;
        if (!owed) {
          this.mine.add(id);
          await store.addOutbox({ id, roomId: b.roomId, kind: "rotate", payload: JSON.stringify(a), createdAt: Date.now() });
        }
        try {
          await rooms.kick(b.roomId, a.userId, a.reason);
        } catch (e) {
          if (!owed) await store.finishOutbox(id);
          throw e;
        }
        this.o.log(`bridge: kicked ${a.userId} from ${b.roomId} (${a.reason}); ${this.timed(t)}`);
      } catch (e) {
        // One failed action must not hold up the others.
        this.o.log(`bridge: could not ${a.kind} ${a.userId} in ${b.roomId}: ${(e as Error).message.slice(0, 200)}`);
        this.dirty.add(b.roomId);
      }
    }
  }

  /**
   * Where an enforcement's time went, from the announcement of the block that
   * showed it: reading the events, the reconcile pass, the homeserver's call.
   */
  private timed(actionStart: number): string {
    const { head, events } = this.timing;
    const end = Date.now();
    return `timing: block seen at ${head}, events +${events - head} ms, reconcile +${actionStart - events} ms, homeserver +${end - actionStart} ms`;
  }

  /**
   * A read at a fixed block, made once per tick however many times it is
   * asked for (the keeper and the reconcile pass of a room read the same
   * settings and token holders; every room reads the same block's time).
   */
  private read<T>(key: string, f: () => Promise<T>): Promise<T> {
    const known = this.reads.get(key) as Promise<T> | undefined;
    if (known) return known;
    const p = f();
    this.reads.set(key, p);
    p.catch(() => this.reads.delete(key));
    return p;
  }

  private settingsAt(group: string, at: number): Promise<GroupSettings> {
    return this.read(`settings:${group}:${at}`, () => this.o.chain.settings(group, at));
  }

  private expiriesAt(group: string, at: number) {
    return this.read(`expiries:${group}:${at}`, () => this.o.chain.expiries(group, at));
  }

  /** The standing of `addresses` at block `at`: the token holders, the block's time, and the approval of the others. */
  private async standings(group: string, addresses: string[], at: number): Promise<Map<string, Omit<Standing, "userId" | "address">>> {
    const [holders, time] = await Promise.all([this.expiriesAt(group, at), this.read(`time:${at}`, () => this.o.chain.blockTime(at))]);
    const expiry = new Map(holders.map((h) => [h.address.toLowerCase(), h.expiresAt]));
    const out = new Map<string, Omit<Standing, "userId" | "address">>();
    await Promise.all(
      addresses.map(async (a) => {
        const e = expiry.get(a.toLowerCase()) ?? 0;
        // Only someone without a token can be approved to join.
        const approved = e === 0 ? (await this.o.chain.member(group, a, at)).approved : false;
        out.set(a.toLowerCase(), { isMember: e !== 0, active: e > time, approved, expiresAt: e });
      }),
    );
    return out;
  }

  /** In admin mode the group's admins are room moderators. */
  private async followMode(b: RoomBinding, at: number, current: Record<string, number>, creators: string[]): Promise<void> {
    const settings = await this.settingsAt(b.group, at);
    const adminUsers: string[] = [];
    for (const a of settings.admins) {
      const u = (await this.o.store.getLinkByAddress(b.roomId, a))?.userId;
      if (u !== undefined) adminUsers.push(u);
    }
    const key = `promoted:${b.roomId}`;
    const promotedByBot = JSON.parse((await this.o.store.getState(key)) ?? "[]") as string[];
    const { set, promoted } = powerChanges({ adminMode: settings.config.mode === Mode.Admin, adminUsers, current, promotedByBot });
    if (Object.keys(set).length > 0) {
      if (!this.serves(b.roomId)) return;
      try {
        await this.o.rooms.setPowers(b.roomId, set);
        this.o.log(`bridge: power levels in ${b.roomId}: ${JSON.stringify(set)}`);
      } catch (e) {
        await this.warn(b.roomId, `I could not set the admins' power levels (${(e as Error).message.slice(0, 80)}): raise my power level.`);
        return;
      }
    }
    await this.o.store.setState(key, JSON.stringify(promoted));
  }

  /**
   * After a kick: a new key for the bot's messages, and the notice, once.
   * With several workers, by the room's holder only, finished under its
   * fence; an item another worker recorded may have had its notice sent
   * from that worker's device before it died (the homeserver drops a
   * repeated send only from the same device): the room is looked at first.
   */
  private async drainOutbox(): Promise<void> {
    const { store, rooms, share } = this.o;
    for (const item of await store.listOutbox("pending")) {
      if (!this.serves(item.roomId)) continue;
      const a = JSON.parse(item.payload) as RoomAction;
      try {
        const sent = share !== undefined && !this.mine.has(item.id) && (await rooms.sentOnce?.(item.roomId, item.id, item.createdAt)) === true;
        if (!sent) {
          if (!this.serves(item.roomId)) continue;
          await rooms.rotateKey(item.roomId, `Removed ${a.userId}: ${a.reason}. Messages from now on use a new room key.`, a.userId, item.id);
        }
        if (share === undefined) await store.finishOutbox(item.id);
        else if (!(await share.finishOutbox(item))) this.o.log(`bridge: ${item.roomId} passed to another worker before the notice after removing ${a.userId} was marked sent`);
        this.mine.delete(item.id);
      } catch (e) {
        this.o.log(`bridge: notice after removing ${a.userId} failed, will retry: ${(e as Error).message}`);
      }
    }
  }

  /** Whether this worker acts in the room now. */
  private serves(roomId: string): boolean {
    return this.o.share?.owns(roomId) ?? true;
  }

  private async warn(roomId: string, text: string): Promise<void> {
    const last = this.warned.get(roomId) ?? 0;
    if (Date.now() - last < 3_600_000) return;
    this.warned.set(roomId, Date.now());
    this.o.log(`bridge: ${roomId}: ${text}`);
    await this.o.rooms.notice(roomId, text).catch(() => undefined);
  }

  /** Removes members whose grace period is over; releases fees when due. */
  async keeper(b: RoomBinding, at: number): Promise<void> {
    const { chain, store } = this.o;
    const settings = await this.settingsAt(b.group, at);
    const now = this.o.now ? await this.read("now", this.o.now) : Math.floor(Date.now() / 1000);
    const due = lapsedPastGrace(await this.expiriesAt(b.group, at), settings.config.gracePeriod, now);
    // 64 per transaction (the contract's batch limit); each batch is sent once (its intent names its members).
    for (let i = 0; i < due.length; i += 64) {
      const batch = due.slice(i, i + 64);
      const intent = `lapse:${b.group}:${id(batch.map((m) => `${m.address.toLowerCase()}@${m.expiresAt}`).join(","))}`;
      await chain.call(intent, b.group, "removeLapsedBatch", [batch.map((m) => m.address)], `remove ${batch.length} lapsed members`);
      for (const m of batch) {
        await store.setState(`reason:${b.group}:${m.address.toLowerCase()}`, `membership lapsed: not paid since ${formatTime(m.expiresAt)}`);
      }
      this.dirty.add(b.roomId);
    }
    const d = await chain.feeDestinationKind(b.group);
    if (d.kind !== DestinationKind.Release) return;
    for (const token of new Set([ZeroAddress, settings.config.feeToken])) {
      if ((await d.nextReleaseAt(token)) > now || (await d.balance(token)) === 0n) continue;
      await chain.call(`release:${b.group}:${token}:${Math.floor(now / 86_400)}`, b.group, "release", [token], "release fees");
      this.o.log(`bridge: released fees of ${b.group} (${token === ZeroAddress ? "native" : token})`);
    }
  }
}
