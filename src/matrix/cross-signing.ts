/**
 * The bot's cryptographic identity: cross-signing, secret storage and key
 * backup, so that clients which exclude devices their owner has not
 * cross-signed (Element's "exclude insecure devices", MSC4153) keep
 * sharing room keys with the bot and showing what it says.
 *
 * At every start, after the first sync (the device's keys are published by
 * then), {@link ensureIdentity}:
 * 1. checks the recovery key against the account's secret storage, if
 *    there is one: a key that does not open it stops start-up;
 * 2. cross-signing: nothing to do when this device holds the private keys
 *    (every restart); else reads them from secret storage with the
 *    recovery key and signs this device (a new device of an account that
 *    has an identity: the crypto state was lost); else, when the account
 *    has no identity yet, creates one (the first start), which signs this
 *    device. An account whose identity the bot cannot reach is never
 *    replaced (that would break every member's trust in it): the bot says
 *    so and runs unsigned;
 * 3. with a recovery key: secret storage is created under it if the account
 *    has none, and holds the cross-signing keys and the key backup's key;
 * 4. key backup: the bot's room keys are uploaded to the server's backup
 *    (one is created when there is none the bot can use); a new device
 *    restores what was backed up, so a lost crypto state loses no history.
 */
import type { MatrixClient } from "matrix-js-sdk";
import type { MatrixEvent } from "matrix-js-sdk";
import { decodeRecoveryKey, encodeRecoveryKey, EventShieldReason, type CryptoCallbacks } from "matrix-js-sdk/lib/crypto-api/index.js";
import { randomBytes } from "node:crypto";
import { calculateKeyCheck } from "matrix-js-sdk/lib/secret-storage.js";
import { CredentialsRefused } from "./login.ts";

/**
 * A recovery key ("EsTc 1234 …", as Element shows it) as the 32 bytes it
 * encodes. Throws an Error saying what is wrong with it (never quoting it).
 */
export function parseRecoveryKey(text: string): Uint8Array<ArrayBuffer> {
  try {
    return decodeRecoveryKey(text.trim());
  } catch (e) {
    const why = (e as Error).message.replace(/^Incorrect /, "wrong ").replace(/^Non-base58 character$/, "a character that is not base58");
    throw new Error(`not a recovery key (${why}): expected 48 base58 characters like "EsTc 1234 …", as Element shows them or --new-recovery-key prints`, {
      cause: e,
    });
  }
}

/** A new random recovery key, in the form Element shows and accepts. */
export function newRecoveryKey(): string {
  return encodeRecoveryKey(randomBytes(32))!;
}

/**
 * The client's secret-storage callback: the recovery key, for whichever of
 * the requested keys it opens. (The check is the SDK's, made when the
 * secret is read; here only the key id is chosen.)
 */
export function secretStorageCallbacks(recoveryKey: Uint8Array<ArrayBuffer> | undefined): CryptoCallbacks {
  return {
    getSecretStorageKey: async ({ keys }) => {
      const id = Object.keys(keys)[0];
      return recoveryKey && id !== undefined ? [id, recoveryKey] : null;
    },
  };
}

export interface IdentityOptions {
  userId: string;
  deviceId: string;
  recoveryKey?: Uint8Array<ArrayBuffer>;
  /** for the homeserver's user-interactive auth, when it asks for it */
  password?: string;
  /** this device's crypto state is new (first start, or the state was lost) */
  newDevice: boolean;
  log: { (line: string): void; warn(line: string): void };
}

export interface IdentityReport {
  /** the master key (base64), or undefined when the account has none */
  masterKey?: string;
  /** whether this device is signed by its owner's self-signing key */
  deviceSigned: boolean;
  /** the key backup version in use, if any */
  backupVersion?: string;
}

function short(key: string | undefined): string {
  return key === undefined ? "none" : `${key.slice(0, 8)}…`;
}

/** The account's master key as the homeserver publishes it. */
async function publishedMasterKey(client: MatrixClient, userId: string): Promise<string | undefined> {
  const res = await client.downloadKeysForUsers([userId]);
  const keys = res.master_keys?.[userId]?.keys ?? {};
  return Object.values(keys)[0];
}

/** Waits until the homeserver lists this device's keys (they are uploaded after the first sync). */
async function devicePublished(client: MatrixClient, userId: string, deviceId: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await client.downloadKeysForUsers([userId]);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a homeserver may leave the map out
    if (res.device_keys?.[userId]?.[deviceId]) return;
    if (Date.now() > deadline) throw new Error(`the homeserver does not list the keys of device ${deviceId} yet`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** See the module comment. Throws {@link CredentialsRefused} when the recovery key does not open the account's secret storage. */
export async function ensureIdentity(client: MatrixClient, o: IdentityOptions): Promise<IdentityReport> {
  const crypto = client.getCrypto();
  if (!crypto) throw new Error("ensureIdentity: the client has no crypto");
  const { userId, deviceId, log } = o;

  const storageKey = await client.secretStorage.getKey();
  if (o.recoveryKey && storageKey && !(await client.secretStorage.checkKey(o.recoveryKey, storageKey[1]))) {
    throw new CredentialsRefused(
      `matrix: bot.recoveryKey does not open the secret storage of ${userId} (its key ${storageKey[0]} was made with another recovery key): give that account's recovery key`,
    );
  }

  const status = await crypto.getCrossSigningStatus();
  const local = status.privateKeysCachedLocally;
  if (!(local.masterKey && local.selfSigningKey && local.userSigningKey)) {
    await devicePublished(client, userId, deviceId);
    const published = await publishedMasterKey(client, userId);
    const inStorage = storageKey !== null && o.recoveryKey !== undefined && (await client.secretStorage.isStored("m.cross_signing.master")) !== null;
    if (published === undefined || inStorage) {
      // Creates the identity, or reads it from secret storage and signs this device.
      await crypto.bootstrapCrossSigning({
        authUploadDeviceSigningKeys: async (makeRequest) => {
          try {
            await makeRequest(null);
            return;
          } catch (e) {
            const session = (e as { data?: { session?: string } }).data?.session;
            if ((e as { httpStatus?: number }).httpStatus !== 401 || !o.password || session === undefined) throw e;
            return makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: userId }, password: o.password, session });
          }
        },
      });
      log(
        published === undefined
          ? `matrix: created the cross-signing identity of ${userId}`
          : `matrix: read the cross-signing identity of ${userId} from its secret storage`,
      );
    } else {
      log.warn(
        `matrix: ${userId} has a cross-signing identity (${short(published)}) whose keys this device does not have${o.recoveryKey ? " and its secret storage does not hold" : ""}: ` +
          `device ${deviceId} stays unsigned, and clients that exclude insecure devices will not talk to it (give bot.recoveryKey, the account's recovery key)`,
      );
    }
  }

  let backupVersion: string | undefined;
  if (o.recoveryKey) {
    const key = o.recoveryKey;
    // Creates secret storage under the recovery key when the account has none; stores the cross-signing keys in it.
    await crypto.bootstrapSecretStorage({ createSecretStorageKey: async () => ({ privateKey: key, keyInfo: { name: "Conclave recovery key" } }) });
    backupVersion = await keyBackup(client, o);
  } else {
    log.warn("matrix: no bot.recoveryKey: no key backup, and a lost crypto state means a new identity that members must trust again");
  }

  const masterKey = await publishedMasterKey(client, userId);
  const deviceSigned = (await crypto.getDeviceVerificationStatus(userId, deviceId))?.signedByOwner === true;
  log(
    `matrix: identity ${short(masterKey)}, device ${deviceId} ${deviceSigned ? "cross-signed" : "NOT cross-signed"}` +
      (backupVersion !== undefined ? `, room keys backed up (backup version ${backupVersion})` : ""),
  );
  return { ...(masterKey !== undefined ? { masterKey } : {}), deviceSigned, ...(backupVersion !== undefined ? { backupVersion } : {}) };
}

/**
 * Turns the key backup on: the server's current backup when the bot has its
 * key (or secret storage does), a new one otherwise. A new device restores
 * what the backup holds, in the background.
 */
async function keyBackup(client: MatrixClient, o: IdentityOptions): Promise<string | undefined> {
  const crypto = client.getCrypto()!;
  const info = await crypto.getKeyBackupInfo();
  let usable = false;
  if (info?.version !== undefined) {
    if ((await crypto.getSessionBackupPrivateKey()) === null) {
      try {
        await crypto.loadSessionBackupPrivateKeyFromSecretStorage();
      } catch (e) {
        o.log.warn(`matrix: cannot use key backup version ${info.version} (${(e as Error).message}); starting a new one`);
      }
    }
    usable = (await crypto.getSessionBackupPrivateKey()) !== null && (await crypto.isKeyBackupTrusted(info)).matchesDecryptionKey;
  }
  if (!usable) {
    await crypto.resetKeyBackup();
    o.log(`matrix: started a key backup (version ${(await crypto.getActiveSessionBackupVersion()) ?? "?"})`);
  } else {
    await crypto.checkKeyBackupAndEnable();
    if (o.newDevice) {
      void crypto.restoreKeyBackup().then(
        (r) => o.log(`matrix: restored ${r.imported} of ${r.total} room keys from the key backup`),
        (e: unknown) => o.log.warn(`matrix: restoring room keys from the key backup failed: ${(e as Error).message}`),
      );
    }
  }
  return (await crypto.getActiveSessionBackupVersion()) ?? undefined;
}

/**
 * Whether the device that sent a decrypted event is cross-signed by its
 * owner, as this client's crypto sees it: "unknown" when the crypto cannot
 * tell which device sent it (a key from a backup or forwarded).
 */
export async function senderDevice(client: MatrixClient, ev: MatrixEvent): Promise<"cross-signed" | "not cross-signed" | "unknown"> {
  const info = await client.getCrypto()?.getEncryptionInfoForEvent(ev);
  if (!info) return "unknown";
  switch (info.shieldReason) {
    case EventShieldReason.UNSIGNED_DEVICE:
      return "not cross-signed";
    case EventShieldReason.UNKNOWN_DEVICE:
    case EventShieldReason.AUTHENTICITY_NOT_GUARANTEED:
    case EventShieldReason.MISMATCHED_SENDER_KEY: // eslint-disable-line @typescript-eslint/no-deprecated -- still a value the SDK may report
    case EventShieldReason.MISMATCHED_SENDER:
      return "unknown";
    default:
      // No shield, or only "you have not verified this user": the device is signed by its owner.
      return "cross-signed";
  }
}

/**
 * Whether `recoveryKey` opens the secret storage of the account of `token`,
 * read without changing anything (account data, GET): "opens", "wrong
 * key", or "none" when the account has no secret storage yet (the bot will
 * create it under this key).
 */
export async function recoveryKeyFits(
  baseUrl: string,
  token: string,
  userId: string,
  recoveryKey: Uint8Array<ArrayBuffer>,
): Promise<"opens" | "wrong key" | "none"> {
  const read = async (type: string): Promise<Record<string, unknown> | undefined> => {
    const res = await fetch(new URL(`/_matrix/client/v3/user/${encodeURIComponent(userId)}/account_data/${encodeURIComponent(type)}`, baseUrl), {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`reading account data ${type}: HTTP ${res.status}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const id = (await read("m.secret_storage.default_key"))?.["key"];
  if (typeof id !== "string") return "none";
  const info = (await read(`m.secret_storage.key.${id}`)) as { iv?: string; mac?: string } | undefined;
  if (!info?.mac || !info.iv) return "none";
  const { mac } = await calculateKeyCheck(recoveryKey, info.iv);
  return mac.replace(/=+$/, "") === info.mac.replace(/=+$/, "") ? "opens" : "wrong key";
}
