/**
 * The settings options of `!dao create` and `!propose config` (`key=value`):
 * their keys, how each value is read, and their help. Pure.
 */
import type { Address, UserId } from "../ids.ts";
import { address } from "../ids.ts";
import { MAX_DURATION, MAX_OPEN_PROPOSALS, Mode, QUORUM_DEFAULT } from "../../governance/types.ts";
import { closest, fail, quote, type Fail, type Token } from "./hygiene.ts";
import { resolveUser, ZERO, type ParseContext } from "./args.ts";

const MAX_UINT32 = 0xffffffff;

/** The usage of the options, as `dao create` shows it. */
export const OPTIONS_USAGE =
  "[fee=0.1] [token=native|0x…] [period=30d|once] [grace=7d] [voting=3d] [mode=vote|admin|external] " +
  "[quorum=20%] [quorum.add=…] [admins=@a:server,…] [custom-calls=on|off]";

/** The option keys of `dao create` and `propose config`, as users write them. */
export const OPTION_KEYS = [
  "fee",
  "token",
  "period",
  "grace",
  "voting",
  "mode",
  "quorum",
  "quorum.add",
  "quorum.remove",
  "quorum.config",
  "quorum.fee-destination",
  "quorum.custom",
  "admins",
  "custom-calls",
  "open-proposals",
  "controller",
] as const;
export type OptionKey = (typeof OPTION_KEYS)[number];

/**
 * Validated, normalized options of `dao create` / `propose config`. Field
 * names follow `GroupConfig`; only the options the user gave are present.
 */
export interface GroupOptions {
  /** `fee`: the decimal the user wrote (e.g. "0.5"); convert with the fee token's decimals. */
  fee?: string;
  /** `token`: `native` (also written as the zero address) or an ERC-20 address. */
  feeToken?: "native" | Address;
  /** `period`: seconds; 0 = pay once, member for life (`once`). */
  period?: number;
  /** `grace`: seconds. */
  gracePeriod?: number;
  /** `voting`: seconds, at least 1. */
  votingPeriod?: number;
  /** `mode`: the on-chain enum value. */
  mode?: Mode;
  /** `quorum`: basis points, 0..10000. */
  defaultQuorumBps?: number;
  /** `quorum.add` etc.: basis points, or `QUORUM_DEFAULT` (0xffff) for `default`. */
  addQuorumBps?: number;
  removeQuorumBps?: number;
  configQuorumBps?: number;
  feeDestinationQuorumBps?: number;
  customQuorumBps?: number;
  /** `admins`: distinct users, in the order given; empty for `admins=none`. */
  admins?: UserId[];
  /** `custom-calls`. */
  customCallsAllowed?: boolean;
  /** `open-proposals`: how many proposals one member may have open at a time, 1..3. */
  maxOpenProposals?: number;
  /** `controller`: the governing contract of external mode. */
  controller?: Address;
}

/** Basis points of a percentage `20`, `20%`, `12.5%`, `33.33`; 0..100 with up to 2 decimals. */
export function parsePercent(s: string): number | undefined {
  const m = /^(\d{1,3})(?:\.(\d{1,2}))?%?$/.exec(s);
  if (m === null || m[1] === undefined) return undefined;
  const bps = Number(m[1]) * 100 + Number((m[2] ?? "").padEnd(2, "0"));
  return bps <= 10000 ? bps : undefined;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** Seconds of a duration `45s`, `90m`, `12h`, `30d`, `2w`, or a sum like `1d12h`; `0` alone is 0. */
export function parseDuration(s: string): number | undefined {
  if (s === "0") return 0;
  if (s.length > 40 || !/^(?:\d{1,10}[smhdwSMHDW])+$/.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d{1,10})([smhdwSMHDW])/g)) {
    total += Number(m[1]) * (UNIT_SECONDS[(m[2] ?? "").toLowerCase()] ?? NaN);
  }
  return Number.isSafeInteger(total) && total <= MAX_UINT32 ? total : undefined;
}

/** A fee as typed: digits with an optional fraction (`0`, `10`, `0.25`). */
const DECIMAL = /^\d{1,30}(?:\.\d{1,36})?$/;

const MODES = new Map<string, Mode>([
  ["vote", Mode.Vote],
  ["admin", Mode.Admin],
  ["external", Mode.External],
]);
const SWITCH = new Map<string, boolean>([
  ["on", true],
  ["off", false],
  ["true", true],
  ["false", false],
  ["yes", true],
  ["no", false],
]);

interface OptionSpec {
  key: OptionKey;
  /** Returns an error message, or sets the option. */
  apply(value: string, out: GroupOptions, ctx: ParseContext): string | undefined;
}

function quorumSpec(key: OptionKey, set: (o: GroupOptions, bps: number) => void, allowDefault: boolean): OptionSpec {
  return {
    key,
    apply(v, o) {
      if (allowDefault && v.toLowerCase() === "default") {
        set(o, QUORUM_DEFAULT);
        return undefined;
      }
      const bps = parsePercent(v);
      if (bps === undefined) {
        return `${key} must be a percentage from 0 to 100 with at most 2 decimals, like 20%` + `${allowDefault ? " (or default)" : ""}; got ${quote(v)}.`;
      }
      set(o, bps);
      return undefined;
    },
  };
}

function durationSpec(key: OptionKey, set: (o: GroupOptions, s: number) => void, min: number, once: boolean): OptionSpec {
  return {
    key,
    apply(v, o) {
      if (once && v.toLowerCase() === "once") {
        set(o, 0);
        return undefined;
      }
      const secs = parseDuration(v);
      if (secs === undefined || secs < min) {
        const zero = min > 0 ? " of at least 1s" : "";
        return `${key} must be a duration${zero} with a unit (s, m, h, d, w), like 30d${once ? ", or once" : ""}; got ${quote(v)}.`;
      }
      // The contracts refuse longer ones (GroupInvalidDuration): say so before any transaction.
      if (secs > MAX_DURATION) {
        return `${key} can be at most ${MAX_DURATION / 86_400}d (about ten years); got ${quote(v)}.`;
      }
      set(o, secs);
      return undefined;
    },
  };
}

const OPTION_SPECS: ReadonlyMap<string, OptionSpec> = new Map(
  (
    [
      {
        key: "fee",
        apply(v, o) {
          if (!DECIMAL.test(v)) return `fee must be a decimal number like 0.5 (no unit, no sign); got ${quote(v)}.`;
          o.fee = v;
          return undefined;
        },
      },
      {
        key: "controller",
        apply(v, o) {
          const a = address(v);
          if (a === undefined || a === ZERO) return `controller must be a contract address (0x and 40 hex digits); got ${quote(v)}.`;
          o.controller = a;
          return undefined;
        },
      },
      {
        key: "token",
        apply(v, o) {
          if (v.toLowerCase() === "native") {
            o.feeToken = "native";
            return undefined;
          }
          const a = address(v);
          if (a === undefined) return `token must be native or a token address (0x and 40 hex digits); got ${quote(v)}.`;
          o.feeToken = a === ZERO ? "native" : a;
          return undefined;
        },
      },
      durationSpec("period", (o, s) => (o.period = s), 0, true),
      durationSpec("grace", (o, s) => (o.gracePeriod = s), 0, false),
      durationSpec("voting", (o, s) => (o.votingPeriod = s), 1, false),
      {
        key: "mode",
        apply(v, o) {
          const m = MODES.get(v.toLowerCase());
          if (m === undefined) {
            return `mode must be vote, admin or external; got ${quote(v)}.`;
          }
          o.mode = m;
          return undefined;
        },
      },
      quorumSpec("quorum", (o, b) => (o.defaultQuorumBps = b), false),
      quorumSpec("quorum.add", (o, b) => (o.addQuorumBps = b), true),
      quorumSpec("quorum.remove", (o, b) => (o.removeQuorumBps = b), true),
      quorumSpec("quorum.config", (o, b) => (o.configQuorumBps = b), true),
      quorumSpec("quorum.fee-destination", (o, b) => (o.feeDestinationQuorumBps = b), true),
      quorumSpec("quorum.custom", (o, b) => (o.customQuorumBps = b), true),
      {
        key: "admins",
        apply(v, o, ctx) {
          if (v.toLowerCase() === "none") {
            o.admins = [];
            return undefined;
          }
          const ids: UserId[] = [];
          for (const item of v.split(",")) {
            if (item.trim() === "") return "admins must be users separated by commas, like @a:server,@b:server (or none).";
            const r = resolveUser(ctx, item);
            if ("error" in r) return `admins: ${r.error}`;
            if (!ids.includes(r.id)) ids.push(r.id);
          }
          o.admins = ids;
          return undefined;
        },
      },
      {
        key: "custom-calls",
        apply(v, o) {
          const b = SWITCH.get(v.toLowerCase());
          if (b === undefined) {
            return `custom-calls must be on or off; got ${quote(v)}.`;
          }
          o.customCallsAllowed = b;
          return undefined;
        },
      },
      {
        key: "open-proposals",
        apply(v, o) {
          const n = /^[1-9]$/.test(v) ? Number(v) : NaN;
          if (!(n <= MAX_OPEN_PROPOSALS)) return `open-proposals must be a number from 1 to ${MAX_OPEN_PROPOSALS}; got ${quote(v)}.`;
          o.maxOpenProposals = n;
          return undefined;
        },
      },
    ] satisfies OptionSpec[]
  ).map((s) => [s.key, s]),
);

export function parseOptions(ctx: ParseContext, args: Token[], usage: string): { options: GroupOptions } | Fail {
  const out: GroupOptions = {};
  const seen = new Set<string>();
  for (const t of args) {
    const eq = t.text.indexOf("=");
    if (eq <= 0) return fail(`Options are written key=value; got ${quote(t.text)}.`, usage);
    // `quorum_add`, `quorum-add` and `quorum.add` are one key.
    const key = t.text
      .slice(0, eq)
      .toLowerCase()
      .replace(/_/g, "-")
      .replace(/^quorum-/, "quorum.");
    const value = t.text.slice(eq + 1).trim();
    const spec = OPTION_SPECS.get(key);
    if (spec === undefined) {
      const near = closest(key, OPTION_KEYS);
      return fail(`Unknown option ${quote(key)}.${near !== undefined ? ` Did you mean ${near}?` : ""} Known: ${OPTION_KEYS.join(", ")}.`, usage);
    }
    if (seen.has(spec.key)) return fail(`Option ${spec.key} is given twice.`, usage);
    seen.add(spec.key);
    if (value === "") return fail(`Option ${spec.key} needs a value: ${spec.key}=….`, usage);
    const e = spec.apply(value, out, ctx);
    if (e !== undefined) return fail(e, usage);
  }
  return { options: out };
}

/** Each option with what it means, for `!help options`. */
export const OPTION_HELP: readonly (readonly [string, string])[] = [
  ["fee=0.5", "membership fee, a decimal in the fee token"],
  ["token=native|0x…", "fee token: the native coin or an ERC-20 address"],
  ["period=30d|once", "membership period (s, m, h, d, w), or once: pay once, member for life"],
  ["grace=7d", "time after a membership ends before the member is removed"],
  ["voting=3d", "how long proposals are open"],
  ["mode=vote|admin|external", "who admits and removes members"],
  ["quorum=20%", "default quorum, 0-100% with up to 2 decimals"],
  ["quorum.add= quorum.remove= quorum.config= quorum.fee-destination= quorum.custom=", "quorum of one kind of proposal, or default"],
  ["admins=@a:server,@b:server", "admins for admin mode (or none)"],
  ["custom-calls=on|off", "whether custom-call proposals are allowed"],
  ["open-proposals=3", "how many proposals one member may have open at a time (1 to 3)"],
  ["controller=0x…", "the governing contract (a Governor's timelock, a Safe…) for external mode"],
];
