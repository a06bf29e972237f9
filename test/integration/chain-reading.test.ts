/**
 * Reading the chain at scale: one eth_getLogs per range of blocks for many
 * groups at once, and new blocks announced over a WebSocket, on real nodes.
 */
import { afterAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { network } from "hardhat";
import { Contract, Wallet, type Log } from "ethers";
import { ChainClient, SHARED_SIGNATURES } from "../../src/governance/client.ts";
import { deployFactory } from "../../src/governance/deploy.ts";
import { FACTORY_ABI, GROUP_ABI } from "../../src/governance/contracts.ts";
import { destinationValues, LOCKED_DESTINATION, settingsValues } from "../../src/governance/encoding.ts";
import { watchHeads } from "../../src/governance/heads.ts";
import { Mode, QUORUM_DEFAULT, type GroupSettings } from "../../src/governance/types.ts";
import { TxSender } from "../../src/governance/tx.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { startChain, type ChainHandle } from "../../scripts/chain.ts";

const { ethers } = await network.create();
const Z = ethers.ZeroAddress;
const settings: GroupSettings = {
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
    feeToken: Z,
  },
  controller: Z,
  linker: Z,
  admins: [],
};

let node: ChainHandle | undefined;
afterAll(async () => node?.stop());

/** A new factory and `n` groups made by it (then `after` each), from block `from` on. */
async function makeGroups(n: number, after?: () => Promise<void>) {
  const [deployer] = await ethers.getSigners();
  const factory = new Contract(await deployFactory(deployer!, await deployer!.getAddress(), { minAddQuorumBps: 0, minNativeFee: 0n }), FACTORY_ABI, deployer);
  const from = (await ethers.provider.getBlockNumber()) + 1;
  const groups: string[] = [];
  for (let i = 0; i < n; i++) {
    const rc = await (
      await factory.getFunction("createGroup")(
        [settingsValues(settings), destinationValues(LOCKED_DESTINATION), [Wallet.createRandom().address]],
        ethers.ZeroHash,
      )
    ).wait();
    groups.push(factory.interface.parseLog(rc.logs.at(-1))!.args.group as string);
    await after?.();
  }
  return { deployer, factory, from, groups };
}

describe("reading many groups", () => {
  it("gets every group's events with one eth_getLogs per batch of addresses and range of blocks", async () => {
    const { deployer, factory, from, groups } = await makeGroups(5);
    const to = await ethers.provider.getBlockNumber();
    // Count the node's eth_getLogs calls.
    let calls = 0;
    const provider = ethers.provider as unknown as { getLogs(f: unknown): Promise<Log[]> };
    const getLogs = provider.getLogs.bind(provider);
    provider.getLogs = (f) => {
      calls++;
      return getLogs(f);
    };
    const client = new ChainClient(ethers.provider, await factory.getAddress(), new TxSender(deployer as never, new SqliteStore(":memory:")));
    const all = await client.eventsOf(groups, from, to, { maxAddresses: 2, maxBlockRange: 3 });
    // 3 batches of addresses (2, 2, 1) times 2 ranges of blocks (5 blocks in ranges of 3).
    expect(calls).toBe(Math.ceil(groups.length / 2) * Math.ceil((to - from + 1) / 3));
    for (const g of groups) expect(all.get(g.toLowerCase())!.map((e) => e.name)).toContain("MemberAdded");
    // The default limits: one call for all of them.
    calls = 0;
    await client.eventsOf(groups, from, to);
    expect(calls).toBe(1);
    // A few new blocks and more groups than a filter holds: one call by the
    // events' topics, and only the groups asked for.
    calls = 0;
    const live = await client.eventsOf(groups.slice(0, 4), from, to, { maxAddresses: 2, maxBlockRange: 3, liveBlocks: 64 });
    expect(calls).toBe(1);
    expect([...live.keys()]).toEqual(groups.slice(0, 4).map((g) => g.toLowerCase()));
    // The same events but those whose signatures other contracts share (each comes beside one of the group's own).
    for (const g of groups.slice(0, 4))
      expect(live.get(g.toLowerCase())!.map((e) => e.name)).toEqual(
        all
          .get(g.toLowerCase())!
          .map((e) => e.name)
          .filter((n) => !SHARED_SIGNATURES.includes(n)),
      );
    expect(live.get(groups[0]!.toLowerCase())!.map((e) => e.name)).toContain("MemberAdded");
  });

  it("on the live path, is not flooded by other contracts' transfers, and a range the endpoint refuses is asked for in halves", async () => {
    const token = await ethers.deployContract("TestToken");
    // After each group, a token's transfers: the same Transfer signature as a group's mint.
    const { deployer, factory, from, groups } = await makeGroups(3, async () => {
      for (let k = 0; k < 5; k++) await (await token.getFunction("mint")(Wallet.createRandom().address, 1n)).wait();
    });
    // A stranger invalidating nonces of their own on a group, at will: events nothing reads.
    const [, stranger] = await ethers.getSigners();
    for (let k = 0; k < 6; k++) await (await new Contract(groups[0]!, GROUP_ABI, stranger).getFunction("invalidateNonces")(k, 1n)).wait();
    const to = await ethers.provider.getBlockNumber();
    const provider = ethers.provider as unknown as { getLogs(f: unknown): Promise<Log[]> };
    const getLogs = provider.getLogs.bind(provider);
    let returned = 0;
    let calls = 0;
    // An endpoint with a small limit: more than 4 blocks at once is refused.
    provider.getLogs = async (f) => {
      calls++;
      const filter = f as { fromBlock: number; toBlock: number };
      if (filter.toBlock - filter.fromBlock + 1 > 4) throw new Error("query exceeds max block range 4");
      const logs = await getLogs(f);
      returned += logs.length;
      return logs;
    };
    try {
      const client = new ChainClient(ethers.provider, await factory.getAddress(), new TxSender(deployer as never, new SqliteStore(":memory:")));
      // Live: one call by topic, and no token transfer in its answer.
      const live = await client.eventsOf(groups, to - 3, to, { maxAddresses: 2, maxBlockRange: 2000, liveBlocks: 64 });
      expect(calls).toBe(1);
      const ours = [...live.values()].reduce((n, l) => n + l.length, 0);
      expect(returned).toBe(ours);
      // A catch-up over more blocks than the endpoint takes: asked for in halves, nothing lost.
      calls = 0;
      returned = 0;
      const caught = await client.eventsOf(groups, from, to, { maxAddresses: 500, maxBlockRange: 2000 });
      expect(calls).toBeGreaterThan(1);
      // Nothing but what the bot reads came back: not the stranger's invalidations.
      expect(returned).toBe([...caught.values()].reduce((n, l) => n + l.length, 0));
      expect([...caught.values()].flat().some((e) => e.name === "UnorderedNonceInvalidation")).toBe(false);
      for (const g of groups) expect(caught.get(g.toLowerCase())!.map((e) => e.name)).toContain("MemberAdded");
    } finally {
      provider.getLogs = getLogs;
    }
  });
});

describe("new blocks over a WebSocket", () => {
  it("hears each new block as the node has it", async () => {
    node = await startChain({ root: join(import.meta.dirname, "../..") });
    const heard: number[] = [];
    const ws = node.rpcUrl.replace(/^http/, "ws");
    const watch = watchHeads(
      ws,
      (n) => heard.push(n),
      () => {},
    );
    const mine = () =>
      fetch(node!.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "evm_mine", params: [] }),
      });
    const until = async (n: number) => {
      for (let i = 0; i < 100 && heard.length < n; i++) {
        await mine();
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await until(2);
    watch.stop();
    expect(heard.length).toBeGreaterThanOrEqual(2);
    expect(heard[1]!).toBeGreaterThan(heard[0]!);
  });

  it("neither throws nor hears anything when no WebSocket answers (polling goes on beside it)", async () => {
    const heard: number[] = [];
    const watch = watchHeads(
      "ws://127.0.0.1:9",
      (n) => heard.push(n),
      () => {},
    );
    await new Promise((r) => setTimeout(r, 300));
    watch.stop();
    expect(heard).toEqual([]);
  });
});
