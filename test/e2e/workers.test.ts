/**
 * Three workers of one bot on one PostgreSQL, with the real Synapse, chain
 * and chat clients: the rooms are shared out among them; one worker is
 * SIGKILLed while a decision in one of its rooms is under way (a vote sent
 * a moment before the kill: it may have been anywhere from not seen to
 * answered); its rooms are taken over within 30 s with the default lease
 * timings; the decision is enforced exactly once (one kick, one rotation
 * notice), every command in every room is answered exactly once, no two
 * transactions share a nonce, and every transaction of the bot's key on
 * the chain is recorded and followed to its end. The killed worker, started
 * again, gets its share of the rooms back.
 *
 * Counted from the rooms' history as the server keeps it, and from the
 * database.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import pg from "pg";
import { startSystem, type System } from "../../scripts/harness.ts";
import { startPostgres, type PostgresHandle } from "../../scripts/postgres.ts";
import { authorize, createGroup, dm, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { answersByEvent, quietConsole, type ChatUser, type RawRoomEvent } from "../../scripts/chat.ts";

const root = join(import.meta.dirname, "../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seed = Number(process.env.CONCLAVE_WORKERS_SEED ?? Math.floor(Math.random() * 1500));

let server: PostgresHandle;
let db: pg.Client;
let sys: System;
let bot: string;

beforeAll(async () => {
  quietConsole();
  server = await startPostgres();
  const url = await server.createDatabase("bot");
  sys = await startSystem({ root, users: ["alice", "bob", "carol"], storeUrl: url, workers: 3 });
  bot = sys.botUserId;
  db = new pg.Client({ connectionString: url });
  await db.connect();
}, 300_000);

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first */
  await db?.end();
  await sys?.stop();
  await server?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
}, 60_000);

/** Room → its lease holder, for the leases in force now. */
async function holders(): Promise<Map<string, string>> {
  const r = await db.query<{ room_id: string; owner: string }>("SELECT room_id, owner FROM room_leases WHERE expires_at > now()");
  return new Map(r.rows.map((x) => [x.room_id, x.owner]));
}

const nameOf = (holder: string) => holder.slice(0, holder.lastIndexOf("/"));

/** Waits until `check` holds, reading again every 250 ms; returns the milliseconds it took. */
async function eventually(what: string, check: () => Promise<boolean>, ms = 120_000): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
  return Date.now() - t0;
}

/** Every command the test sent, to count their answers at the end. */
const commands: { roomId: string; eventId: string; text: string }[] = [];

/** Sends a command and waits for its answer. */
async function command(u: ChatUser, roomId: string, text: string): Promise<string> {
  const eventId = await u.say(roomId, text);
  commands.push({ roomId, eventId, text });
  return u.answerTo(roomId, eventId, bot, 90_000);
}

describe("three workers on one PostgreSQL", () => {
  it("share the rooms, take over a killed worker's rooms within 30 s, and enforce its pending decision exactly once", async () => {
    const { alice, bob, carol } = sys.users as Record<"alice" | "bob" | "carol", ChatUser>;
    process.stdout.write(`workers test seed (ms between the vote and the kill): ${seed}\n`);

    // Three governed rooms and a DM, every command through chat.
    const rooms: string[] = [];
    for (let i = 0; i < 3; i++) {
      const room = await groupRoom(alice, [bob, carol], bot);
      for (const u of [alice, bob, carol]) {
        const asked = await linkWallet(u, room, bot);
        expect(asked).toMatch(/now linked/);
      }
      // The founders see the settings and each consents (counted with every command below).
      expect((await createGroup(alice, [bob, carol], room, bot, "quorum=50%")).created).toMatch(/This room is now a group/);
      rooms.push(room);
    }
    const aliceDm = await dm(alice, bot);
    expect(await command(alice, aliceDm, "!help")).toMatch(/Commands:/);

    // Spread: every worker holds a share (4 rooms among 3 workers: 1 or 2 each).
    await eventually("every worker holding rooms", async () => {
      const h = await holders();
      const per = new Map<string, number>();
      for (const r of [...rooms, aliceDm]) if (h.has(r)) per.set(nameOf(h.get(r)!), (per.get(nameOf(h.get(r)!)) ?? 0) + 1);
      return per.size === 3 && [...per.values()].every((n) => n >= 1 && n <= 2);
    });
    const spread = await holders();
    process.stdout.write(
      `rooms per worker: ${JSON.stringify(Object.fromEntries(sys.workerNames.map((n) => [n, [...spread.values()].filter((h) => nameOf(h) === n).length])))}\n`,
    );

    // A removal under way in the first room: proposed and half voted; the deciding vote is sent, and its worker killed.
    const room = rooms[0]!;
    for (const u of [alice, bob]) expect(await authorize(u, room, bot)).toMatch(/Authorised/);
    expect(await command(alice, room, "!propose remove @carol:localhost")).toMatch(/Proposal #1 by @alice:localhost/);
    expect(await command(alice, room, "!vote 1 yes")).toMatch(/FOR 1 · AGAINST 0 · ABSTAIN 0 .* open/);

    const before = await holders();
    const victimHolder = before.get(room)!;
    const victim = sys.workerNames.indexOf(nameOf(victimHolder));
    expect(victim).toBeGreaterThanOrEqual(0);
    const victimRooms = [...before].filter(([, h]) => h === victimHolder).map(([r]) => r);
    const vote = await bob.say(room, "!vote 1 yes");
    commands.push({ roomId: room, eventId: vote, text: "!vote 1 yes (the deciding one)" });
    await sleep(seed);
    await sys.workers[victim]!.stop("SIGKILL");
    const killedAt = Date.now();

    // Taken over: every room of the dead worker held by a live one.
    const takeover = await eventually(
      "the killed worker's rooms taken over",
      async () => {
        const h = await holders();
        return victimRooms.every((r) => h.has(r) && h.get(r) !== victimHolder);
      },
      60_000,
    );
    process.stdout.write(
      `worker ${sys.workerNames[victim]} (${victimRooms.length} room(s)) SIGKILLed ${seed} ms after the deciding vote; its rooms taken over in ${(takeover / 1000).toFixed(1)} s\n`,
    );
    expect(takeover).toBeLessThanOrEqual(30_000);

    // The decision: the vote answered, the proposal executed, carol removed, the notice sent.
    expect(await bob.answerTo(room, vote, bot, 90_000)).toMatch(/passed and was executed: remove @carol/);
    await alice.until("carol removed", () => (alice.client.getRoom(room)?.getMember(carol.userId)?.membership !== "join" ? true : undefined), 90_000);
    const noticeFor = async () => {
      let n = 0;
      for (const e of await alice.history(room))
        if (e.sender === bot && /^Removed @carol:localhost: removed by proposal #1/.test((await alice.read(e)) ?? "")) n++;
      return n;
    };
    await eventually("the rotation notice", async () => (await noticeFor()) > 0, 90_000);
    process.stdout.write(`the deciding vote answered and carol removed ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill\n`);
    // The surviving workers answer in the taken-over room.
    expect(await command(alice, room, "!members")).toMatch(/^2 member\(s\)/);

    // The killed worker comes back (a new run under its name) and gets a share again.
    await sys.restartWorker(victim);
    const back = await eventually(
      "the restarted worker holding rooms",
      async () => [...(await holders()).values()].some((h) => nameOf(h) === sys.workerNames[victim] && h !== victimHolder),
      60_000,
    );
    process.stdout.write(`worker ${sys.workerNames[victim]} restarted; it held a room again ${(back / 1000).toFixed(1)} s after it was ready\n`);
    for (const r of rooms) expect(await command(bob, r, "!status")).toMatch(/Group status/);
    expect(await command(alice, aliceDm, "!help vote")).toMatch(/vote/);

    // Anything done twice would show within this.
    await sleep(5000);
    const kicks = (await alice.history(room)).filter((e) => {
      const ev = e as RawRoomEvent & { state_key?: string };
      return e.type === "m.room.member" && ev.state_key === carol.userId && e.sender === bot && ["leave", "ban"].includes(String(e.content["membership"]));
    });
    expect(kicks.length).toBe(1);
    expect(await noticeFor()).toBe(1);
    // Every command of every member answered exactly once, in every room (links and authorisations included).
    const counts: Record<string, number> = {};
    for (const r of [...rooms, aliceDm]) {
      const got = await answersByEvent(alice, r, bot);
      for (const e of await alice.history(r)) {
        if (e.sender === bot || !["m.room.message", "m.room.encrypted"].includes(e.type)) continue;
        const body = await alice.read(e);
        if (body?.startsWith("!")) counts[`${r} ${body.slice(0, 30)} ${e.event_id}`] = got.get(e.event_id)?.length ?? 0;
      }
    }
    expect(Object.keys(counts).length).toBeGreaterThan(30);
    expect(commands.every((c) => Object.keys(counts).some((k) => k.endsWith(c.eventId)))).toBe(true);
    expect(Object.entries(counts).filter(([, n]) => n !== 1)).toEqual([]);

    // Transactions: one per nonce, none pending, and every one the chain has of the bot's key recorded.
    const txs = await db.query<{ nonce: string; status: string }>("SELECT nonce, status FROM txs ORDER BY nonce");
    const nonces = txs.rows.map((t) => Number(t.nonce));
    expect(new Set(nonces).size).toBe(nonces.length);
    await eventually("no transaction pending", async () => (await db.query("SELECT 1 FROM txs WHERE status = 'pending'")).rowCount === 0, 60_000);
    const chainNonce = await sys.botNonce();
    expect(nonces.at(-1)).toBe(chainNonce - 1);
    expect(nonces).toEqual(Array.from({ length: nonces.length }, (_, i) => chainNonce - nonces.length + i));
    // The proposal was executed once on-chain, and its vote relayed once.
    expect(await command(alice, room, "!proposals")).toMatch(/^1 proposal\(s\)[\s\S]*#1 executed: remove @carol/);
  }, 900_000);
});
