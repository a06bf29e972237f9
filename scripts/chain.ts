// A local chain for the demo and the end-to-end tests: a Hardhat node (or
// Foundry's anvil, from its npm package, when CONCLAVE_CHAIN=anvil) on a free
// loopback port, with the group factory deployed.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { JsonRpcProvider, Wallet } from "ethers";
import { deployFactory } from "../src/governance/deploy.ts";

/** Hardhat's well-known development keys (public knowledge: local chains only). */
export const DEV_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
] as const;

export interface ChainHandle {
  rpcUrl: string;
  chainId: number;
  factory: string;
  /** funded key for the bot */
  botKey: string;
  /** funded key for the deployment's owner */
  ownerKey: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const running = new Set<ChildProcess>();
function killAll() {
  for (const p of running) {
    try {
      if (p.pid) process.kill(-p.pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}
process.on("exit", killAll);

/** The node implementations the tests run against: any EVM node must do. */
export type ChainNode = "hardhat" | "anvil";

export interface StartChainOptions {
  root: string;
  port?: number;
  /** which node; default: CONCLAVE_CHAIN, else hardhat */
  node?: ChainNode;
  /** safe minimums of the deployment */
  minAddQuorumBps?: number;
  minNativeFee?: bigint;
  log?: (line: string) => void;
}

/** Starts a node and deploys the factory (from the committed bytecode). */
export async function startChain(o: StartChainOptions): Promise<ChainHandle> {
  const port = o.port ?? (await freePort());
  const node = o.node ?? (process.env.CONCLAVE_CHAIN === "anvil" ? "anvil" : "hardhat");
  // Both use the same development accounts (the same well-known mnemonic) and chain id.
  const [cmd, args] =
    node === "anvil"
      ? [join(o.root, "node_modules", ".bin", "anvil"), ["--host", "127.0.0.1", "--port", String(port), "--chain-id", "31337", "--silent"]]
      : [join(o.root, "node_modules", ".bin", "hardhat"), ["node", "--hostname", "127.0.0.1", "--port", String(port)]];
  const child = spawn(cmd, args, {
    cwd: o.root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const rpcUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  let chainId: number;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the chain exited early:\n${output}`);
    try {
      const res = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      chainId = Number(((await res.json()) as { result: string }).result);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`the chain did not answer on ${rpcUrl}:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const provider = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true });
  const owner = new Wallet(DEV_KEYS[1], provider);
  const factory = await deployFactory(owner, owner.address, { minAddQuorumBps: o.minAddQuorumBps ?? 2000, minNativeFee: o.minNativeFee ?? 10n ** 15n });
  o.log?.(`chain ${rpcUrl} (${node}, chain id ${chainId}), factory ${factory}`);
  provider.destroy();
  return {
    rpcUrl,
    chainId,
    factory,
    botKey: DEV_KEYS[0],
    ownerKey: DEV_KEYS[1],
    async stop() {
      if (child.exitCode === null && child.pid) {
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch {
          /* gone */
        }
        await new Promise((r) => {
          const t = setTimeout(() => {
            try {
              process.kill(-child.pid!, "SIGKILL");
            } catch {
              /* gone */
            }
            r(undefined);
          }, 5000);
          child.once("exit", () => {
            clearTimeout(t);
            r(undefined);
          });
        });
      }
      running.delete(child);
    },
  };
}
