import { describe, expect, it } from "vitest";
import { hexlify } from "ethers";
import { groupInterface } from "../../src/governance/contracts.ts";
import { decodeMembersPage } from "../../src/governance/encoding.ts";
import { prng } from "./prng.ts";

describe("a membersPage answer read from its ABI words", () => {
  const encode = (accounts: string[], expiries: bigint[]) => groupInterface.encodeFunctionResult("membersPage", [accounts, expiries]);

  it("reads what ethers' decoder reads, the accounts in lower case", () => {
    const random = prng(11);
    const byte = () => Math.floor(random() * 256);
    for (const n of [0, 1, 2, 7, 100, 500]) {
      const accounts = Array.from({ length: n }, () => hexlify(Uint8Array.from({ length: 20 }, byte)));
      // Zero, small times, the "forever" sentinel, and the whole uint64 range (rounded as Number() rounds).
      const special = [0n, 1n, 0xffffffffn, 2n ** 53n - 1n, 2n ** 53n + 1n, 2n ** 64n - 1n];
      const expiries = accounts.map((_, i) => special[i % 8] ?? BigInt(Math.floor(random() * 2 ** 40)));
      const data = encode(accounts, expiries);
      const [wantAccounts, wantExpiries] = groupInterface.decodeFunctionResult("membersPage", data) as unknown as [string[], bigint[]];
      expect(decodeMembersPage(data)).toEqual({ accounts: wantAccounts.map((a) => a.toLowerCase()), expiries: wantExpiries.map(Number) });
    }
  });

  it("refuses what is not such an answer, as ethers does", () => {
    const good = encode(["0x00000000000000000000000000000000000000aa"], [5n]);
    expect(() => decodeMembersPage("0x")).toThrow();
    expect(() => decodeMembersPage(good.slice(0, -64))).toThrow(/past the end|word/);
    expect(() => decodeMembersPage(good.slice(0, -1))).toThrow(/ABI words/);
    // An address word with bits above its 20 bytes.
    const dirty = good.replace(`${"0".repeat(62)}aa`, `${"0".repeat(23)}1${"0".repeat(38)}aa`);
    expect(dirty).not.toBe(good);
    expect(() => decodeMembersPage(dirty)).toThrow(/not an address/);
    // (ethers keeps the error in its Result, thrown when the account is read.)
    expect(() => (groupInterface.decodeFunctionResult("membersPage", dirty)[0] as string[])[0]).toThrow();
  });
});
