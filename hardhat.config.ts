import { createRequire } from "node:module";
import { defineConfig } from "hardhat/config";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";

// The compiler is the `solc` npm package (solc-js), so compiling never
// downloads a binary: the machines this project runs on reach npm only.
const require = createRequire(import.meta.url);
const soljson = require.resolve("solc/soljson.js");

export default defineConfig({
  plugins: [hardhatEthers, hardhatNetworkHelpers],
  solidity: {
    version: "0.8.28",
    path: soljson,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      // The storage layout lets a test check that Group and GroupExtension,
      // which run on the same storage, declare it identically.
      outputSelection: { "*": { "*": ["storageLayout"] } },
    },
  },
  paths: { tests: { solidity: "contracts/test" } },
  // The tally fuzz replays random sequences of delegations, votes and lapses
  // against a reference model; the seed is fixed, so CI runs are repeatable.
  test: { solidity: { fuzz: { runs: 2000 } } },
});
