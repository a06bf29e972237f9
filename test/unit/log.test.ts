import { describe, expect, it } from "vitest";
import { createLog, lineFields, plainLine, warn, type Format, type Level } from "../../src/log.ts";

describe("the log", () => {
  const at = new Date("2026-12-01T14:02:00.000Z");
  const capture = (level: Level, format: Format = "json", tty = false) => {
    const out: string[] = [];
    const log = createLog({ level, format, tty, write: (t) => out.push(t), now: () => at, redact: (l) => l.replace("SECRET", "…") });
    log.debug("d");
    log("i");
    log.info("i2");
    log.warn("w SECRET");
    log.error("e");
    return { out, log, json: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
  };

  it("writes JSON lines at its level and above, with the time, the level as a word and the redacted sentence", () => {
    const { out, json } = capture("info");
    expect(out.every((l) => l.endsWith("\n") && !l.slice(0, -1).includes("\n"))).toBe(true);
    expect(json()).toEqual([
      { level: "info", time: "2026-12-01T14:02:00.000Z", msg: "i" },
      { level: "info", time: "2026-12-01T14:02:00.000Z", msg: "i2" },
      { level: "warn", time: "2026-12-01T14:02:00.000Z", msg: "w …" },
      { level: "error", time: "2026-12-01T14:02:00.000Z", msg: "e" },
    ]);
    expect(capture("debug").json()[0]).toMatchObject({ level: "debug", msg: "d" });
    expect(capture("warn").out).toHaveLength(2);
    expect(capture("error").json()).toEqual([{ level: "error", time: "2026-12-01T14:02:00.000Z", msg: "e" }]);
  });

  it("writes what an operator must see as warnings, shown with log.level: warn; a plain log port gets the line as it is", () => {
    const out: string[] = [];
    const log = createLog({ level: "warn", format: "json", write: (t) => out.push(t), now: () => at });
    log("an info line, hidden");
    warn(log, "bridge: could not ban @x:y in !r:y: forbidden");
    expect(out.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      { level: "warn", time: "2026-12-01T14:02:00.000Z", component: "bridge", room: "!r:y", msg: "bridge: could not ban @x:y in !r:y: forbidden" },
    ]);
    const plain: string[] = [];
    warn((l) => plain.push(l), "tx failed: x");
    warn(undefined, "nowhere");
    expect(plain).toEqual(["tx failed: x"]);
  });

  it("reads the component, room, proposal and transaction a sentence names into fields", () => {
    const tx = `0x${"ab".repeat(32)}`;
    const line = `bridge: !abc-DEF_1:chat.example.org:8448: executed proposal #12 in ${tx} (group 0x${"cd".repeat(20)})`;
    expect(lineFields(line)).toEqual({ component: "bridge", room: "!abc-DEF_1:chat.example.org:8448", proposal: 12, tx });
    // An address is no transaction; a sentence without them has none of the fields.
    expect(lineFields(`chain: the bot's balance is low at 0x${"cd".repeat(20)}`)).toEqual({ component: "chain" });
    expect(lineFields("stopping (SIGTERM)")).toEqual({});
    const out: string[] = [];
    createLog({ level: "info", format: "json", write: (t) => out.push(t), now: () => at })(line);
    expect(JSON.parse(out[0]!)).toEqual({
      level: "info",
      time: at.toISOString(),
      component: "bridge",
      room: "!abc-DEF_1:chat.example.org:8448",
      proposal: 12,
      tx,
      msg: line,
    });
  });

  it("takes a new level, redaction, format and fields once the config is read", () => {
    const { out, log } = capture("error");
    log.setLevel("info");
    log.setRedact((l) => l.toUpperCase());
    log("now written");
    expect(JSON.parse(out.at(-1)!)).toMatchObject({ level: "info", msg: "NOW WRITTEN" });
    expect(log.enabled("debug")).toBe(false);
    expect(log.enabled("warn")).toBe(true);
    log.setBase({ worker: "w1" });
    log("again");
    expect(JSON.parse(out.at(-1)!)).toMatchObject({ worker: "w1", msg: "AGAIN" });
    log.setFormat("pretty");
    log.warn("for people");
    expect(out.at(-1)).toMatch(/^\[2026-12-01 \d\d:02:00\.000\] WARN.*: FOR PEOPLE\n/);
  });

  it("is pretty in a terminal and JSON elsewhere when the format is auto", () => {
    expect(capture("info", "auto", true).out[0]).toMatch(/INFO.*: i\n$/);
    expect(capture("info", "auto", false).json()[0]).toMatchObject({ msg: "i" });
  });

  it("turns a JSON line back into the sentence people read, and leaves other text alone", () => {
    expect(plainLine('{"level":"warn","time":"2026-12-01T14:02:00.000Z","component":"chain","msg":"chain: waiting"}')).toBe(
      "2026-12-01T14:02:00.000Z warn chain: waiting",
    );
    expect(plainLine('{"level":"info","time":"2026-12-01T14:02:00.000Z","msg":"ready: x"}')).toBe("2026-12-01T14:02:00.000Z ready: x");
    expect(plainLine("config: bot.userId: expected a Matrix user id")).toBe("config: bot.userId: expected a Matrix user id");
    expect(plainLine("{not json")).toBe("{not json");
    expect(plainLine('{"a":1}')).toBe('{"a":1}');
  });
});
