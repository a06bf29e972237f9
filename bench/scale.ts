// Scale benchmark, `npm run bench:scale`.
//
// 1. One bot, 1,000 rooms x 100 members: a full reconcile pass with the
//    bridge's own code, the real SQLite store and a real chain node in its own
//    process, the room side answered from memory (bench/memory-rooms.ts: one
//    read of each room's state, as the Matrix adapter makes). The pass runs
//    in a process of its own (bench/scale-pass.ts), started once the groups,
//    bindings and links are made, so that its peak RSS is the bot's and not
//    the set-up's. That peak is the process's true peak (getrusage) and
//    counts the room side too: every membership of every room, held in that
//    process for the whole run, whose share of the heap is said beside it.
//    Time, peak RSS, JSON-RPC calls, homeserver requests; then the JSON-RPC
//    calls the bridge makes for one new block, with 100 and with 1,000 groups
//    (they must not grow with the number of groups).
// 2. The same pass by the real bot against a real Synapse at 100 rooms x 100
//    members (10,000 memberships made through the admin API), from the bot's
//    own "full pass" line. --synapse-rooms=0 leaves it out (part 1 alone, to
//    iterate on it; nothing is written then).
// Writes bench/results/scale.json.
//
// The chain node is Foundry's anvil by default (a native node, as production
// ones are); --node=hardhat runs Hardhat's node, a simulator in JavaScript
// whose every eth_call costs several times more CPU.
//
// usage: npm run bench:scale [-- --rooms=1000 --members=100 --synapse-rooms=100|0 --node=anvil|hardhat]
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Contract, JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { startChain } from "../scripts/chain.ts";
import { startSystem } from "../scripts/harness.ts";
import { quietConsole } from "../scripts/chat.ts";
import { FACTORY_ABI } from "../src/governance/contracts.ts";
import { destinationValues, LOCKED_DESTINATION, settingsValues } from "../src/governance/encoding.ts";
import { Mode, QUORUM_DEFAULT, type GroupSettings } from "../src/governance/types.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { GUARDED_EVENTS } from "../src/bridge/desired.ts";
import type { PassInput, PassOutput } from "./scale-pass.ts";
import { readFile } from "node:fs/promises";

const root = join(import.meta.dirname, "..");
const say = (l: string) => process.stdout.write(`${l}\n`);
const arg = (name: string, d: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? d);
const ROOMS = arg("rooms", 1000);
const MEMBERS = arg("members", 100);
const SYNAPSE_ROOMS = arg("synapse-rooms", 100);
const NODE = process.argv.find((a) => a.startsWith("--node="))?.split("=")[1] ?? "anvil";
if (NODE !== "anvil" && NODE !== "hardhat") throw new Error(`--node must be anvil or hardhat, not ${NODE}`);
// The harness's chain (part 2) follows the same choice.
process.env["CONCLAVE_CHAIN"] = NODE;
quietConsole();

function settings(linker: string): GroupSettings {
  return {
    config: {
      defaultQuorumBps: 5000,
      addQuorumBps: QUORUM_DEFAULT,
      removeQuorumBps: QUORUM_DEFAULT,
      configQuorumBps: QUORUM_DEFAULT,
      feeDestinationQuorumBps: QUORUM_DEFAULT,
      customQuorumBps: QUORUM_DEFAULT,
      votingPeriod: 86400,
      period: 30 * 86400,
      gracePeriod: 86400,
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

/** `rooms` groups of `members` founders each, all sent at once then awaited; their addresses and blocks. */
async function makeGroups(factory: Contract, rooms: number, members: number, linker: string) {
  const out: { group: string; block: number; founders: string[] }[] = [];
  for (let r = 0; r < rooms; r += 50) {
    const batch = Array.from({ length: Math.min(50, rooms - r) }, (_, i) => {
      const founders = Array.from(
        { length: members },
        (_, j) => new Wallet(`0x${(BigInt(r + i + 1) * 1_000_000n + BigInt(j + 1)).toString(16).padStart(64, "0")}`).address,
      );
      // 50 large creations at once fill blocks and raise the base fee past the one estimated when
      // they were sent: a fee cap far above it, or later ones would wait in the node's pool for good.
      return {
        founders,
        tx: factory.getFunction("createGroup")([settingsValues(settings(linker)), destinationValues(LOCKED_DESTINATION), founders], "0x" + "00".repeat(32), {
          maxFeePerGas: 10n ** 12n,
          maxPriorityFeePerGas: 1n,
        }),
      };
    });
    // A node that mines on each arrival leaves what did not fit in the block waiting once the
    // arrivals stop (anvil does): blocks are asked for until every creation is in one.
    const sent = await Promise.all(batch.map((b) => b.tx));
    const mined = Promise.all(sent.map((t) => t.wait()));
    const state = { done: false };
    void mined.finally(() => (state.done = true));
    while (!state.done) {
      await Promise.race([mined, new Promise((r) => setTimeout(r, 300))]);
      // One more (empty) block after the last creation is harmless.
      await (factory.runner!.provider as JsonRpcProvider).send("evm_mine", []);
    }
    for (const [i, b] of batch.entries()) {
      const rc = (await mined)[i];
      const ev = rc.logs.map((l: never) => factory.interface.parseLog(l)).find((e: { name: string } | null) => e?.name === "GroupCreated");
      out.push({ group: ev.args.group as string, block: rc.blockNumber as number, founders: b.founders });
    }
  }
  return out;
}

// ------------------------------------------------------------------ part 1
say(`bench:scale: a chain node, ${ROOMS} groups of ${MEMBERS} founders`);
const chain = await startChain({ root, node: NODE, minAddQuorumBps: 0, minNativeFee: 0n });
say(`chain node: ${NODE}`);
const provider = new JsonRpcProvider(chain.rpcUrl, chain.chainId, { staticNetwork: true, cacheTimeout: 0 });
const owner = new NonceManager(new Wallet(chain.ownerKey, provider));
const factory = new Contract(chain.factory, FACTORY_ABI, owner);
const botWallet = new Wallet(chain.botKey, provider);
const started = Date.now();
const groups = await makeGroups(factory, ROOMS, MEMBERS, botWallet.address);
say(`bench:scale: ${groups.length} groups in ${Math.round((Date.now() - started) / 1000)} s`);

const dir = mkdtempSync(join(tmpdir(), "conclave-scale-"));
const storePath = join(dir, "data", "s.sqlite");
const store = new SqliteStore(storePath);
for (const [r, g] of groups.entries()) {
  const roomId = `!room${r}:localhost`;
  await store.putBinding({ roomId, group: g.group, chainId: chain.chainId, createdBy: "@a:localhost", createdAt: 0, fromBlock: g.block });
  for (const [i, a] of g.founders.entries()) await store.putLink({ roomId, userId: `@m${r}x${i}:localhost`, address: a, nonce: `n${r}x${i}`, linkedAt: 0 });
}
const head = await provider.getBlockNumber();
for (const b of await store.listBindings()) await store.setState(`cursor:${b.group}`, String(head));
await store.close();
provider.destroy();

// The pass in a process of its own, as the bot's would be: what it holds is
// the bot's, not the set-up's (the groups' creation, their receipts).
const passInput: PassInput = {
  rpcUrl: chain.rpcUrl,
  chainId: chain.chainId,
  factory: chain.factory,
  botKey: chain.botKey,
  storePath,
  botUserId: "@conclave:localhost",
  rooms: ROOMS,
  members: MEMBERS,
};
const child = spawn(process.execPath, ["--expose-gc", "--disable-warning=ExperimentalWarning", join(import.meta.dirname, "scale-pass.ts")], {
  env: { ...process.env, SCALE_PASS: JSON.stringify(passInput) },
  stdio: ["ignore", "pipe", "inherit"],
});
let passText = "";
child.stdout.on("data", (d: Buffer) => (passText += d.toString()));
const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
if (code !== 0) throw new Error(`the pass's process exited with ${code}`);
const pass = JSON.parse(passText.trim().split("\n").at(-1)!) as PassOutput;
say(
  `full pass: ${ROOMS} rooms x ${MEMBERS} members in ${pass.seconds.toFixed(2)} s, peak RSS ${pass.peakRssMiB} MiB ` +
    `(the pass's process: the bot's code and the room side, whose memberships take ${pass.roomSideMiB} MiB of it; ${pass.rssBeforeMiB} MiB before the pass), ` +
    `${pass.jsonRpcCalls} JSON-RPC calls, ${pass.homeserverRequests} homeserver requests`,
);
const perBlock = Object.entries(pass.jsonRpcCallsPerNewBlock).map(([groups, calls]) => `${calls} with ${groups} groups`);
say(`JSON-RPC calls for one new block: ${perBlock.join(", ")}`);
rmSync(dir, { recursive: true, force: true });
await chain.stop();

// ------------------------------------------------------------------ part 2
if (SYNAPSE_ROOMS === 0) {
  say("bench:scale: --synapse-rooms=0: no Synapse part, and no results written");
  process.exit(0);
}
say(`bench:scale: a real Synapse, ${SYNAPSE_ROOMS} rooms x ${MEMBERS} members, and the real bot`);
const sys = await startSystem({ root, users: [], confirmations: 0, fullPassSeconds: 3600 });
// The rooms' creator: a plain account, no client of its own (the bench drives the HTTP API).
const admin = await sys.synapse.registerUser("scaleadmin", "pw");
const rpc = new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true });
const realGroups = await makeGroups(
  new Contract(sys.chain.factory, FACTORY_ABI, new NonceManager(new Wallet(sys.chain.ownerKey, rpc))),
  SYNAPSE_ROOMS,
  MEMBERS,
  new Wallet(sys.chain.botKey).address,
);
const setup = Date.now();
const hs = sys.synapse.baseUrl;
const api = async (method: "POST" | "PUT", path: string, token: string, body: unknown) => {
  const res = await fetch(`${hs}/_matrix/client/v3${path}`, {
    method,
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as { room_id?: string };
};
const botJoined = async (roomId: string) => {
  for (let i = 0; i < 600; i++) {
    const res = await fetch(`${hs}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/joined_members`, {
      headers: { authorization: `Bearer ${admin.accessToken}` },
    });
    const body = (await res.json()) as { joined?: Record<string, unknown> };
    if (body.joined?.[sys.botUserId]) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the bot did not join ${roomId}`);
};
const made: { roomId: string; group: (typeof realGroups)[number]; users: string[] }[] = [];
for (const [r, g] of realGroups.entries()) {
  // Public while its members join (one request each), then closed as the bot
  // keeps it (invite only, history from joining, encrypted, those settings for
  // admins only), so the pass measured is a steady one. The bot is invited and has power.
  const { room_id: roomId } = await api("POST", "/createRoom", admin.accessToken, {
    preset: "public_chat",
    name: `Scale ${r}`,
    invite: [sys.botUserId],
    initial_state: [
      { type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } },
      { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
    ],
    power_level_content_override: { users: { [sys.botUserId]: 100 }, events: Object.fromEntries(GUARDED_EVENTS.map((t) => [t, 100])) },
  });
  const users: string[] = [];
  for (const i of g.founders.keys()) {
    const user = await sys.synapse.registerUser(`s${r}x${i}`, "pw");
    await api("POST", `/join/${encodeURIComponent(roomId!)}`, user.accessToken, {});
    users.push(user.userId);
  }
  await api("PUT", `/rooms/${encodeURIComponent(roomId!)}/state/m.room.join_rules/`, admin.accessToken, { join_rule: "invite" });
  await botJoined(roomId!);
  // Its creator, no member of the group, leaves: a room admin the bot cannot
  // remove, it would be warned about in every room (a notice each).
  await api("POST", `/rooms/${encodeURIComponent(roomId!)}/leave`, admin.accessToken, {});
  made.push({ roomId: roomId!, group: g, users });
}
// The links and bindings written while the bot is stopped (one writer at a time).
await sys.bot.stop();
const botStore = new SqliteStore(sys.storePath);
for (const { roomId, group: g, users } of made) {
  for (const [i, a] of g.founders.entries()) await botStore.putLink({ roomId, userId: users[i]!, address: a, nonce: `${roomId}:${i}`, linkedAt: 0 });
  await botStore.putBinding({ roomId, group: g.group, chainId: sys.chain.chainId, createdBy: admin.userId, createdAt: 0, fromBlock: g.block });
}
await botStore.close();
say(`bench:scale: ${SYNAPSE_ROOMS * MEMBERS} memberships in ${Math.round((Date.now() - setup) / 1000)} s; restarting the bot for its start-up pass`);
// A restart: the first tick is a full pass over every bound room.
await sys.restartBot();
const deadline = Date.now() + 600_000;
let real: string | undefined;
while (!real && Date.now() < deadline) {
  real = sys.botLines.find((l) => l.includes(`bridge: full pass of ${SYNAPSE_ROOMS} rooms`));
  if (!real) await new Promise((r) => setTimeout(r, 500));
}
if (!real) throw new Error("the bot made no full pass over the Synapse rooms");
// Nothing done or said in any room (an action, a warning, a failure).
const acted = sys.botLines.filter((l) => /bridge: (invited|kicked|banned|lifted|power levels in)|could not|bridge: ![^ ]+: /.test(l));
if (acted.length > 0) throw new Error(`the pass over rooms that match their groups acted: ${acted.slice(0, 3).join(" | ")}`);
const m = /full pass of (\d+) rooms in (\d+) ms \((\d+) homeserver requests, (\d+) chain requests\)/.exec(real)!;
// The real bot's own peak resident memory since it started (Linux's VmHWM):
// matrix-js-sdk's rooms and the crypto state included.
const hwm = /VmHWM:\s+(\d+) kB/.exec(sys.bot.pid !== undefined ? await readFile(`/proc/${sys.bot.pid}/status`, "utf8").catch(() => "") : "");
const synapsePass = {
  rooms: Number(m[1]),
  membersPerRoom: MEMBERS,
  seconds: Number(m[2]) / 1000,
  homeserverRequests: Number(m[3]),
  chainRequests: Number(m[4]),
  ...(hwm ? { botPeakRssMiB: Math.round(Number(hwm[1]) / 1024) } : {}),
  joins: "users registered through the admin API, joined through the client API (one request each)",
};
say(
  `with a real Synapse: ${synapsePass.rooms} rooms x ${MEMBERS} members in ${synapsePass.seconds.toFixed(2)} s, ${synapsePass.homeserverRequests} homeserver requests, ${synapsePass.chainRequests} chain requests${hwm ? `, the real bot's peak RSS ${synapsePass.botPeakRssMiB} MiB` : ""}`,
);
rpc.destroy();
await sys.stop();

const out = join(import.meta.dirname, "results");
mkdirSync(out, { recursive: true });
writeFileSync(
  join(out, "scale.json"),
  JSON.stringify(
    {
      chainNode: NODE,
      fullPass: {
        rooms: ROOMS,
        membersPerRoom: MEMBERS,
        seconds: pass.seconds,
        peakRssMiB: pass.peakRssMiB,
        peakRssOf: "the pass's own process: the bot's code, its store and the room side held in memory",
        roomSideMiB: pass.roomSideMiB,
        rssBeforePassMiB: pass.rssBeforeMiB,
        jsonRpcCalls: pass.jsonRpcCalls,
        homeserverRequests: pass.homeserverRequests,
      },
      jsonRpcCallsPerNewBlock: pass.jsonRpcCallsPerNewBlock,
      synapse: synapsePass,
    },
    null,
    2,
  ) + "\n",
);
say("wrote bench/results/scale.json");
process.exit(0);
