/**
 * The browser wallet: providers found by EIP-6963 discovery (mipd), or the
 * legacy injected `window.ethereum` when none announces itself; requests
 * through EIP-1193. Every action is the wallet's: it shows what it signs
 * or sends, and the member confirms there.
 */
import { createStore } from "mipd";

export interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
  on?(event: string, listener: (...args: unknown[]) => void): void;
}

export interface WalletInfo {
  name: string;
  rdns: string;
  icon?: string;
  provider: Eip1193;
}

/** A wallet's refusal or failure, classified for the page. */
export class WalletError extends Error {
  readonly kind: "rejected" | "unknown-chain" | "failed";
  constructor(kind: WalletError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}

/** EIP-1193 errors: 4001 the user rejected, 4902 the chain is unknown to the wallet. */
export function walletError(e: unknown): WalletError {
  if (e instanceof WalletError) return e;
  const o = (e ?? {}) as { code?: unknown; message?: unknown; data?: { originalError?: { code?: unknown } } };
  const code = Number(o.code ?? o.data?.originalError?.code);
  const message = typeof o.message === "string" ? o.message : String(e);
  if (code === 4001 || /user (rejected|denied)/i.test(message))
    return new WalletError("rejected", "You rejected the request in your wallet; nothing was signed or sent.");
  if (/insufficient funds|enough funds/i.test(message))
    return new WalletError("failed", "Your wallet does not hold enough of the native coin for this (the fee and the gas).");
  if (code === 4902) return new WalletError("unknown-chain", "Your wallet does not know this chain yet: add it in the wallet, then try again.");
  return new WalletError("failed", `Your wallet could not do it: ${message.slice(0, 200)}`);
}

/** The wallets in this browser, after giving them `ms` to announce themselves. */
export async function discover(ms = 400): Promise<WalletInfo[]> {
  const store = createStore();
  await new Promise((r) => setTimeout(r, ms));
  const found: WalletInfo[] = store
    .getProviders()
    .map((d) => ({ name: d.info.name, rdns: d.info.rdns, icon: d.info.icon, provider: d.provider as unknown as Eip1193 }));
  const legacy = (window as unknown as { ethereum?: Eip1193 }).ethereum;
  if (found.length === 0 && legacy && typeof legacy.request === "function") found.push({ name: "Browser wallet", rdns: "injected", provider: legacy });
  return found;
}

export class Wallet {
  readonly info: WalletInfo;
  account = "";
  chainId = 0;

  constructor(info: WalletInfo) {
    this.info = info;
  }

  private async call<T>(method: string, params?: unknown[]): Promise<T> {
    try {
      return (await this.info.provider.request(params === undefined ? { method } : { method, params })) as T;
    } catch (e) {
      throw walletError(e);
    }
  }

  async connect(): Promise<void> {
    const accounts = await this.call<string[]>("eth_requestAccounts");
    if (!accounts[0]) throw new WalletError("failed", "Your wallet gave no account.");
    // A wallet is someone else's code: what it calls an account is used as an address only if it is one.
    if (typeof accounts[0] !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(accounts[0]))
      throw new WalletError("failed", "Your wallet gave an account that is not an address.");
    this.account = accounts[0];
    this.chainId = Number(await this.call<string>("eth_chainId"));
  }

  async refreshChain(): Promise<number> {
    this.chainId = Number(await this.call<string>("eth_chainId"));
    return this.chainId;
  }

  async switchChain(chainId: number): Promise<void> {
    await this.call("wallet_switchEthereumChain", [{ chainId: `0x${chainId.toString(16)}` }]);
    await this.refreshChain();
  }

  /** personal_sign of a text message. */
  async signText(message: string): Promise<string> {
    const hex = `0x${[...new TextEncoder().encode(message)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
    return this.call<string>("personal_sign", [hex, this.account]);
  }

  async signTyped(typed: unknown): Promise<string> {
    return this.call<string>("eth_signTypedData_v4", [this.account, JSON.stringify(typed)]);
  }

  async ethCall(to: string, data: string): Promise<string> {
    return this.call<string>("eth_call", [{ to, data }, "latest"]);
  }

  /** Sends a transaction and waits for it to be mined; resolves with its hash, rejects when it failed. */
  async send(tx: { to: string; data: string; value: bigint }): Promise<string> {
    const hash = await this.call<string>("eth_sendTransaction", [{ from: this.account, to: tx.to, data: tx.data, value: `0x${tx.value.toString(16)}` }]);
    for (let i = 0; i < 240; i++) {
      const r = await this.call<{ status?: string } | null>("eth_getTransactionReceipt", [hash]);
      if (r) {
        if (r.status === "0x1") return hash;
        throw new WalletError("failed", `The transaction ${hash} failed on-chain.`);
      }
      await new Promise((res) => setTimeout(res, 500));
    }
    throw new WalletError("failed", `The transaction ${hash} was not mined within two minutes; check it in your wallet.`);
  }
}
