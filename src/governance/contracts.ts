/**
 * Typed access to the group contracts from their committed ABIs
 * (`src/governance/abi`, kept fresh by `scripts/export-abi.ts`).
 */
import { Contract, Interface, type ContractRunner, type InterfaceAbi } from "ethers";
import groupAbiJson from "./abi/group.json" with { type: "json" };
import factoryAbiJson from "./abi/factory.json" with { type: "json" };

export const GROUP_ABI = groupAbiJson as InterfaceAbi;
export const FACTORY_ABI = factoryAbiJson as InterfaceAbi;
export const groupInterface = new Interface(GROUP_ABI);
export const factoryInterface = new Interface(FACTORY_ABI);

// The shared interfaces, not the ABIs: a Contract made from an ABI parses it
// again (hundreds of fragments), and the bridge makes one per group read.
export function groupContract(address: string, runner: ContractRunner | null): Contract {
  return new Contract(address, groupInterface, runner);
}

export function factoryContract(address: string, runner: ContractRunner | null): Contract {
  return new Contract(address, factoryInterface, runner);
}
