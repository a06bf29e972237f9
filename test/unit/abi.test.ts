import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { currentAbis } from "../../scripts/export-abi.ts";

describe("committed ABIs", () => {
  it("match the compiled contracts (run node scripts/export-abi.ts after changing them)", () => {
    for (const [file, abi] of Object.entries(currentAbis())) {
      const committed = JSON.parse(readFileSync(join(import.meta.dirname, "../../src/governance/abi", file), "utf8"));
      expect(committed, file).toEqual(abi);
    }
  });
});
