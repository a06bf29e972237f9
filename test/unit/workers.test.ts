/**
 * Workers (src/ops/workers.ts): names, lease holders, each worker's device
 * state apart in the shared store, waiting for a previous run of the same
 * name and refusing a second live one; the bridge and the journal act only
 * in rooms the worker holds.
 */
import { describe, expect, it } from "vitest";
import { ZeroAddress } from "ethers";
import { defaultWorkerName, deviceStore, leaseHolder, nameOf, Worker, WORKER_NAME } from "../../src/ops/workers.ts";
import type { Lease, RoomLeases } from "../../src/store/leases.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { Bridge } from "../../src/bridge/bridge.ts";
import type { BridgeChain } from "../../src/ports/chain.ts";
import type { RoomEnforcer } from "../../src/ports/rooms.ts";
import type { RoomShare } from "../../src/ports/share.ts";

/** Leases in memory: every room asked for is held, `live` is what the test says. */
function memoryLeases(live: () => string[]): RoomLeases & { released: string[] } {
  let token = 0;
  const released: string[] = [];
  return {
    released,
    async balance(worker, rooms, ttlMs) {
      const held: Lease[] = rooms.map((roomId) => ({ roomId, worker, token: ++token, expiresAt: Date.now() + ttlMs }));
      return { held, workers: 1 };
    },
    async holds() {
      return true;
    },
    async release(worker) {
      released.push(worker);
    },
    async live() {
      return live();
    },
  };
}

function worker(leases: RoomLeases, o: Partial<ConstructorParameters<typeof Worker>[0]> = {}): Worker {
  return new Worker({
    leases,
    finishFenced: async () => true,
    name: "w1",
    rooms: async () => ["!a:x"],
    onGained: () => {},
    log: () => {},
    sleep: async () => {},
    ...o,
  });
}

describe("worker names", () => {
  it("default to the host name, made fit for a name", () => {
    expect(defaultWorkerName("bot-1.example.org")).toBe("bot-1.example.org");
    expect(defaultWorkerName("héllo wörld")).toBe("h-llo-w-rld");
    expect(defaultWorkerName("")).toBe("worker");
    expect(WORKER_NAME.test(defaultWorkerName("x".repeat(200)))).toBe(true);
    expect(WORKER_NAME.test(defaultWorkerName())).toBe(true);
  });

  it("give each run a lease holder of its own, which names the worker", () => {
    const a = leaseHolder("w1");
    const b = leaseHolder("w1");
    expect(a).not.toBe(b);
    expect([nameOf(a), nameOf(b)]).toEqual(["w1", "w1"]);
    expect(nameOf("a/b/c")).toBe("a/b");
  });
});

describe("a worker's device state", () => {
  it("is kept under its name; everything else is shared", async () => {
    const store = new SqliteStore(":memory:");
    const w1 = deviceStore(store, "w1");
    const w2 = deviceStore(store, "w2");
    await w1.setState("matrix.deviceId", "DEVICE1");
    await w2.setState("matrix.deviceId", "DEVICE2");
    await w1.setState("cursor:0xabc", "7");
    expect([await w1.getState("matrix.deviceId"), await w2.getState("matrix.deviceId"), await store.getState("matrix.deviceId")]).toEqual([
      "DEVICE1",
      "DEVICE2",
      undefined,
    ]);
    expect(await w2.getState("cursor:0xabc")).toBe("7");
    expect(await w1.getStates(["matrix.deviceId", "cursor:0xabc", "matrix.syncPosition"])).toEqual(
      new Map([
        ["matrix.deviceId", "DEVICE1"],
        ["cursor:0xabc", "7"],
      ]),
    );
    // The journal is one for all workers.
    await w1.addInbound([{ eventId: "$1", roomId: "!a:x", sender: "@u:x", raw: "{}", receivedAt: 1 }]);
    expect((await w2.listInbound("new", 10)).map((e) => e.eventId)).toEqual(["$1"]);
  });
});

describe("a worker starting", () => {
  it("waits until the previous run of its name has expired", async () => {
    let live = ["w1/dead", "w2/abcd"];
    let waited = 0;
    const w = worker(
      memoryLeases(() => live),
      {
        sleep: async () => {
          if (++waited === 3) live = ["w2/abcd"];
        },
      },
    );
    await w.awaitNamesakes();
    expect(waited).toBe(3);
  });

  it("refuses to run beside a live worker of the same name", async () => {
    const w = worker(
      memoryLeases(() => ["w1/other"]),
      { ttlMs: 300, renewMs: 100, marginMs: 50, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
    );
    await expect(w.awaitNamesakes()).rejects.toThrow(/another worker named "w1" is running \(w1\/other\): give each worker its own worker.id/);
  });

  it("serves the rooms of its leases, finishes only under a lease, and gives them up when it stops", async () => {
    const leases = memoryLeases(() => []);
    const gained: string[][] = [];
    const fenced: string[] = [];
    const w = worker(leases, {
      onGained: (r) => gained.push([...r]),
      finishFenced: async (id, fence) => {
        fenced.push(`${id}@${fence.roomId}#${fence.token}`);
        return true;
      },
    });
    expect(w.owns("!a:x")).toBe(false);
    expect(await w.finishOutbox({ id: "rotate:1", roomId: "!a:x" })).toBe(false);
    await w.start();
    expect([w.owns("!a:x"), w.owns("!b:x")]).toEqual([true, false]);
    expect(gained).toEqual([["!a:x"]]);
    expect(await w.finishOutbox({ id: "rotate:1", roomId: "!a:x" })).toBe(true);
    expect(await w.finishOutbox({ id: "rotate:2", roomId: "!b:x" })).toBe(false);
    expect(fenced).toEqual(["rotate:1@!a:x#1"]);
    await w.stop();
    expect(w.owns("!a:x")).toBe(false);
    expect(leases.released).toEqual([w.holder]);
  });
});

const GROUP_A = "0x" + "aa".repeat(20);
const GROUP_B = "0x" + "bb".repeat(20);

describe("the bridge of one worker among several", () => {
  it("reads, reconciles and drains only the rooms the worker holds, and finishes under the lease", async () => {
    const store = new SqliteStore(":memory:");
    for (const [roomId, group] of [
      ["!a:x", GROUP_A],
      ["!b:x", GROUP_B],
    ] as const) {
      await store.putBinding({ roomId, group, chainId: 1, createdBy: "@u:x", createdAt: 0, fromBlock: 0 });
      await store.addOutbox({
        id: `rotate:${roomId}`,
        roomId,
        kind: "rotate",
        payload: JSON.stringify({ kind: "kick", userId: "@gone:x", reason: "removed" }),
        createdAt: 0,
      });
    }
    const eventsAsked: string[][] = [];
    const settingsAsked: string[] = [];
    const chain = {
      settings: async (group: string) => {
        settingsAsked.push(group);
        throw new Error("not needed");
      },
      botAddress: ZeroAddress,
      head: async () => 10,
      eventsOf: async (groups: string[]) => {
        eventsAsked.push(groups);
        return new Map();
      },
    } as unknown as BridgeChain;
    const looked: string[] = [];
    const noticed: string[] = [];
    let sentBefore = false;
    const rooms = {
      // The first thing a reconcile pass asks of a room.
      rules: async (roomId: string) => {
        looked.push(roomId);
        throw new Error("not needed");
      },
      powers: async () => {
        throw new Error("not needed");
      },
      roomMembers: async () => {
        throw new Error("not needed");
      },
      rotateKey: async (roomId: string) => {
        noticed.push(roomId);
      },
      sentOnce: async () => sentBefore,
    } as unknown as RoomEnforcer;
    const finished: string[] = [];
    const share: RoomShare = {
      owns: (roomId) => roomId === "!a:x",
      finishOutbox: async (item) => {
        finished.push(item.id);
        await store.finishOutbox(item.id);
        return true;
      },
    };
    const b = new Bridge({ store, chain, rooms, botUserId: "@bot:x", confirmations: 0, pollMs: 1000, fullPassMs: 3_600_000, log: () => {}, share });
    // The first tick is a full pass: the keeper's duties, for the held room only.
    await b.tick();
    expect(eventsAsked).toEqual([[GROUP_A]]);
    expect(settingsAsked).toEqual([GROUP_A]);
    // Recorded by another worker: its notice was not in the room, so it is sent.
    expect(noticed).toEqual(["!a:x"]);
    expect(finished).toEqual(["rotate:!a:x"]);
    expect((await store.listOutbox("pending")).map((i) => i.id)).toEqual(["rotate:!b:x"]);

    // An item whose notice the previous holder sent before it died: finished, not sent again.
    await store.addOutbox({
      id: "rotate:again",
      roomId: "!a:x",
      kind: "rotate",
      payload: JSON.stringify({ kind: "kick", userId: "@other:x", reason: "removed" }),
      createdAt: 0,
    });
    sentBefore = true;
    // A room looked at because of a membership change is reconciled only if held.
    b.poke("!b:x");
    await b.tick();
    expect(looked).toEqual(["!a:x"]);
    expect(noticed).toEqual(["!a:x"]);
    expect(finished).toEqual(["rotate:!a:x", "rotate:again"]);
  });
});
