/**
 * What the store secret (`store.secret`, given like every other secret) is
 * for. The secret never sits beside the data it protects: everything below
 * is derived from it at start (HKDF-SHA-256), nothing is written down.
 * - the passphrase of the encrypted crypto state (`<store>.crypto`);
 * - the salt of the Matrix link hashes recorded on-chain;
 * - the key that seals the bot's Matrix access token in the store
 *   (AES-256-GCM).
 * Losing the secret loses the crypto state (the bot must log in as a new
 * device) and the link between past hashes and Matrix ids; see docs/bot.md.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

export interface StoreKeys {
  cryptoPassphrase: string;
  linkSalt: string;
  /** seals a short text (the access token); only this secret opens it */
  seal(plain: string): string;
  /** the sealed text, or undefined when it was not sealed with this secret (or not sealed) */
  open(sealed: string): string | undefined;
}

function derive(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync("sha256", secret, "conclave store", purpose, 32));
}

export function storeKeys(secret: string): StoreKeys {
  const tokenKey = derive(secret, "access token");
  return {
    cryptoPassphrase: derive(secret, "crypto store").toString("hex"),
    linkSalt: `0x${derive(secret, "link salt").toString("hex")}`,
    seal(plain: string): string {
      const iv = randomBytes(12);
      const c = createCipheriv("aes-256-gcm", tokenKey, iv);
      const body = Buffer.concat([c.update(plain, "utf8"), c.final()]);
      return `sealed:${Buffer.concat([iv, c.getAuthTag(), body]).toString("base64")}`;
    },
    open(sealed: string): string | undefined {
      if (!sealed.startsWith("sealed:")) return undefined;
      const raw = Buffer.from(sealed.slice("sealed:".length), "base64");
      if (raw.length < 28) return undefined;
      try {
        const d = createDecipheriv("aes-256-gcm", tokenKey, raw.subarray(0, 12));
        d.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString("utf8");
      } catch {
        return undefined;
      }
    },
  };
}
