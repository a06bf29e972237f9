import { describe, expect, it } from "vitest";
import { groupInterface, factoryInterface } from "../../src/governance/contracts.ts";
import { humanChainError, KNOWN_ERRORS } from "../../src/governance/errors.ts";

describe("chain errors in words", () => {
  it("has a sentence for every custom error of the contracts", () => {
    const names = new Set<string>();
    for (const iface of [groupInterface, factoryInterface]) iface.forEachError((e) => names.add(e.name));
    const ours = [...names].filter(
      (n) =>
        !/^(Ownable|OwnableInvalid|Address|Failed|Reentrancy|InvalidInitialization|NotInitializing|SafeCast|SafeERC20|ECDSA|ERC1167|Clones|CloneArgumentsTooLong|Math|Strings|InvalidShortString|StringTooLong)/.test(
          n,
        ),
    );
    expect(ours.filter((n) => !KNOWN_ERRORS.includes(n))).toEqual([]);
  });

  it("turns revert data, however wrapped, into a sentence, and keeps detail for the log", () => {
    const data = groupInterface.encodeErrorResult("GroupVotingClosed", [5n, 1]);
    const e = Object.assign(new Error("execution reverted (unknown custom error)\nstack..."), { info: { error: { data } } });
    const h = humanChainError(e);
    expect(h.human).toBe("Voting is closed: the proposal is defeated.");
    expect(h.log).toMatch(/^GroupVotingClosed: execution reverted/);
    expect(h.log).not.toMatch(/\n/);
  });

  it("explains the safety rule with both minimums", () => {
    const data = factoryInterface.encodeErrorResult("UnsafeGroupConfig", [500, 2000, 0n, 10n ** 15n]);
    expect(humanChainError({ data }).human).toBe(
      "Unsafe: the add quorum 5% is below the safe minimum 20% and the fee 0.0 is below the safe minimum 0.001. Raise either.",
    );
  });

  it("says the chain is down, or gives a generic sentence, never a stack trace", () => {
    expect(humanChainError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:8545"), { code: "ECONNREFUSED" })).human).toMatch(/cannot be reached/);
    expect(
      humanChainError(
        Object.assign(new Error("server response 429 Too Many Requests"), { code: "SERVER_ERROR", info: { responseStatus: "429 Too Many Requests" } }),
      ).human,
    ).toBe("The chain cannot be reached right now (its endpoint answered HTTP 429); try again later.");
    const h = humanChainError(new Error("weird\n    at foo (bar.js:1:1)"));
    expect(h.human).toMatch(/unknown reason/);
    expect(h.human).not.toMatch(/at foo/);
  });
});
