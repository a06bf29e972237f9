// Enforcement benchmark, `npm run bench:enforce`.
//
// 1. With a real Synapse, a real chain (confirmations 1) and the real bot:
//    50 add and 50 remove decisions across 10 rooms. For each, the time from
//    the confirming block to the invite or kick being visible in Synapse, and
//    from the kick to the bot's first message under a new session.
// 2. A full reconcile pass of 200 rooms x 50 members: the bridge's own code
//    with the real store and a real (in-process) chain, the room side served
//    from memory. Time and peak memory.
// Writes bench/results/enforce.json.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { JsonRpcProvider, NonceManager, Wallet, type Contract } from "ethers";
import { startSystem } from "../scripts/harness.ts";
import { quietConsole } from "../scripts/chat.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { groupContract, factoryContract } from "../src/governance/contracts.ts";
import { destinationValues, encodeAccount, LOCKED_DESTINATION, settingsValues } from "../src/governance/encoding.ts";
import { Action, Mode, ProposalState, QUORUM_DEFAULT, VoteType, type GroupSettings } from "../src/governance/types.ts";

const root = join(import.meta.dirname, "..");
const say = (l: string) => process.stdout.write(`${l}\n`);
quietConsole();

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { p50: at(0.5), p95: at(0.95), max: s[s.length - 1]!, n: s.length };
}

function settings(linker: string): GroupSettings {
  return {
    config: {
      defaultQuorumBps: 5000,
      addQuorumBps: QUORUM_DEFAULT,
      removeQuorumBps: QUORUM_DEFAULT,
      configQuorumBps: QUORUM_DEFAULT,
      feeDestinationQuorumBps: QUORUM_DEFAULT,
      customQuorumBps: QUORUM_DEFAULT,
      votingPeriod: 3 * 86400,
      period: 30 * 86400,
      gracePeriod: 7 * 86400,
      mode: Mode.Vote,
      customCallsAllowed: false,
      maxOpenProposals: 3,
      fee: 0n,
      feeToken: "0x0000000000000000000000000000000000000000",
    },
    controller: "0x0000000000000000000000000000000000000000",
    linker,
    admins: [],
  };
}

async function createGroup(factory: Contract, founders: string[], linker: string): Promise<{ group: string; block: number }> {
  const rc = await (
    await factory.getFunction("createGroup")([settingsValues(settings(linker)), destinationValues(LOCKED_DESTINATION), founders], "0x" + "00".repeat(32))
  ).wait();
  const ev = rc.logs.map((l: never) => factory.interface.parseLog(l)).find((e: { name: string } | null) => e?.name === "GroupCreated");
  return { group: ev.args.group as string, block: rc.blockNumber as number };
}

async function decide(g: Contract, voters: Contract[], action: number, account: string, provider: JsonRpcProvider): Promise<number> {
  const payload = encodeAccount(account);
  // One member may have three proposals open: proposers take turns.
  const rc = await (await g.getFunction("propose")(action, payload)).wait();
  const ev = rc.logs.map((l: never) => g.interface.parseLog(l)).find((e: { name: string } | null) => e?.name === "ProposalCreated");
  for (const v of voters) {
    // Voting closes once the outcome is decided.
    if (Number(await g.getFunction("state")(ev.args.proposalId)) !== 0) break;
    await (await v.getFunction("castVote")(ev.args.proposalId, VoteType.For)).wait();
  }
  // The bot carries out a passed proposal too (as a poll that passed): whoever is first executes it.
  try {
    await (await g.getFunction("execute")(ev.args.number, action, payload)).wait();
  } catch (e) {
    if (Number(await g.getFunction("state")(ev.args.proposalId)) !== ProposalState.Executed) throw e;
    // Its nonce was taken for a transaction the node refused.
    (g.runner as NonceManager).reset();
  }
  // The confirming block (confirmations 1): the decision counts from here.
  await provider.send("evm_mine", []);
  return Date.now();
}

// ------------------------------------------------------------------- part 1
spawnSync(join(root, "node_modules/.bin/hardhat"), ["build", "--quiet"], { cwd: root, stdio: "inherit" });
say("bench:enforce: starting Synapse, the chain and the bot (confirmations 1)");
// The default full pass (30 s): decisions reach the room through chain events.
const sys = await startSystem({ root, users: ["admin"], confirmations: 1, fullPassSeconds: 30 });
const admin = sys.users.admin!;
const bot = sys.botUserId;
const provider = new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true });
const funder = new NonceManager(new Wallet(sys.chain.ownerKey, provider));
const factory = factoryContract(sys.chain.factory, funder);
const botAddress = new Wallet(sys.chain.botKey).address;
const store = new SqliteStore(sys.storePath);

const ROOMS = 10;
const PER_ROOM = 5;
const decisionToRoom: number[] = [];
const kickToNewSession: number[] = [];
const rooms: { roomId: string; group: string; founders: Wallet[]; users: { chat: string; wallet: Wallet }[] }[] = [];
for (let r = 0; r < ROOMS; r++) {
  const roomId = await admin.createRoom(`Bench ${r}`, [bot], false, [bot]);
  await admin.seesJoined(roomId, bot);
  const founders = [Wallet.createRandom(), Wallet.createRandom()].map((w) => w.connect(provider) as unknown as Wallet);
  for (const f of founders) await (await funder.sendTransaction({ to: f.address, value: 10n ** 18n })).wait();
  const { group, block } = await createGroup(
    factory,
    founders.map((f) => f.address),
    botAddress,
  );
  const users: { chat: string; wallet: Wallet }[] = [];
  for (let i = 0; i < PER_ROOM; i++) {
    const reg = await sys.synapse.registerUser(`u${r}x${i}`, "pw");
    const wallet = Wallet.createRandom().connect(provider) as unknown as Wallet;
    await (await funder.sendTransaction({ to: wallet.address, value: 10n ** 17n })).wait();
    await store.putLink({ roomId, userId: reg.userId, address: wallet.address, nonce: `bench-${r}-${i}`, linkedAt: Date.now() });
    users.push({ chat: reg.userId, wallet });
  }
  await store.putBinding({ roomId, group, chainId: sys.chain.chainId, createdBy: admin.userId, createdAt: Date.now(), fromBlock: block });
  rooms.push({ roomId, group, founders, users });
}
say(`bench:enforce: ${ROOMS} rooms bound; deciding ${ROOMS * PER_ROOM} adds`);
// Where the time goes, from the bot's own timing line for each action (same machine, same clock).
const parts = { notice: [] as number[], events: [] as number[], reconcile: [] as number[], homeserver: [] as number[], seen: [] as number[] };
function breakdown(what: string, t0: number, seenAt: number): void {
  const line = [...sys.botLines].reverse().find((l) => l.includes(`bridge: ${what} `));
  const m = line ? /timing: block seen at (\d+), events \+(\d+) ms, reconcile \+(\d+) ms, homeserver \+(\d+) ms/.exec(line) : null;
  if (!m) return;
  const [head, events, reconcile, homeserver] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  parts.notice.push(head - t0);
  parts.events.push(events);
  parts.reconcile.push(reconcile);
  parts.homeserver.push(homeserver);
  parts.seen.push(seenAt - (head + events + reconcile + homeserver));
}
const membership = (roomId: string, user: string) => admin.client.getRoom(roomId)?.getMember(user)?.membership;
// Every member votes on every decision, so each passes as soon as the last vote is in.
const voters = new Map<string, Contract[]>();
for (const room of rooms) {
  const all = room.founders.map((f) => groupContract(room.group, new NonceManager(f)));
  voters.set(room.roomId, all);
  for (const [i, u] of room.users.entries()) {
    const t0 = await decide(all[i % 2]!, all, Action.AddMember, u.wallet.address, provider);
    await admin.until(`${u.chat} invited`, () => (membership(room.roomId, u.chat) === "invite" ? true : undefined), 30_000);
    decisionToRoom.push(Date.now() - t0);
    breakdown(`invited ${u.chat} to ${room.roomId}`, t0, Date.now());
    // The approved account accepts (fee 0), from its own wallet, and votes from then on.
    const own = groupContract(room.group, new NonceManager(u.wallet));
    await (await own.getFunction("join")()).wait();
    all.push(own);
  }
}
say(`bench:enforce: deciding ${ROOMS * PER_ROOM} removals`);
// Past the adds' deadlines: their proposers may propose again.
await provider.send("evm_increaseTime", [3 * 86400 + 300]);
await provider.send("evm_mine", []);
for (const room of rooms) {
  const all = voters.get(room.roomId)!;
  for (const [i, u] of room.users.entries()) {
    const t0 = await decide(all[i % 2]!, all, Action.RemoveMember, u.wallet.address, provider);
    // The removed member votes no more.
    all.splice(
      all.findIndex((c) => (c.runner as NonceManager).signer === u.wallet),
      1,
    );
    // Invited and never joined: the invite is withdrawn (a joined member would be banned).
    await admin.until(`${u.chat} kicked`, () => (["leave", "ban"].includes(membership(room.roomId, u.chat) ?? "") ? true : undefined), 30_000);
    const tKick = performance.now();
    decisionToRoom.push(Date.now() - t0);
    breakdown(`kicked ${u.chat} from ${room.roomId}`, t0, Date.now());
    await admin.until(
      `the notice for ${u.chat}`,
      () => admin.eventWith(room.roomId, new RegExp(`Removed ${u.chat.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:`)),
      30_000,
    );
    kickToNewSession.push(performance.now() - tKick);
  }
}
await store.close();
provider.destroy();
await sys.stop();
const d = stats(decisionToRoom);
const k = stats(kickToNewSession);
say(`decision -> room (ms): p50 ${d.p50.toFixed(0)}, p95 ${d.p95.toFixed(0)}, max ${d.max.toFixed(0)} (${d.n} decisions)`);
say(`kick -> first message under the new session (ms): p50 ${k.p50.toFixed(0)}, p95 ${k.p95.toFixed(0)}, max ${k.max.toFixed(0)} (${k.n} kicks)`);
const share = Object.fromEntries(Object.entries(parts).map(([name, xs]) => [name, xs.length ? { p50: stats(xs).p50, p95: stats(xs).p95 } : null]));
say(
  `where the time goes (ms, p50 / p95 over ${parts.notice.length} actions): block announced to the bot ${share.notice?.p50} / ${share.notice?.p95}, reading the events ${share.events?.p50} / ${share.events?.p95}, reconcile pass ${share.reconcile?.p50} / ${share.reconcile?.p95}, homeserver call ${share.homeserver?.p50} / ${share.homeserver?.p95}, until a member's client shows it ${share.seen?.p50} / ${share.seen?.p95}`,
);

// ------------------------------------------------------------------- part 2
const reconcile = await import("./reconcile.ts").then((m) => m.measureReconcile(200, 50));
say(`reconcile: ${reconcile.rooms} rooms x ${reconcile.membersPerRoom} members in ${reconcile.seconds.toFixed(2)} s, peak RSS ${reconcile.peakRssMiB} MiB`);

const out = join(import.meta.dirname, "results");
mkdirSync(out, { recursive: true });
const round = (x: { p50: number; p95: number; max: number }) => ({ p50: Math.round(x.p50), p95: Math.round(x.p95), max: Math.round(x.max) });
writeFileSync(
  join(out, "enforce.json"),
  JSON.stringify({ decisionToRoomMs: round(d), kickToNewSessionMs: round(k), breakdownMs: share, reconcile }, null, 2) + "\n",
);
say("wrote bench/results/enforce.json");
process.exit(0);
