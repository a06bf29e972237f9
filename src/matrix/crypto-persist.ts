/**
 * Persistence of the bot's end-to-end encryption state in Node.
 *
 * matrix-js-sdk's Rust crypto keeps its state in IndexedDB, which Node does
 * not have. `fake-indexeddb` provides IndexedDB in memory; this module saves
 * every database it holds to one file (atomically: write, then rename) and
 * restores it before the crypto starts, so the bot keeps its device id and
 * identity keys, and its Olm and Megolm sessions, across restarts.
 *
 * Olm sessions ratchet on every message: a state saved even a second late
 * would, after a crash, leave the bot unable to talk to its peers' devices.
 * So `persistOnWrite` saves after every committed read-write transaction
 * (coalesced: at most one save runs, and one more follows if needed).
 */
import "fake-indexeddb/auto";
import { createHmac } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { deserialize, serialize } from "node:v8";

interface IndexDump {
  name: string;
  keyPath: string | string[];
  unique: boolean;
  multiEntry: boolean;
}

interface StoreDump {
  name: string;
  keyPath: string | string[] | null;
  autoIncrement: boolean;
  indexes: IndexDump[];
  keys: IDBValidKey[];
  values: unknown[];
}

interface DbDump {
  name: string;
  version: number;
  stores: StoreDump[];
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- IndexedDB's own error (a DOMException), passed on as it is
    r.onerror = () => reject(r.error);
  });
}

function open(name: string, version?: number, upgrade?: (db: IDBDatabase) => void): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const r = version === undefined ? indexedDB.open(name) : indexedDB.open(name, version);
    r.onupgradeneeded = () => upgrade?.(r.result);
    r.onsuccess = () => resolve(r.result);
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- IndexedDB's own error (a DOMException), passed on as it is
    r.onerror = () => reject(r.error);
  });
}

/** Every IndexedDB database in this process, each read in one transaction (consistent). */
async function dumpAll(): Promise<DbDump[]> {
  const out: DbDump[] = [];
  for (const info of await indexedDB.databases()) {
    if (!info.name) continue;
    const db = await open(info.name);
    try {
      const names = [...db.objectStoreNames];
      const stores: StoreDump[] = [];
      if (names.length > 0) {
        const tx = db.transaction(names, "readonly");
        for (const n of names) {
          const s = tx.objectStore(n);
          const indexes = [...s.indexNames].map((i) => {
            const ix = s.index(i);
            return { name: ix.name, keyPath: ix.keyPath, unique: ix.unique, multiEntry: ix.multiEntry };
          });
          const [keys, values] = await Promise.all([request(s.getAllKeys()), request(s.getAll())]);
          stores.push({ name: n, keyPath: s.keyPath, autoIncrement: s.autoIncrement, indexes, keys, values });
        }
      }
      out.push({ name: info.name, version: db.version, stores });
    } finally {
      db.close();
    }
  }
  return out;
}

/**
 * What the file holds: the databases, and a tag naming whose state it is
 * (the account, the device and the passphrase, hashed), read before the
 * crypto starts: a state that belongs to another device or was sealed with
 * another passphrase is known before the crypto fails on it. (Files saved
 * before the tag existed are a bare list of databases.)
 */
interface FileDump {
  tag: string;
  dbs: DbDump[];
}

/** The tag of the state of `userId`'s device `deviceId`, sealed with `passphrase`. */
export function stateTag(userId: string, deviceId: string, passphrase: string): string {
  const mac = createHmac("sha256", passphrase).update("conclave crypto state").digest("hex").slice(0, 32);
  return `${userId}|${deviceId}|${mac}`;
}

function readDump(file: string): FileDump | DbDump[] {
  return deserialize(readFileSync(file)) as FileDump | DbDump[];
}

/**
 * The tag saved in `file`: undefined when there is no file, null when the
 * file predates tags (whose state it is, only the crypto can tell).
 */
export function savedTag(file: string): string | null | undefined {
  if (!existsSync(file)) return undefined;
  const dump = readDump(file);
  return Array.isArray(dump) ? null : dump.tag;
}

/**
 * Moves a state the bot cannot use out of the way (kept, not deleted: with
 * the right secret it may still be of use to someone); returns where.
 */
export function setAside(file: string): string {
  const to = `${file}.unused-${new Date().toISOString().replace(/[:.]/g, "-")}`;
  renameSync(file, to);
  return to;
}

/** Saves every database to `file`, with the tag of the state. */
export async function saveIndexedDB(file: string, tag: string): Promise<void> {
  const dump: FileDump = { tag, dbs: await dumpAll() };
  const data = serialize(dump);
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  // A left-over temporary file keeps its old mode: set it, whatever it was.
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** Restores the databases saved in `file`, if there is one. Call before the crypto starts. */
export async function restoreIndexedDB(file: string): Promise<boolean> {
  if (!existsSync(file)) return false;
  const dump = readDump(file);
  const dbs = Array.isArray(dump) ? dump : dump.dbs;
  for (const d of dbs) {
    const db = await open(d.name, d.version, (db) => {
      for (const s of d.stores) {
        const store = db.createObjectStore(s.name, { keyPath: s.keyPath, autoIncrement: s.autoIncrement });
        for (const i of s.indexes) store.createIndex(i.name, i.keyPath, { unique: i.unique, multiEntry: i.multiEntry });
      }
    });
    try {
      const names = d.stores.map((s) => s.name);
      if (names.length > 0) {
        const tx = db.transaction(names, "readwrite");
        for (const s of d.stores) {
          const store = tx.objectStore(s.name);
          s.values.forEach((v, i) => {
            // In-line keys come with the value; out-of-line ones are passed.
            if (s.keyPath === null) store.put(v, s.keys[i]);
            else store.put(v);
          });
        }
        await new Promise<void>((resolve, reject) => {
          tx.oncomplete = () => resolve();
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- IndexedDB's own error (a DOMException), passed on as it is
          tx.onerror = () => reject(tx.error);
        });
      }
    } finally {
      db.close();
    }
  }
  return true;
}

/**
 * Saves `file` after every committed read-write IndexedDB transaction from
 * now on. Returns `flush`: it resolves once every write committed before it
 * was called is on disk. (Not "once no save runs": under a steady stream of
 * writes that moment may never come.) A failed save is tried again a second
 * later; until one succeeds, `flush` waits.
 */
export function persistOnWrite(file: string, tag: string, onError: (e: unknown) => void): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  /** writes committed so far, and how many of them the file holds */
  let written = 0;
  let saved = 0;
  const waiters = new Set<{ target: number; resolve: () => void }>();
  const save = (): void => {
    if (running) {
      again = true;
      return;
    }
    // Every write committed before the dump starts is in it.
    const upTo = written;
    running = saveIndexedDB(file, tag)
      .then(
        () => {
          saved = Math.max(saved, upTo);
        },
        (e: unknown) => {
          onError(e);
          setTimeout(save, 1000).unref();
        },
      )
      .finally(() => {
        running = undefined;
        for (const w of waiters) {
          if (w.target <= saved) {
            waiters.delete(w);
            w.resolve();
          }
        }
        if (again) {
          again = false;
          save();
        }
      });
  };
  const onWrite = (): void => {
    written++;
    save();
  };
  const proto = IDBDatabase.prototype as unknown as { transaction: (...a: unknown[]) => IDBTransaction; __conclavePatched?: boolean };
  if (!proto.__conclavePatched) {
    const original = proto.transaction;
    proto.transaction = function (this: IDBDatabase, ...args: unknown[]) {
      const tx = original.apply(this, args);
      if (tx.mode === "readwrite") tx.addEventListener("complete", () => hooks.forEach((h) => h()));
      return tx;
    };
    proto.__conclavePatched = true;
  }
  hooks.add(onWrite);
  return () => {
    const target = written;
    if (saved >= target) return Promise.resolve();
    return new Promise<void>((resolve) => waiters.add({ target, resolve }));
  };
}

const hooks = new Set<() => void>();
