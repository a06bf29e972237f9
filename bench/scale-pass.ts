// Part 1 of bench:scale, the pass itself, in a process of its own (started
// by bench/scale.ts once the groups, bindings and links are made): the
// bridge's own code, the real SQLite store and the chain node, the room side
// answered from memory. Its peak RSS is the bot's, plus that room side (every
// membership of every room, held for the whole run), which it measures apart.
// Writes its figures as one line of JSON on stdout.
import { Wallet, type JsonRpcPayload, type JsonRpcResult } from "ethers";
import { quietConsole } from "../scripts/chat.ts";
import { Bridge } from "../src/bridge/bridge.ts";
import { ChainClient, RPC_OPTIONS, RpcProvider } from "../src/governance/client.ts";
import { TxSender } from "../src/governance/tx.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import type { Membership } from "../src/ports/rooms.ts";
import { memoryRooms } from "./memory-rooms.ts";

export interface PassInput {
  rpcUrl: string;
  chainId: number;
  factory: string;
  botKey: string;
  storePath: string;
  botUserId: string;
  rooms: number;
  members: number;
}

export interface PassOutput {
  seconds: number;
  /** the process's peak resident set from start to the end of the pass (getrusage), MiB */
  peakRssMiB: number;
  /** resident before the pass began, with the room side built, MiB */
  rssBeforeMiB: number;
  /** what the room side's memberships take of the heap, MiB */
  roomSideMiB: number;
  jsonRpcCalls: number;
  homeserverRequests: number;
  jsonRpcCallsPerNewBlock: Record<string, number>;
}

/** A provider that counts the JSON-RPC calls it makes (ethers may send several in one HTTP request). */
class CountingProvider extends RpcProvider {
  calls = 0;
  override async _send(payload: JsonRpcPayload | JsonRpcPayload[]): Promise<JsonRpcResult[]> {
    this.calls += Array.isArray(payload) ? payload.length : 1;
    return super._send(payload);
  }
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;
const input = JSON.parse(process.env["SCALE_PASS"] ?? "") as PassInput;
quietConsole();

// As the bot's own provider is set up (src/main.ts).
const provider = new CountingProvider(input.rpcUrl, input.chainId, { staticNetwork: true, ...RPC_OPTIONS });
const store = new SqliteStore(input.storePath);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

// The room side: every room's members, as a homeserver would report them (the bot and each linked account, joined).
gc();
const heapBefore = process.memoryUsage().heapUsed;
const members = new Map<string, { userId: string; membership: Membership }[]>();
for (const b of await store.listBindings()) {
  members.set(b.roomId, [
    { userId: input.botUserId, membership: "join" },
    ...(await store.listLinks(b.roomId)).map((l) => ({ userId: l.userId, membership: "join" as const })),
  ]);
}
gc();
const roomSide = process.memoryUsage().heapUsed - heapBefore;
let actions = 0;
const rooms = memoryRooms(members, () => {
  actions++;
});

const client = new ChainClient(provider, input.factory, new TxSender(new Wallet(input.botKey, provider), store));
let seen = 0;
const counted = Object.assign(Object.create(client) as ChainClient, {
  expiries: async (g: string, t?: number) => {
    const m = await client.expiries(g, t);
    seen += m.filter((s) => s.isMember).length;
    return m;
  },
});
const lines: string[] = [];
const bridge = new Bridge({
  store,
  chain: counted,
  rooms,
  botUserId: input.botUserId,
  confirmations: 0,
  pollMs: 3_600_000,
  fullPassMs: 0,
  log: (l) => lines.push(l),
});
// The first tick is a full pass over every room (fullPassMs 0), as at start-up.
const rssBefore = process.memoryUsage.rss();
const calls0 = provider.calls;
const t0 = performance.now();
await bridge.tick();
const seconds = (performance.now() - t0) / 1000;
// ru_maxrss: the true peak, not a sample of it (KiB on Linux).
const peak = process.resourceUsage().maxRSS * 1024;
const passCalls = provider.calls - calls0;
if (actions !== 0) throw new Error(`a pass over rooms that match their groups took ${actions} actions`);
if (seen !== input.rooms * input.members) throw new Error(`the pass saw ${seen} members, not ${input.rooms * input.members}`);
const failed = lines.filter((l) => !l.startsWith("bridge: full pass"));
if (failed.length > 0) throw new Error(`the pass said: ${failed.slice(0, 3).join(" | ")}`);
const fullLine = lines.find((l) => l.startsWith("bridge: full pass"));
const homeserverRequests = Number(/\((\d+) homeserver requests/.exec(fullLine ?? "")?.[1] ?? NaN);

// One new block, nothing to do: what does the bridge ask the node? With every group, then with a tenth of them.
async function callsPerBlock(count: number): Promise<number> {
  const keep = new Set((await store.listBindings()).slice(0, count).map((b) => b.roomId));
  const b = new Bridge({
    store: Object.assign(Object.create(store) as SqliteStore, { listBindings: async () => (await store.listBindings()).filter((x) => keep.has(x.roomId)) }),
    chain: counted,
    rooms,
    botUserId: input.botUserId,
    confirmations: 0,
    pollMs: 3_600_000,
    fullPassMs: 3_600_000,
    log: () => {},
  });
  // The first tick of a bridge is its start-up pass; the second is the one a new block causes.
  await b.tick();
  await provider.send("evm_mine", []);
  const before = provider.calls;
  await b.tick();
  return provider.calls - before;
}
const tenth = Math.max(1, Math.floor(input.rooms / 10));
const perBlockAll = await callsPerBlock(input.rooms);
const perBlockTenth = await callsPerBlock(tenth);
await store.close();
provider.destroy();

const out: PassOutput = {
  seconds: Math.round(seconds * 100) / 100,
  peakRssMiB: Math.round(mib(peak)),
  rssBeforeMiB: Math.round(mib(rssBefore)),
  roomSideMiB: mib(roomSide),
  jsonRpcCalls: passCalls,
  homeserverRequests,
  jsonRpcCallsPerNewBlock: { [String(tenth)]: perBlockTenth, [String(input.rooms)]: perBlockAll },
};
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
