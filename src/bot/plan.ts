/**
 * What the founders of a group consent to: the group a `!dao create` would
 * make, as kept in the store beside its preview (`PendingCreation.plan`).
 * Pure: no SDK, no I/O.
 */
import { createHash } from "node:crypto";
import type { FeeDestination, GroupSettings } from "../governance/types.ts";
import type { RoomMode } from "../store/store.ts";
import { PREVIEW_CODE_ALPHABET, PREVIEW_CODE_LENGTH } from "./commands/parse.ts";

export interface Founder {
  userId: string;
  address: string;
}

export interface CreationPlan {
  settings: GroupSettings;
  destination: FeeDestination;
  /** in the order shown; each must consent */
  founders: Founder[];
  /** in the room at the preview without being founders (for the preview's words only) */
  notMembers: string[];
  /** what the room starts in once the group exists */
  mode: RoomMode;
}

/** The plan as stored: the fee (a bigint) as a decimal string. */
export function encodePlan(p: CreationPlan): string {
  return JSON.stringify({ ...p, settings: { ...p.settings, config: { ...p.settings.config, fee: p.settings.config.fee.toString() } } });
}

/** The stored plan, or undefined when it is not one (never throws). */
export function decodePlan(text: string): CreationPlan | undefined {
  try {
    const raw = JSON.parse(text) as CreationPlan & { settings: { config: { fee: string } } };
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the stored text may be anything: this never throws
    if (!Array.isArray(raw.founders) || typeof raw.settings?.config?.fee !== "string") return undefined;
    return { ...raw, settings: { ...raw.settings, config: { ...raw.settings.config, fee: BigInt(raw.settings.config.fee) } } };
  } catch {
    return undefined;
  }
}

/**
 * The code of the preview made by the command event `eventId`: the same
 * for a command run again after a crash, another for every other command,
 * and not guessable before the command is sent.
 */
export function previewCode(eventId: string): string {
  const h = createHash("sha256").update(`conclave preview|${eventId}`).digest();
  let code = "";
  for (let i = 0; i < PREVIEW_CODE_LENGTH; i++) code += PREVIEW_CODE_ALPHABET[(h[i] ?? 0) % PREVIEW_CODE_ALPHABET.length]!;
  return code;
}
