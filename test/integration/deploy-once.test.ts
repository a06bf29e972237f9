// `chain.factory: deploy`: the factory is deployed once per chain, whatever
// the crashes, at each point a crash can come.
import { describe, expect, it } from "vitest";
import { network } from "hardhat";
import { Interface, Wallet } from "ethers";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { TxSender } from "../../src/governance/tx.ts";
import { DeploymentGone, deployFactoryOnce, type DeployOnceOptions } from "../../src/governance/deploy.ts";
import { FACTORY_ABI } from "../../src/governance/contracts.ts";
import type { Store } from "../../src/store/store.ts";

const { ethers, networkHelpers } = await network.create();
const chainId = Number((await ethers.provider.getNetwork()).chainId);
const TOKEN = "0x6B175474E89094C44Da98b954EedeAC495271d0F";
const f = new Interface(FACTORY_ABI);

async function funded(): Promise<Wallet> {
  const w = Wallet.createRandom().connect(ethers.provider) as unknown as Wallet;
  await networkHelpers.setBalance(w.address, 10n ** 20n);
  return w;
}

/** A store whose `setState` fails once for `key=value` matching `what`, as a crash right there would. */
function failingOnce(store: Store, what: RegExp): Store {
  let failed = false;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "setState") {
        return async (k: string, v: string) => {
          if (!failed && what.test(`${k}=${v}`)) {
            failed = true;
            throw new Error(`crash before recording ${k}`);
          }
          return target.setState(k, v);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

function options(wallet: Wallet, store: Store, tokenMinimums: Record<string, bigint> = {}): DeployOnceOptions {
  return {
    tx: new TxSender(wallet, store, { pollMs: 10 }),
    provider: ethers.provider,
    store,
    chainId,
    minimums: { minAddQuorumBps: 2000, minNativeFee: 10n ** 15n },
    tokenMinimums,
    log: () => {},
  };
}

async function minFee(factory: string, token: string): Promise<[boolean, bigint]> {
  return f.decodeFunctionResult("minFee", await ethers.provider.call({ to: factory, data: f.encodeFunctionData("minFee", [token]) })) as unknown as [
    boolean,
    bigint,
  ];
}

describe("deploying the factory once", () => {
  it("resumes after a crash at each step without a second contract or a nonce race", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    // Crashes after each creation was mined and before its address was recorded, and before the factory's.
    for (const step of [/^factory-deploy:\d+=\{"extension":"0x\w+"\}$/, /"group":"0x\w+"\}$/, /"factory":"0x\w+"\}$/, /^factory:\d+=/]) {
      await expect(deployFactoryOnce(options(wallet, failingOnce(store, step), { [TOKEN]: 5n }))).rejects.toThrow(/crash before recording/);
    }
    const factory = await deployFactoryOnce(options(wallet, store, { [TOKEN]: 5n }));
    expect(await ethers.provider.getCode(factory)).not.toBe("0x");
    expect(await minFee(factory, TOKEN)).toEqual([true, 5n]);
    // Three creations and one minimum.
    expect(await ethers.provider.getTransactionCount(wallet.address)).toBe(4);
    // A restart: the same factory, nothing sent.
    expect(await deployFactoryOnce(options(wallet, store, { [TOKEN]: 5n }))).toBe(factory);
    expect(await ethers.provider.getTransactionCount(wallet.address)).toBe(4);
  });

  it("sends the same signed bytes again after a crash between recording and sending", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    const provider = ethers.provider as unknown as { broadcastTransaction: (raw: string) => Promise<unknown> };
    const broadcast = provider.broadcastTransaction.bind(provider);
    provider.broadcastTransaction = async () => {
      provider.broadcastTransaction = broadcast;
      throw new Error("crash before sending");
    };
    await expect(deployFactoryOnce(options(wallet, store))).rejects.toThrow(/crash before sending/);
    expect(await ethers.provider.getTransactionCount(wallet.address)).toBe(0);
    const factory = await deployFactoryOnce(options(wallet, store));
    expect(await ethers.provider.getCode(factory)).not.toBe("0x");
    expect(await ethers.provider.getTransactionCount(wallet.address)).toBe(3);
  });

  it("sets a token minimum only where the factory holds another, also back to an earlier value", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    const factory = await deployFactoryOnce(options(wallet, store, { [TOKEN]: 2n }));
    for (const amount of [3n, 2n]) {
      await deployFactoryOnce(options(wallet, store, { [TOKEN]: amount }));
      expect(await minFee(factory, TOKEN)).toEqual([true, amount]);
    }
    await deployFactoryOnce(options(wallet, store, { [TOKEN]: 2n }));
    expect(await ethers.provider.getTransactionCount(wallet.address)).toBe(6);
  });

  it("says so when what it recorded has no code (a chain started anew)", async () => {
    const wallet = await funded();
    const store = new SqliteStore(":memory:");
    await store.setState(`factory:${chainId}`, Wallet.createRandom().address);
    await expect(deployFactoryOnce(options(wallet, store))).rejects.toThrow(DeploymentGone);
    expect(await ethers.provider.getTransactionCount(wallet.address)).toBe(0);
  });
});
