import { describe, expect, it } from "vitest";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

interface Slot {
  label: string;
  slot: string;
  offset: number;
  type: string;
}

function layouts(): Map<string, Slot[]> {
  const dir = join(import.meta.dirname, "../../artifacts/build-info");
  const found = new Map<string, Slot[]>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".output.json"))) {
    const out = JSON.parse(readFileSync(join(dir, f), "utf8")) as {
      output: { contracts: Record<string, Record<string, { storageLayout?: { storage: Slot[] } }>> };
    };
    for (const file of Object.values(out.output.contracts)) {
      for (const [name, c] of Object.entries(file)) {
        if ((name === "Group" || name === "GroupExtension") && c.storageLayout) found.set(name, c.storageLayout.storage);
      }
    }
  }
  return found;
}

describe("Group and GroupExtension", () => {
  it("declare the same storage layout, since one runs on the other's storage", () => {
    const l = layouts();
    const strip = (s: Slot[]) => s.map(({ label, slot, offset, type }) => ({ label, slot, offset, type: type.replace(/\)\d+_storage/g, ")") }));
    expect(l.get("Group")?.length).toBeGreaterThan(10);
    expect(strip(l.get("GroupExtension")!)).toEqual(strip(l.get("Group")!));
  });
});
