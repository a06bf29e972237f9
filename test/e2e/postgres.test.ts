/**
 * The real bot on a PostgreSQL store (`store.url`), with the real Synapse
 * and chain: commands answered and a decision enforced, across a SIGKILL
 * and restart; what it keeps is in the database, not in a SQLite file.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { JsonRpcProvider } from "ethers";
import { startSystem, type System } from "../../scripts/harness.ts";
import { startPostgres, type PostgresHandle } from "../../scripts/postgres.ts";
import { authorize, createGroup, decideOnChain, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";
import { PostgresStore } from "../../src/store/postgres.ts";
import { Action } from "../../src/governance/types.ts";

const root = join(import.meta.dirname, "../..");
let pg: PostgresHandle;
let url: string;
let sys: System;
let provider: JsonRpcProvider;

beforeAll(async () => {
  quietConsole();
  pg = await startPostgres();
  url = await pg.createDatabase("bot");
  sys = await startSystem({ root, users: ["alice", "bob", "carol"], storeUrl: url });
  provider = new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true });
}, 300_000);

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first */
  provider?.destroy();
  await sys?.stop();
  await pg?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
}, 60_000);

describe("the bot on PostgreSQL", () => {
  it("governs a room with its state in the database, across a SIGKILL", async () => {
    const { alice, bob, carol } = sys.users as Record<"alice" | "bob" | "carol", ChatUser>;
    const bot = sys.botUserId;
    const room = await groupRoom(alice, [bob, carol], bot);
    for (const u of [alice, bob, carol]) expect(await linkWallet(u, room, bot)).toMatch(/now linked/);
    const { group } = await createGroup(alice, [bob, carol], room, bot, "quorum=50%");
    expect(await authorize(alice, room, bot)).toMatch(/Authorised/);

    await sys.bot.stop("SIGKILL");
    await sys.restartBot();
    expect(await alice.ask(room, "!members", bot)).toMatch(/^3 member\(s\)/);

    // A removal decided from the members' wallets is enforced by the restarted bot.
    await decideOnChain({ provider, funderKey: sys.chain.ownerKey, group, voters: [alice, bob], action: Action.RemoveMember, account: carol.wallet.address });
    await alice.until("carol kicked", () => (alice.client.getRoom(room)?.getMember(carol.userId)?.membership === "ban" ? true : undefined));

    // Everything it keeps is in PostgreSQL: no SQLite database beside the crypto state.
    const store = await PostgresStore.open(url);
    try {
      expect((await store.getBinding(room))?.group).toBe(group.toLowerCase());
      expect((await store.listLinks(room)).length).toBe(3);
      expect((await store.listTxs("mined")).length).toBeGreaterThan(0);
      expect((await store.listInbound("done", 1000)).length).toBeGreaterThan(0);
      expect(await store.listTxs("pending")).toEqual([]);
    } finally {
      await store.close();
    }
    expect(existsSync(sys.storePath)).toBe(false);
    expect(existsSync(`${sys.storePath}.crypto`)).toBe(true);
  }, 300_000);
});
