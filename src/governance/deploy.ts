/**
 * Deploying a factory: the group's two code contracts first (together they
 * exceed what one creation may carry, EIP-3860), then the factory that
 * clones them. From the committed bytecode (`abi/factory.bytecode.json`,
 * kept equal to the contracts by a test), so the bot needs no compiler.
 */
import { ContractFactory, NonceManager, type Signer } from "ethers";
import { FACTORY_ABI } from "./contracts.ts";
import bytecode from "./abi/factory.bytecode.json" with { type: "json" };

export interface FactoryMinimums {
  /** safe minimum add quorum, basis points */
  minAddQuorumBps: number;
  /** safe minimum fee in the native coin, wei */
  minNativeFee: bigint;
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
  onStep: (what: "extension" | "group" | "factory", address: string) => void = () => {},
): Promise<string> {
  // Nonces counted here: a node may still report the previous count right after a receipt.
  signer = new NonceManager(signer);
  const extension = await new ContractFactory([], bytecode.extension, signer).deploy();
  await extension.waitForDeployment();
  const extensionAddress = await extension.getAddress();
  onStep("extension", extensionAddress);
  const groupAbi = ["constructor(address extension_)"];
  const group = await new ContractFactory(groupAbi, bytecode.group, signer).deploy(extensionAddress);
  await group.waitForDeployment();
  const groupAddress = await group.getAddress();
  onStep("group", groupAddress);
  const factory = await new ContractFactory(FACTORY_ABI, bytecode.factory, signer).deploy(owner, m.minAddQuorumBps, m.minNativeFee, groupAddress);
  await factory.waitForDeployment();
  const factoryAddress = await factory.getAddress();
  onStep("factory", factoryAddress);
  return factoryAddress;
}
