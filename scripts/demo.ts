// `npm run demo`: the whole system on this machine — Synapse, a chain with the
// contracts, the bot — with demo users and a governed room, for a person to
// try with Element. `npm run demo -- --scenario` runs a scripted walk-through
// with real clients and exits 0 only if every step was seen in the room.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { keccak256, toUtf8Bytes, Wallet } from "ethers";
import { startSystem, type System } from "./harness.ts";
import { freePort } from "./chain.ts";
import { quietConsole, type ChatUser } from "./chat.ts";
import { authorize, dm, expectMatch, groupRoom, linkWallet } from "./scenario.ts";

const root = join(import.meta.dirname, "..");
const scenario = process.argv.includes("--scenario");
const verbose = process.argv.includes("--verbose");
const say = (l: string) => process.stdout.write(`${l}\n`);
quietConsole();

/** Demo wallets are derived from the user's name: the same every run. */
function demoWallet(name: string): Wallet {
  return new Wallet(keccak256(toUtf8Bytes(`conclave demo wallet: ${name}`)));
}

async function portOr(preferred: number): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    void import("node:net").then(({ createServer }) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(preferred, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  });
  return free ? preferred : freePort();
}

say("conclave demo: compiling the contracts");
const build = spawnSync(join(root, "node_modules/.bin/hardhat"), ["build", "--quiet"], { cwd: root, stdio: "inherit" });
if (build.status !== 0) process.exit(build.status ?? 1);

say("conclave demo: starting Synapse, the chain and the bot");
const t0 = Date.now();
const sys: System = await startSystem({
  root,
  users: ["alice", "bob", "carol", "dave"],
  wallets: Object.fromEntries(["alice", "bob", "carol", "dave"].map((n) => [n, demoWallet(n)])),
  synapsePort: await portOr(8008),
  chainPort: await portOr(8545),
  web: true,
  webPort: await portOr(8080),
  ...(verbose ? { log: (l: string) => say(l) } : {}),
});
const users = sys.users;
const { alice, bob, carol, dave } = users as Record<"alice" | "bob" | "carol" | "dave", ChatUser>;
const bot = sys.botUserId;
let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  say("conclave demo: stopping");
  for (const u of Object.values(users)) u.stop();
  await sys.stop();
  process.exit(code);
};
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

const steps: string[] = [];
async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const r = await fn();
  steps.push(name);
  say(`  ✓ ${name}`);
  return r;
}

try {
  say(`conclave demo: up in ${((Date.now() - t0) / 1000).toFixed(1)} s; setting up a governed room`);
  const room = await step("alice creates a room with bob, dave and the bot", () => groupRoom(alice, [bob, dave], bot));
  await step("alice links her wallet", async () => expectMatch(await linkWallet(alice, room, bot), /now linked/, "alice links"));
  await step("bob links his wallet", async () => expectMatch(await linkWallet(bob, room, bot), /now linked/, "bob links"));
  const preview = await step("alice, the room's admin, asks for a group: the bot answers with a preview", async () =>
    expectMatch(await alice.ask(room, "!dao create quorum=50%", bot), /^Preview ([A-Z2-9]{6}) of the group/, "dao create"),
  );
  const code = /dao confirm ([A-Z2-9]{6})/.exec(preview)![1]!;
  say("");
  for (const line of preview.split("\n")) say(`    | ${line}`);
  say("");
  await step("bob, a founder, consents to the preview", async () =>
    expectMatch(await bob.ask(room, `!dao confirm ${code}`, bot), /1 of 2 founders consent/, "bob confirms"),
  );

  /** Once alice consents too: the group exists, and bob lets the bot act on his chat commands. */
  const afterCreation = async (created: string) => {
    const group = /0x[0-9a-fA-F]{40}/.exec(created)![0];
    await step("bob authorises the bot to act on his chat commands, settings proposals included", async () =>
      expectMatch(await authorize(bob, room, bot, "+config"), /Authorised/, "bob authorize"),
    );
    return group;
  };

  if (scenario) {
    const created = await step("alice consents: every founder has, and the group is created", async () =>
      expectMatch(await alice.ask(room, `!dao confirm ${code}`, bot), /This room is now a group: (0x[0-9a-fA-F]{40})/, "alice confirms"),
    );
    await afterCreation(created);
    await step("alice authorises the bot to act on her chat commands, settings proposals included", async () =>
      expectMatch(await authorize(alice, room, bot, "+config"), /Authorised/, "alice authorize"),
    );
    await step("dave, not a member, keeps his place and is told how to join", () =>
      dave.until("the adoption notice", () => dave.eventWith(room, /^@dave:localhost: this room is now the room of the group/)),
    );
    await step("carol links her wallet in a direct message", async () => {
      const r = await dm(carol, bot);
      expectMatch(await linkWallet(carol, r, bot, room), /now linked/, "carol links");
      return r;
    });
    await step("alice proposes adding carol", async () => expectMatch(await alice.ask(room, "!propose add @carol:localhost", bot), /Proposal #1/, "propose"));
    await step("alice votes yes", async () => expectMatch(await alice.ask(room, "!vote 1 yes", bot), /FOR 1/, "alice votes"));
    await step("bob votes yes: the proposal passes and carol is invited", async () =>
      expectMatch(await bob.ask(room, "!vote 1 yes", bot), /passed and was executed[\s\S]*invited/, "bob votes"),
    );
    await step("carol joins the room, authorises the bot and accepts", async () => {
      await carol.join(room);
      expectMatch(await authorize(carol, room, bot, "+config"), /Authorised/, "carol authorize");
      return expectMatch(await carol.ask(room, "!join", bot), /Welcome/, "carol joins");
    });
    await step("bob delegates to alice", async () => expectMatch(await bob.ask(room, "!delegate @alice:localhost", bot), /delegates to/, "delegate"));
    await step("alice proposes a 2-day voting period", async () =>
      expectMatch(await alice.ask(room, "!propose config voting=2d", bot), /Proposal #2/, "propose config"),
    );
    await step("alice votes yes, carrying bob's point", async () =>
      expectMatch(await alice.ask(room, "!vote 2 yes", bot), /FOR 2 · AGAINST 0/, "delegated vote"),
    );
    await step("bob overrides his delegate with his own vote", async () =>
      expectMatch(await bob.ask(room, "!vote 2 no", bot), /FOR 1 · AGAINST 1/, "override"),
    );
    await step("carol votes yes: the change passes", async () =>
      expectMatch(await carol.ask(room, "!vote 2 yes", bot), /passed and was executed/, "config passes"),
    );
    await step("the members list shows three active members", async () =>
      expectMatch(await alice.ask(room, "!members", bot), /3 member\(s\), 3 active/, "members"),
    );
    say(`conclave demo: scenario passed, ${steps.length} steps seen in the room`);
    await stop(0);
  } else {
    say("");
    say("Conclave is running. Connect with Element (or any Matrix client):");
    say(`  homeserver: ${sys.synapse.baseUrl}`);
    for (const name of ["alice", "bob", "carol", "dave"]) {
      say(`  @${name}:${sys.synapse.serverName}  password: ${name}-password  wallet: ${demoWallet(name).address}  key: ${demoWallet(name).privateKey}`);
    }
    say(`  the room: ${room} ("Governed room"; alice is its admin, alice and bob linked their wallets, carol and dave did not)`);
    say(`  bot: ${bot} (password conclave-bot-password, recovery key ${sys.recoveryKey}: log in as the bot to see its cross-signed device)`);
    say("");
    say(`Log in as alice and read the bot's preview in "Governed room". bob already consented; alice consents with`);
    say(`  !dao confirm ${code}`);
    say("and the group is created. Then try !help, !status, !members, !authorize (sign with `npm run sign -- alice`),");
    say(`!propose add @carol:localhost once carol linked (\`!link 0xADDRESS ${room}\` in a direct message with the bot), !vote 1 yes.`);
    say(`The web page: ${sys.webUrl} (once the group exists, the room has its page as a widget, and !widget links it).`);
    say("To act on the page as a demo user, import that user's key (above) into a browser wallet, add the chain");
    say(`(RPC ${sys.chain.rpcUrl}, chain id ${sys.chain.chainId}) and open the page: link (!link 0xADDRESS gives a one-time link),`);
    say("pay, vote, delegate and authorise the bot from there.");
    say("Demo wallet keys are public: they sign link messages and votes on this local chain only.");
    say("Press Ctrl-C to stop everything.");
    // When the person consents, the group exists: bob (scripted) authorises the bot, so he can vote from chat.
    void alice
      .until("the group", () => alice.messagesFrom(room, bot).find((t) => t.startsWith("This room is now a group")), 24 * 3_600_000)
      .then(afterCreation)
      .then((group) => say(`conclave demo: the group exists: ${group} on ${sys.chain.rpcUrl} (chain id ${sys.chain.chainId}); bob may vote from chat`))
      .catch((e: unknown) => say(`conclave demo: ${(e as Error).message}`));
  }
} catch (e) {
  say(`conclave demo: FAILED after ${steps.length} steps: ${(e as Error).message}`);
  await stop(1);
}
