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

export function groupContract(address: string, runner: ContractRunner | null): Contract {
  return new Contract(address, GROUP_ABI, runner);
}

export function factoryContract(address: string, runner: ContractRunner | null): Contract {
  return new Contract(address, FACTORY_ABI, runner);
}
