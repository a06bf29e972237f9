/**
 * Deploying a factory: the group's two code contracts first (together they
 * exceed what one creation may carry, EIP-3860), then the factory that
 * clones them. From the committed bytecode (`abi/factory.bytecode.json`,
 * kept equal to the contracts by a test), so the bot needs no compiler.
 */
import { ContractFactory, getCreateAddress, Interface, NonceManager, type Provider, type Signer } from "ethers";
import { FACTORY_ABI } from "./contracts.ts";
import type { TxSender } from "./tx.ts";
import type { Store } from "../store/store.ts";
import bytecode from "./abi/factory.bytecode.json" with { type: "json" };

export interface FactoryMinimums {
  /** safe minimum add quorum, basis points */
  minAddQuorumBps: number;
  /** safe minimum fee in the native coin, wei */
  minNativeFee: bigint;
}

type Step = "extension" | "group" | "factory";

/** The three creations in order; each may take the addresses of the ones before. */
function creations(
  owner: string,
  m: FactoryMinimums,
): { step: Step; name: string; deploy: (done: Partial<Record<Step, string>>) => ContractFactory; args: (done: Partial<Record<Step, string>>) => unknown[] }[] {
  const groupAbi = ["constructor(address extension_)"];
  return [
    { step: "extension", name: "GroupExtension", deploy: () => new ContractFactory([], bytecode.extension), args: () => [] },
    { step: "group", name: "Group", deploy: () => new ContractFactory(groupAbi, bytecode.group), args: (d) => [d.extension] },
    {
      step: "factory",
      name: "GroupFactory",
      deploy: () => new ContractFactory(FACTORY_ABI, bytecode.factory),
      args: (d) => [owner, m.minAddQuorumBps, m.minNativeFee, d.group],
    },
  ];
}

/**
 * Deploys GroupExtension, Group and GroupFactory in order, each mined before
 * the next is sent (one signer, no nonce race), and returns the factory's
 * address. `onStep` hears each address as soon as it exists, so a caller can
 * record progress and resume after a crash.
 */
export async function deployFactory(
  signer: Signer,
  owner: string,
  m: FactoryMinimums,
  onStep: (what: Step, address: string) => void = () => {},
): Promise<string> {
  // Nonces counted here: a node may still report the previous count right after a receipt.
  signer = new NonceManager(signer);
  const done: Partial<Record<Step, string>> = {};
  for (const c of creations(owner, m)) {
    const contract = await c
      .deploy(done)
      .connect(signer)
      .deploy(...c.args(done));
    await contract.waitForDeployment();
    const address = await contract.getAddress();
    done[c.step] = address;
    onStep(c.step, address);
  }
  return done.factory!;
}

/** The chain does not hold what the store says the bot deployed on it (a development chain started anew). */
export class DeploymentGone extends Error {}

export interface DeployOnceOptions {
  tx: TxSender;
  provider: Provider;
  store: Store;
  chainId: number;
  minimums: FactoryMinimums;
  /** minimum fees of ERC-20 tokens the factory must hold (smallest units) */
  tokenMinimums: Record<string, bigint>;
  log: (line: string) => void;
}

/**
 * The factory of `chain.factory: deploy`, deployed once per chain whatever
 * the crashes and restarts. Each creation goes through the TxSender: it is
 * signed and recorded before it is sent, so a restart sends the same bytes
 * again instead of a second contract. Each address is recorded as soon as
 * it is mined, before the next creation; the factory's address before
 * anything else uses it (the token minimums come after). Token minimums are
 * read from the factory and set only where they differ. Throws
 * DeploymentGone when a recorded contract has no code.
 */
export async function deployFactoryOnce(o: DeployOnceOptions): Promise<string> {
  const { tx, provider, store, chainId, log } = o;
  const key = `factory:${chainId}`;
  const progressKey = `factory-deploy:${chainId}`;
  const hasCode = async (a: string) => (await provider.getCode(a)) !== "0x";
  let factory = await store.getState(key);
  if (factory === undefined) {
    const done = JSON.parse((await store.getState(progressKey)) ?? "{}") as Partial<Record<Step, string>>;
    for (const c of creations(tx.address, o.minimums)) {
      const recorded = done[c.step];
      if (recorded !== undefined) {
        if (!(await hasCode(recorded)))
          throw new DeploymentGone(`the ${c.name} this bot deployed on chain ${chainId} (${recorded}) has no code: was the chain started anew?`);
        continue;
      }
      log(`chain: deploying ${c.name} (chain.factory is "deploy")`);
      const request = await c.deploy(done).getDeployTransaction(...c.args(done));
      const intent = `${progressKey}:${c.step}`;
      const outcome = await tx.send(intent, { data: request.data }, `deploy ${c.name}`);
      if (outcome.status !== "mined") throw new Error(`deploying ${c.name} failed (transaction ${outcome.hash} reverted)`);
      const record = (await store.getTx(intent))!;
      const address = outcome.receipt?.contractAddress ?? getCreateAddress({ from: record.from, nonce: record.nonce });
      done[c.step] = address;
      await store.setState(progressKey, JSON.stringify(done));
    }
    factory = done.factory!;
    await store.setState(key, factory);
    log(`chain: factory ${factory} deployed`);
  } else if (!(await hasCode(factory))) {
    throw new DeploymentGone(`the factory this bot deployed on chain ${chainId} (${factory}) has no code: was the chain started anew?`);
  }
  await tokenMinimums(o, factory);
  return factory;
}

/** Sets each token minimum the factory does not hold yet; one intent per (token, amount, attempt). */
async function tokenMinimums(o: DeployOnceOptions, factory: string): Promise<void> {
  const iface = new Interface(FACTORY_ABI);
  for (const [token, amount] of Object.entries(o.tokenMinimums)) {
    const raw = await o.provider.call({ to: factory, data: iface.encodeFunctionData("minFee", [token]) });
    const [known, current] = iface.decodeFunctionResult("minFee", raw) as unknown as [boolean, bigint];
    if (known && current === amount) continue;
    // A value set before and changed since (A, B, then A again) needs an intent of its own.
    let intent = `factory-minfee:${o.chainId}:${factory}:${token}:${amount}`;
    for (let n = 1; ; n++) {
      const rec = await o.store.getTx(intent);
      if (rec === undefined || rec.status === "pending") break;
      intent = `factory-minfee:${o.chainId}:${factory}:${token}:${amount}#${n}`;
    }
    const outcome = await o.tx.send(
      intent,
      { to: factory, data: iface.encodeFunctionData("setMinFee", [token, true, amount]) },
      `set the factory's minimum fee of ${token}`,
    );
    if (outcome.status !== "mined") throw new Error(`setting the minimum fee of ${token} failed (transaction ${outcome.hash} reverted)`);
    o.log(`chain: the factory's minimum fee of ${token} is ${amount} (smallest units)`);
  }
}
