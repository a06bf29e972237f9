/**
 * A group's ABI is the union of `Group`'s and `GroupExtension`'s: the
 * functions `Group` does not define reach the extension through its fallback.
 */
import type { InterfaceAbi } from "ethers";

interface AbiItem {
  type: string;
  name?: string;
  inputs?: { type: string }[];
}

/** Merges the two ABIs, keeping one entry per signature and dropping constructors and fallbacks. */
export function mergeGroupAbi(core: readonly unknown[], extension: readonly unknown[]): InterfaceAbi {
  const seen = new Set<string>();
  const out: AbiItem[] = [];
  for (const item of [...core, ...extension] as AbiItem[]) {
    if (item.type === "constructor" || item.type === "fallback" || item.type === "receive") continue;
    const key = `${item.type}:${item.name ?? ""}(${(item.inputs ?? []).map((i) => i.type).join(",")})`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(item);
  }
  return out;
}
