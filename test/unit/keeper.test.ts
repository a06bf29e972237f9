import { describe, expect, it } from "vitest";
import { ZeroAddress } from "ethers";
import { Bridge } from "../../src/bridge/bridge.ts";
import type { BridgeChain } from "../../src/ports/chain.ts";
import type { RoomEnforcer } from "../../src/ports/rooms.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { DestinationKind, Mode, QUORUM_DEFAULT } from "../../src/governance/types.ts";
import type { MemberInfo } from "../../src/governance/client.ts";

const NOW = 1_800_000_000;
const GROUP = "0x" + "11".repeat(20);

function fakeChain(o: { members: MemberInfo[]; kind: number; nextReleaseAt: number; balance: bigint }) {
  const calls: { fn: string; args: unknown[]; intent: string }[] = [];
  const chain = {
    botAddress: ZeroAddress,
    calls,
    async settings() {
      return {
        config: {
          defaultQuorumBps: 5000,
          addQuorumBps: QUORUM_DEFAULT,
          removeQuorumBps: QUORUM_DEFAULT,
          configQuorumBps: QUORUM_DEFAULT,
          feeDestinationQuorumBps: QUORUM_DEFAULT,
          customQuorumBps: QUORUM_DEFAULT,
          votingPeriod: 1,
          period: 100,
          gracePeriod: 50,
          mode: Mode.Vote,
          customCallsAllowed: false,
          fee: 0n,
          feeToken: ZeroAddress,
        },
        controller: ZeroAddress,
        linker: ZeroAddress,
        admins: [],
      };
    },
    async expiries() {
      return o.members;
    },
    async call(intent: string, _g: string, fn: string, args: unknown[]) {
      calls.push({ fn, args, intent });
      return {} as never;
    },
    async feeDestinationKind() {
      return { kind: o.kind, nextReleaseAt: async () => o.nextReleaseAt, balance: async () => o.balance };
    },
  };
  return chain as unknown as BridgeChain & { calls: typeof calls };
}

const member = (address: string, expiresAt: number): MemberInfo => ({
  address,
  tokenId: 1,
  isMember: true,
  active: expiresAt > NOW,
  approved: false,
  expiresAt,
  delegate: ZeroAddress,
  delegatorsIn: 0,
  relayer: ZeroAddress,
  relayerScope: 0,
  relayerUntil: 0,
  matrixLink: "0x",
});

function bridge(chain: BridgeChain, store = new SqliteStore(":memory:")) {
  return new Bridge({
    store,
    chain,
    rooms: {} as RoomEnforcer,
    botUserId: "@bot:x",
    confirmations: 0,
    pollMs: 1000,
    fullPassMs: 1000,
    log: () => {},
    now: async () => NOW,
  });
}

const binding = { roomId: "!r:x", group: GROUP, chainId: 1, createdBy: "@a:x", createdAt: 0, fromBlock: 0 };

describe("the keeper", () => {
  it("removes members whose grace period is over, and only those, with the lapse as the reason", async () => {
    const chain = fakeChain({
      members: [member("0xaaa", NOW - 50), member("0xbbb", NOW - 49), member("0xccc", NOW + 10), { ...member("0xddd", 0), isMember: false }],
      kind: DestinationKind.Locked,
      nextReleaseAt: 0,
      balance: 0n,
    });
    const store = new SqliteStore(":memory:");
    await bridge(chain, store).keeper(binding, 0);
    expect(chain.calls.map((c) => [c.fn, c.args[0]])).toEqual([["removeLapsedBatch", ["0xaaa"]]]);
    expect(await store.getState(`reason:${GROUP}:0xaaa`)).toMatch(/^membership lapsed: not paid since /);
  });

  it("releases fees when the destination is release and the month has passed, once a day at most per intent", async () => {
    const due = fakeChain({ members: [], kind: DestinationKind.Release, nextReleaseAt: NOW, balance: 5n });
    await bridge(due).keeper(binding, 0);
    expect(due.calls.map((c) => c.fn)).toEqual(["release"]);
    expect(due.calls[0]!.intent).toBe(`release:${GROUP}:${ZeroAddress}:${Math.floor(NOW / 86_400)}`);
    for (const o of [
      { kind: DestinationKind.Release, nextReleaseAt: NOW + 1, balance: 5n },
      { kind: DestinationKind.Release, nextReleaseAt: 0, balance: 0n },
      { kind: DestinationKind.Locked, nextReleaseAt: 0, balance: 5n },
    ]) {
      const c = fakeChain({ members: [], ...o });
      await bridge(c).keeper(binding, 0);
      expect(c.calls).toEqual([]);
    }
  });
});
