import { describe, expect, it } from "vitest";
import {
  COMMANDS,
  type Command,
  type CommandInput,
  MAX_MESSAGE,
  OPTION_KEYS,
  parseCommand,
  parseDuration,
  parsePercent,
  type ParseResult,
} from "../../src/bot/commands/parse.ts";
import { helpText } from "../../src/bot/commands/help.ts";
import { address, proposalNumber, roomId, userId } from "../../src/bot/ids.ts";
import { Mode, QUORUM_DEFAULT } from "../../src/governance/types.ts";
import { prng } from "./prng.ts";

const OPTS = { prefix: "!", defaultServer: "example.org" };
const A = "0x" + "ab".repeat(20);
const A_SUM = "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB";
const B = "0x" + "cd".repeat(20);
const B_SUM = "0xCdCDCdCdcdcdcdCdcDcDCdcDcDCdCdcdCdcDCDcD";
const SIG = "0x" + "Ab".repeat(65);

function parse(body: string, extra: Omit<CommandInput, "body"> = {}, opts = OPTS): ParseResult {
  return parseCommand({ body, ...extra }, opts);
}

function cmd(body: string, extra: Omit<CommandInput, "body"> = {}, opts = OPTS): Command {
  const r = parse(body, extra, opts);
  if (r.kind !== "ok") throw new Error(`expected ok for ${JSON.stringify(body)}, got ${JSON.stringify(r)}`);
  return r.command;
}

function err(body: string, extra: Omit<CommandInput, "body"> = {}, opts = OPTS): { message: string; usage?: string } {
  const r = parse(body, extra, opts);
  if (r.kind !== "error") throw new Error(`expected error for ${JSON.stringify(body)}, got ${JSON.stringify(r)}`);
  return r;
}

function pill(id: string, text: string): string {
  return `<a href="https://matrix.to/#/${id}">${text}</a>`;
}

describe("ids", () => {
  it("user ids", () => {
    expect(userId("@alice:example.org")).toBe("@alice:example.org");
    expect(userId("@a.b_c=d-e/f+g:matrix.example.org:8448")).toBe("@a.b_c=d-e/f+g:matrix.example.org:8448");
    expect(userId("@alice:[::1]:8448")).toBe("@alice:[::1]:8448");
    expect(userId("@alice:1.2.3.4")).toBe("@alice:1.2.3.4");
    expect(userId("@Legacy:example.org")).toBe("@Legacy:example.org"); // historical grammar
    for (const bad of [
      "alice",
      "@alice",
      "@:example.org",
      "@alice:",
      "@al ice:example.org",
      "@alice:exa mple.org",
      "@alice:-bad.org",
      "@alice:example.org:99999",
      "#room:example.org",
      `@${"a".repeat(300)}:x.org`,
      "@ali\u200bce:x.org",
    ]) {
      expect(userId(bad), bad).toBeUndefined();
    }
    for (const bad of [undefined, null, 5, {}, ["@a:b.c"]]) expect(userId(bad)).toBeUndefined();
  });

  it("room ids", () => {
    expect(roomId("!abc:example.org")).toBe("!abc:example.org");
    expect(roomId("!" + "A".repeat(43))).toBe("!" + "A".repeat(43)); // room version 12
    for (const bad of ["abc:example.org", "!abc", "@abc:example.org", "!a b:x.org", 42]) expect(roomId(bad)).toBeUndefined();
  });

  it("addresses are checksummed; bad checksums and other forms are refused", () => {
    expect(address(A)).toBe(A_SUM);
    expect(address(A.toUpperCase().replace("0X", "0x"))).toBe(A_SUM);
    expect(address(A_SUM)).toBe(A_SUM);
    const wrongCase = A_SUM.slice(0, 2) + (A_SUM[2] === "A" ? "a" : "A") + A_SUM.slice(3);
    expect(address(wrongCase)).toBeUndefined();
    for (const bad of ["0x1234", A + "00", A.slice(2), "0X" + A.slice(2), "XE65GB6LDNXYOFTX0NSV3FUWKOWIXAMJK36", 1, null]) {
      expect(address(bad)).toBeUndefined();
    }
  });

  it("proposal numbers", () => {
    expect(proposalNumber(3)).toBe(3);
    expect(proposalNumber("17")).toBe(17);
    for (const bad of [0, -1, 1.5, NaN, Infinity, "0", "-3", "3.0", "1e3", "#3", "", 2 ** 53, "99999999999999999"]) {
      expect(proposalNumber(bad), String(bad)).toBeUndefined();
    }
  });
});

describe("addressing", () => {
  it("none without the prefix at the start", () => {
    for (const body of ["hello", "vote 3 yes", "hello !vote 3 yes", "", "   ", "!", "!!!", "! vote 3 yes", "!1", "!?", "!!vote 3 yes"]) {
      expect(parse(body), body).toEqual({ kind: "none" });
    }
  });

  it("leading white space and invisible characters before the prefix are fine", () => {
    expect(cmd("   !members")).toEqual({ name: "members" });
    expect(cmd("\u200b\ufeff\t !members")).toEqual({ name: "members" });
  });

  it("only the first line counts", () => {
    expect(cmd("!vote 3 yes\n!vote 4 no")).toEqual({ name: "vote", number: 3, choice: "for" });
    expect(cmd("!members\r\nextra words")).toEqual({ name: "members" });
    expect(parse("hi\n!vote 3 yes")).toEqual({ kind: "none" });
  });

  it("skips a legacy reply fallback", () => {
    expect(cmd("> <@bob:x.org> hi\n> there\n\n!vote 2 no")).toEqual({ name: "vote", number: 2, choice: "against" });
  });

  it("command words are case-insensitive, _ is -", () => {
    expect(cmd("!VOTE 3 YES")).toEqual({ name: "vote", number: 3, choice: "for" });
    expect(cmd("!Propose_Add @a:x.org")).toEqual({ name: "propose-add", target: "@a:x.org" });
  });

  it("other prefixes", () => {
    const o = { prefix: "conclave", defaultServer: "example.org" };
    expect(cmd("conclave vote 3 yes", {}, o)).toEqual({ name: "vote", number: 3, choice: "for" });
    expect(cmd("Conclave: members", {}, o)).toEqual({ name: "members" });
    expect(parse("conclaves are fun", {}, o)).toEqual({ kind: "none" });
    expect(cmd(".status", {}, { prefix: ".", defaultServer: "x.org" })).toEqual({ name: "status" });
    expect(parse("!status", {}, { prefix: ".", defaultServer: "x.org" })).toEqual({ kind: "none" });
  });
});

describe("commands", () => {
  it("help", () => {
    expect(cmd("!help")).toEqual({ name: "help" });
    expect(cmd("!h")).toEqual({ name: "help" });
    expect(cmd("!commands")).toEqual({ name: "help" });
    expect(cmd("!help vote")).toEqual({ name: "help", topic: "vote" });
    expect(cmd("!help !vote")).toEqual({ name: "help", topic: "vote" });
    expect(cmd("!help propose add")).toEqual({ name: "help", topic: "propose-add" });
    expect(cmd("!help propose-fee-destination")).toEqual({ name: "help", topic: "propose-fee-destination" });
    expect(cmd("!help dao")).toEqual({ name: "help", topic: "dao-create" });
    expect(cmd("!help options")).toEqual({ name: "help", topic: "options" });
    expect(cmd("!help v")).toEqual({ name: "help", topic: "vote" });
    expect(err("!help frobnicate").message).toMatch(/no command “frobnicate”/);
  });

  it("dao create: watch and founders belong to the room, not the group's settings", () => {
    expect(cmd("!dao create watch quorum=20%")).toEqual({ name: "dao-create", options: { defaultQuorumBps: 2000 }, watch: true });
    expect(cmd("!dao create founders=@alice:x.org,bob,@alice:x.org")).toEqual({
      name: "dao-create",
      options: {},
      founders: ["@alice:x.org", "@bob:example.org"],
    });
    expect(err("!dao create founders=").message).toMatch(/^founders must be users/);
    expect(err("!dao create founders=Mallory").message).toMatch(/^founders: I can't tell who/);
    expect(err("!dao create founders=@a:x founders=@b:x").message).toBe("Option founders is given twice.");
    // Not a setting a proposal may change.
    expect(err("!propose config founders=@a:x").message).toMatch(/Unknown option/);
    expect(err("!propose config watch").message).toMatch(/key=value/);
  });

  it("dao confirm takes the preview's code; the other dao commands take nothing", () => {
    expect(cmd("!dao confirm k7q2xm")).toEqual({ name: "dao-confirm", code: "K7Q2XM" });
    expect(err("!dao confirm").message).toMatch(/code of the preview/);
    for (const bad of ["K7Q2X", "K7Q2XMM", "K0Q2XM", "K7Q2XM K7Q2XM", "yes"]) expect(err(`!dao confirm ${bad}`).message, bad).toMatch(/not a preview code/);
    for (const name of ["decline", "cancel", "watch", "enforce"] as const) {
      expect(cmd(`!dao ${name}`)).toEqual({ name: `dao-${name}` });
      expect(err(`!dao ${name} now`).message).toBe(`!dao ${name} takes no arguments.`);
    }
  });

  it("dao create", () => {
    expect(cmd("!dao create")).toEqual({ name: "dao-create", options: {} });
    expect(cmd("!dao-create fee=1")).toEqual({ name: "dao-create", options: { fee: "1" } });
    expect(
      cmd(
        "!dao create fee=0.25 token=native period=30d grace=7d voting=3d mode=admin quorum=20% quorum.add=33.33 " +
          "quorum.remove=default quorum.config=50% quorum.fee-destination=100 quorum.custom=0 admins=alice,@bob:x.org custom-calls=on",
      ),
    ).toEqual({
      name: "dao-create",
      options: {
        fee: "0.25",
        feeToken: "native",
        period: 30 * 86400,
        gracePeriod: 7 * 86400,
        votingPeriod: 3 * 86400,
        mode: Mode.Admin,
        defaultQuorumBps: 2000,
        addQuorumBps: 3333,
        removeQuorumBps: QUORUM_DEFAULT,
        configQuorumBps: 5000,
        feeDestinationQuorumBps: 10000,
        customQuorumBps: 0,
        admins: ["@alice:example.org", "@bob:x.org"],
        customCallsAllowed: true,
      },
    });
  });

  it("option values", () => {
    const o = (s: string) => {
      const c = cmd(`!dao create ${s}`);
      return c.name === "dao-create" ? c.options : undefined;
    };
    expect(o("period=once")).toEqual({ period: 0 });
    expect(o("period=0")).toEqual({ period: 0 });
    expect(o("period=1d12h")).toEqual({ period: 36 * 3600 });
    expect(o("voting=90m")).toEqual({ votingPeriod: 5400 });
    expect(o("grace=45s")).toEqual({ gracePeriod: 45 });
    expect(o("grace=2W")).toEqual({ gracePeriod: 14 * 86400 });
    expect(o(`token=${A}`)).toEqual({ feeToken: A_SUM });
    expect(o("token=0x0000000000000000000000000000000000000000")).toEqual({ feeToken: "native" });
    expect(o("mode=VOTE")).toEqual({ mode: Mode.Vote });
    expect(o("mode=external")).toEqual({ mode: Mode.External });
    expect(o("custom-calls=off")).toEqual({ customCallsAllowed: false });
    expect(o("admins=none")).toEqual({ admins: [] });
    expect(o("admins=alice,alice,@alice:example.org")).toEqual({ admins: ["@alice:example.org"] });
    expect(o("QUORUM=12.5%")).toEqual({ defaultQuorumBps: 1250 });
    expect(o("quorum_add=5")).toEqual({ addQuorumBps: 500 });
    expect(o("quorum-fee_destination=default")).toEqual({ feeDestinationQuorumBps: QUORUM_DEFAULT });
    expect(o("fee=1000000000000000000")).toEqual({ fee: "1000000000000000000" });
  });

  it("option errors", () => {
    const e = err("!dao create fee=1 colour=blue");
    expect(e.message).toContain("Unknown option “colour”");
    for (const k of OPTION_KEYS) expect(e.message).toContain(k);
    expect(e.usage).toMatch(/^dao create /);
    expect(err("!dao create quorom=20%").message).toContain("Did you mean quorum?");
    expect(err("!dao create fee=1 fee=2").message).toBe("Option fee is given twice.");
    expect(err("!dao create quorum=1 QUORUM=2").message).toBe("Option quorum is given twice.");
    expect(err("!dao create fee").message).toMatch(/key=value/);
    expect(err("!dao create =3").message).toMatch(/key=value/);
    expect(err("!dao create fee=").message).toMatch(/needs a value/);
    for (const bad of ["fee=-1", "fee=1e18", "fee=.5", "fee=5.", "fee=1,5", "fee=0x10", "fee=1 ETH"]) {
      expect(parse(`!dao create ${bad}`).kind, bad).toBe("error");
    }
    for (const bad of ["quorum=101", "quorum=100.01%", "quorum=20.123", "quorum=-5", "quorum=abc", "quorum=default", "quorum=20%%"]) {
      expect(err(`!dao create ${bad}`).message, bad).toMatch(/^quorum must be a percentage/);
    }
    for (const bad of ["period=30", "period=30x", "period=d", "period=-1d", "voting=0s", "voting=0", "grace=once", "period=99999999999d"]) {
      expect(err(`!dao create ${bad}`).message, bad).toMatch(/must be a duration/);
    }
    expect(err("!dao create mode=anarchy").message).toMatch(/vote, admin or external/);
    expect(err("!dao create custom-calls=maybe").message).toMatch(/on or off/);
    expect(err("!dao create token=dollars").message).toMatch(/^token must be/);
    expect(err(`!dao create token=${A_SUM.toLowerCase().replace("0xab", "0xAb")}`).message).toMatch(/^token must be/);
    expect(err("!dao create admins=Mallory").message).toMatch(/^admins: I can't tell who “Mallory” is/);
    expect(err("!dao create admins=a,,b").message).toMatch(/^admins must be users/);
    expect(err('!dao create fee="1').message).toBe("A quote is not closed.");
  });

  it("link, verify, unlink", () => {
    expect(cmd(`!link ${A}`)).toEqual({ name: "link", address: A_SUM });
    expect(err("!link").usage).toBe("link <0x address> [#room:server]");
    expect(cmd(`!link ${A} !abc:example.org`)).toEqual({ name: "link", address: A_SUM, room: "!abc:example.org" });
    // A room's address is taken as well as its id (the bot resolves it); a malformed one is refused with what a room looks like.
    expect(cmd(`!link ${A} #abc:example.org`)).toEqual({ name: "link", address: A_SUM, room: "#abc:example.org" });
    expect(err(`!link ${A} #abc:`).message).toBe(
      "“#abc:” is not a room: name a room by its address, like #room:server, or its id, like !abc:server (newer rooms: ! and 43 letters and digits).",
    );
    expect(err(`!link ${A} !abc`).message).toMatch(/is not a room: name a room by its address/);
    expect(err(`!link ${A} !abc:example.org extra`).message).toMatch(/one wallet address/);
    expect(err(`!link ${A} ${B}`).message).toMatch(/is not a room: name a room by its address/);
    expect(err("!link 0x123").message).toMatch(/is not an address/);
    expect(err(`!link ${A_SUM.slice(0, 41)}b`).message).toMatch(/checksum|not an address/);
    expect(err("!link 0x0000000000000000000000000000000000000000").message).toMatch(/zero address/);
    expect(cmd(`!verify ${SIG}`)).toEqual({ name: "verify", signature: SIG.toLowerCase() });
    expect(err("!verify 0x1234").message).toMatch(/has 4 hex digits/);
    expect(err(`!verify ${SIG}zz`).message).toMatch(/not a signature/);
    expect(err("!verify").message).toMatch(/one signature/);
    expect(cmd("!authorize")).toEqual({ name: "authorize" });
    expect(cmd(`!authorize ${SIG}`)).toEqual({ name: "authorize", signature: SIG.toLowerCase() });
    expect(err("!authorize 0xzz").message).toMatch(/not a signature/);
    expect(err(`!authorize ${SIG} ${SIG}`).message).toMatch(/at most one signature/);
    expect(cmd("!unlink")).toEqual({ name: "unlink" });
    expect(err("!unlink now").message).toBe("!unlink takes no arguments. (From a direct chat, name the group's room: !unlink #room:server.)");
  });

  it("propose add / remove and their aliases", () => {
    for (const body of ["!propose add @alice:x.org", "!propose-add @alice:x.org", "!propose invite @alice:x.org", "!PROPOSE ADD @alice:x.org"]) {
      expect(cmd(body), body).toEqual({ name: "propose-add", target: "@alice:x.org" });
    }
    for (const body of ["!propose remove @alice:x.org", "!propose-remove @alice:x.org", "!propose kick @alice:x.org"]) {
      expect(cmd(body), body).toEqual({ name: "propose-remove", target: "@alice:x.org" });
    }
    expect(cmd("!propose add @bob")).toEqual({ name: "propose-add", target: "@bob:example.org" });
    expect(cmd("!propose add bob")).toEqual({ name: "propose-add", target: "@bob:example.org" });
    expect(cmd("!propose add https://matrix.to/#/@carol:y.org")).toEqual({ name: "propose-add", target: "@carol:y.org" });
    expect(err("!propose add").message).toMatch(/Which user/);
    expect(err("!propose add Bob").message).toMatch(/I can't tell who “Bob” is: write their Matrix ID, like @alice:example.org/);
    expect(err("!propose add bob carol").message).toMatch(/takes one user/);
    expect(err("!propose add bob", {}, { prefix: "!", defaultServer: "not a server" }).message).toMatch(/I can't tell who/);
  });

  it("propose config", () => {
    expect(cmd("!propose config quorum=30% mode=vote")).toEqual({
      name: "propose-config",
      changes: { defaultQuorumBps: 3000, mode: Mode.Vote },
    });
    expect(cmd("!propose-config fee=2")).toEqual({ name: "propose-config", changes: { fee: "2" } });
    expect(cmd("!propose settings fee=2")).toEqual({ name: "propose-config", changes: { fee: "2" } });
    expect(err("!propose config").message).toMatch(/What should change/);
    expect(err("!propose config bogus=1").usage).toMatch(/^propose config/);
  });

  it("propose fee-destination", () => {
    const dest = (s: string) => {
      const c = cmd(`!propose fee-destination ${s}`);
      return c.name === "propose-fee-destination" ? c.destination : undefined;
    };
    expect(dest("locked")).toEqual({ kind: "locked" });
    expect(dest("LOCKED")).toEqual({ kind: "locked" });
    expect(dest(`custom ${A}`)).toEqual({ kind: "custom", target: A_SUM });
    expect(dest(`release ${A}=60% ${B}=40%`)).toEqual({
      kind: "release",
      recipients: [
        { address: A_SUM, shareBps: 6000 },
        { address: B_SUM, shareBps: 4000 },
      ],
    });
    expect(dest(`release ${A}=33.34 ${B}=66.66%`)).toEqual({
      kind: "release",
      recipients: [
        { address: A_SUM, shareBps: 3334 },
        { address: B_SUM, shareBps: 6666 },
      ],
    });
    expect(dest(`release ${A}`)).toEqual({ kind: "release", recipients: [{ address: A_SUM, shareBps: 10000 }] });
    expect(cmd("!propose-fee-destination locked")).toMatchObject({ name: "propose-fee-destination" });
    expect(cmd("!propose fees locked")).toMatchObject({ name: "propose-fee-destination" });
    expect(cmd("!propose fee-dest locked")).toMatchObject({ name: "propose-fee-destination" });

    const e = (s: string) => err(`!propose fee-destination ${s}`).message;
    expect(e("")).toMatch(/Where should fees go/);
    expect(e("burn")).toMatch(/Unknown destination “burn”/);
    expect(e("locked now")).toMatch(/locked takes nothing/);
    expect(e("custom")).toMatch(/one contract address/);
    expect(e(`custom ${A} ${B}`)).toMatch(/one contract address/);
    expect(e("custom 0x0000000000000000000000000000000000000000")).toMatch(/not a usable address/);
    expect(e("release")).toMatch(/needs recipients/);
    expect(e(`release ${A}=60% ${B}=30%`)).toBe("The shares add up to 90%, not 100%.");
    expect(e(`release ${A}=60% ${A_SUM}=40%`)).toMatch(/listed twice/);
    expect(e(`release ${A}=100% ${B}=0%`)).toMatch(/share above 0%/);
    expect(e(`release ${A} ${B}`)).toMatch(/share above 0%/);
    expect(e(`release ${A}=sixty`)).toMatch(/share above 0%/);
    expect(e("release 0x12=100%")).toMatch(/not a usable address/);
    const many = Array.from({ length: 33 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, "0")}=3%`).join(" ");
    expect(e(`release ${many}`)).toMatch(/at most 32/);
  });

  it("vote and every choice alias", () => {
    const choices: [string, string][] = [
      ["yes", "for"],
      ["Y", "for"],
      ["for", "for"],
      ["+1", "for"],
      ["YES", "for"],
      ["no", "against"],
      ["n", "against"],
      ["Against", "against"],
      ["-1", "against"],
      ["abstain", "abstain"],
      ["a", "abstain"],
      ["0", "abstain"],
      ["ABSTAIN", "abstain"],
    ];
    for (const [w, choice] of choices) {
      expect(cmd(`!vote 3 ${w}`), w).toEqual({ name: "vote", number: 3, choice });
      expect(cmd(`!vote #3 ${w}`), w).toEqual({ name: "vote", number: 3, choice });
    }
    expect(cmd("!v 12 yes")).toEqual({ name: "vote", number: 12, choice: "for" });
    expect(cmd("!vote yes #4")).toEqual({ name: "vote", number: 4, choice: "for" });
    expect(cmd("!vote 1 0")).toEqual({ name: "vote", number: 1, choice: "abstain" });
    expect(err("!vote 3").message).toMatch(/number and your choice/);
    expect(err("!vote 3 yes please").message).toMatch(/number and your choice/);
    expect(err("!vote three yes").message).toMatch(/“three” is not a proposal number/);
    expect(err("!vote 0 yes").message).toBe("Proposal numbers start at #1.");
    expect(err("!vote -3 yes").message).toMatch(/not a proposal number/);
    expect(err("!vote 3.5 yes").message).toMatch(/not a proposal number/);
    expect(err("!vote 3 maybe").message).toMatch(/“maybe” is not a choice/);
    expect(err("!vote 3 maybe").usage).toBe("vote <#number> <yes|no|abstain> [#room:server]");
    expect(err("!vote 99999999999999999999 yes").message).toMatch(/not a proposal number/);
  });

  it("delegate and the argument-less commands", () => {
    expect(cmd("!delegate @bob:x.org")).toEqual({ name: "delegate", target: "@bob:x.org" });
    expect(cmd("!delegate bob")).toEqual({ name: "delegate", target: "@bob:example.org" });
    expect(err("!delegate").usage).toBe("delegate <@user:server> [#room:server]");
    for (const [body, name] of [
      ["!undelegate", "undelegate"],
      ["!join", "join"],
      ["!proposals", "proposals"],
      ["!list", "proposals"],
      ["!members", "members"],
      ["!status", "status"],
      ["!info", "status"],
    ] as const) {
      expect(cmd(body), body).toEqual({ name });
      expect(err(`${body} extra`).message).toMatch(/takes no arguments/);
    }
    expect(cmd("!proposal 7")).toEqual({ name: "proposal", number: 7 });
    expect(cmd("!proposal #7")).toEqual({ name: "proposal", number: 7 });
    expect(cmd("!show #7")).toEqual({ name: "proposal", number: 7 });
    expect(err("!proposal").message).toMatch(/one proposal number/);
    expect(err("!proposal #x").message).toMatch(/not a proposal number/);
  });

  it("every command of the table parses in at least one form", () => {
    const examples: Record<string, string> = {
      help: "!help",
      "dao-create": "!dao create",
      "dao-confirm": "!dao confirm K7Q2XM",
      "dao-decline": "!dao decline",
      "dao-cancel": "!dao cancel",
      "dao-watch": "!dao watch",
      "dao-enforce": "!dao enforce",
      link: `!link ${A}`,
      verify: `!verify ${SIG}`,
      authorize: "!authorize",
      unlink: "!unlink",
      "propose-add": "!propose add bob",
      "propose-remove": "!propose remove bob",
      "propose-config": "!propose config fee=1",
      "propose-fee-destination": "!propose fee-destination locked",
      vote: "!vote 1 yes",
      delegate: "!delegate bob",
      undelegate: "!undelegate",
      join: "!join",
      proposals: "!proposals",
      proposal: "!proposal 1",
      members: "!members",
      status: "!status",
      widget: "!widget",
    };
    for (const c of COMMANDS) {
      expect(cmd(examples[c.name] ?? "").name).toBe(c.name);
      for (const alias of c.aliases) {
        const rest = (examples[c.name] ?? "").split(" ").slice(c.name.startsWith("propose-") || c.name.startsWith("dao-") ? 2 : 1);
        expect(cmd(`!${alias} ${rest.join(" ")}`.trim()).name, alias).toBe(c.name);
      }
    }
  });
});

describe("pills and mentions", () => {
  it("Element pill: display name in the body, id in formatted_body and m.mentions", () => {
    const input = {
      formattedBody: `!propose add ${pill("@alice:server.org", "Alice")}`,
      mentions: ["@alice:server.org"],
    };
    expect(cmd("!propose add Alice", input)).toEqual({ name: "propose-add", target: "@alice:server.org" });
  });

  it("display names with spaces, markup and entities", () => {
    const f = `!delegate <a href="https://matrix.to/#/%40asmith%3Aserver.org?via=server.org"><b>Alice</b> &amp; Co</a>`;
    expect(cmd("!delegate Alice & Co", { formattedBody: f })).toEqual({ name: "delegate", target: "@asmith:server.org" });
    const g = `!propose remove <a href='https://matrix.to/#/@bob:y.org'>Bob Smith</a>`;
    expect(cmd("!propose remove Bob Smith", { formattedBody: g })).toEqual({ name: "propose-remove", target: "@bob:y.org" });
    expect(cmd('!propose remove "Bob Smith"', { formattedBody: g })).toEqual({ name: "propose-remove", target: "@bob:y.org" });
  });

  it("matrix: URIs and loose matches (@, case)", () => {
    const f = `!delegate <a href="matrix:u/carol:z.org?action=chat">@Carol</a>`;
    expect(cmd("!delegate carol", { formattedBody: f })).toEqual({ name: "delegate", target: "@carol:z.org" });
  });

  it("a pill wins over a bare name on the default server", () => {
    const f = `!delegate ${pill("@robert:other.org", "bob")}`;
    expect(cmd("!delegate bob", { formattedBody: f })).toEqual({ name: "delegate", target: "@robert:other.org" });
  });

  it("m.mentions never choose a target: the visible text does", () => {
    // Nobody sees m.mentions: "dave" is the text's dave, on the default server, whatever they say.
    expect(cmd("!delegate dave", { mentions: ["@dave:d.org"] })).toEqual({ name: "delegate", target: "@dave:example.org" });
    expect(cmd("!delegate @dave", { mentions: ["@dave:evil.org"] })).toEqual({ name: "delegate", target: "@dave:example.org" });
    expect(cmd("!propose add @carol:example.org", { mentions: ["@mallory:evil.org"] })).toEqual({ name: "propose-add", target: "@carol:example.org" });
    // A display name the text shows only through m.mentions names nobody.
    expect(err("!delegate Dave", { mentions: ["@dave:d.org"] }).message).toMatch(/can't tell who “Dave”/);
    expect(err("!delegate Erin", { mentions: ["@dave:d.org"] }).message).toMatch(/can't tell who “Erin”/);
    // A pill is visible: it still names its user.
    expect(cmd("!delegate Dave", { formattedBody: `!delegate ${pill("@dave:d.org", "Dave")}`, mentions: ["@mallory:evil.org"] })).toEqual({
      name: "delegate",
      target: "@dave:d.org",
    });
  });

  it("ambiguous and contradictory pills are refused", () => {
    const two = `!delegate ${pill("@a1:x.org", "Ann")} ${pill("@a2:x.org", "Ann")}`;
    expect(err("!delegate Ann", { formattedBody: two }).message).toMatch(/could mean several people/);
    const spoof = `!delegate ${pill("@mallory:evil.org", "@alice:x.org")}`;
    expect(err("!delegate @alice:x.org", { formattedBody: spoof }).message).toMatch(/links to “@mallory:evil.org”/);
  });

  it("pills in a reply fallback and non-user links are ignored; admins take pills", () => {
    const f = `<mx-reply><blockquote>${pill("@zed:x.org", "Zed")}</blockquote></mx-reply>!delegate Zed`;
    expect(err("!delegate Zed", { formattedBody: f }).message).toMatch(/can't tell who “Zed”/);
    const room = `!delegate <a href="https://matrix.to/#/!room:x.org">Zed</a> <a href="https://evil.example/@zed:x.org">Zed</a>`;
    expect(parse("!delegate Zed", { formattedBody: room }).kind).toBe("error");
    const admins = `!dao create admins=${pill("@ann:x.org", "Ann")},${pill("@bo:y.org", "Bo")}`;
    expect(cmd("!dao create admins=Ann,Bo", { formattedBody: admins })).toEqual({
      name: "dao-create",
      options: { admins: ["@ann:x.org", "@bo:y.org"] },
    });
  });

  it("garbage mentions and formatted bodies are ignored", () => {
    const garbage = { mentions: [5, null, "not a user", { id: "@a:b.c" }, "@dave:d.org"] as unknown as string[], formattedBody: "<a <a <a href=" };
    expect(cmd("!delegate dave", garbage)).toEqual({ name: "delegate", target: "@dave:example.org" });
    expect(cmd("!delegate dave", { mentions: "@x:y.org" as unknown as string[] })).toEqual({ name: "delegate", target: "@dave:example.org" });
  });
});

describe("errors", () => {
  it("unknown commands suggest !help and the closest name", () => {
    const e = err("!vot 3 yes");
    expect(e.message).toBe("Unknown command “vot”. Did you mean !vote? Send !help for the list.");
    expect(e.usage).toBe("vote <#number> <yes|no|abstain> [#room:server]");
    expect(err("!statsu").message).toContain("Did you mean !status?");
    expect(err("!propse add bob").message).toContain("Did you mean !propose?");
    expect(err("!propose ad bob").message).toContain("Did you mean !propose add?");
    expect(err("!propose").message).toBe("!propose needs one of: add, remove, config, fee-destination.");
    expect(err("!dao").message).toBe("!dao needs one of: create, confirm, decline, cancel, watch, enforce.");
    const far = err("!xyzzyplugh");
    expect(far.message).toBe("Unknown command “xyzzyplugh”. Send !help for the list.");
    expect(far.usage).toBe("help [command]");
  });

  it("quotes are truncated and cleaned", () => {
    const e = err(`!vote ${"9".repeat(20)}x${"z".repeat(200)} yes`);
    expect(e.message.length).toBeLessThan(120);
    expect(e.message).toContain("…");
    const f = err("!frob\u0007\u200b\u0000nicate");
    expect(f.message).not.toMatch(/[\p{Cc}\p{Cf}]/u);
  });

  it("too long, bidi controls, unclosed quotes", () => {
    expect(err("!vote " + "1".repeat(5000)).message).toMatch(/too long/);
    expect(cmd("!vote 3 yes\n" + "x".repeat(1_000_000))).toEqual({ name: "vote", number: 3, choice: "for" });
    expect(err("!vote 3 \u202Eyes").message).toMatch(/text-direction/);
    expect(err("!\u2066vote 3 yes\u2069").message).toMatch(/text-direction/);
    expect(cmd("!vo\u200bte 3 y\u200des")).toEqual({ name: "vote", number: 3, choice: "for" });
    expect(err('!delegate "bob').message).toBe("A quote is not closed.");
  });

  it("HTML is never interpreted", () => {
    const e = err('!delegate <img src=x onerror="alert(1)">');
    expect(e.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
    expect(err("!link <script>alert(1)</script>").message).toMatch(/is not an address/);
  });
});

describe("helpers", () => {
  it("percent and duration", () => {
    expect(parsePercent("0")).toBe(0);
    expect(parsePercent("100%")).toBe(10000);
    expect(parsePercent("0.01")).toBe(1);
    expect(parsePercent("100.5")).toBeUndefined();
    expect(parseDuration("1w2d3h4m5s")).toBe(604800 + 2 * 86400 + 3 * 3600 + 245);
    expect(parseDuration("4294967295s")).toBe(0xffffffff);
    expect(parseDuration("4294967296s")).toBeUndefined();
  });

  it("help text", () => {
    const all = helpText();
    for (const c of COMMANDS) expect(all).toContain(c.summary);
    expect(helpText("vote")).toMatch(/^!vote <#number> <yes\|no\|abstain>/);
    expect(helpText("propose add", "?")).toMatch(/^\?propose add <@user:server>/);
    expect(helpText("dao create")).toContain("custom-calls=on|off");
    expect(helpText("options")).toContain("quorum.fee-destination");
    expect(helpText("propose fee-destination")).toContain("release 0xA=60% 0xB=40%");
    expect(helpText("nope")).toMatch(/There is no command “nope”/);
    expect(() => helpText(42 as unknown as string)).not.toThrow();
    for (const c of COMMANDS) expect((OPTS.prefix + c.usage).length).toBeLessThanOrEqual(MAX_MESSAGE);
  });
});

// ---------------------------------------------------------------------------
// Generated hostile inputs

const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

function check(input: unknown, opts: unknown = OPTS): ParseResult {
  let r: ParseResult;
  try {
    r = parseCommand(input as CommandInput, opts as typeof OPTS);
  } catch (e) {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- JSON.stringify(undefined) is undefined, which its type omits
    throw new Error(`threw on ${JSON.stringify(input)?.slice(0, 200)}: ${String(e)}`, { cause: e });
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- as above
  const show = () => JSON.stringify(input)?.slice(0, 200);
  if (r.kind === "none") return r;
  if (r.kind === "error") {
    if (typeof r.message !== "string" || r.message.length === 0 || r.message.length > MAX_MESSAGE || UNPRINTABLE.test(r.message)) {
      throw new Error(`bad message ${JSON.stringify(r.message)} for ${show()}`);
    }
    if (r.usage !== undefined && (r.usage.length > MAX_MESSAGE || UNPRINTABLE.test(r.usage))) {
      throw new Error(`bad usage ${JSON.stringify(r.usage)} for ${show()}`);
    }
    return r;
  }
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the parser is under test: a kind outside its type is what this catches
  if (r.kind !== "ok") throw new Error(`unknown kind for ${show()}`);
  // Whatever comes out as ok is valid.
  const c = r.command as Record<string, unknown>;
  for (const k of ["target"]) if (k in c && userId(c[k]) === undefined) throw new Error(`bad user in ${JSON.stringify(c)}`);
  for (const k of ["number"]) if (k in c && proposalNumber(c[k]) === undefined) throw new Error(`bad number ${JSON.stringify(c)}`);
  if ("address" in c && address(c["address"]) !== c["address"]) throw new Error(`bad address ${JSON.stringify(c)}`);
  const opts2 = (c["options"] ?? c["changes"]) as { admins?: unknown[] } | undefined;
  for (const a of opts2?.admins ?? []) if (userId(a) === undefined) throw new Error(`bad admin ${JSON.stringify(c)}`);
  return r;
}

describe("generated hostile inputs", () => {
  it("never throws and always answers sensibly (over 10,000 inputs, seeded)", () => {
    const rnd = prng(0xc0ffee);
    const int = (n: number) => Math.floor(rnd() * n);
    const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;

    const SPECIALS = [
      "\u0000",
      "\u0007",
      "\u001b[31m",
      "\u007f",
      "\u0085",
      "\u00ad",
      "\u200b",
      "\u200c",
      "\u200d",
      "\u200e",
      "\u200f",
      "\u202a",
      "\u202b",
      "\u202c",
      "\u202d",
      "\u202e",
      "\u2066",
      "\u2067",
      "\u2068",
      "\u2069",
      "\u2028",
      "\u2029",
      "\ufeff",
      "\ufffd",
      "\ud800",
      "\udfff",
      "\u{e0041}",
      "\r",
      "\n",
      "\t",
      "\u00a0",
      "\u3000",
      "𝓿𝓸𝓽𝓮",
      "🗳️",
      "ـ",
      "ש",
      "İ",
      "ß",
      "ﬃ",
      "！",
      "＃３",
    ];
    const FRAGMENTS = [
      "yes",
      "no",
      "abstain",
      "+1",
      "-1",
      "0",
      "#",
      "#0",
      "#3",
      "3",
      "-3",
      "3.5",
      "1e9",
      "99999999999999999999",
      "NaN",
      A,
      B,
      A_SUM,
      "0x",
      "0x0000000000000000000000000000000000000000",
      SIG,
      "0x" + "g".repeat(130),
      "@alice:x.org",
      "@alice",
      "alice",
      "Alice",
      "@",
      "@:",
      "@a:",
      ":x.org",
      "@alice:x.org:99999",
      "https://matrix.to/#/@bob:y.org",
      "matrix:u/bob:y.org",
      "fee=1",
      "fee=-1",
      "fee=",
      "=",
      "==",
      "quorum=20%",
      "quorum=200%",
      "period=once",
      "period=30",
      "voting=0s",
      "mode=admin",
      "mode=",
      "admins=a,b",
      "admins=,",
      "admins=none",
      "custom-calls=on",
      "token=native",
      "token=0x1",
      "foo=bar",
      "quorum.add=default",
      "locked",
      "release",
      "custom",
      `${A}=60%`,
      `${B}=40%`,
      `${A}=x`,
      "<script>alert(1)</script>",
      '<a href="x">y</a>',
      "&amp;",
      "!abc:x.org",
      "!room",
      "#room:x.org",
      "&#0;",
      '"',
      "“",
      "”",
      '""',
      "'",
      "\\",
      "${x}",
      "%s%n",
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      "!",
      "!!",
      "!vote",
      "!help",
      "!!help",
      "prefix",
      "propose",
      "add",
      "dao",
      "create",
    ];
    const WORDS = [
      ...COMMANDS.flatMap((c) => [c.name, ...c.aliases]),
      "propose",
      "dao",
      "dao create",
      "propose add",
      "propose remove",
      "propose config",
      "propose fee-destination",
      "vot",
      "helpp",
      "x",
      "",
    ];

    const randUnicode = (len: number) => {
      let s = "";
      for (let i = 0; i < len; i++) {
        const r = rnd();
        if (r < 0.15) s += pick(SPECIALS);
        else if (r < 0.55) s += String.fromCharCode(0x20 + int(0x5f));
        else if (r < 0.75) s += String.fromCharCode(int(0x10000));
        else s += String.fromCodePoint(int(0x110000));
      }
      return s;
    };
    const randBytes = (len: number) => {
      const b = new Uint8Array(len);
      for (let i = 0; i < len; i++) b[i] = int(256);
      return rnd() < 0.5 ? new TextDecoder("utf-8").decode(b) : String.fromCharCode(...b);
    };
    const randCommand = () => {
      const pre = pick(["!", "!", "!", " !", "!!", "\u200b!", "\u202e!", "! ", "!!!", "\t!", "!help !"]);
      const parts = [pick(WORDS)];
      const n = int(6);
      for (let i = 0; i < n; i++) {
        const r = rnd();
        parts.push(r < 0.7 ? pick(FRAGMENTS) : r < 0.9 ? randUnicode(1 + int(12)) : pick(FRAGMENTS) + pick(SPECIALS) + pick(FRAGMENTS));
      }
      return pre + parts.join(pick([" ", " ", "  ", "\t", "\u00a0", ""]));
    };
    const randHtml = () => {
      const bits: string[] = [];
      const n = int(6);
      for (let i = 0; i < n; i++) {
        bits.push(
          pick([
            pill(
              pick(["@alice:x.org", "@bob:y.org", "%40c%3Az.org", "@bad", "%E0%A4%A", "!room:x.org", "@" + "a".repeat(300) + ":x.org"]),
              pick(["Alice", "bob", "", "<b>X</b>", "A &amp; B", randUnicode(5)]),
            ),
            "<a href=",
            "<a>",
            "</a>",
            "<mx-reply>",
            "</mx-reply>",
            "<a href='https://matrix.to/#/@z:x.org'>",
            randUnicode(10),
            "<a href=https://matrix.to/#/@q:x.org>Q</a>",
            "&#x110000;",
            "&#xD800;",
            "&#99999999;",
          ]),
        );
      }
      return bits.join("");
    };
    const randMentions = (): unknown =>
      pick([
        undefined,
        null,
        "@alice:x.org",
        42,
        {},
        [],
        ["@alice:x.org"],
        ["@bob:y.org", "@bob:z.org"],
        [null, 1, {}, [], "@", "alice", "@alice:x.org", "@" + "a".repeat(1000) + ":x.org", randUnicode(20)],
        Array.from({ length: 500 }, (_, i) => `@u${i}:x.org`),
      ]);

    let count = 0;
    const kinds = { none: 0, ok: 0, error: 0 };
    const run = (input: unknown, opts: unknown = OPTS) => {
      kinds[check(input, opts).kind]++;
      count++;
    };

    // Commands with wrong argument types and counts, mentions, HTML, nested prefixes.
    for (let i = 0; i < 6000; i++) {
      const input: Record<string, unknown> = { body: randCommand() };
      if (rnd() < 0.5) input["formattedBody"] = randHtml();
      if (rnd() < 0.5) input["mentions"] = randMentions();
      run(input);
    }
    // Random unicode, with and without the prefix.
    for (let i = 0; i < 2500; i++) run({ body: pick(["", "!", "!vote ", "!propose add "]) + randUnicode(int(200)) });
    // Random bytes.
    for (let i = 0; i < 2500; i++) run({ body: pick(["", "!", "!dao create "]) + randBytes(int(300)) });
    // Huge bodies, up to 1 MB, and huge formatted bodies / mention lists.
    for (let i = 0; i < 40; i++) {
      const size = 1 + int(1_000_000);
      const chunk = pick(["a", "!", " ", "\n", "9", "@a:x.org ", "<a href=", "\u202e", "\u200b", "fee=1 ", randUnicode(7)]);
      const big = chunk.repeat(Math.ceil(size / chunk.length)).slice(0, size);
      run({ body: pick(["!", "!vote ", "!propose add ", "!dao create ", ""]) + big });
      run({ body: "!delegate Alice", formattedBody: big, mentions: randMentions() });
      run({ body: "!delegate Alice", formattedBody: "<a href='https://matrix.to/#/@a:x.org'>".repeat(20_000) });
    }
    // Pathological HTML and text for the regular expressions (each must stay linear).
    const started = performance.now();
    const link = "<a href='https://matrix.to/#/@a:x.org'>";
    for (const formattedBody of [
      link + "<".repeat(60_000) + "</a>",
      link + "<b".repeat(30_000) + "</a>",
      link.repeat(30_000) + "</a>",
      "<a " + "href= ".repeat(20_000) + ">x</a>",
      '<a href="' + " ".repeat(60_000) + ">x</a>",
      link + "&#x1;".repeat(12_000) + "</a>",
      "<mx-reply>" + "</mx-reply ".repeat(10_000),
      "<a>".repeat(30_000),
      "</a>".repeat(30_000),
    ]) {
      run({ body: "!delegate Alice", formattedBody });
    }
    for (const body of [
      "!dao create admins=" + "a,".repeat(2000),
      "!dao create period=" + "1d".repeat(2000),
      "!vote " + '"a'.repeat(2000),
      "!dao create fee=" + "1".repeat(4000),
      "!dao create fee=1." + "1".repeat(4000),
      "!vote" + " ".repeat(4000) + "x",
      "> <" + "x".repeat(1_000_000),
      "> <x>\n\n".repeat(100_000),
    ]) {
      run({ body });
    }
    expect(performance.now() - started).toBeLessThan(2000);

    // Values that are not messages at all, and broken options.
    const throwing = new Proxy(
      {},
      {
        get: () => {
          throw new Error("boom");
        },
      },
    );
    const garbage: unknown[] = [
      undefined,
      null,
      0,
      1,
      "",
      "!vote 3 yes",
      [],
      ["!vote"],
      {},
      { body: null },
      { body: 42 },
      { body: ["!vote 3 yes"] },
      { body: { toString: () => "!vote 3 yes" } },
      { body: new String("!vote 3 yes") },
      throwing,
      { body: "!help", formattedBody: 5 },
      { body: "!delegate alice", formattedBody: { length: 1e9 } },
      Symbol("x"),
      () => "!help",
      10n,
    ];
    for (const g of garbage) run(g);
    const badOpts: unknown[] = [undefined, null, {}, { prefix: "" }, { prefix: 5 }, { prefix: "!", defaultServer: 5 }, { prefix: "x".repeat(100) }, throwing];
    for (const o of badOpts) for (const b of ["!vote 3 yes", "!delegate alice", "hello"]) run({ body: b }, o);

    expect(count).toBeGreaterThanOrEqual(10_000);
    console.log(`hostile inputs: ${count} (${JSON.stringify(kinds)})`);
    // The generator reaches all three outcomes.
    expect(kinds.none).toBeGreaterThan(100);
    expect(kinds.ok).toBeGreaterThan(10);
    expect(kinds.error).toBeGreaterThan(1000);
  }, 60_000);
});
