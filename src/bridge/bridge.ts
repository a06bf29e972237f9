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
import { warn } from "../log.ts";
import { getAddress, id, ZeroAddress } from "ethers";
import pMap from "p-map";
import {
  adoptionStage,
  allowed,
  closedRoomFixes,
  describeFix,
  diffRoom,
  wasMember,
  lapsedPastGrace,
  powerChanges,
  ADMIN_POWER,
  type RoomAction,
  type RuleFix,
  type Standing,
} from "./desired.ts";
import type { BridgeChain } from "../ports/chain.ts";
import { isRoomAdmin, powerOf, stateLevel, ROOM_ADMIN_POWER, type RoomEnforcer, type RoomPowers, type RoomRules } from "../ports/rooms.ts";
import type { GroupEvent } from "../governance/client.ts";
import { humanChainError } from "../governance/errors.ts";
import { DestinationKind, Mode, type GroupSettings } from "../governance/types.ts";
import type { RoomShare } from "../ports/share.ts";
import type { RoomBinding, RoomPolicy, Store } from "../store/store.ts";
import { escapeHtml, formatDuration, formatTime } from "../text/format.ts";

/** A group bound before rooms had policies: enforced, and adopted nobody. */
const ENFORCED: Omit<RoomPolicy, "roomId"> = { mode: "enforce", adoptees: [], adoptUntil: 1 };
/** Pills per adoption notice: a notice mentioning thousands would be too large for one event. */
const MENTIONS_PER_NOTICE = 50;
/**
 * Group events that cannot change who is in the room or their power: they
 * mark no room for a pass. Any other event (including one added later) does.
 */
export const ROOM_INERT_EVENTS: ReadonlySet<string> = new Set([
  "ProposalCreated",
  "VoteCast",
  "DelegateChanged",
  "RelayerChanged",
  "UnorderedNonceInvalidation",
  "FeeDestinationChanged",
  "FeesReleased",
  "PayoutDeferred",
  "PayoutClaimed",
]);

/** The admins' power levels to set, who the bot promoted then, and the list as stored before. */
type PowerChange = { set: Record<string, number>; promoted: string[]; stored: string | undefined };

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
  /** told what each pass found and did (metrics) */
  observe?: {
    /** a room reconciled: its group's paid-up members */
    reconciled(roomId: string, members: number): void;
    /** an invite, kick, ban or unban done, seconds from the block that called for it being seen */
    enforced(kind: RoomAction["kind"], seconds: number): void;
  };
  log: (line: string) => void;
  /** seconds since the epoch (tests may move time with the chain) */
  now?: () => Promise<number>;
  /** several workers: only the rooms this one holds are read, enforced and drained (default: every room) */
  share?: RoomShare;
  /** how long people in a room when enforcement begins keep their place though not members (ms) */
  adoptionGraceMs?: number;
  /** how long before the end of that grace they are reminded (ms; 0 = no reminder) */
  adoptionReminderMs?: number;
  /** the command prefix, for what the bot tells people to send */
  prefix?: string;
  /** the wall clock, ms since the epoch (adoption grace periods run on it) */
  clock?: () => number;
}

export class Bridge {
  private readonly o: BridgeOptions;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastFull = 0;
  private readonly dirty = new Set<string>();
  /** who waits for the next pass over a room */
  private readonly settling = new Map<string, (() => void)[]>();
  /** when each warning was last said in each room */
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
      .catch((e: unknown) => warn(this.o.log, `bridge: ${humanChainError(e).log}`))
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

  /**
   * Resolves once a pass over `roomId` that started after this call is
   * done (a new group's room is closed before its creation is answered), or
   * after `ms` whatever happened.
   */
  settle(roomId: string, ms = 10_000): Promise<void> {
    this.dirty.add(roomId);
    return new Promise((resolve) => {
      this.settling.set(roomId, [...(this.settling.get(roomId) ?? []), resolve]);
      setTimeout(resolve, ms).unref();
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
      let events: Map<string, GroupEvent[]>;
      try {
        events = await chain.eventsOf(
          bindings.map((b) => b.group),
          cursor + 1,
          safe,
        );
      } catch (e) {
        // Their cursors stay; the rooms due a pass still get it, at the block
        // already read (the outbox, the room's rules and the other rooms do not
        // wait for the endpoint).
        warn(log, `bridge: reading the events of ${bindings.length} group(s) after block ${cursor} failed, will retry: ${humanChainError(e).log}`);
        continue;
      }
      for (const b of bindings) {
        const mine = events.get(b.group.toLowerCase()) ?? [];
        if (mine.length > 0) await this.noteReasons(b, mine);
        // Votes, delegations and payouts change nothing in the room: a busy vote
        // costs no pass, and the pass a decision needs does not wait behind one.
        if (mine.some((e) => !ROOM_INERT_EVENTS.has(e.name))) this.dirty.add(b.roomId);
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
    const drained = new Set<string>();
    const owing = new Set((await store.listOutbox("pending")).map((i) => i.roomId));
    await pMap(
      rooms,
      async (roomId) => {
        const b = await store.getBinding(roomId);
        try {
          if (!b || !this.serves(roomId)) return;
          if (full) await this.keeper(b, safe);
          const actions = await this.reconcile(b);
          // A removal's new key and notice at once, not after every other room's pass.
          if (owing.has(roomId) || actions.some((a) => a.kind === "kick" || a.kind === "ban")) {
            drained.add(roomId);
            await this.drainOutbox((r) => r === roomId);
          }
        } catch (e) {
          warn(log, `bridge: ${roomId}: ${humanChainError(e).log}`);
          this.dirty.add(roomId);
        } finally {
          for (const done of this.settling.get(roomId) ?? []) done();
          this.settling.delete(roomId);
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
    // The rest: rooms not passed over in this tick.
    await this.drainOutbox((r) => !drained.has(r));
    await this.lapseCreations();
  }

  /** Previews whose consent window passed: said in the room, then forgotten. */
  private async lapseCreations(): Promise<void> {
    const { store, rooms, log } = this.o;
    const now = this.clock();
    for (const c of await store.listCreations()) {
      if (now <= c.expiresAt) continue;
      const consents = await store.listConsents(c.roomId, c.code);
      try {
        // Said before it is forgotten, under an id of its own: said again after a crash, it is dropped.
        await rooms.notice(
          c.roomId,
          `The preview ${c.code} of a group for this room lapsed: not every founder consented in time (consented: ${consents.length ? consents.join(", ") : "nobody"}). Nothing was created or spent; a room admin may send ${this.o.prefix ?? "!"}dao create again.`,
          `lapsed:${c.roomId}:${c.code}`,
        );
      } catch (e) {
        log(`bridge: ${c.roomId}: could not say that the preview ${c.code} lapsed: ${(e as Error).message.slice(0, 200)}`);
      }
      await store.deleteCreation(c.roomId, c.code);
      log(`bridge: ${c.roomId}: the preview ${c.code} lapsed (${consents.length} consents)`);
    }
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
      } else reason = "removed by the group's admins or its governing contract";
      // The keeper's own, more precise reason (with the date) wins.
      const key = `reason:${b.group}:${account}`;
      if (pid || !(await this.o.store.getState(key))) await this.o.store.setState(key, reason);
    }
  }

  private clock(): number {
    return this.o.clock ? this.o.clock() : Date.now();
  }

  /**
   * Makes the room match the group at its last confirmed block: members in,
   * everyone else out (after their adoption grace), the room closed, the
   * admins' power levels in admin mode. In watch mode it says in the room
   * what it would do instead, each time that changes. A room upgraded by a
   * room admin hands the group on to the room that replaces it.
   */
  async reconcile(b: RoomBinding): Promise<RoomAction[]> {
    const { store, chain, rooms } = this.o;
    // The room's rules, power levels and members (in one read where the room
    // side has one), and the chain's head, at once: each is a round trip.
    // (The room is read no later than the chain: whatever the room shows was
    // caused by chain state at least as old as the block read below. A
    // failure of any fails the pass.)
    const [[rules, p, room], head] = await Promise.all([
      rooms.snapshot
        ? rooms.snapshot(b.roomId).then((s) => [s.rules, s.powers, s.members] as const)
        : Promise.all([rooms.rules(b.roomId), rooms.powers(b.roomId), rooms.roomMembers(b.roomId)]),
      chain.head(),
    ]);
    if (rules.tombstone) {
      await this.followUpgrade(b, rules.tombstone);
      return [];
    }
    let policy: RoomPolicy = (await store.getRoomPolicy(b.roomId)) ?? { roomId: b.roomId, ...ENFORCED };
    const watch = policy.mode === "watch";
    const fixes = closedRoomFixes(rules, p);
    // The room's rules do not wait for the chain: closed from the first pass on.
    if (!watch) await this.closeRoom(b, fixes, p);
    // No further than the events already read: a removal seen here has its
    // reason (the proposal, the lapse) recorded.
    const at = Math.min(head - this.o.confirmations, await this.cursorOf(b));
    if (at < b.fromBlock) return [];
    // Needed after the standings: asked for beside them.
    this.settingsAt(b.group, at).catch(() => undefined);
    const links = await store.listLinks(b.roomId);
    const byAddress = await this.standings(
      b.group,
      links.map((l) => l.address),
      at,
    );
    const standings: Standing[] = links.map((l) => ({ userId: l.userId, address: l.address, ...byAddress.get(l.address.toLowerCase())! }));
    // Every member's removal reason in one read (set for few of them).
    const reasonKey = (address: string) => `reason:${b.group}:${address.toLowerCase()}`;
    const known = await store.getStates(standings.map((s) => reasonKey(s.address)));
    const reasons = new Map<string, string>();
    for (const s of standings) {
      const r = known.get(reasonKey(s.address));
      if (r) reasons.set(s.address.toLowerCase(), r);
    }
    const botBans = new Set<string>();
    for (const m of room) if (m.membership === "ban" && (await store.getBan(b.roomId, m.userId))) botBans.add(m.userId);
    const base = { botUserId: this.o.botUserId, room, standings, removalReasons: reasons, botBans };
    const now = this.clock();
    if (!watch && policy.adoptUntil === 0) {
      // Enforcement begins: whoever is in the room and may not be keeps their place for the grace period.
      // Not one who was a member and lapsed or was removed (while the room was watched): no grace for them.
      const formerly = new Set(standings.filter((s) => wasMember(s, reasons)).map((s) => s.userId));
      const adoptees = diffRoom(base)
        .filter((a) => a.kind === "ban" || room.some((m) => m.userId === a.userId && m.membership === "invite"))
        .map((a) => a.userId)
        .filter((u) => !formerly.has(u));
      const adoptUntil = now + (this.o.adoptionGraceMs ?? 0);
      // Only while still enforced and not adopted: a `!dao watch` meanwhile wins.
      if (!(await store.beginAdoption(b.roomId, adoptees, adoptUntil))) return [];
      policy = { ...policy, adoptees, adoptUntil };
      this.o.log(
        `bridge: ${b.roomId}: enforcement begins; ${adoptees.length} people not members keep their place until ${new Date(policy.adoptUntil).toISOString()}`,
      );
    }
    const stage = adoptionStage(policy.adoptUntil, this.o.adoptionReminderMs ?? 0, now);
    const adopting = new Set(stage === "ended" || watch ? [] : policy.adoptees);
    const ended = `not a member of the group: the adoption grace period ended ${formatTime(Math.floor(policy.adoptUntil / 1000))}`;
    const userReasons = new Map(stage === "ended" ? policy.adoptees.map((u) => [u, ended] as const) : []);
    const actions = diffRoom({ ...base, adopting, userReasons });
    this.o.observe?.reconciled(b.roomId, standings.filter((s) => s.active).length);
    const powerSet = await this.modePowers(b, at, p);
    if (watch) {
      await this.report(
        b,
        policy,
        actions,
        fixes,
        powerSet.set,
        new Set(room.filter((m) => m.membership === "join" || m.membership === "invite").map((m) => m.userId)),
      );
      return actions;
    }
    if (policy.adoptees.length > 0) await this.adoptionNotices(b, policy, stage, standings, room);
    for (const s of standings) {
      if (allowed(s) && room.some((m) => m.userId === s.userId && m.membership === "ban") && !botBans.has(s.userId)) {
        await this.warn(b.roomId, `${s.userId} is a member of the group but was banned by a room admin: I lift only the bans I made.`, `banned:${s.userId}`);
      }
    }
    for (const a of actions) {
      // A long pass may outlive this worker's hold on the room.
      if (!this.serves(b.roomId)) return actions;
      const need = a.kind === "kick" ? p.kick : a.kind === "invite" ? p.invite : p.ban;
      if (p.mine < need) {
        const verb = a.kind === "unban" ? "lift bans" : a.kind;
        await this.warn(
          b.roomId,
          `I need power level ${need} to ${verb} and have ${p.mine}: the room does not follow the group until a room admin raises it.`,
          `power:${a.kind}`,
        );
        continue;
      }
      const t = Date.now();
      try {
        if (a.kind === "invite") {
          await rooms.invite(b.roomId, a.userId);
          await store.deleteBan(b.roomId, a.userId);
          this.o.log(`bridge: invited ${a.userId} to ${b.roomId} (${a.reason}); ${this.timed(t, a.kind)}`);
          continue;
        }
        if (a.kind === "unban") {
          await rooms.unban(b.roomId, a.userId);
          this.o.log(`bridge: lifted the ban on ${a.userId} in ${b.roomId} (${a.reason}); ${this.timed(t, a.kind)}`);
          continue;
        }
        // Nobody can remove a room creator or someone with at least the bot's power.
        if (powerOf(p, a.userId) >= p.mine) {
          await this.warn(
            b.roomId,
            `${a.userId} is not a member of the group (${a.reason}), but has at least my power level: a room admin must remove them.`,
            `above:${a.userId}`,
          );
          continue;
        }
        // The follow-up (new key, notice) is owed from the moment we decide
        // to remove, once: a removal cut off by a crash finds its follow-up here.
        const owed = (await store.listOutbox("pending")).find(
          (i) => i.kind === "rotate" && i.roomId === b.roomId && (JSON.parse(i.payload) as RoomAction).userId === a.userId,
        );
        const id = owed?.id ?? `rotate:${b.roomId}:${a.userId}:${Date.now()}`;
        if (!owed) {
          this.mine.add(id);
          await store.addOutbox({ id, roomId: b.roomId, kind: "rotate", payload: JSON.stringify(a), createdAt: Date.now() });
        }
        try {
          if (a.kind === "ban") {
            // Recorded first: a ban the bot made is one it may lift later.
            await store.putBan({ roomId: b.roomId, userId: a.userId, reason: a.reason, bannedAt: Date.now() });
            await rooms.ban(b.roomId, a.userId, a.reason);
          } else {
            await rooms.kick(b.roomId, a.userId, a.reason);
          }
        } catch (e) {
          if (!owed) await store.finishOutbox(id);
          throw e;
        }
        this.o.log(`bridge: ${a.kind === "ban" ? "banned" : "kicked"} ${a.userId} from ${b.roomId} (${a.reason}); ${this.timed(t, a.kind)}`);
      } catch (e) {
        // One failed action must not hold up the others.
        warn(this.o.log, `bridge: could not ${a.kind} ${a.userId} in ${b.roomId}: ${(e as Error).message.slice(0, 200)}`);
        this.dirty.add(b.roomId);
      }
    }
    // The admins' power levels after membership (what people wait for).
    await this.applyModePowers(b, powerSet);
    return actions;
  }

  /**
   * Where an enforcement's time went, from the announcement of the block that
   * showed it: reading the events, the reconcile pass, the homeserver's call.
   */
  private timed(actionStart: number, kind: RoomAction["kind"]): string {
    const { head, events } = this.timing;
    const end = Date.now();
    this.o.observe?.enforced(kind, (end - head) / 1000);
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

  /**
   * Keeps the room closed: sets back join rules, history visibility and
   * encryption, and the power needed to change them, saying so in the room.
   */
  private async closeRoom(b: RoomBinding, fixes: RuleFix[], p: RoomPowers): Promise<void> {
    if (fixes.length === 0) return;
    const done: string[] = [];
    for (const f of fixes) {
      const type =
        f.kind === "levels"
          ? "m.room.power_levels"
          : f.kind === "joinRule"
            ? "m.room.join_rules"
            : f.kind === "historyVisibility"
              ? "m.room.history_visibility"
              : "m.room.encryption";
      const need = f.kind === "levels" ? Math.max(ROOM_ADMIN_POWER, stateLevel(p, type)) : stateLevel(p, type);
      if (p.mine < need) {
        await this.warn(
          b.roomId,
          `I need power level ${need} to keep the room closed (${describeFix(f)}) and have ${p.mine}: a room admin must raise it.`,
          `close:${f.kind}`,
        );
        continue;
      }
      try {
        if (f.kind === "levels") await this.o.rooms.setEventLevels(b.roomId, f.set);
        else await this.o.rooms.setRule(b.roomId, f.kind, f.to);
        done.push(describeFix(f));
      } catch (e) {
        warn(this.o.log, `bridge: ${b.roomId}: could not set ${describeFix(f)}: ${(e as Error).message.slice(0, 200)}`);
        this.dirty.add(b.roomId);
      }
    }
    if (done.length === 0) return;
    const first = (await this.o.store.getState(`closed:${b.roomId}`)) === undefined;
    await this.o.store.setState(`closed:${b.roomId}`, String(Date.now()));
    this.o.log(`bridge: ${b.roomId}: ${first ? "closed the room" : "restored the room's rules"}: ${done.join("; ")}`);
    await this.o.rooms
      .notice(
        b.roomId,
        `${first ? "I closed this room: the group decides who is in it." : "I set this room's rules back: the group decides who is in it, and they are not changed in chat."} ${done.map((d) => `${d[0]!.toUpperCase()}${d.slice(1)}.`).join(" ")}`,
      )
      .catch(() => undefined);
  }

  /**
   * Tells the adoptees how to join, once when enforcement begins and once
   * more before their grace ends; each notice mentions those still not
   * members, and is sent once (also across crashes).
   */
  private async adoptionNotices(
    b: RoomBinding,
    policy: RoomPolicy,
    stage: "grace" | "reminder" | "ended",
    standings: Standing[],
    room: { userId: string; membership: string }[],
  ): Promise<void> {
    if (stage === "ended") return;
    const { store } = this.o;
    const which =
      (await store.getState(`adopt-welcome:${b.roomId}:${policy.adoptUntil}`)) === undefined ? "welcome" : stage === "reminder" ? "reminder" : undefined;
    if (which === undefined || (which === "reminder" && (await store.getState(`adopt-reminder:${b.roomId}:${policy.adoptUntil}`)) !== undefined)) return;
    const ok = new Set(standings.filter(allowed).map((s) => s.userId));
    const present = new Set(room.filter((m) => m.membership === "join" || m.membership === "invite").map((m) => m.userId));
    const who = policy.adoptees.filter((u) => present.has(u) && !ok.has(u));
    const pre = this.o.prefix ?? "!";
    const until = formatTime(Math.floor(policy.adoptUntil / 1000));
    const group = getAddress(b.group);
    const how = `To stay, become a member: link your wallet (send ${pre}link 0xYOUR_ADDRESS here, or in a direct message to me ${pre}link 0xYOUR_ADDRESS ${b.roomId}), then ask a member to propose adding you (${pre}propose add @you); once it passes, send ${pre}join.`;
    const head =
      which === "welcome"
        ? `this room is now the room of the group ${group}: only its members stay. You are not a member yet, and you keep your place until ${until}.`
        : `a reminder: you are still not a member of the group ${group}, and your place in this room ends ${until} (in ${formatDuration(Math.max(0, Math.round((policy.adoptUntil - this.clock()) / 1000)))}).`;
    const tail = "Whoever is not a member by then is removed from the room, and can come back once the group admits them.";
    for (let i = 0; i < who.length; i += MENTIONS_PER_NOTICE) {
      const part = who.slice(i, i + MENTIONS_PER_NOTICE);
      const names = part.join(", ");
      const pills = part.map((u) => `<a href="https://matrix.to/#/${escapeHtml(u)}">${escapeHtml(u)}</a>`).join(", ");
      await this.o.rooms.mention(
        b.roomId,
        { text: `${names}: ${head} ${how} ${tail}`, html: `${pills}: ${escapeHtml(head)} ${escapeHtml(how)} ${escapeHtml(tail)}`, userIds: part },
        `adopt-${which}:${b.roomId}:${policy.adoptUntil}:${i}`,
      );
    }
    // A reminder due already at the first notice (a short grace) is not sent on top of it.
    if (which === "welcome" && stage === "reminder") await store.setState(`adopt-reminder:${b.roomId}:${policy.adoptUntil}`, String(this.clock()));
    await store.setState(`adopt-${which}:${b.roomId}:${policy.adoptUntil}`, String(this.clock()));
    this.o.log(`bridge: ${b.roomId}: adoption ${which} sent to ${who.length} people`);
  }

  /**
   * Watch mode: what the bot would do, said in the room each time it
   * changes; nothing is done.
   */
  private async report(
    b: RoomBinding,
    policy: RoomPolicy,
    actions: RoomAction[],
    fixes: RuleFix[],
    powers: Record<string, number>,
    present: Set<string>,
  ): Promise<void> {
    const pre = this.o.prefix ?? "!";
    const grace =
      policy.adoptUntil === 0 && (this.o.adoptionGraceMs ?? 0) > 0
        ? ` (once enforced, after an adoption grace of ${formatDuration(Math.round((this.o.adoptionGraceMs ?? 0) / 1000))} in which they are told how to join)`
        : "";
    const lines: string[] = [];
    for (const a of actions) {
      if (a.kind === "invite") lines.push(`would invite ${a.userId}: ${a.reason}`);
      else if (a.kind === "unban") lines.push(`would lift the ban on ${a.userId}: ${a.reason}`);
      else if (a.kind === "ban") lines.push(`would remove ${a.userId}: ${a.reason}${grace}`);
      else lines.push(`would withdraw the ${present.has(a.userId) ? "invite" : "knock"} of ${a.userId}: ${a.reason}${present.has(a.userId) ? grace : ""}`);
    }
    for (const f of fixes) lines.push(`would set ${describeFix(f)}`);
    for (const [u, l] of Object.entries(powers))
      lines.push(
        l === ADMIN_POWER
          ? `would make ${u} a moderator (power ${l}): an admin of the group`
          : `would set ${u}'s power level to ${l}: no longer an admin of the group`,
      );
    const key = `watch-report:${b.roomId}`;
    const fingerprint = JSON.stringify(lines);
    if ((await this.o.store.getState(key)) === fingerprint) return;
    const text =
      lines.length === 0
        ? `Watch mode: the room matches the group; I would change nothing. A room admin sends ${pre}dao enforce to let me act.`
        : `Watch mode: I change nothing in this room. If I enforced the group now, I ${lines.join("; ")}. A room admin sends ${pre}dao enforce to let me act.`;
    await this.o.rooms.notice(b.roomId, text);
    await this.o.store.setState(key, fingerprint);
    this.o.log(`bridge: ${b.roomId}: watch mode: ${lines.length} things it would do`);
  }

  /**
   * A room admin upgraded the room: the group moves to the room that
   * replaces it, once the bot has joined it and it names this room as its
   * predecessor. Anyone short of an admin cannot move a group.
   */
  private async followUpgrade(b: RoomBinding, tombstone: NonNullable<RoomRules["tombstone"]>): Promise<void> {
    const { store, rooms } = this.o;
    const from = b.roomId;
    const to = tombstone.replacement;
    const by = tombstone.by;
    if (by === undefined || !isRoomAdmin(await rooms.powers(from), by)) {
      await this.warn(from, `${by ?? "Someone"} upgraded this room to ${to} without being a room admin: the group stays bound to this room.`, "upgrade");
      return;
    }
    if (await store.getBinding(to)) {
      await this.warn(from, `This room was upgraded to ${to}, but that room is already the room of another group: the group stays bound here.`, "upgrade");
      return;
    }
    // Lets the bot accept an invite there, whoever sends it.
    await store.setState(`follow:${to}`, from);
    const via = [...new Set([by, this.o.botUserId].map((u) => u.slice(u.indexOf(":") + 1)))];
    try {
      await rooms.join(to, via);
    } catch (e) {
      warn(this.o.log, `bridge: ${from}: could not join ${to}, its replacement: ${(e as Error).message.slice(0, 200)}`);
      await this.warn(from, `This room was upgraded to ${to}: the group follows it there. Invite me (${this.o.botUserId}) to the new room.`, "upgrade");
      return;
    }
    const next = await rooms.rules(to);
    if (next.predecessor !== from) {
      await this.warn(from, `The tombstone points to ${to}, which does not say it replaces this room: the group stays bound here.`, "upgrade");
      await rooms.leave(to).catch(() => undefined);
      return;
    }
    // Said before the move, once each: after it, this room is no longer looked at.
    const group = getAddress(b.group);
    await rooms.notice(
      from,
      `This room was upgraded by ${by}: the group ${group} now lives in ${to}. I invite its members there; this room is no longer governed.`,
      `moved-out:${from}`,
    );
    await rooms.notice(
      to,
      `This room replaces ${from}: it is the room of the group ${group} now. I invite the group's members and keep the room closed.`,
      `moved-in:${to}`,
    );
    const promoted = await store.getState(`promoted:${from}`);
    if (promoted !== undefined) await store.setState(`promoted:${to}`, promoted);
    const closed = await store.getState(`closed:${from}`);
    if (closed !== undefined) await store.setState(`closed:${to}`, closed);
    await store.moveRoom(from, to);
    this.o.log(`bridge: the group ${b.group} moved from ${from} to ${to} (room upgrade by ${by})`);
    this.dirty.add(to);
  }

  /** In admin mode the group's admins are room moderators: the power levels that makes so. */
  private async modePowers(b: RoomBinding, at: number, p: RoomPowers): Promise<PowerChange> {
    const settings = await this.settingsAt(b.group, at);
    const adminUsers: string[] = [];
    for (const a of settings.admins) {
      const u = (await this.o.store.getLinkByAddress(b.roomId, a))?.userId;
      if (u !== undefined) adminUsers.push(u);
    }
    const stored = await this.o.store.getState(`promoted:${b.roomId}`);
    const promotedByBot = JSON.parse(stored ?? "[]") as string[];
    // A creator's unlimited power is not in the list, and is never touched.
    const current = { ...p.users, ...Object.fromEntries(p.creators.map((c) => [c, Number.MAX_SAFE_INTEGER])) };
    return { ...powerChanges({ adminMode: settings.config.mode === Mode.Admin, adminUsers, current, promotedByBot }), stored };
  }

  private async applyModePowers(b: RoomBinding, change: PowerChange): Promise<void> {
    if (Object.keys(change.set).length > 0) {
      if (!this.serves(b.roomId)) return;
      try {
        await this.o.rooms.setPowers(b.roomId, change.set);
        this.o.log(`bridge: power levels in ${b.roomId}: ${JSON.stringify(change.set)}`);
      } catch (e) {
        await this.warn(b.roomId, `I could not set the admins' power levels (${(e as Error).message.slice(0, 80)}): raise my power level.`, "admins");
        return;
      }
    }
    // Written when it changed: a pass over rooms that need nothing writes nothing (none stored reads as none).
    const promoted = JSON.stringify(change.promoted);
    if (promoted !== (change.stored ?? "[]")) await this.o.store.setState(`promoted:${b.roomId}`, promoted);
  }

  /**
   * After a kick: a new key for the bot's messages, and the notice, once.
   * With several workers, by the room's holder only, finished under its
   * fence; an item another worker recorded may have had its notice sent
   * from that worker's device before it died (the homeserver drops a
   * repeated send only from the same device): the room is looked at first.
   */
  private async drainOutbox(which: (roomId: string) => boolean): Promise<void> {
    const { store, rooms, share } = this.o;
    for (const item of await store.listOutbox("pending")) {
      if (!which(item.roomId) || !this.serves(item.roomId)) continue;
      const a = JSON.parse(item.payload) as RoomAction;
      try {
        const sent = share !== undefined && !this.mine.has(item.id) && (await rooms.sentOnce?.(item.roomId, item.id, item.createdAt)) === true;
        if (!sent) {
          if (!this.serves(item.roomId)) continue;
          await rooms.rotateKey(item.roomId, `Removed ${a.userId}: ${a.reason}. Messages from now on use a new room key.`, a.userId, item.id);
        }
        if (share === undefined) await store.finishOutbox(item.id);
        else if (!(await share.finishOutbox(item)))
          this.o.log(`bridge: ${item.roomId} passed to another worker before the notice after removing ${a.userId} was marked sent`);
        this.mine.delete(item.id);
      } catch (e) {
        warn(this.o.log, `bridge: notice after removing ${a.userId} failed, will retry: ${(e as Error).message}`);
      }
    }
  }

  /** Whether this worker acts in the room now. */
  private serves(roomId: string): boolean {
    return this.o.share?.owns(roomId) ?? true;
  }

  /** Says `text` in the room, at most once an hour for each `what`. */
  private async warn(roomId: string, text: string, what: string): Promise<void> {
    const key = `${roomId}\n${what}`;
    const last = this.warned.get(key) ?? 0;
    if (Date.now() - last < 3_600_000) return;
    this.warned.set(key, Date.now());
    this.o.log(`bridge: ${roomId}: ${text}`);
    await this.o.rooms.notice(roomId, text).catch(() => undefined);
  }

  /** Removes members whose grace period is over; releases fees when due. */
  async keeper(b: RoomBinding, at: number): Promise<void> {
    const { chain, store } = this.o;
    // Its reads at once, each a round trip (the fee destination at the latest block, as before).
    const [settings, now, holders, d] = await Promise.all([
      this.settingsAt(b.group, at),
      this.o.now ? this.read("now", this.o.now) : Math.floor(Date.now() / 1000),
      this.expiriesAt(b.group, at),
      chain.feeDestinationKind(b.group),
    ]);
    const due = lapsedPastGrace(holders, settings.config.gracePeriod, now);
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
    if (d.kind !== DestinationKind.Release) return;
    for (const token of new Set([ZeroAddress, settings.config.feeToken])) {
      if ((await d.nextReleaseAt(token)) > now || (await d.balance(token)) === 0n) continue;
      await chain.call(`release:${b.group}:${token}:${Math.floor(now / 86_400)}`, b.group, "release", [token], "release fees");
      this.o.log(`bridge: released fees of ${b.group} (${token === ZeroAddress ? "native" : token})`);
    }
  }
}
