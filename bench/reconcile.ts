// A full reconcile pass of many rooms, for bench:enforce: the bridge's own
// code, the real SQLite store and a real in-process chain (Hardhat); the room
// side answers from memory, since populating Synapse with 10,000 memberships
// would measure the set-up more than the pass.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { network } from "hardhat";
import { Contract, Wallet } from "ethers";
import { deployFactory } from "../src/governance/deploy.ts";
import { FACTORY_ABI } from "../src/governance/contracts.ts";
import { Bridge } from "../src/bridge/bridge.ts";
import { ChainClient } from "../src/governance/client.ts";
import { TxSender } from "../src/governance/tx.ts";
import { SqliteStore } from "../src/store/sqlite.ts";
import { destinationValues, LOCKED_DESTINATION, settingsValues } from "../src/governance/encoding.ts";
import { Mode, QUORUM_DEFAULT } from "../src/governance/types.ts";
import type { Membership } from "../src/ports/rooms.ts";
import { memoryRooms } from "./memory-rooms.ts";

export async function measureReconcile(roomCount: number, membersPerRoom: number) {
  const { ethers } = await network.create();
  const [deployer] = await ethers.getSigners();
  const factory = new Contract(await deployFactory(deployer!, await deployer!.getAddress(), { minAddQuorumBps: 0, minNativeFee: 0n }), FACTORY_ABI, deployer);
  const dir = mkdtempSync(join(tmpdir(), "conclave-reconcile-"));
  const store = new SqliteStore(join(dir, "s.sqlite"));
  const members = new Map<string, { userId: string; membership: Membership }[]>();
  const config = {
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
    feeToken: ethers.ZeroAddress,
  };
  for (let r = 0; r < roomCount; r++) {
    const addresses = Array.from({ length: membersPerRoom }, () => Wallet.createRandom().address);
    const s = { config, controller: ethers.ZeroAddress, linker: ethers.ZeroAddress, admins: [] };
    const rc = await (await factory.getFunction("createGroup")([settingsValues(s), destinationValues(LOCKED_DESTINATION), addresses], ethers.ZeroHash)).wait();
    const ev = rc.logs.map((l: never) => factory.interface.parseLog(l)).find((e: { name: string } | null) => e?.name === "GroupCreated");
    const roomId = `!room${r}:localhost`;
    await store.putBinding({ roomId, group: ev.args.group, chainId: 31337, createdBy: "@a:localhost", createdAt: 0, fromBlock: rc.blockNumber });
    const list: { userId: string; membership: Membership }[] = [{ userId: "@conclave:localhost", membership: "join" }];
    for (const [i, a] of addresses.entries()) {
      const userId = `@m${r}x${i}:localhost`;
      await store.putLink({ roomId, userId, address: a, nonce: `n${r}x${i}`, linkedAt: 0 });
      list.push({ userId, membership: "join" });
    }
    members.set(roomId, list);
  }
  // As after the bridge read every event: reconcile reads the chain at its cursor.
  const head = await ethers.provider.getBlockNumber();
  for (const b of await store.listBindings()) await store.setState(`cursor:${b.group}`, String(head));
  let actions = 0;
  let reads = 0;
  const rooms = memoryRooms(members, () => {
    actions++;
  });
  const wallet = Wallet.createRandom().connect(ethers.provider) as unknown as Wallet;
  const client = new ChainClient(ethers.provider, await factory.getAddress(), new TxSender(wallet, store));
  // Count the members seen, to be sure the pass really looked at everyone.
  const chain = Object.assign(Object.create(client) as ChainClient, {
    expiries: async (g: string, t?: number) => {
      const m = await client.expiries(g, t);
      reads += m.filter((s) => s.isMember).length;
      return m;
    },
  });
  const bridge = new Bridge({ store, chain, rooms, botUserId: "@conclave:localhost", confirmations: 0, pollMs: 1000, fullPassMs: 1000, log: () => {} });
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const t0 = performance.now();
  for (const b of await store.listBindings()) await bridge.reconcile(b);
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  if (actions !== 0) throw new Error(`a pass over rooms that match their groups took ${actions} actions`);
  if (reads !== roomCount * membersPerRoom) throw new Error(`the pass saw ${reads} members, not ${roomCount * membersPerRoom}`);
  return { rooms: roomCount, membersPerRoom, seconds: Math.round(seconds * 100) / 100, peakRssMiB: Math.round(peak / 2 ** 20) };
}
