/**
 * A proposal voted in its poll that passes only at its deadline (its outcome
 * could still change until then): carried out by the bot, asked by nobody,
 * with the real bot, Synapse and chain and Matrix clients answering the poll
 * as Element does.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { AbiCoder, JsonRpcProvider, NonceManager, Wallet } from "ethers";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";
import { groupContract } from "../../src/governance/contracts.ts";
import { Action, ProposalState } from "../../src/governance/types.ts";
import { encodeSettings, SETTINGS_TUPLE } from "../../src/governance/encoding.ts";
import { decodeSettings } from "../../src/bot/commands/effects.ts";
import { formatDuration } from "../../src/text/format.ts";

const root = join(import.meta.dirname, "../..");
let sys: System;
let alice: ChatUser, carol: ChatUser;
let room: string;
let group: string;
let bot: string;

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "carol"] });
  const { bob } = sys.users as Record<"bob", ChatUser>;
  ({ alice, carol } = sys.users as Record<"alice" | "carol", ChatUser>);
  bot = sys.botUserId;
  room = await groupRoom(alice, [bob, carol], bot);
  for (const u of [alice, bob, carol]) await linkWallet(u, room, bot);
  // One FOR of three is the quorum: with two not voted, the outcome stays open until the deadline.
  ({ group } = await createGroup(alice, [bob, carol], room, bot, "quorum=33%"));
  expect(await authorize(alice, room, bot)).toMatch(/Authorised/);
}, 300_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
  await sys?.stop();
}, 60_000);

describe("a poll that passes at its deadline", () => {
  it("is carried out by the bot once the deadline passed, and its poll ends with the transaction", async () => {
    expect(await alice.ask(room, "!propose remove @carol:localhost", bot)).toMatch(/Proposal #1/);
    const poll = await alice.until("the poll", () => alice.eventsOf(room, "org.matrix.msc3381.poll.start")[0], 60_000);
    const yes = await alice.answerPoll(room, poll.getId()!, "yes");
    expect(await alice.answerTo(room, yes, bot)).toMatch(/^Counted: @alice:localhost voted for on #1/);
    const provider = new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true });
    const g = groupContract(group, provider);
    const created = (await g.queryFilter(g.filters.ProposalCreated!()))[0] as unknown as { args: { proposalId: bigint } };
    const before = await g.getFunction("proposal")(created.args.proposalId);
    // Still open: bob and carol could vote it down.
    expect(Number(before.state)).toBe(ProposalState.Active);
    const now = (await provider.getBlock("latest"))!.timestamp;
    await provider.send("evm_increaseTime", [Number(before.deadline) - now + 5]);
    await provider.send("evm_mine", []);
    const end = await alice.until("the poll's end", () => alice.eventsOf(room, "org.matrix.msc3381.poll.end")[0], 90_000);
    expect(end.getContent()["org.matrix.msc1767.text"]).toMatch(
      /^Proposal #1 passed and was executed in transaction 0x[0-9a-f]{64}: FOR 1 · AGAINST 0 · ABSTAIN 0\.$/,
    );
    expect(Number((await g.getFunction("proposal")(created.args.proposalId)).state)).toBe(ProposalState.Executed);
    // The decision is enforced: carol is out of the room.
    await alice.until(
      "carol removed",
      () => (["leave", "ban"].includes(alice.client.getRoom(room)?.getMember(carol.userId)?.membership ?? "") ? true : undefined),
      60_000,
    );
    expect(sys.botLines.filter((l) => /polls: executing #1 failed/.test(l))).toEqual([]);
    expect(alice.eventsOf(room, "org.matrix.msc3381.poll.end")).toHaveLength(1);
    provider.destroy();
  });
});

describe("a proposal made from a wallet", () => {
  it("is announced in full in its poll's thread, in the body and in HTML; one made in chat is not announced twice", async () => {
    const provider = new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true });
    try {
      const funder = new NonceManager(new Wallet(sys.chain.ownerKey, provider));
      await (await funder.sendTransaction({ to: alice.wallet.address, value: 10n ** 17n })).wait();
      const g = groupContract(group, new NonceManager(alice.wallet.connect(provider)));
      const now = decodeSettings(AbiCoder.defaultAbiCoder().encode([SETTINGS_TUPLE], [await g.getFunction("settings")()]));
      const next = { ...now, config: { ...now.config, votingPeriod: now.config.votingPeriod + 86_400, gracePeriod: now.config.gracePeriod + 3_600 } };
      // Straight from alice's wallet: no chat command, so no answer in chat says what it does.
      await (await g.getFunction("propose")(Action.Config, encodeSettings(next))).wait();
      const polls = () => alice.eventsOf(room, "org.matrix.msc3381.poll.start");
      const poll = await alice.until("the second poll", () => polls()[1], 60_000);
      const question = String(poll.getContent()["org.matrix.msc3381.poll.start"].question["org.matrix.msc1767.text"]);
      expect(question).toMatch(/^#2: change 2 settings/);
      const inThread = () =>
        alice
          .eventsOf(room, "m.room.message")
          .filter((e) => e.getSender() === bot && (e.getContent()["m.relates_to"] as { event_id?: string } | undefined)?.event_id === poll.getId());
      const note = await alice.until("the announcement in the poll's thread", () => inThread()[0], 60_000);
      const c = note.getContent();
      const voting = `voting ${formatDuration(now.config.votingPeriod)} → ${formatDuration(next.config.votingPeriod)}`;
      const grace = `grace ${formatDuration(now.config.gracePeriod)} → ${formatDuration(next.config.gracePeriod)}`;
      expect(c.msgtype).toBe("m.text");
      expect(c.body).toMatch(/^Proposal #2 by @alice:localhost\n/);
      for (const part of [voting, grace]) {
        expect(c.body).toContain(part);
        expect(c.formatted_body).toContain(part);
      }
      expect(c["m.relates_to"]?.rel_type).toBe("m.thread");
      // The chat proposal (#1) was announced by the answer to its command, not again in its poll's thread.
      const first = polls()[0]!;
      expect(
        alice
          .eventsOf(room, "m.room.message")
          .filter(
            (e) =>
              e.getSender() === bot &&
              /^Proposal #1 by/.test(String(e.getContent().body)) &&
              (e.getContent()["m.relates_to"] as { event_id?: string } | undefined)?.event_id === first.getId(),
          ),
      ).toEqual([]);
      expect(inThread()).toHaveLength(1);
    } finally {
      provider.destroy();
    }
  });
});
