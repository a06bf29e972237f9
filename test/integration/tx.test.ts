import { afterAll, describe, expect, it } from "vitest";
import { network } from "hardhat";
import { toQuantity, Transaction, Wallet } from "ethers";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { PostgresStore } from "../../src/store/postgres.ts";
import { TxSender } from "../../src/governance/tx.ts";
import { startPostgres, type PostgresHandle } from "../../scripts/postgres.ts";
import type { Store, TxRecord } from "../../src/store/store.ts";

const { ethers, networkHelpers } = await network.create();

async function funded(): Promise<Wallet> {
  const w = Wallet.createRandom().connect(ethers.provider) as unknown as Wallet;
  await networkHelpers.setBalance(w.address, 10n ** 18n);
  return w;
}

describe("TxSender", () => {
  it("sends one transaction per intent, even when asked twice or after a restart", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    const to = Wallet.createRandom().address;
    const a = new TxSender(wallet, store);
    const [x, y] = await Promise.all([a.send("pay:1", { to, value: 1n }, "pay 1"), a.send("pay:1", { to, value: 1n }, "pay 1 again")]);
    expect(x.hash).toBe(y.hash);
    expect(x.status).toBe("mined");
    // A new sender on the same store (a restart) does not send it again.
    const b = new TxSender(wallet, store);
    expect((await b.send("pay:1", { to, value: 1n }, "pay 1 after restart")).hash).toBe(x.hash);
    expect(await ethers.provider.getBalance(to)).toBe(1n);
    await b.send("pay:2", { to, value: 2n }, "pay 2");
    expect(await ethers.provider.getBalance(to)).toBe(3n);
    expect(await ethers.provider.getTransactionCount(wallet.address)).toBe(2);
  });

  it("re-sends the same signed bytes after a crash between recording and sending", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    const to = Wallet.createRandom().address;
    // Simulate the crash: record a signed transaction that was never broadcast.
    const populated = await wallet.populateTransaction({ to, value: 5n });
    const raw = await wallet.signTransaction(populated);
    const hash = ethers.Transaction.from(raw).hash!;
    await store.putTx({
      intent: "pay:5",
      hash,
      raw,
      nonce: Number(populated.nonce),
      from: wallet.address,
      status: "pending",
      createdAt: 0,
      description: "pay 5",
    });
    const sender = new TxSender(wallet, store);
    const [outcome] = await sender.resumePending();
    expect(outcome!.hash).toBe(hash);
    expect(outcome!.status).toBe("mined");
    await sender.resumePending();
    expect(await ethers.provider.getBalance(to)).toBe(5n);
  });

  it("records nothing when the chain would refuse the transaction", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    const token = await ethers.deployContract("TestToken");
    const data = token.interface.encodeFunctionData("transfer", [Wallet.createRandom().address, 1n]);
    const sender = new TxSender(wallet, store);
    await expect(sender.send("bad", { to: await token.getAddress(), data }, "transfer without balance")).rejects.toThrow(/ERC20InsufficientBalance|revert/);
    expect(await store.getTx("bad")).toBeUndefined();
  });

  it("takes each nonce once when two workers sign with one key on one PostgreSQL", async () => {
    const wallet = await funded();
    const url = await postgres("tx_race");
    // Two workers: a store connection and a sender each, the same key.
    const [storeA, storeB] = [await PostgresStore.open(url), await PostgresStore.open(url)];
    stores.push(storeA, storeB);
    // B's first read of the highest nonce is from just before A recorded one (the race, made certain).
    let stale = true;
    const lagging: Store = new Proxy(storeB, {
      get(target, p, receiver) {
        if (p === "maxNonce" && stale) {
          return async (from: string) => {
            stale = false;
            const before = await target.maxNonce(from);
            while ((await target.maxNonce(from)) === before) await new Promise((r) => setTimeout(r, 5));
            return before;
          };
        }
        const v = Reflect.get(target, p, receiver) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const retries: string[] = [];
    const log = (line: string) => retries.push(line);
    const a = new TxSender(wallet, storeA, { pollMs: 20 });
    const b = new TxSender(wallet, lagging, { pollMs: 20, log });
    const to = Wallet.createRandom().address;
    const sends = Array.from({ length: 12 }, (_, i) => [a.send(`a:${i}`, { to, value: 1n }, `a ${i}`), b.send(`b:${i}`, { to, value: 1n }, `b ${i}`)]).flat();
    // One intent asked of both workers at once: sent once.
    const [x, y] = await Promise.all([a.send("both", { to, value: 100n }, "both from a"), b.send("both", { to, value: 100n }, "both from b"), ...sends]);
    expect(x.hash).toBe(y.hash);
    expect(retries.filter((l) => /was taken by another worker/.test(l)).length).toBeGreaterThan(0);
    const nonces = (await storeA.listTxs("mined")).map((t) => t.nonce);
    expect(nonces).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(await storeA.listTxs("pending")).toEqual([]);
    expect(await ethers.provider.getTransactionCount(wallet.address)).toBe(25);
    expect(await ethers.provider.getBalance(to)).toBe(124n);
  });

  it("sends again what another worker recorded and did not send, so that later nonces are not held up", async () => {
    const wallet = await funded();
    const url = await postgres("tx_resume");
    const store = await PostgresStore.open(url);
    stores.push(store);
    const to = Wallet.createRandom().address;
    // A worker recorded nonce 0 and died before broadcasting it.
    const raw = await wallet.signTransaction(await wallet.populateTransaction({ to, value: 7n, nonce: 0 }));
    const hash = ethers.Transaction.from(raw).hash!;
    await store.putTx({
      intent: "dead:0",
      hash,
      raw,
      nonce: 0,
      from: wallet.address,
      status: "pending",
      createdAt: Date.now() - 60_000,
      description: "dead worker's",
    });
    const sender = new TxSender(wallet, store, { pollMs: 20 });
    // The next transaction takes nonce 1; the node refuses the gap (Hardhat's automine does) or would queue it: nonce 0's recorded bytes go first.
    expect((await sender.send("next", { to, value: 1n }, "next")).status).toBe("mined");
    expect((await store.getTx("next"))!.nonce).toBe(1);
    expect(await ethers.provider.getBalance(to)).toBe(8n);
    // A worker's periodic look follows the dead worker's transaction to its end: recent ones are left to their own worker.
    expect(await sender.resumePending(3_600_000)).toEqual([]);
    const [resumed] = await sender.resumePending(10_000);
    expect([resumed!.hash, resumed!.status]).toEqual([hash, "mined"]);
    expect(await store.listTxs("pending")).toEqual([]);
  });
});

describe("TxSender with a stuck transaction", () => {
  const rpc = (method: string, params: unknown[] = []) => ethers.provider.send(method, params) as Promise<unknown>;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function recorded(store: Store, intent: string): Promise<TxRecord> {
    for (;;) {
      const t = await store.getTx(intent);
      if (t) return t;
      await sleep(10);
    }
  }
  /** Mines a block every 50 ms whose base fee is `baseFee()`, until stopped. */
  function miner(baseFee: () => bigint) {
    const mining = { on: true };
    const done = (async () => {
      while (mining.on) {
        await rpc("hardhat_setNextBlockBaseFeePerGas", [toQuantity(baseFee())]);
        await rpc("evm_mine");
        await sleep(50);
      }
    })();
    return async () => {
      mining.on = false;
      await done;
    };
  }

  it("signs it again at the same nonce with higher fees once the base fee rose past it, and records the one mined", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    const to = Wallet.createRandom().address;
    const lines: string[] = [];
    await rpc("evm_setAutomine", [false]);
    try {
      const sender = new TxSender(wallet, store, { pollMs: 20, checkMs: 50, bumpAfterMs: 300, log: (l) => lines.push(l) });
      const sending = sender.send("pay:stuck", { to, value: 7n }, "pay 7");
      const first = await recorded(store, "pay:stuck");
      const offered = Transaction.from(first.raw).maxFeePerGas!;
      // Every block's base fee is twice what it offers: it cannot be mined.
      const stop = miner(() => offered * 2n);
      const outcome = await sending.finally(stop);
      expect(outcome.status).toBe("mined");
      expect(outcome.hash).not.toBe(first.hash);
      const mined = Transaction.from((await store.getTx("pay:stuck"))!.raw);
      expect(mined.nonce).toBe(first.nonce);
      expect(mined.maxFeePerGas).toBeGreaterThan(offered * 2n);
      // The default cap: 4 times the first signing's fee.
      expect(mined.maxFeePerGas).toBeLessThanOrEqual(offered * 4n);
      expect(await store.getTx("pay:stuck")).toMatchObject({ hash: outcome.hash, status: "mined", replaced: [{ hash: first.hash, raw: first.raw }] });
      expect(lines.filter((l) => /not mined yet: signed again at nonce/.test(l))).toHaveLength(1);
      expect(await ethers.provider.getBalance(to)).toBe(7n);
    } finally {
      await rpc("evm_setAutomine", [true]);
    }
  });

  it("never offers more than the cap: it says so once, and is mined once the fees fall", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    const to = Wallet.createRandom().address;
    const lines: string[] = [];
    await rpc("evm_setAutomine", [false]);
    try {
      const first = new TxSender(wallet, store, { pollMs: 20, checkMs: 50, bumpAfterMs: 100, timeoutMs: 1_500, maxFeePerGas: 1n, log: (l) => lines.push(l) });
      const sending = first.send("pay:capped", { to, value: 3n }, "pay 3");
      const rec = await recorded(store, "pay:capped");
      const offered = Transaction.from(rec.raw).maxFeePerGas!;
      let high = true;
      const stop = miner(() => (high ? offered * 2n : 1n));
      await expect(sending).rejects.toThrow(/not mined yet/);
      expect(
        lines.filter((l) => /is not mined and its fee is at the cap \(0\.000000001 gwei per gas: chain\.maxFeePerGas, or what the balance pays for\)/.test(l)),
      ).toHaveLength(1);
      expect((await store.getTx("pay:capped"))!.replaced).toBeUndefined();
      // The fees fall: the same bytes are mined, followed to the end by the periodic look.
      high = false;
      const [outcome] = await first.resumePending().finally(stop);
      expect([outcome!.hash, outcome!.status]).toEqual([rec.hash, "mined"]);
      expect(await ethers.provider.getBalance(to)).toBe(3n);
    } finally {
      await rpc("evm_setAutomine", [true]);
    }
  });

  it("does not raise the fees of a transaction that offers what the network asks: it is sent again as it is", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    const to = Wallet.createRandom().address;
    await rpc("evm_setAutomine", [false]);
    try {
      const sender = new TxSender(wallet, store, { pollMs: 20, checkMs: 50, bumpAfterMs: 100 });
      const sending = sender.send("pay:patient", { to, value: 2n }, "pay 2");
      const first = await recorded(store, "pay:patient");
      // No block for a while: waiting is not a reason to pay more.
      await sleep(800);
      expect((await store.getTx("pay:patient"))!.replaced).toBeUndefined();
      await rpc("evm_mine");
      const outcome = await sending;
      expect([outcome.hash, outcome.status]).toEqual([first.hash, "mined"]);
    } finally {
      await rpc("evm_setAutomine", [true]);
    }
  });

  it("never signs again with another key what an earlier key signed", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    const to = Wallet.createRandom().address;
    const lines: string[] = [];
    await rpc("evm_setAutomine", [false]);
    try {
      new TxSender(wallet, store).send("pay:old-key", { to, value: 6n }, "pay 6").catch(() => undefined);
      const first = await recorded(store, "pay:old-key");
      const offered = Transaction.from(first.raw).maxFeePerGas!;
      // The operator changed the key meanwhile; the base fee rose past the transaction.
      const other = await funded();
      const stop = miner(() => offered * 2n);
      const follower = new TxSender(other, store, { pollMs: 20, checkMs: 50, bumpAfterMs: 100, timeoutMs: 1_000, log: (l) => lines.push(l) });
      await follower.resumePending().finally(stop);
      expect((await store.getTx("pay:old-key"))!).toMatchObject({ hash: first.hash, status: "pending" });
      expect((await store.getTx("pay:old-key"))!.replaced).toBeUndefined();
      expect(lines.some((l) => l.includes(`was signed by ${wallet.address}, not this key: it is sent again as it is`))).toBe(true);
    } finally {
      await rpc("evm_setAutomine", [true]);
    }
    // The base fee falls: the old key's bytes are mined as they are.
    const hash = (await store.getTx("pay:old-key"))!.hash;
    await rpc("hardhat_setNextBlockBaseFeePerGas", ["0x1"]);
    await rpc("evm_mine");
    expect((await ethers.provider.getTransactionReceipt(hash))?.status).toBe(1);
    expect(await ethers.provider.getBalance(to)).toBe(6n);
  });

  it("after a restart, finds the earlier version that was mined and makes it the record's", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    const to = Wallet.createRandom().address;
    const populated = await wallet.populateTransaction({ to, value: 9n });
    const raw = await wallet.signTransaction(populated);
    const hash = Transaction.from(raw).hash!;
    await store.putTx({
      intent: "pay:9",
      hash,
      raw,
      nonce: Number(populated.nonce),
      from: wallet.address,
      status: "pending",
      createdAt: 0,
      description: "pay 9",
    });
    // A bump was recorded, then the process died; meanwhile the first version was mined.
    const bumpedRaw = await wallet.signTransaction({ ...populated, maxFeePerGas: BigInt(populated.maxFeePerGas!) * 2n });
    expect(await store.replaceTx("pay:9", hash, { hash: Transaction.from(bumpedRaw).hash!, raw: bumpedRaw })).toBe(true);
    await ethers.provider.broadcastTransaction(raw);
    const [outcome] = await new TxSender(wallet, store, { pollMs: 20, checkMs: 50 }).resumePending();
    expect([outcome!.hash, outcome!.status]).toEqual([hash, "mined"]);
    expect(await store.getTx("pay:9")).toMatchObject({ hash, raw, status: "mined", replaced: [{ hash: Transaction.from(bumpedRaw).hash! }] });
    expect(await ethers.provider.getBalance(to)).toBe(9n);
  });

  it("marks failed, with the reason, a transaction whose nonce another transaction of the key took", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    const to = Wallet.createRandom().address;
    const populated = await wallet.populateTransaction({ to, value: 4n });
    const raw = await wallet.signTransaction(populated);
    await store.putTx({
      intent: "pay:4",
      hash: Transaction.from(raw).hash!,
      raw,
      nonce: Number(populated.nonce),
      from: wallet.address,
      status: "pending",
      createdAt: 0,
      description: "pay 4",
    });
    // The key used elsewhere, at that nonce.
    await (await wallet.sendTransaction({ to, value: 1n, nonce: Number(populated.nonce) })).wait();
    const [outcome] = await new TxSender(wallet, store, { pollMs: 20, checkMs: 50 }).resumePending();
    expect(outcome!.status).toBe("failed");
    expect(await store.getTx("pay:4")).toMatchObject({ status: "failed", error: "its nonce was used by another transaction of the bot's key" });
    expect(await ethers.provider.getBalance(to)).toBe(1n);
  });
});

let server: PostgresHandle | undefined;
const stores: PostgresStore[] = [];

async function postgres(name: string): Promise<string> {
  server ??= await startPostgres();
  return server.createDatabase(name);
}

afterAll(async () => {
  for (const s of stores) await s.close().catch(() => {});
  await server?.stop();
});
