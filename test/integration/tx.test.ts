import { describe, expect, it } from "vitest";
import { network } from "hardhat";
import { Wallet } from "ethers";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { TxSender } from "../../src/governance/tx.ts";

const { ethers, networkHelpers } = await network.connect();

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
    const [x, y] = await Promise.all([
      a.send("pay:1", { to, value: 1n }, "pay 1"),
      a.send("pay:1", { to, value: 1n }, "pay 1 again"),
    ]);
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
    await store.putTx({ intent: "pay:5", hash, raw, nonce: Number(populated.nonce), from: wallet.address, status: "pending", createdAt: 0, description: "pay 5" });
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
});
