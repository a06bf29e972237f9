// A real browser for the tests: Debian's Chromium driven by playwright-core,
// with a test EIP-1193 wallet injected into every page. The wallet signs
// with a test key in this process (ethers) and sends to the real chain; the
// page finds it by EIP-6963 discovery, as it would find a real wallet.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type FrameLocator, type Page } from "playwright-core";
import { getBytes, JsonRpcProvider, Wallet } from "ethers";

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The next nonce of each test key: a node's "pending" count lags right after a block. */
const nonces = new Map<string, number>();

export interface Browser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Chromium with a fresh profile of its own, removed on close. */
export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "conclave-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 900 },
  });
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** What the test wallet does, changeable while a test runs. */
export interface TestWallet {
  readonly address: string;
  /** the chain the wallet says it is on */
  chainId: number;
  /** the next signature or transaction request is rejected, as a person clicking "Reject" (EIP-1193 4001) */
  rejectNext: boolean;
  /** every method the page called, in order */
  readonly calls: string[];
  /** what the wallet calls its accounts, instead of the key's address (a wallet is someone else's code) */
  fakeAccounts?: string[] | undefined;
  /** the next signature or transaction request fails with this message (a wallet's own error text, EIP-1193 -32603) */
  errorNext?: string | undefined;
  /** runs (once) after the next transaction is asked for and before the wallet sends it: the chain may change meanwhile */
  beforeSend?: (() => Promise<void>) | undefined;
}

/**
 * Injects a wallet into `page` (before any of its scripts run): it
 * announces itself by EIP-6963 and answers EIP-1193 requests, signing with
 * `key` and sending to `rpcUrl`. Only the chain id `realChainId` reaches
 * the chain; on any other the wallet refuses to send, as a wallet would.
 */
export async function injectWallet(
  page: Page,
  o: { key: string; rpcUrl: string; realChainId: number; startChainId?: number; name?: string },
): Promise<TestWallet> {
  const provider = new JsonRpcProvider(o.rpcUrl, o.realChainId, { staticNetwork: true });
  const signer = new Wallet(o.key, provider);
  const w: TestWallet = { address: signer.address, chainId: o.startChainId ?? o.realChainId, rejectNext: false, calls: [] };
  const rejected = () => ({ error: { code: 4001, message: "User rejected the request." } });
  const handle = async (method: string, params: unknown[]): Promise<{ result?: unknown; error?: { code: number; message: string; data?: string } }> => {
    w.calls.push(method);
    const asks = ["personal_sign", "eth_signTypedData_v4", "eth_sendTransaction", "eth_requestAccounts", "wallet_switchEthereumChain"];
    if (asks.includes(method) && w.rejectNext) {
      w.rejectNext = false;
      return rejected();
    }
    if (asks.includes(method) && w.errorNext !== undefined) {
      const message = w.errorNext;
      w.errorNext = undefined;
      return { error: { code: -32603, message } };
    }
    switch (method) {
      case "eth_requestAccounts":
      case "eth_accounts":
        return { result: w.fakeAccounts ?? [signer.address] };
      case "eth_chainId":
        return { result: `0x${w.chainId.toString(16)}` };
      case "wallet_switchEthereumChain": {
        const want = Number((params[0] as { chainId: string }).chainId);
        if (want !== o.realChainId) return { error: { code: 4902, message: "Unrecognized chain ID." } };
        w.chainId = want;
        return { result: null };
      }
      case "personal_sign":
        return { result: await signer.signMessage(getBytes(String(params[0]))) };
      case "eth_signTypedData_v4": {
        const typed = JSON.parse(String(params[1])) as {
          domain: Record<string, unknown>;
          types: Record<string, { name: string; type: string }[]>;
          message: Record<string, unknown>;
        };
        // As wallets do: the domain's own type is implied by the domain.
        const { EIP712Domain: _domain, ...types } = typed.types;
        return { result: await signer.signTypedData(typed.domain, types, typed.message) };
      }
      case "eth_sendTransaction": {
        if (w.chainId !== o.realChainId) return { error: { code: 4100, message: "The wallet is on another chain." } };
        const tx = params[0] as { to: string; data: string; value?: string };
        const meanwhile = w.beforeSend;
        w.beforeSend = undefined;
        await meanwhile?.();
        try {
          const nonce = Math.max(await provider.getTransactionCount(signer.address, "latest"), nonces.get(signer.address) ?? 0);
          const sent = await signer.sendTransaction({ to: tx.to, data: tx.data, value: BigInt(tx.value ?? "0x0"), gasLimit: 3_000_000, nonce });
          nonces.set(signer.address, nonce + 1);
          return { result: sent.hash };
        } catch (e) {
          return { error: { code: -32000, message: (e as Error).message.slice(0, 200) } };
        }
      }
      default: {
        // Reads go to the chain as they are.
        const res = await fetch(o.rpcUrl, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
        });
        const json = (await res.json()) as { result?: unknown; error?: { code: number; message: string; data?: string } };
        return json.error ? { error: json.error } : { result: json.result };
      }
    }
  };
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the page may call it without params
  await page.exposeFunction("__conclaveTestWallet", (method: string, params: unknown[]) => handle(method, params ?? []));
  await page.addInitScript(
    ({ name }) => {
      const listeners: Record<string, ((...a: unknown[]) => void)[]> = {};
      const provider = {
        async request(args: { method: string; params?: unknown[] }) {
          const out = await (
            window as unknown as { __conclaveTestWallet: (m: string, p: unknown[]) => Promise<{ result?: unknown; error?: { code: number; message: string } }> }
          ).__conclaveTestWallet(args.method, args.params ?? []);
          if (out.error) throw Object.assign(new Error(out.error.message), out.error);
          if (args.method === "wallet_switchEthereumChain") for (const l of listeners.chainChanged ?? []) l();
          return out.result;
        },
        on(event: string, l: (...a: unknown[]) => void) {
          (listeners[event] ??= []).push(l);
        },
        removeListener() {},
      };
      const info = {
        uuid: "8d1a5a43-5a9e-4a6c-9a59-2a7f3b0c7e11",
        name,
        icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E",
        rdns: "org.conclave.testwallet",
      };
      const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
      window.addEventListener("eip6963:requestProvider", announce);
      announce();
    },
    { name: o.name ?? "Test Wallet" },
  );
  return w;
}

/** Where the tests' screenshots go (not tracked; the README's two are copied to docs/). */
export const SHOTS = join(import.meta.dirname, "..", "test-results");

/** A full-page screenshot in test-results/NAME.png. */
export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Script errors and failed API answers of the page (and its frames) fail nothing by themselves, but are printed. */
export function watch(page: Page): void {
  page.on("pageerror", (e) => process.stderr.write(`page error: ${e.message}\n`));
  page.on("console", (m) => {
    if (m.type() === "error") process.stderr.write(`page console: ${m.text()}\n`);
  });
  page.on("response", (r) => {
    if (r.url().includes("/api/"))
      void r.text().then(
        (t) => (/"ok":false/.test(t) ? process.stderr.write(`page api ${r.url()}: ${t.slice(0, 300)}\n`) : undefined),
        () => undefined,
      );
  });
}

/** The governance page: a tab of its own, or the widget framed by a host. */
export type PageScope = Page | FrameLocator;

const at = (scope: PageScope, selector: string) => (scope as Page).locator(selector);

/** Connects the first wallet the page found. */
export async function connectWallet(scope: PageScope): Promise<void> {
  await at(scope, "button.connect").first().click();
  await at(scope, "#wallet-state:not([data-state=disconnected])").waitFor();
}

/**
 * Waits until the page's notice says `re`; resolves with the notice's text,
 * its kind (ok, error, info) and error code. On a timeout the error says
 * what the page showed instead.
 */
export async function noticeOf(scope: PageScope, re: RegExp): Promise<{ text: string; kind: string | null; error: string | null }> {
  const msg = at(scope, "#notice .msg").filter({ hasText: re });
  await msg.waitFor({ timeout: 60_000 }).catch(async (e: unknown) => {
    throw new Error(`${(e as Error).message}\nthe page says: ${await at(scope, "#notice").textContent()}\nwallet: ${await at(scope, "#wallet").textContent()}`);
  });
  return { text: (await msg.textContent()) ?? "", kind: await msg.getAttribute("data-kind"), error: await msg.getAttribute("data-error") };
}
