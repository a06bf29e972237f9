/**
 * A room becomes a group and is governed from chat, with a real Synapse, a
 * real chain and the real bot process, driven by real Matrix clients.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, dm, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";
import { EventTimeline } from "matrix-js-sdk";

const root = join(import.meta.dirname, "../..");
let sys: System;
let alice: ChatUser, bob: ChatUser, carol: ChatUser, dave: ChatUser;
let room: string;
let bot: string;
const latencies: number[] = [];
const txLatencies: number[] = [];

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "carol", "dave"] });
  ({ alice, bob, carol, dave } = sys.users as Record<"alice" | "bob" | "carol" | "dave", ChatUser>);
  bot = sys.botUserId;
  room = await groupRoom(alice!, [bob!, dave!], bot);
}, 300_000);

afterAll(async () => {
  if (txLatencies.length) {
    const sorted = [...txLatencies].sort((a, b) => a - b);
    process.stdout.write(
      `reply latency of !vote (one transaction mined): median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms (${sorted.length} samples)\n`,
    );
  }
  if (latencies.length) {
    const sorted = [...latencies].sort((a, b) => a - b);
    process.stdout.write(
      `reply latency of read-only commands: median ${sorted[Math.floor(sorted.length / 2)]} ms, max ${sorted.at(-1)} ms (${sorted.length} samples)\n`,
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
  await sys?.stop();
}, 60_000);

async function ask(u: ChatUser, text: string, r = room): Promise<string> {
  return u.ask(r, text, bot);
}

describe("governing a room from chat", () => {
  it("answers !help and refuses what it cannot do, saying what to do", async () => {
    expect(await ask(alice, "!help")).toMatch(/Commands:[\s\S]*!vote/);
    latencies.push(alice.lastLatencyMs);
    expect(await ask(alice, "!vote")).toMatch(/Usage: !vote/);
    expect(await ask(alice, "!frobnicate")).toMatch(/!help/);
    expect(await ask(dave, "!status")).toMatch(/not a group yet[\s\S]*!dao create/);
    latencies.push(dave.lastLatencyMs);
    // dave is no room admin: he cannot start a group in alice's room.
    expect(await ask(dave, "!dao create")).toMatch(
      /Only a room admin \(power level 100, or a creator of the room\) may make this room a group; your power level here is 0/,
    );
  });

  it("links members' wallets, refusing foreign and reused signatures", async () => {
    expect(await linkWallet(alice, room, bot)).toMatch(/now linked to/);
    // A signature by another key is refused.
    const asked = await ask(bob, `!link ${bob.wallet.address}`);
    const foreign = await dave.wallet.signMessage(asked.slice(asked.indexOf("Conclave: link my address")));
    expect(await ask(bob, `!verify ${foreign}`)).toMatch(/was made by .*not by/);
    const good = await bob.wallet.signMessage(asked.slice(asked.indexOf("Conclave: link my address")));
    expect(await ask(bob, `!verify ${good}`)).toMatch(/now linked to/);
    // Replaying the same signature is refused: the nonce was used.
    expect(await ask(bob, `!verify ${good}`)).toMatch(/nothing to verify|already used/);
  });

  it("turns the room into a group once its founders, the linked members, consent to the preview", async () => {
    const { preview, created } = await createGroup(alice, [bob], room, bot, "quorum=50% voting=3d");
    expect(preview).toMatch(/^Preview [A-Z2-9]{6} of the group for this room/);
    expect(preview).toMatch(/Founders \(active members from the start, their first period paid\): @alice:localhost \(0x[0-9a-fA-F]{40}\), @bob:localhost/);
    expect(preview).toMatch(/Not members yet: @dave:localhost/);
    expect(created).toMatch(/This room is now a group: 0x[0-9a-fA-F]{40}/);
    expect(created).toContain("@alice:localhost");
    expect(created).toContain("@bob:localhost");
    expect(created).not.toContain("@dave:localhost");
    expect(created).not.toMatch(/could not/);
    expect(await ask(alice, "!dao create")).toMatch(/already a group/);
    // The room is now invite-only, with history visible from joining on.
    await alice.until("the room's new rules", () => {
      const st = alice.client.getRoom(room)?.getLiveTimeline().getState(EventTimeline.FORWARDS);
      const join = st?.getStateEvents("m.room.join_rules", "")?.getContent().join_rule;
      const history = st?.getStateEvents("m.room.history_visibility", "")?.getContent().history_visibility;
      return join === "invite" && history === "joined" ? true : undefined;
    });
    expect(await authorize(alice, room, bot)).toMatch(/Authorised/);
    expect(await authorize(bob, room, bot)).toMatch(/Authorised/);
    const members = await ask(bob, "!members");
    expect(members).toMatch(/2 member\(s\), 2 active/);
    latencies.push(bob.lastLatencyMs);
    // dave linked nothing: he keeps his place for the adoption grace, and is told how to join.
    const told = await dave.until("the adoption notice", () => dave.eventWith(room, /^@dave:localhost: this room is now the room of the group/));
    expect(told.getContent<{ "m.mentions"?: { user_ids?: string[] } }>()["m.mentions"]?.user_ids).toEqual(["@dave:localhost"]);
    expect(dave.client.getRoom(room)?.getMember(dave.userId)?.membership).toBe("join");
  });

  it("refuses unlinked users, non-members and unknown users, sending nothing on-chain", async () => {
    const before = await sys.botNonce();
    // An account its homeserver does not know is refused as such; one that exists but has not linked, for that.
    expect(await ask(alice, "!propose add @nobody:localhost")).toMatch(/^There is no account @nobody:localhost: localhost does not know it/);
    expect(await ask(alice, "!propose add @carol:localhost")).toMatch(/@carol:localhost has not linked an address/);
    expect(await ask(alice, "!vote 1 maybe")).toMatch(/Usage: !vote/);
    expect(await ask(alice, "!proposal 7")).toMatch(/no proposal #7/);
    expect(await ask(alice, "!delegate @nobody:localhost")).toMatch(/has not linked an address/);
    expect(await sys.botNonce()).toBe(before);
  });

  it("adds carol by a proposal that passes on chat votes; carol accepts", async () => {
    const carolDm = await dm(carol, bot);
    expect(await linkWallet(carol, carolDm, bot, room)).toMatch(/now linked/);
    const proposed = await ask(alice, "!propose add @carol:localhost");
    expect(proposed).toMatch(/Proposal #1 by @alice:localhost/);
    expect(proposed).toMatch(/What: add @carol:localhost/);
    expect(proposed).toMatch(/Quorum: 50% of 2 members = 1 vote/);
    expect(proposed).toMatch(/Deadline: \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(proposed).toMatch(/!vote 1 yes \| no \| abstain/);
    expect(await ask(alice, "!vote 1 yes")).toMatch(/FOR 1 · AGAINST 0 · ABSTAIN 0 .* open/);
    txLatencies.push(alice.lastLatencyMs);
    const passed = await ask(bob, "!vote 1 yes");
    expect(passed).toMatch(/passed and was executed: add @carol/);
    expect(passed).toMatch(/invited/);
    expect(await ask(bob, "!vote 1 no")).toMatch(/closed/);
    await carol.join(room);
    // Approved but not yet accepted: no influence, and told what to do.
    const before = await sys.botNonce();
    expect(await ask(carol, "!delegate @alice:localhost")).toMatch(/approved but have not accepted yet: send !join/);
    expect(await sys.botNonce()).toBe(before);
    expect(await authorize(carol, room, bot)).toMatch(/Authorised/);
    expect(await ask(carol, "!join")).toMatch(/Welcome/);
    expect(await ask(carol, "!members")).toMatch(/3 member\(s\), 3 active/);
  });

  it("relays config proposals and votes only for members whose authority says so", async () => {
    // The authority !authorize gives by default covers the everyday commands, not the settings.
    const nonce = await sys.botNonce();
    expect(await ask(alice, "!propose config voting=2d")).toMatch(/authority for the bot does not cover this \(it needs: propose, config proposals\)/);
    expect(await sys.botNonce()).toBe(nonce);
    const asked = await ask(alice, "!authorize +config +fees");
    expect(asked).toMatch(/It also covers config proposals and votes on them .*; fee-destination proposals and votes on them/);
    expect(asked).toMatch(/It does not cover custom-call proposals and votes on them/);
    expect(asked).toMatch(/until \d{4}-\d\d-\d\d/);
    for (const u of [alice, bob, carol]) expect(await authorize(u, room, bot, "+config +fees")).toMatch(/Authorised/);
  });

  it("counts a delegated vote as GOVERNANCE.md says, and lets the delegator override", async () => {
    expect(await ask(bob, "!delegate @alice:localhost")).toMatch(/delegates to @alice:localhost/);
    const proposed = await ask(alice, "!propose config voting=2d");
    expect(proposed).toMatch(/Proposal #2/);
    expect(proposed).toMatch(/of 3 members = 2 vote/);
    // The whole effect, and only it, in the plain body and in HTML alike.
    expect(proposed).toMatch(/What: change the settings: voting 3d → 2d\n/);
    expect(proposed).not.toMatch(/quorum 50%|period 30d|grace/);
    const html = alice.eventWith(room, /^Proposal #2 by/)?.getContent<{ formatted_body?: string }>().formatted_body;
    expect(html).toContain("What: change the settings: voting 3d → 2d");
    // A proposal that changes nothing is refused before anything is sent.
    const nonce = await sys.botNonce();
    expect(await ask(alice, "!propose config voting=3d")).toMatch(/That changes nothing/);
    expect(await sys.botNonce()).toBe(nonce);
    // alice carries bob's point.
    expect(await ask(alice, "!vote 2 yes")).toMatch(/FOR 2 · AGAINST 0/);
    txLatencies.push(alice.lastLatencyMs);
    // bob votes himself: his point moves to his own choice.
    expect(await ask(bob, "!vote 2 no")).toMatch(/FOR 1 · AGAINST 1/);
    txLatencies.push(bob.lastLatencyMs);
    const done = await ask(carol, "!vote 2 yes");
    expect(done).toMatch(/FOR 2 · AGAINST 1/);
    expect(done).toMatch(/passed and was executed/);
    expect(await ask(alice, "!status")).toMatch(/Voting period: 2d/);
    // After it was executed, it still says what it changed from.
    expect(await ask(bob, "!proposal 2")).toMatch(/What: change the settings: voting 3d → 2d/);
    expect(await ask(bob, "!proposals")).toMatch(/#2 executed: change the settings: voting 3d → 2d —/);
    // The HTML says it too (Element shows the HTML, not the body).
    for (const command of ["!proposal 2", "!proposals"]) {
      const c = (await bob.askEvent(room, command, sys.botUserId)).getContent();
      expect(c.format).toBe("org.matrix.custom.html");
      expect(String(c.formatted_body)).toContain("voting 3d → 2d");
    }
  });

  it("shows a fee destination with every recipient and share", async () => {
    const [a, b] = [alice.wallet.address, bob.wallet.address];
    const proposed = await ask(alice, `!propose fee-destination release ${a}=60% ${b}=40%`);
    expect(proposed).toContain(
      `What: fee destination → release, at most once a month, to 2 recipient(s)\n  • @alice:localhost (${a}) 60%\n  • @bob:localhost (${b}) 40%`,
    );
    expect(await ask(bob, "!proposals")).toContain(
      `fee destination → release, at most once a month, to 2 recipient(s): @alice:localhost (${a}) 60%; @bob:localhost (${b}) 40%`,
    );
  });
});
