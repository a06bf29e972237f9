/**
 * The bot's configuration: one zod schema, the single source of truth for
 * the YAML file (`config/example.yaml` documents every key).
 *
 * The schema validates and converts: durations become seconds, percentages
 * basis points, amounts bigints of the token's smallest unit, addresses are
 * checksummed. Secrets are never values in the file: the schema turns
 * `{ env: NAME }` / `{ file: PATH }` into a {@link SecretRef}, and
 * `loadConfig` (load.ts) reads them. Unknown keys are `unrecognized_keys`
 * issues here; `loadConfig` reports them as warnings and ignores them.
 *
 * The parsers (`parseDuration`, `parsePercent`, `parseAmount`,
 * `parseAddress`) are pure and also parse chat options such as
 * `period=30d quorum.add=20%`. They throw an `Error` whose message says what
 * was expected and what was given.
 */
import { z } from "zod";
import { isIP } from "node:net";
import { formatUnits, getAddress, parseUnits, ZeroAddress } from "ethers";
import { formatDuration } from "../text/format.ts";
import { MAX_DURATION as MAX_GROUP_DURATION, QUORUM_DEFAULT } from "../governance/types.ts";

/** A checksummed EVM address. */
export type Address = `0x${string}`;

/** Largest fee the contracts store (`uint96`). */
export const MAX_FEE = 2n ** 96n - 1n;
/** Durations are `uint32` seconds on chain. */
export const MAX_DURATION = 0xffffffff;
/** Recipients of a `release` fee destination, at most (`MAX_RECIPIENTS`). */
export const MAX_RECIPIENTS = 32;

// ---------------------------------------------------------------------------
// Pure parsers
// ---------------------------------------------------------------------------

/** How a value given in the wrong form is shown in an error message. */
function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "an empty value";
  if (typeof value === "string") {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return typeof value;
}

function fail(expected: string, got: unknown): never {
  throw new Error(`expected ${expected}, got ${describe(got)}`);
}

const DURATION_UNITS: Record<string, number> = { d: 86_400, h: 3_600, m: 60, s: 1 };
const DURATION = 'a duration like "30d", "12h", "90m" or "45s"';
const DURATION_OR_ONCE = 'a duration like "30d", "12h", "90m", "45s" or "once"';

export interface DurationOptions {
  /** accept "once" (= 0, pay once: lifetime membership); default true */
  allowOnce?: boolean;
}

/**
 * A duration in seconds: a whole number followed by one unit, `d` (days),
 * `h`, `m` or `s` — "30d", "12h", "90m", "45s" — or "once" (= 0, the
 * membership period of a pay-once group) unless `allowOnce` is false. At
 * most 2^32 - 1 seconds (a `uint32` on chain).
 */
export function parseDuration(text: string, options: DurationOptions = {}): number {
  const allowOnce = options.allowOnce ?? true;
  const expected = allowOnce ? DURATION_OR_ONCE : DURATION;
  if (typeof text !== "string") fail(expected, text);
  if (text === "once") {
    if (allowOnce) return 0;
    fail(`${DURATION} ("once" is only for the membership period)`, text);
  }
  const m = /^(\d{1,12})([dhms])$/.exec(text);
  if (m === null) fail(expected, text);
  const seconds = Number(m[1]) * (DURATION_UNITS[m[2] ?? "s"] ?? 1);
  if (seconds > MAX_DURATION) fail(`a duration of at most ${MAX_DURATION} seconds (about 136 years)`, text);
  return seconds;
}

const PERCENT = 'a percentage like "20%" or "12.5%"';

/**
 * A percentage between 0% and 100% in basis points: "20%" → 2000,
 * "12.5%" → 1250, "0.01%" → 1. At most two decimals (one basis point).
 */
export function parsePercent(text: string): number {
  if (typeof text !== "string") fail(PERCENT, text);
  const m = /^(\d{1,6})(?:\.(\d+))?%$/.exec(text);
  if (m === null) fail(PERCENT, text);
  const whole = m[1] ?? "0";
  const frac = m[2] ?? "";
  if (frac.length > 2) fail("a percentage with at most 2 decimals (1 basis point = 0.01%)", text);
  const bps = Number(whole) * 100 + Number(frac.padEnd(2, "0"));
  if (bps > 10_000) fail("a percentage between 0% and 100%", text);
  return bps;
}

const AMOUNT = 'an amount as a decimal string like "0.01" or "0"';
const QUOTE_AMOUNTS = "quote amounts: YAML numbers lose precision";

/**
 * A non-negative decimal amount in coin units ("0.01") converted to the
 * smallest unit of a token with `decimals` decimals (ethers' `parseUnits`).
 */
export function parseAmount(text: string, decimals: number = 18): bigint {
  if (typeof text !== "string" || !/^\d+(?:\.\d+)?$/.test(text)) fail(AMOUNT, text);
  const frac = text.split(".")[1] ?? "";
  if (frac.length > decimals) fail(`an amount with at most ${decimals} decimals`, text);
  return parseUnits(text, decimals);
}

const ADDRESS = "an address (0x followed by 40 hex digits)";

/** An EVM address, checksummed. Mixed case must carry a valid checksum. */
export function parseAddress(text: string): Address {
  if (typeof text !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(text)) fail(ADDRESS, text);
  try {
    return getAddress(text) as Address;
  } catch {
    return fail("an address with a valid checksum (or all in lower case)", text);
  }
}

/** Basis points back to a percentage, for messages: 2000 → "20%". */
export function formatPercent(bps: number): string {
  return `${bps / 100}%`;
}

// ---------------------------------------------------------------------------
// Schema building blocks
// ---------------------------------------------------------------------------

interface RawIssue {
  readonly code?: string | undefined;
  readonly input?: unknown;
}

/** Error text for a value of the wrong type or range. */
function expect(what: string, numberHint?: string) {
  return (iss: RawIssue): string | undefined => {
    if (iss.code === "unrecognized_keys") return undefined;
    if (iss.input === undefined) return `missing (expected ${what})`;
    const hint = numberHint !== undefined && typeof iss.input === "number" ? ` (${numberHint})` : "";
    return `expected ${what}, got ${describe(iss.input)}${hint}`;
  };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A string field converted by `parse`, whose errors become issues. */
function text<T>(what: string, parse: (s: string) => T, numberHint?: string) {
  return z.string({ error: expect(what, numberHint) }).transform((s, ctx): T => {
    try {
      return parse(s);
    } catch (err) {
      ctx.issues.push({ code: "custom", message: messageOf(err), input: s });
      return z.NEVER;
    }
  });
}

function int(min: number, max?: number) {
  const what = max === undefined ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
  const e = expect(what);
  const n = z.number({ error: e }).int({ error: e }).min(min, { error: e });
  return max === undefined ? n : n.max(max, { error: e });
}

function bool() {
  return z.boolean({ error: expect("true or false") });
}

function section<S extends z.core.$ZodLooseShape>(what: string, shape: S) {
  return z.strictObject(shape, { error: expect(what) });
}

const SERVER_NAME = String.raw`(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?`;
const SERVER_NAME_RE = new RegExp(`^${SERVER_NAME}$`);
const USER_ID_RE = new RegExp(String.raw`^@[\x21-\x39\x3b-\x7e]+:${SERVER_NAME}$`);
const SERVER_PATTERN_RE = new RegExp(`^\\*:${SERVER_NAME}$`);
const HOST_RE = /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*$/;
const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

const USER_ID = 'a Matrix user id like "@conclave:example.org"';
const CREATOR = `${USER_ID} or a "*:example.org" pattern`;

function url(what: string, protocols: readonly string[]) {
  return text(what, (s) => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return fail(what, s);
    }
    if (!protocols.includes(u.protocol) || u.hostname === "") fail(what, s);
    return s;
  });
}

const httpUrl = url('an http(s) URL like "https://matrix.example.org"', ["http:", "https:"]);

const RPC_URL = 'an http(s) URL like "https://rpc.example.org"';
/** An RPC URL: never echoed in an error, since API keys live in them. */
/** An endpoint URL with one of `protocols`; the value is never echoed (it may hold an API key). */
function endpoint(expected: string, protocols: string[]) {
  return z
    .string({ error: (iss: RawIssue) => (iss.input === undefined ? `missing (expected ${expected})` : `expected ${expected}`) })
    .transform((s, ctx): string => {
      let u: URL | undefined;
      try {
        u = new URL(s);
      } catch {
        u = undefined;
      }
      if (u === undefined || !protocols.includes(u.protocol) || u.hostname === "") {
        ctx.issues.push({ code: "custom", message: `expected ${expected} (the value is not shown: it may hold an API key)`, input: "" });
        return z.NEVER;
      }
      return s;
    });
}

const rpcUrl = endpoint(RPC_URL, ["http:", "https:"]);
const wsUrl = endpoint("a ws:// or wss:// URL", ["ws:", "wss:"]);

const serverName = text('a server name like "example.org" or "example.org:8448"', (s) => {
  if (s.length > 255 || !SERVER_NAME_RE.test(s)) fail('a server name like "example.org" or "example.org:8448"', s);
  return s;
});

const userId = text(USER_ID, (s) => {
  if (s.length > 255 || !USER_ID_RE.test(s)) fail(USER_ID, s);
  return s;
});

const nonEmpty = (what: string) =>
  text(what, (s) => {
    if (s.trim() === "") fail(what, s);
    return s;
  });

/** An address that may receive something: not the zero address. */
const recipientAddress = text(ADDRESS, (s) => {
  const a = parseAddress(s);
  if (a === ZeroAddress) fail("a non-zero address", s);
  return a;
});

const percent = text(PERCENT, parsePercent, 'write the % sign, like "20%"');

/** A fee or minimum in coin units; converted once the decimals are known. */
const amountText = text(
  AMOUNT,
  (s) => {
    parseAmount(s, 77);
    return s;
  },
  QUOTE_AMOUNTS,
);

function duration(options: DurationOptions & { positive?: boolean } = {}) {
  const allowOnce = options.allowOnce ?? true;
  return text(allowOnce ? DURATION_OR_ONCE : DURATION, (s) => {
    const seconds = parseDuration(s, { allowOnce });
    if (options.positive === true && seconds === 0) fail(`${DURATION} longer than 0`, s);
    // The contracts refuse longer ones; a group made with this default could never be created.
    if (seconds > MAX_GROUP_DURATION) fail(`${DURATION} of at most ${MAX_GROUP_DURATION / 86_400}d (about ten years)`, s);
    return seconds;
  });
}

// ---------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------

/** How a resolved secret is checked. */
export type SecretFormat = "text" | "privateKey" | "strong";

/**
 * Where a secret is read from. `loadConfig` replaces every SecretRef of the
 * parsed configuration by the secret's value (a string).
 */
export class SecretRef {
  readonly source: "env" | "file";
  /** the environment variable, or the file's path as written */
  readonly name: string;
  readonly format: SecretFormat;

  constructor(source: "env" | "file", name: string, format: SecretFormat) {
    this.source = source;
    this.name = name;
    this.format = format;
  }

  /** "environment variable X" / "secret file Y", for messages */
  describe(): string {
    return this.source === "env" ? `environment variable ${this.name}` : `secret file ${this.name}`;
  }
}

const SECRET_FORM = "{ env: NAME } or { file: PATH }";

function secret(format: SecretFormat = "text") {
  return z
    .strictObject(
      {
        env: text("an environment variable name like CONCLAVE_BOT_PASSWORD", (s) => {
          if (!ENV_NAME_RE.test(s)) fail("an environment variable name like CONCLAVE_BOT_PASSWORD", s);
          return s;
        }).optional(),
        file: nonEmpty("a file path").optional(),
      },
      {
        // Never echo the value: it may be the secret itself.
        error: (iss: RawIssue) => {
          if (iss.code !== "invalid_type") return undefined;
          if (iss.input === undefined) return `missing (expected ${SECRET_FORM})`;
          if (typeof iss.input === "string" || typeof iss.input === "number") {
            return `secrets must not be written in the config file: use ${SECRET_FORM}`;
          }
          return `expected ${SECRET_FORM}`;
        },
      },
    )
    .transform((v, ctx): SecretRef => {
      if (v.env !== undefined && v.file === undefined) return new SecretRef("env", v.env, format);
      if (v.file !== undefined && v.env === undefined) return new SecretRef("file", v.file, format);
      ctx.issues.push({
        code: "custom",
        message: `expected exactly one of env and file (${SECRET_FORM})`,
        input: v,
      });
      return z.NEVER;
    });
}

// ---------------------------------------------------------------------------
// Sections
// ---------------------------------------------------------------------------

const homeserver = section("a mapping with the homeserver's url", {
  url: httpUrl,
  serverName: serverName.optional(),
});

const bot = section("a mapping with the bot's userId and password or accessToken", {
  userId,
  password: secret().optional(),
  accessToken: secret().optional(),
  deviceName: nonEmpty("a device name").optional(),
  authorizationDays: int(1, 365).prefault(180),
  recoveryKey: secret().optional(),
  requireCrossSignedDevices: bool().prefault(false),
}).superRefine((b, ctx) => {
  if (b.password === undefined && b.accessToken === undefined) {
    ctx.addIssue({ code: "custom", message: `missing password or accessToken (give one as ${SECRET_FORM})` });
  }
});

const FACTORY = '"deploy" or the factory\'s address';

const chain = section("a mapping with the chain's rpcUrl, factory and privateKey", {
  rpcUrl,
  wsUrl: wsUrl.optional(),
  chainId: int(1, Number.MAX_SAFE_INTEGER).optional(),
  confirmations: int(0).prefault(1),
  factory: text(FACTORY, (s): "deploy" | Address => {
    if (s === "deploy") return s;
    if (!s.startsWith("0x")) fail(FACTORY, s);
    const a = parseAddress(s);
    if (a === ZeroAddress) fail(`${FACTORY}, not the zero address`, s);
    return a;
  }),
  privateKey: secret("privateKey"),
  pollIntervalMs: int(10).prefault(1000),
  lowBalance: text(AMOUNT, (s) => parseAmount(s, 18), QUOTE_AMOUNTS).prefault("0.05"),
  maxFeePerGas: text('a fee per gas in gwei as a decimal string like "200"', (s) => parseAmount(s, 9), QUOTE_AMOUNTS).optional(),
});

const POSTGRES_URL = 'a PostgreSQL URL like "postgres://conclave@db.example.org/conclave"';

/**
 * A PostgreSQL connection URL without a password: the password is a secret
 * (`store.password`), never written in the file.
 */
const postgresUrl = text(POSTGRES_URL, (s) => {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return fail(POSTGRES_URL, s);
  }
  if (u.protocol !== "postgres:" && u.protocol !== "postgresql:") fail(POSTGRES_URL, s);
  // A unix socket is named by ?host=/run/postgresql and no host in the URL.
  if (u.hostname === "" && !(u.searchParams.get("host") ?? "").startsWith("/")) fail(`${POSTGRES_URL} (a host, or ?host=/socket/dir)`, s);
  if (u.password !== "") {
    throw new Error(`secrets must not be written in the config file: leave the password out of the URL and give store.password as ${SECRET_FORM}`);
  }
  return s;
});

const store = section("a mapping with the store's secret", {
  path: nonEmpty("a file path").prefault("./data/conclave.sqlite"),
  secret: secret("strong"),
  url: postgresUrl.optional(),
  password: secret().optional(),
}).superRefine((st, ctx) => {
  if (st.password !== undefined && st.url === undefined) {
    ctx.addIssue({ code: "custom", path: ["password"], message: "a password is only for a PostgreSQL store: give store.url too" });
  }
});

const limits = section("a mapping", {
  commandsPerMinutePerSender: int(1).prefault(10),
  commandsPerMinutePerRoom: int(1).prefault(60),
  gasPerRoomPerDay: int(0).prefault(2_000_000),
}).prefault({});

const quorum = section("a mapping of quorums", {
  default: percent.prefault("50%"),
  add: percent.optional(),
  remove: percent.optional(),
  config: percent.optional(),
  feeDestination: percent.optional(),
  custom: percent.optional(),
})
  .prefault({})
  .transform((q) => ({
    default: q.default,
    add: q.add ?? QUORUM_DEFAULT,
    remove: q.remove ?? QUORUM_DEFAULT,
    config: q.config ?? QUORUM_DEFAULT,
    feeDestination: q.feeDestination ?? QUORUM_DEFAULT,
    custom: q.custom ?? QUORUM_DEFAULT,
  }));

const recipient = section("a mapping { address, share }", {
  address: recipientAddress,
  share: text(PERCENT, (s) => {
    const bps = parsePercent(s);
    if (bps === 0) fail("a share above 0%", s);
    return bps;
  }),
});

const recipients = z
  .array(recipient, { error: expect("a list of { address, share } recipients") })
  .min(1, { error: expect(`1 to ${MAX_RECIPIENTS} recipients`) })
  .max(MAX_RECIPIENTS, { error: expect(`1 to ${MAX_RECIPIENTS} recipients`) })
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    let total = 0;
    list.forEach((r, i) => {
      if (seen.has(r.address)) {
        ctx.addIssue({ code: "custom", message: `${r.address} is listed twice`, path: [i, "address"] });
      }
      seen.add(r.address);
      total += r.share;
    });
    if (total !== 10_000) {
      ctx.addIssue({ code: "custom", message: `expected shares summing to 100%, got ${formatPercent(total)}` });
    }
  });

const DESTINATION_KINDS = 'kind "locked", "release" or "custom"';

const feeDestination = z
  .discriminatedUnion(
    "kind",
    [
      z.strictObject({ kind: z.literal("locked") }),
      z.strictObject({ kind: z.literal("release"), recipients }),
      z.strictObject({ kind: z.literal("custom"), target: recipientAddress }),
    ],
    {
      error: (iss: RawIssue) => {
        if (iss.code === "invalid_type") return expect(`a mapping like { kind: locked }`)(iss);
        if (iss.code === "invalid_union") {
          const kind = typeof iss.input === "object" && iss.input !== null ? (iss.input as { kind?: unknown }).kind : undefined;
          return kind === undefined ? `missing (expected ${DESTINATION_KINDS})` : `expected ${DESTINATION_KINDS}, got ${describe(kind)}`;
        }
        return undefined;
      },
    },
  )
  .prefault({ kind: "locked" });

const FEE_TOKEN = '"native" or an ERC-20 token address';

const groupDefaults = section("a mapping of group defaults", {
  quorum,
  fee: amountText.prefault("0"),
  feeToken: text(FEE_TOKEN, (s): Address => {
    if (s === "native") return ZeroAddress as Address;
    if (!s.startsWith("0x")) fail(FEE_TOKEN, s);
    return parseAddress(s);
  }).prefault("native"),
  feeDecimals: int(0, 36).optional(),
  period: duration({ allowOnce: true }).prefault("30d"),
  gracePeriod: duration({ allowOnce: false }).prefault("7d"),
  votingPeriod: duration({ allowOnce: false, positive: true }).prefault("3d"),
  mode: z.enum(["vote", "admin", "external"], { error: expect('"vote", "admin" or "external"') }).prefault("vote"),
  feeDestination,
  customCallsAllowed: bool().prefault(false),
  maxOpenProposals: int(1, 3).prefault(3),
})
  .transform((g, ctx) => {
    const native = g.feeToken === ZeroAddress;
    if (native && g.feeDecimals !== undefined && g.feeDecimals !== 18) {
      ctx.issues.push({
        code: "custom",
        message: `expected 18 (the native coin has 18 decimals), got ${g.feeDecimals}`,
        input: g.feeDecimals,
        path: ["feeDecimals"],
      });
      return z.NEVER;
    }
    const feeDecimals = g.feeDecimals ?? 18;
    let fee: bigint;
    try {
      fee = parseAmount(g.fee, feeDecimals);
      if (fee > MAX_FEE) fail(`an amount below 2^96 smallest units`, g.fee);
    } catch (err) {
      ctx.issues.push({ code: "custom", message: messageOf(err), input: g.fee, path: ["fee"] });
      return z.NEVER;
    }
    return { ...g, fee, feeDecimals };
  })
  .prefault({});

/** A minimum fee of a token: "5" (18 decimals) or { amount: "5", decimals: 6 }. */
const tokenMinimum = z.preprocess(
  (v) => (typeof v === "string" ? { amount: v } : v),
  z
    .strictObject(
      { amount: amountText, decimals: int(0, 36).prefault(18) },
      { error: expect('an amount like "5" or { amount: "5", decimals: 6 }', QUOTE_AMOUNTS) },
    )
    .transform((m, ctx) => {
      try {
        const amount = parseAmount(m.amount, m.decimals);
        if (amount > MAX_FEE) fail(`an amount below 2^96 smallest units`, m.amount);
        return amount;
      } catch (err) {
        ctx.issues.push({ code: "custom", message: messageOf(err), input: m.amount, path: ["amount"] });
        return z.NEVER;
      }
    }),
);

const safety = section("a mapping of safety minimums", {
  minAddQuorum: percent.prefault("20%"),
  minFee: text(
    AMOUNT,
    (s) => {
      const fee = parseAmount(s, 18);
      if (fee > MAX_FEE) fail("an amount below 2^96 wei", s);
      return fee;
    },
    QUOTE_AMOUNTS,
  ).prefault("0.001"),
  minTokenFees: z
    .record(z.string(), tokenMinimum, { error: expect("a mapping of token address to amount") })
    .transform((rec, ctx) => {
      const out: Record<Address, bigint> = {};
      for (const [key, amount] of Object.entries(rec)) {
        try {
          const token = parseAddress(key);
          if (token === ZeroAddress) fail("an ERC-20 token address (the native coin's minimum is safety.minFee)", key);
          if (token in out) fail("each token once", key);
          out[token] = amount;
        } catch (err) {
          ctx.issues.push({ code: "custom", message: messageOf(err), input: key, path: [key] });
        }
      }
      return out;
    })
    .prefault({}),
}).prefault({});

const creators = z
  .unknown()
  .transform((v, ctx): "anyone" | string[] => {
    if (v === "anyone") return v;
    if (!Array.isArray(v)) {
      ctx.issues.push({ code: "custom", message: `expected "anyone" or a list of ${CREATOR}s, got ${describe(v)}`, input: v });
      return z.NEVER;
    }
    v.forEach((entry: unknown, i) => {
      if (typeof entry !== "string" || entry.length > 255 || !(USER_ID_RE.test(entry) || SERVER_PATTERN_RE.test(entry))) {
        ctx.issues.push({ code: "custom", message: `expected ${CREATOR}, got ${describe(entry)}`, input: entry, path: [i] });
      }
    });
    return v as string[];
  })
  .optional();

const acceptInvitesFrom = z.enum(["creators", "anyone"], { error: expect('"creators" or "anyone"') }).prefault("creators");

const PREFIX = 'a command prefix of 1 to 3 characters without spaces, like "!"';
const commandPrefix = text(PREFIX, (s) => {
  const n = Array.from(s).length;
  if (n < 1 || n > 3 || /\s/u.test(s)) fail(PREFIX, s);
  return s;
}).prefault("!");

const BIND = 'an IP address or host name like "127.0.0.1"';
const web = section("a mapping", {
  port: int(1, 65_535).prefault(8080),
  bind: text(BIND, (s) => {
    if (isIP(s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s) === 0 && !HOST_RE.test(s)) fail(BIND, s);
    return s;
  }).prefault("127.0.0.1"),
  publicUrl: httpUrl.optional(),
  linkMinutes: int(1, 60).prefault(15),
  requestsPerMinute: int(1).prefault(300),
  actionsPerMinute: int(1).prefault(30),
  /** Prometheus metrics at /metrics on this listener */
  metrics: bool().prefault(true),
  /** a bearer token /metrics then requires (room ids are labels there) */
  metricsToken: secret().optional(),
  openidHomeservers: z
    .record(z.string(), httpUrl, { error: expect("a mapping of homeserver name to URL") })
    .superRefine((rec, ctx) => {
      for (const key of Object.keys(rec)) {
        if (!SERVER_NAME_RE.test(key))
          ctx.issues.push({ code: "custom", message: `expected a homeserver name like "example.org", got ${describe(key)}`, input: key, path: [key] });
      }
    })
    .prefault({}),
}).prefault({});

const bridge = section("a mapping", {
  fullPassSeconds: int(1, 86_400).prefault(30),
}).prefault({});

const ROOM_MODE = '"enforce" or "watch"';

/** How rooms become groups, and how a room with people in it is adopted. */
const rooms = section("a mapping", {
  consentWindow: duration({ allowOnce: false, positive: true }).prefault("24h"),
  adoptionGrace: duration({ allowOnce: false }).prefault("7d"),
  adoptionReminder: duration({ allowOnce: false }).prefault("1d"),
  startIn: z.enum(["enforce", "watch"], { error: expect(ROOM_MODE) }).prefault("enforce"),
})
  .superRefine((r, ctx) => {
    if (r.adoptionGrace > 0 && r.adoptionReminder >= r.adoptionGrace) {
      ctx.addIssue({
        code: "custom",
        path: ["adoptionReminder"],
        message: `expected less than rooms.adoptionGrace (${formatDuration(r.adoptionGrace)}), got ${formatDuration(r.adoptionReminder)}: the reminder comes that long before the grace period ends`,
      });
    }
  })
  .prefault({});

const WORKER_ID = 'a worker name of 1 to 64 letters, digits, ".", "_" or "-", like "worker-1"';
const worker = section("a mapping", {
  id: text(WORKER_ID, (s) => {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(s)) fail(WORKER_ID, s);
    return s;
  }).optional(),
}).prefault({});

const audit = section("a mapping", {
  redact: bool().prefault(false),
  graceSeconds: int(0, 3600).prefault(5),
}).prefault({});

const log = section("a mapping", {
  level: z.enum(["debug", "info", "warn", "error"], { error: expect('"debug", "info", "warn" or "error"') }).prefault("info"),
  format: z.enum(["auto", "json", "pretty"], { error: expect('"auto", "json" or "pretty"') }).prefault("auto"),
}).prefault({});

// ---------------------------------------------------------------------------
// The configuration
// ---------------------------------------------------------------------------

/**
 * The whole configuration file. Unknown keys are `unrecognized_keys`
 * issues (loadConfig turns them into warnings). Secrets come out as
 * {@link SecretRef}s; {@link Config} is the type with them resolved.
 */
export const configSchema = section("a mapping at the top level", {
  homeserver,
  bot,
  chain,
  store,
  groupDefaults,
  safety,
  creators,
  acceptInvitesFrom,
  limits,
  commandPrefix,
  web,
  bridge,
  rooms,
  worker,
  audit,
  log,
}).superRefine((c, ctx) => {
  // GroupFactory.checkSafety: groups created with the defaults must pass.
  const g = c.groupDefaults;
  const s = c.safety;
  const addQuorum = g.quorum.add === QUORUM_DEFAULT ? g.quorum.default : g.quorum.add;
  if (addQuorum >= s.minAddQuorum) return;
  const native = g.feeToken === ZeroAddress;
  const min = native ? s.minFee : s.minTokenFees[g.feeToken];
  const quorumText = `the add quorum ${formatPercent(addQuorum)} is below safety.minAddQuorum ${formatPercent(s.minAddQuorum)}`;
  if (min === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["groupDefaults"],
      message: `${quorumText} and the fee token has no safe minimum in safety.minTokenFees; the factory would refuse groups created with these defaults`,
    });
  } else if (g.fee < min) {
    const unit = native ? "" : " (smallest units)";
    const feeText = native ? formatUnits(g.fee, 18) : String(g.fee);
    const minText = native ? formatUnits(min, 18) : String(min);
    ctx.addIssue({
      code: "custom",
      path: ["groupDefaults"],
      message: `${quorumText} and the fee ${feeText} is below the safe minimum ${minText}${unit}; the factory would refuse groups created with these defaults (raise quorum.add or fee)`,
    });
  }
});

/** The input the schema accepts (the YAML's shape). */
export type ConfigInput = z.input<typeof configSchema>;
/** The schema's output: secrets still as references. */
export type ParsedConfig = z.output<typeof configSchema>;

/** `T` with every {@link SecretRef} replaced by the secret's value. */
export type ResolveSecrets<T> = T extends SecretRef
  ? string
  : T extends string | number | bigint | boolean | null | undefined
    ? T
    : T extends readonly (infer U)[]
      ? ResolveSecrets<U>[]
      : { [K in keyof T]: ResolveSecrets<T[K]> };

/**
 * The loaded configuration: durations in seconds, quorums and shares in
 * basis points (an unset per-action quorum is `QUORUM_DEFAULT`), fees as
 * bigints of the token's smallest unit, addresses checksummed, the native
 * fee token as the zero address, secrets as strings.
 */
export type Config = ResolveSecrets<ParsedConfig>;
