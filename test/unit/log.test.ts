import { describe, expect, it } from "vitest";
import { createLog } from "../../src/log.ts";

describe("the log", () => {
  const at = new Date("2026-12-01T14:02:00.000Z");
  const capture = (level: "debug" | "info" | "warn" | "error") => {
    const out: string[] = [];
    const log = createLog({ level, write: (t) => out.push(t), now: () => at, redact: (l) => l.replace("SECRET", "…") });
    log.debug("d");
    log("i");
    log.info("i2");
    log.warn("w SECRET");
    log.error("e");
    return { out, log };
  };

  it("writes the lines at its level and above, each with its level but info, redacted", () => {
    expect(capture("info").out).toEqual([
      "2026-12-01T14:02:00.000Z i\n",
      "2026-12-01T14:02:00.000Z i2\n",
      "2026-12-01T14:02:00.000Z warn w …\n",
      "2026-12-01T14:02:00.000Z error e\n",
    ]);
    expect(capture("debug").out[0]).toBe("2026-12-01T14:02:00.000Z debug d\n");
    expect(capture("warn").out).toHaveLength(2);
    expect(capture("error").out).toEqual(["2026-12-01T14:02:00.000Z error e\n"]);
  });

  it("takes a new level and redaction once the config is read", () => {
    const { out, log } = capture("error");
    log.setLevel("info");
    log.setRedact((l) => l.toUpperCase());
    log("now written");
    expect(out.at(-1)).toBe("2026-12-01T14:02:00.000Z NOW WRITTEN\n");
    expect(log.enabled("debug")).toBe(false);
    expect(log.enabled("warn")).toBe(true);
  });
});
