/**
 * Sends the bot's transactions so that none is ever sent twice.
 *
 * Each transaction has an intent key (what it does). It is signed, and the
 * signed bytes are recorded in the store, before it is broadcast. A second
 * request with the same intent, or a restart, re-broadcasts the same signed
 * bytes (same hash, same nonce): the chain accepts them at most once.
 *
 * A transaction not mined after a while (the base fee rose past what it
 * offers, or its tip is too low to be picked) is signed again at the same
 * nonce with higher fees, up to a cap, and the new bytes recorded before they
 * are sent: whichever of the versions is mined, the nonce is used once.
 */
import { warn } from "../log.ts";
import { formatUnits, getAddress, Transaction, type Provider, type TransactionReceipt, type TransactionRequest, type Wallet } from "ethers";
import { NonceTakenError, StoreConflictError, type Store, type TxRecord } from "../store/store.ts";

/** How many nonces a send may find taken by other workers before it gives up (and the command says so). */
const MAX_NONCE_ATTEMPTS = 20;
/** How many versions (the first signing and its fee raises) a transaction may have. */
const MAX_VERSIONS = 16;
const NONCE_TAKEN = "its nonce was used by another transaction of the bot's key";

export interface TxOutcome {
  hash: string;
  status: "mined" | "failed";
  receipt?: TransactionReceipt;
}

export interface TxSenderOptions {
  /** how often to look for the receipt (ms) */
  pollMs?: number;
  /** how long to wait for a receipt before giving up for now (ms) */
  timeoutMs?: number;
  log?: (line: string) => void;
  /** how long signed bytes may wait unmined before their fees are raised (ms, default 30 s) */
  bumpAfterMs?: number;
  /** how often a waiting transaction is looked at again: replaced by another worker, mined in an earlier version, due for a bump (ms, default 5 s) */
  checkMs?: number;
  /** the highest fee per gas a bump may offer (wei); default 4 times the first signing's */
  maxFeePerGas?: bigint;
  /** told once of each transaction of this process that was mined or reverted (metrics) */
  onOutcome?: (o: { hash: string; to: string | null; status: "mined" | "failed"; gasUsed: bigint; gasPrice: bigint }) => void;
}

export class TxSender {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly reported = new Set<string>();
  /** the transactions this process follows, by intent: one follower each, however many ask */
  private readonly following = new Map<string, Promise<TxOutcome>>();
  /** what was logged once (a cap reached, a refusal), by intent or hash */
  private readonly capped = new Set<string>();
  private readonly provider: Provider;
  private readonly wallet: Wallet;
  private readonly store: Store;
  private readonly opts: TxSenderOptions;

  constructor(wallet: Wallet, store: Store, opts: TxSenderOptions = {}) {
    if (!wallet.provider) throw new Error("TxSender: the wallet needs a provider");
    this.wallet = wallet;
    this.store = store;
    this.opts = opts;
    this.provider = wallet.provider;
  }

  get address(): string {
    return this.wallet.address;
  }

  /**
   * Sends `request` once for `intent` and waits for its receipt. Estimation
   * runs first, so a transaction the chain would refuse throws (with the
   * revert data) and nothing is recorded or sent.
   */
  async send(intent: string, request: TransactionRequest, description: string): Promise<TxOutcome> {
    const existing = await this.store.getTx(intent);
    if (existing) return this.follow(existing);
    let signed = false;
    const record = await this.serial(async () => {
      const again = await this.store.getTx(intent);
      if (again) return again;
      const populated = await this.wallet.populateTransaction({ ...request, from: this.wallet.address });
      // The estimate is of the state now; the transaction runs in a later
      // block, after others (a sweep of lapses, a vote) that may cost it
      // more. Out of gas, it would revert and still be paid for; unused gas
      // is not charged. So a margin, unless the caller gave a limit.
      if (request.gasLimit == null && populated.gasLimit != null) populated.gasLimit = withMargin(BigInt(populated.gasLimit));
      // Workers that share the key take nonces optimistically: the database
      // refuses a second transaction at one (sender, nonce), and the loser
      // signs again with the next one. Each refusal means another worker
      // recorded a transaction, so the retries are bounded by the workers'
      // concurrent sends, not by time.
      for (let attempt = 1; ; attempt++) {
        // The store's nonce wins over the node's when the node forgot pending ones.
        const chainNonce = await this.provider.getTransactionCount(this.wallet.address, "pending");
        const stored = await this.store.maxNonce(this.wallet.address);
        populated.nonce = Math.max(chainNonce, stored === undefined ? 0 : stored + 1);
        const raw = await this.wallet.signTransaction(populated);
        const rec: TxRecord = {
          intent,
          hash: Transaction.from(raw).hash!,
          raw,
          nonce: populated.nonce,
          from: this.wallet.address,
          status: "pending",
          createdAt: Date.now(),
          description,
        };
        try {
          // Recorded before it is sent: a crash from here on re-sends these same bytes.
          await this.store.putTx(rec);
          signed = true;
          return rec;
        } catch (e) {
          if (e instanceof NonceTakenError && attempt < MAX_NONCE_ATTEMPTS) {
            this.opts.log?.(`tx: nonce ${rec.nonce} was taken by another worker; signing ${description} again with the next one`);
            continue;
          }
          // Another worker recorded this very intent meanwhile: follow its transaction.
          const theirs = e instanceof StoreConflictError && !(e instanceof NonceTakenError) ? await this.store.getTx(intent) : undefined;
          if (theirs) return theirs;
          throw e;
        }
      }
    });
    // Freshly signed bytes the node refuses (no funds for the gas, say): the caller is told.
    return this.follow(record, signed);
  }

  /**
   * Re-broadcasts and follows every transaction still pending (after a
   * restart), or those recorded at least `olderThanMs` ago: with several
   * workers, any of them sends again what another recorded and did not get
   * mined (it died in between), so that no later nonce waits behind it.
   */
  async resumePending(olderThanMs?: number): Promise<TxOutcome[]> {
    const before = olderThanMs === undefined ? Infinity : Date.now() - olderThanMs;
    const results = await Promise.allSettled((await this.store.listTxs("pending")).filter((r) => r.createdAt <= before).map((r) => this.follow(r)));
    // One still waiting is followed again at the next look; its own lines said why.
    for (const r of results) {
      if (r.status === "rejected" && !/not mined yet/.test(String((r.reason as Error | undefined)?.message))) {
        this.opts.log?.(`tx: following a pending transaction: ${String((r.reason as Error | undefined)?.message).slice(0, 200)}`);
      }
    }
    return results.filter((r) => r.status === "fulfilled").map((r) => r.value);
  }

  private async follow(rec: TxRecord, fresh = false): Promise<TxOutcome> {
    if (rec.status !== "pending") {
      const receipt = (await this.provider.getTransactionReceipt(rec.hash)) ?? undefined;
      return { hash: rec.hash, status: rec.status, ...(receipt ? { receipt } : {}) };
    }
    const known = this.following.get(rec.intent);
    if (known) return known;
    const p = this.followPending(rec, fresh).finally(() => this.following.delete(rec.intent));
    this.following.set(rec.intent, p);
    return p;
  }

  /**
   * Polls for the receipt. (ethers' waitForTransaction can miss the block on
   * an idle chain: it subscribes to new blocks after its first look, so a
   * transaction mined in between waits for a block that never comes.)
   * Inclusion is enough here: the bridge waits for confirmations before it
   * acts on what the chain decided. Now and then the record is read again
   * (another worker may have replaced or finished it), every version is
   * looked for, and bytes that waited too long are sent again, with higher
   * fees if they offer less than the network asks. A node's refusal of
   * freshly signed bytes is the caller's error; of older ones, it is logged
   * and the wait goes on (a bump may be what they need).
   */
  private async followPending(first: TxRecord, fresh: boolean): Promise<TxOutcome> {
    let rec = first;
    try {
      await this.broadcast(rec);
    } catch (e) {
      if (fresh) throw e;
      this.refused(rec, e);
    }
    const deadline = Date.now() + (this.opts.timeoutMs ?? 120_000);
    let signedAt = Date.now();
    let checkedAt = Date.now();
    let usedElsewhere = false;
    for (;;) {
      const receipt = await this.provider.getTransactionReceipt(rec.hash);
      if (receipt) return this.settle(rec, rec.hash, receipt);
      if (Date.now() > deadline) throw new Error(`transaction ${rec.hash} (${rec.description}) not mined yet`);
      if (Date.now() - checkedAt >= (this.opts.checkMs ?? 5_000)) {
        checkedAt = Date.now();
        const stored = (await this.store.getTx(rec.intent)) ?? rec;
        if (stored.status !== "pending") return this.follow(stored);
        if (stored.hash !== rec.hash) {
          // Replaced by another worker (which may have died before sending it): its bytes from now on.
          rec = stored;
          signedAt = Date.now();
          await this.broadcast(rec).catch((e: unknown) => this.refused(rec, e));
          continue;
        }
        rec = stored;
        const mined = await this.minedVersion(rec);
        if (mined) return this.settle(rec, mined.hash, mined.receipt);
        const next = await this.provider.getTransactionCount(rec.from, "latest");
        if (next > rec.nonce) {
          // The nonce used, by none of the versions, at two looks in a row (a
          // receipt not yet indexed is not mistaken): another transaction of
          // this key took it, and no version can ever be mined.
          if (usedElsewhere) return this.settle(rec, rec.hash, undefined);
          usedElsewhere = true;
          continue;
        }
        usedElsewhere = false;
        if (Date.now() - signedAt >= (this.opts.bumpAfterMs ?? 30_000)) {
          signedAt = Date.now();
          // Only the next nonce to be mined is raised: those behind it wait for it, not for their fees.
          const bumped = next === rec.nonce ? await this.bump(rec) : undefined;
          if (bumped) rec = bumped;
          else await this.broadcast(rec).catch((e: unknown) => this.refused(rec, e));
          continue;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, this.opts.pollMs ?? 100));
    }
  }

  private refused(rec: TxRecord, e: unknown): void {
    const key = `refused:${rec.hash}`;
    if (this.capped.has(key)) return;
    if (this.capped.size >= 10_000) this.capped.clear();
    this.capped.add(key);
    warn(this.opts.log, `tx: the node refused ${rec.description} ${rec.hash}: ${(e instanceof Error ? e.message : String(e)).slice(0, 200)}`);
  }

  /** A version of `rec`, current or earlier, that was mined. */
  private async minedVersion(rec: TxRecord): Promise<{ hash: string; receipt: TransactionReceipt } | undefined> {
    for (const v of [{ hash: rec.hash }, ...(rec.replaced ?? [])]) {
      const receipt = await this.provider.getTransactionReceipt(v.hash);
      if (receipt) return { hash: v.hash, receipt };
    }
    return undefined;
  }

  /**
   * `rec` signed again at its nonce with higher fees, recorded, then sent;
   * undefined (and nothing signed) when it offers what the network asks
   * already, when a raise would pass the cap or the key's balance, when it
   * was signed by another key (a changed chain.privateKey: only that key
   * may replace it), after MAX_VERSIONS versions, or when another worker
   * replaced it first. Nodes replace a pending transaction only for 10% more
   * on each fee: each raise is at least an eighth.
   */
  private async bump(rec: TxRecord): Promise<TxRecord | undefined> {
    if (rec.from.toLowerCase() !== this.wallet.address.toLowerCase()) {
      this.once(
        rec,
        "key",
        `tx: ${rec.description} ${rec.hash} is not mined and was signed by ${getAddress(rec.from)}, not this key: it is sent again as it is`,
      );
      return undefined;
    }
    if ((rec.replaced?.length ?? 0) + 1 >= MAX_VERSIONS) return undefined;
    const tx = Transaction.from(rec.raw);
    const [fees, block, balance] = await Promise.all([this.provider.getFeeData(), this.provider.getBlock("latest"), this.provider.getBalance(rec.from)]);
    const up = (x: bigint) => (x * 9n + 7n) / 8n + 1n;
    const max = (...xs: (bigint | null | undefined)[]) => xs.reduce<bigint>((m, x) => (x != null && x > m ? x : m), 0n);
    const first = Transaction.from(rec.replaced?.[0]?.raw ?? rec.raw);
    // What the key can pay for at this gas limit: a raise never makes the node refuse it for funds.
    const affordable = tx.gasLimit > 0n ? (balance - tx.value) / tx.gasLimit : 0n;
    const cap = [this.opts.maxFeePerGas ?? (first.maxFeePerGas ?? first.gasPrice ?? 0n) * 4n, affordable].reduce((a, b) => (a < b ? a : b));
    const request: TransactionRequest = {
      type: tx.type,
      to: tx.to,
      data: tx.data,
      value: tx.value,
      gasLimit: tx.gasLimit,
      nonce: tx.nonce,
      chainId: tx.chainId,
      ...(tx.accessList ? { accessList: tx.accessList } : {}),
    };
    let was: bigint;
    let now: bigint;
    if (tx.maxFeePerGas !== null && tx.maxPriorityFeePerGas !== null) {
      was = tx.maxFeePerGas;
      const baseFee = block?.baseFeePerGas ?? 0n;
      // Offered enough: it waits its turn.
      if (tx.maxFeePerGas >= baseFee + tx.maxPriorityFeePerGas && tx.maxPriorityFeePerGas >= (fees.maxPriorityFeePerGas ?? 0n)) return undefined;
      const tip = up(tx.maxPriorityFeePerGas);
      now = max(up(tx.maxFeePerGas), fees.maxFeePerGas, baseFee * 2n + tip);
      if (now > cap) now = cap;
      request.maxFeePerGas = now;
      request.maxPriorityFeePerGas = tip < now ? tip : now;
    } else {
      was = tx.gasPrice ?? 0n;
      if (was >= (fees.gasPrice ?? 0n)) return undefined;
      now = max(up(was), fees.gasPrice);
      if (now > cap) now = cap;
      request.gasPrice = now;
    }
    if (now <= was || now < (was * 11n) / 10n) {
      this.once(
        rec,
        "cap",
        `tx: ${rec.description} ${rec.hash} is not mined and its fee is at the cap (${gwei(cap)} gwei per gas: chain.maxFeePerGas, or what the balance pays for): it waits for the fees to fall`,
      );
      return undefined;
    }
    const raw = await this.wallet.signTransaction(request);
    const next = { hash: Transaction.from(raw).hash!, raw };
    // Recorded before it is sent: a crash from here on sends these bytes, and either version may be the one mined.
    if (!(await this.store.replaceTx(rec.intent, rec.hash, next))) return undefined;
    const bumped: TxRecord = { ...rec, ...next, replaced: [...(rec.replaced ?? []), { hash: rec.hash, raw: rec.raw }] };
    this.opts.log?.(`tx: ${rec.description} not mined yet: signed again at nonce ${rec.nonce} with ${gwei(was)} → ${gwei(now)} gwei per gas, ${next.hash}`);
    // Refused (too small a raise for this node, say): the earlier bytes may still be mined; raised again later.
    await this.broadcast(bumped).catch((e: unknown) => this.refused(bumped, e));
    return bumped;
  }

  /** Logs `line` once for `rec` and `what`. */
  private once(rec: TxRecord, what: string, line: string): void {
    const key = `${what}:${rec.intent}`;
    if (this.capped.has(key)) return;
    if (this.capped.size >= 10_000) this.capped.clear();
    this.capped.add(key);
    this.opts.log?.(line);
  }

  /**
   * The outcome of `rec` as its version `hash`, mined in `receipt` (none:
   * its nonce was taken by another transaction), recorded once whatever
   * other workers do: the one that finishes the record tells; the others
   * read what it recorded.
   */
  private async settle(rec: TxRecord, hash: string, receipt: TransactionReceipt | undefined): Promise<TxOutcome> {
    const status = receipt?.status === 1 ? "mined" : "failed";
    const error = receipt ? (status === "failed" ? "reverted" : undefined) : NONCE_TAKEN;
    if (!(await this.store.settleTx(rec.intent, hash, status, error))) {
      const stored = await this.store.getTx(rec.intent);
      if (stored && stored.status !== "pending") return this.follow(stored);
      throw new Error(`transaction ${hash} (${rec.description}) is no longer a version of its record`);
    }
    const outcome = `tx ${status}: ${rec.description} ${hash}${receipt ? "" : `: nonce ${rec.nonce} was used by another transaction of the bot's key`}`;
    if (status === "mined") this.opts.log?.(outcome);
    else warn(this.opts.log, outcome);
    // Two callers following one transaction see one outcome.
    if (receipt && this.opts.onOutcome && !this.reported.has(hash)) {
      if (this.reported.size >= 10_000) this.reported.clear();
      this.reported.add(hash);
      this.opts.onOutcome({ hash, to: receipt.to, status, gasUsed: receipt.gasUsed, gasPrice: receipt.gasPrice });
    }
    return { hash, status, ...(receipt ? { receipt } : {}) };
  }

  private async broadcast(rec: TxRecord): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.provider.broadcastTransaction(rec.raw);
        return;
      } catch (e) {
        // Already known or already mined: the same bytes are on their way.
        const msg = e instanceof Error ? e.message : String(e);
        if (/already known|known transaction|nonce too low|already imported|AlreadyKnown/i.test(msg)) return;
        if ((await this.provider.getTransactionReceipt(rec.hash)) !== null) return;
        // A lower nonce of this key has not reached the node: another
        // worker's, on its way, or recorded by a worker that died before
        // sending it (some nodes refuse a gap rather than queue it). The
        // recorded bytes of those go first, then these again.
        if (/nonce too high/i.test(msg) && attempt < MAX_NONCE_ATTEMPTS) {
          const from = rec.from.toLowerCase();
          for (const lower of (await this.store.listTxs("pending")).filter((t) => t.from.toLowerCase() === from && t.nonce < rec.nonce)) {
            await this.provider.broadcastTransaction(lower.raw).catch(() => undefined);
          }
          await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
          continue;
        }
        throw e;
      }
    }
  }

  /** Runs `fn` after every earlier call finished: nonces are taken in order. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** A gas estimate with room for a state that changed before inclusion: a quarter more, and 10,000. */
export function withMargin(estimate: bigint): bigint {
  return (estimate * 5n) / 4n + 10_000n;
}

function gwei(wei: bigint): string {
  return formatUnits(wei, "gwei");
}
