import { describe, expect, it } from "vitest";
import { CommandLimits } from "../../src/bot/limits.ts";

describe("command rate limits", () => {
  it("per sender: the first command over the limit is told to slow down, the next ones get nothing", async () => {
    const l = new CommandLimits({ perSenderPerMinute: 3, perRoomPerMinute: 100 });
    const verdicts = [];
    for (let i = 0; i < 6; i++) verdicts.push(await l.take("!r", "@mallory:x"));
    expect(verdicts.slice(0, 3)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(verdicts[3]).toEqual({
      ok: false,
      answer: expect.stringMatching(/^Slow down: you sent more than 3 commands in a minute\. I will answer you again in \d+ s\.$/),
    });
    expect(verdicts.slice(4)).toEqual([{ ok: false }, { ok: false }]);
    // Someone else is not affected, in the same room or elsewhere.
    expect(await l.take("!r", "@alice:x")).toEqual({ ok: true });
  });

  it("per room: many senders together", async () => {
    const l = new CommandLimits({ perSenderPerMinute: 100, perRoomPerMinute: 4 });
    for (let i = 0; i < 4; i++) expect(await l.take("!busy", `@u${i}:x`)).toEqual({ ok: true });
    expect(await l.take("!busy", "@u9:x")).toEqual({ ok: false, answer: expect.stringMatching(/^Slow down: this room sent more than 4 commands/) });
    expect(await l.take("!busy", "@u8:x")).toEqual({ ok: false });
    expect(await l.take("!quiet", "@u8:x")).toEqual({ ok: true });
  });
});
