import { describe, expect, it } from "vitest";
import { newRecoveryKey, parseRecoveryKey } from "../../src/matrix/cross-signing.ts";

describe("the recovery key", () => {
  it("is 32 bytes in the form Element shows, read back with or without spaces", () => {
    const key = newRecoveryKey();
    expect(key).toMatch(/^Es[1-9A-HJ-NP-Za-km-z]{2}( [1-9A-HJ-NP-Za-km-z]{4}){11}$/);
    expect(parseRecoveryKey(key)).toHaveLength(32);
    expect(parseRecoveryKey(` ${key.replaceAll(" ", "")}\n`)).toEqual(parseRecoveryKey(key));
    expect(newRecoveryKey()).not.toBe(key);
  });

  it("refuses what is not one, saying why without quoting it", () => {
    const key = newRecoveryKey();
    const typo = key.slice(0, -1) + (key.endsWith("a") ? "b" : "a");
    expect(() => parseRecoveryKey(typo)).toThrow(/^not a recovery key \(wrong parity\): expected 48 base58 characters/);
    expect(() => parseRecoveryKey("0OIl")).toThrow(/not a recovery key \(a character that is not base58\)/);
    for (const bad of [typo, "hunter2"]) {
      try {
        parseRecoveryKey(bad);
      } catch (e) {
        expect((e as Error).message).not.toContain(bad);
      }
    }
  });
});
