/**
 * What a proposal is shown to do: every change, old → new, in human units,
 * and only the changes; addresses where power moves; every recipient and
 * share; custom calls decoded.
 */
import { describe, expect, it } from "vitest";
import { Interface } from "ethers";
import { effectOf, oneLine } from "../../src/bot/commands/effects.ts";
import type { Ctx } from "../../src/bot/context.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { encodeAccount, encodeCustom, encodeFeeDestination, encodeSettings, feeDestination } from "../../src/governance/encoding.ts";
import { Action, Mode, ProposalState, type GroupSettings } from "../../src/governance/types.ts";
import { effect } from "../../src/bot/commands/proposals.ts";
import type { ProposalInfo } from "../../src/governance/client.ts";
import { SETTINGS } from "./bot-settings.ts";

const ROOM = "!room:x.org";
const ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const OTHER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";

// The free group of the bot tests, with a linker.
const BASE: GroupSettings = { ...SETTINGS.defaults, linker: BOB };

async function context(): Promise<Ctx> {
  const store = new SqliteStore(":memory:");
  await store.putLink({ roomId: ROOM, userId: "@alice:x.org", address: ALICE, nonce: "n", linkedAt: 0 });
  return { roomId: ROOM, store, settings: { defaults: BASE, feeDecimals: 18 } } as unknown as Ctx;
}

const change = (c: Partial<GroupSettings["config"]>, rest: Partial<GroupSettings> = {}): GroupSettings => ({
  ...BASE,
  ...rest,
  config: { ...BASE.config, ...c },
});

describe("the effect of a proposal", () => {
  it("a settings change: only what changes, old → new, in human units", async () => {
    const ctx = await context();
    const e = await effectOf(ctx, Action.Config, encodeSettings(change({ votingPeriod: 2 * 86400 })), BASE);
    expect(e).toEqual({ summary: "change the settings: voting 3d → 2d", changes: [] });
    const many = await effectOf(ctx, Action.Config, encodeSettings(change({ addQuorumBps: 2000, fee: 10n ** 16n, period: 0, customCallsAllowed: true })), BASE);
    expect(many.summary).toBe("change 4 settings");
    expect(many.changes).toEqual([
      "quorum to add a member the default (50%) → 20%",
      "period 30d → once (for life)",
      "fee free → 0.01 (native coin)",
      "custom calls off → on",
    ]);
    expect(oneLine(many)).toBe(
      "change 4 settings: quorum to add a member the default (50%) → 20%; period 30d → once (for life); fee free → 0.01 (native coin); custom calls off → on",
    );
    expect(await effectOf(ctx, Action.Config, encodeSettings(BASE), BASE)).toEqual({ summary: "change the settings: nothing would change", changes: [] });
  });

  it("mode, admins, controller and linker changes name their addresses (and Matrix ids where linked)", async () => {
    const ctx = await context();
    const e = await effectOf(
      ctx,
      Action.Config,
      encodeSettings(change({ mode: Mode.Admin }, { admins: [ALICE, OTHER], controller: OTHER, linker: OTHER })),
      BASE,
    );
    expect(e.changes).toEqual([
      "mode vote → admin",
      `governing contract (controller) none → ${OTHER}`,
      `linker (the account that records Matrix links) ${BOB} → ${OTHER}`,
      `admins none → @alice:x.org (${ALICE}), ${OTHER}`,
    ]);
  });

  it("without the settings before (a node without old state), every setting with its new value", async () => {
    const ctx = await context();
    const e = await effectOf(ctx, Action.Config, encodeSettings(change({ votingPeriod: 86400 })));
    expect(e.changes).toContain("voting → 1d");
    expect(e.changes).toContain("default quorum → 50%");
    expect(e.changes.length).toBeGreaterThan(10);
  });

  it("members to add or remove, with the full address", async () => {
    const ctx = await context();
    expect((await effectOf(ctx, Action.AddMember, encodeAccount(ALICE))).summary).toBe(`add @alice:x.org (${ALICE})`);
    expect((await effectOf(ctx, Action.RemoveMember, encodeAccount(OTHER))).summary).toBe(`remove ${OTHER}`);
  });

  it("fee destinations with every recipient and share", async () => {
    const ctx = await context();
    const release = await effectOf(
      ctx,
      Action.FeeDestination,
      encodeFeeDestination(
        feeDestination({
          kind: "release",
          recipients: [
            { address: ALICE, shareBps: 6000 },
            { address: OTHER, shareBps: 4000 },
          ],
        }),
      ),
    );
    expect(release).toEqual({
      summary: "fee destination → release, at most once a month, to 2 recipient(s)",
      changes: [`@alice:x.org (${ALICE}) 60%`, `${OTHER} 40%`],
    });
    expect((await effectOf(ctx, Action.FeeDestination, encodeFeeDestination(feeDestination({ kind: "custom", target: OTHER })))).summary).toBe(
      `fee destination → custom: all fees go to the contract ${OTHER}`,
    );
    expect((await effectOf(ctx, Action.FeeDestination, encodeFeeDestination(feeDestination({ kind: "locked" })))).summary).toBe(
      "fee destination → locked: fees stay in the group contract",
    );
  });

  it("custom calls decoded where the ABI is known, the raw selector otherwise", async () => {
    const ctx = await context();
    const erc20 = new Interface(["function transfer(address to, uint256 amount)"]);
    const t = await effectOf(ctx, Action.Custom, encodeCustom(OTHER, 0n, erc20.encodeFunctionData("transfer", [ALICE, 5n])));
    expect(t.summary).toBe(`custom call: transfer(to = ${ALICE}, amount = 5) on ${OTHER} (read as the ERC-20 token interface), sending no coin`);
    const own = new Interface(["function removeLapsed(address account)"]);
    expect((await effectOf(ctx, Action.Custom, encodeCustom(OTHER, 10n ** 18n, own.encodeFunctionData("removeLapsed", [BOB])))).summary).toBe(
      `custom call: removeLapsed(account = ${BOB}) on ${OTHER} (read as the group interface), sending 1.0 (native coin)`,
    );
    expect(
      (await effectOf(ctx, Action.Custom, encodeCustom(OTHER, 0n, "0xdeadbeef0000000000000000000000000000000000000000000000000000000000000001"))).summary,
    ).toBe(`custom call to ${OTHER}, sending no coin: function with selector 0xdeadbeef (unknown to this bot), 32 bytes of arguments`);
    expect((await effectOf(ctx, Action.Custom, encodeCustom(OTHER, 1n, "0x"))).summary).toMatch(/function none \(a plain transfer\)/);
  });

  it("a payload it cannot read says so", async () => {
    const ctx = await context();
    expect((await effectOf(ctx, Action.Config, "0x1234")).summary).toBe("an action this bot cannot read: check it on-chain before voting");
  });
});

describe("a settings proposal's effect against the chain", () => {
  const GROUP = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
  const proposal = (over: Partial<ProposalInfo> = {}): ProposalInfo => ({
    id: 1n,
    number: 1,
    proposer: ALICE,
    action: Action.Config,
    payload: encodeSettings(change({ votingPeriod: 2 * 86400 })),
    snapshot: 0,
    deadline: 0,
    quorumBps: 5000,
    influence: 3,
    quorumVotes: 2,
    forVotes: 0,
    againstVotes: 0,
    abstainVotes: 0,
    state: ProposalState.Active,
    blockNumber: 10,
    ...over,
  });
  // A node that keeps no old state: a read at a past block fails.
  async function pruned(current: { settings: GroupSettings }): Promise<Ctx> {
    const ctx = await context();
    return {
      ...ctx,
      chain: {
        settings: async (_g: string, blockTag?: number) => {
          if (blockTag !== undefined) throw new Error("missing trie node");
          return current.settings;
        },
      },
    } as unknown as Ctx;
  }

  it("without old state, compares with the settings seen while it was open, and says what executing would set back", async () => {
    const current = { settings: BASE };
    const ctx = await pruned(current);
    expect(await effect(ctx, GROUP, proposal())).toEqual({ summary: "change the settings: voting 3d → 2d", changes: [] });
    // Another settings change passes first (the grace period); the older proposal writes the whole settings.
    current.settings = change({ gracePeriod: 14 * 86400 });
    const later = await effect(ctx, GROUP, proposal());
    expect(later.summary).toBe("change the settings: voting 3d → 2d");
    expect(later.changes).toEqual(["the settings changed since it was proposed: executing it now would set voting 3d → 2d; grace 14d → 7d"]);
    // Once executed it is shown against the settings before it, without the warning.
    current.settings = change({ votingPeriod: 2 * 86400 });
    expect(await effect(ctx, GROUP, proposal({ state: ProposalState.Executed }))).toEqual({ summary: "change the settings: voting 3d → 2d", changes: [] });
  });

  it("a fee token and the open-proposal cap are settings like the others", async () => {
    const ctx = await context();
    const e = await effectOf(ctx, Action.Config, encodeSettings(change({ feeToken: OTHER, maxOpenProposals: 1 })), BASE);
    expect(e.changes).toEqual([`fee token the native coin → ${OTHER}`, `open proposals per member ${BASE.config.maxOpenProposals} → 1`]);
  });
});
