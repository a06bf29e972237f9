// Self-check for bench/oz.ts: `node bench/oz-selfcheck.ts` (Node 22, after `npx hardhat build`).
import { network } from "hardhat";
import { measureOz } from "./oz.ts";

const connection = await network.create();
try {
  const { ethers, networkHelpers } = connection;
  const gas = await measureOz(ethers, await ethers.getSigners(), networkHelpers);
  console.table(Object.entries(gas).map(([operation, gasUsed]) => ({ operation, gasUsed })));
} finally {
  await connection.close();
}
