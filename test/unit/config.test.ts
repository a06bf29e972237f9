import { describe, expect, expectTypeOf, it } from "vitest";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { z } from "zod";
import { ConfigError, loadConfig, parseAddress, parseAmount, parseConfig, parseDuration, parsePercent, type Config } from "../../src/config/load.ts";
import { configSchema } from "../../src/config/schema.ts";
import { QUORUM_DEFAULT } from "../../src/governance/types.ts";

const EXAMPLE = fileURLToPath(new URL("../../config/example.yaml", import.meta.url));
const KEY = "0x" + "ab".repeat(32);
const STORE_SECRET = "s".repeat(64);
const ENV = { CONCLAVE_BOT_PASSWORD: "pw", CONCLAVE_CHAIN_KEY: KEY, CONCLAVE_STORE_SECRET: STORE_SECRET, CONCLAVE_RECOVERY_KEY: "EsTc 1234" };
const A1 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const A2 = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";

type Raw = Record<string, unknown>;

/** The smallest valid configuration, as plain data. */
function minimal(): Raw {
  return {
    homeserver: { url: "https://matrix.example.org" },
    bot: { userId: "@conclave:example.org", password: { env: "CONCLAVE_BOT_PASSWORD" } },
    chain: { rpcUrl: "http://127.0.0.1:8545", factory: "deploy", privateKey: { env: "CONCLAVE_CHAIN_KEY" } },
    store: { secret: { env: "CONCLAVE_STORE_SECRET" } },
  };
}

/** `minimal()` with `value` at the dotted `path` (undefined deletes). */
function withValue(path: string, value: unknown, base: Raw = minimal()): Raw {
  const keys = path.split(".");
  let node = base;
  for (const k of keys.slice(0, -1)) {
    if (typeof node[k] !== "object" || node[k] === null) node[k] = {};
    node = node[k] as Raw;
  }
  const last = keys[keys.length - 1] ?? "";
  // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- a raw YAML mapping, edited as the file would be
  if (value === undefined) delete node[last];
  else node[last] = value;
  return base;
}

function parse(data: Raw | string, env: NodeJS.ProcessEnv = ENV, baseDir = "/tmp") {
  return parseConfig(typeof data === "string" ? data : stringify(data), { env, baseDir, source: "test.yaml" });
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError");
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "conclave-config-"));
}

/** Every key path the schema knows, walking objects, pipes, wrappers and unions. */
function schemaKeys(schema: z.ZodType, prefix = ""): string[] {
  if (schema instanceof z.ZodObject) {
    return Object.entries(schema.shape as Record<string, z.ZodType>).flatMap(([k, v]) => {
      const path = prefix === "" ? k : `${prefix}.${k}`;
      return [path, ...schemaKeys(v, path)];
    });
  }
  if (schema instanceof z.ZodPipe) return [...schemaKeys(schema.in as z.ZodType, prefix), ...schemaKeys(schema.out as z.ZodType, prefix)];
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault) {
    return schemaKeys(schema.unwrap() as z.ZodType, prefix);
  }
  if (schema instanceof z.ZodUnion) return (schema.options as z.ZodType[]).flatMap((o) => schemaKeys(o, prefix));
  if (schema instanceof z.ZodArray) return schemaKeys(schema.element as z.ZodType, prefix);
  if (schema instanceof z.ZodRecord) return schemaKeys(schema.valueType as z.ZodType, prefix);
  return [];
}

describe("config/example.yaml", () => {
  const text = readFileSync(EXAMPLE, "utf8");

  it("validates, with no warnings, given the env vars it names", () => {
    const { config, warnings } = loadConfig(EXAMPLE, ENV);
    expect(warnings).toEqual([]);
    expect(config.bot.password).toBe("pw");
    expect(config.chain.privateKey).toBe(KEY);
    expect(config.chain.factory).toBe("deploy");
    expect(config.groupDefaults.quorum.default).toBe(5000);
    expect(config.groupDefaults.quorum.add).toBe(QUORUM_DEFAULT);
    expect(config.groupDefaults.period).toBe(30 * 86_400);
    expect(config.safety.minTokenFees).toEqual({ "0x6B175474E89094C44Da98b954EedeAC495271d0F": 10n ** 18n, [USDC]: 1_000_000n });
    expect(config.store.path).toBe(resolve(EXAMPLE, "..", "data", "conclave.sqlite"));
    expect(config.store.secret).toBe(STORE_SECRET);
  });

  it("names the env vars it needs", () => {
    const err = configError(() => loadConfig(EXAMPLE, {}));
    expect(err.message).toContain("config: bot.password: environment variable CONCLAVE_BOT_PASSWORD is not set");
    expect(err.message).toContain("config: chain.privateKey: environment variable CONCLAVE_CHAIN_KEY is not set");
  });

  it("keeps the defaults it documents", () => {
    // The example sets most keys to their defaults: dropping them changes nothing.
    const full = loadConfig(EXAMPLE, ENV).config;
    const bare = parse(minimal(), ENV, resolve(EXAMPLE, "..")).config;
    expect(bare.groupDefaults).toEqual(full.groupDefaults);
    expect(bare.safety.minAddQuorum).toBe(full.safety.minAddQuorum);
    expect(bare.safety.minFee).toBe(full.safety.minFee);
    expect([bare.store, bare.creators, bare.commandPrefix, bare.log, bare.rooms]).toEqual([
      full.store,
      full.creators,
      full.commandPrefix,
      full.log,
      full.rooms,
    ]);
    expect(full.rooms).toEqual({ consentWindow: 86_400, adoptionGrace: 7 * 86_400, adoptionReminder: 86_400, startIn: "enforce" });
    expect([bare.web.port, bare.web.bind, bare.chain.confirmations, bare.chain.pollIntervalMs]).toEqual([
      full.web.port,
      full.web.bind,
      full.chain.confirmations,
      full.chain.pollIntervalMs,
    ]);
  });

  it("validates its commented-out alternatives", () => {
    /** `t` with `count` commented-out lines uncommented, from the line `from`. */
    const uncomment = (t: string, from: string, count = 1) => {
      const lines = t.split("\n");
      const i = lines.indexOf(from);
      expect(i, from).toBeGreaterThanOrEqual(0);
      for (let j = i; j < i + count; j++) lines[j] = (lines[j] ?? "").replace("# ", "");
      return lines.join("\n");
    };
    const token = parse(uncomment(text, "  # accessToken: { env: CONCLAVE_BOT_TOKEN }"), { ...ENV, CONCLAVE_BOT_TOKEN: "tok" }).config;
    expect(token.bot.accessToken).toBe("tok");

    const postgres = uncomment(uncomment(text, "  # url: postgres://conclave@127.0.0.1:5432/conclave"), "  # password: { env: CONCLAVE_STORE_PASSWORD }");
    const pg = parse(postgres, { ...ENV, CONCLAVE_STORE_PASSWORD: "pgpw" }).config;
    expect([pg.store.url, pg.store.password]).toEqual(["postgres://conclave@127.0.0.1:5432/conclave", "pgpw"]);

    const worker = parse(uncomment(uncomment(text, "# worker:"), "  # id: worker-1")).config;
    expect(worker.worker.id).toBe("worker-1");
    expect(parse(text).config.worker.id).toBeUndefined();

    let quorums = text;
    for (const k of ["add: 20%", "remove: 66.67%", "config: 66.67%", "feeDestination: 75%", "custom: 75%"]) quorums = uncomment(quorums, `    # ${k}`);
    expect(parse(quorums).config.groupDefaults.quorum).toEqual({
      default: 5000,
      add: 2000,
      remove: 6667,
      config: 6667,
      feeDestination: 7500,
      custom: 7500,
    });

    const noLocked = text.replace("  feeDestination:\n    kind: locked\n", "");
    const release = parse(uncomment(noLocked, "  # feeDestination:", 7)).config;
    expect(release.groupDefaults.feeDestination).toEqual({
      kind: "release",
      recipients: [
        { address: A1, share: 6000 },
        { address: A2, share: 4000 },
      ],
    });
    const customAt = noLocked.split("\n").lastIndexOf("  # feeDestination:");
    const withCustom = noLocked
      .split("\n")
      .map((line, i) => (i >= customAt && i < customAt + 3 ? line.replace("# ", "") : line))
      .join("\n");
    expect(parse(withCustom).config.groupDefaults.feeDestination).toEqual({
      kind: "custom",
      target: "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    });
  });

  it("documents every key of the schema", () => {
    const keys = [...new Set(schemaKeys(configSchema))];
    expect(keys.length).toBeGreaterThan(50);
    const missing = keys.filter((path) => {
      const leaf = path.split(".").pop() ?? "";
      return !new RegExp(`(^\\s*(#\\s*)?(- )?|[{,]\\s*)${leaf}:`, "m").test(text);
    });
    expect(missing).toEqual([]);
  });
});

describe("errors name the key path", () => {
  const cases: [string, Raw | string, string | RegExp][] = [
    ["wrong type", withValue("chain.confirmations", "two"), 'config: chain.confirmations: expected an integer >= 0, got "two"'],
    ["negative integer", withValue("chain.confirmations", -1), "config: chain.confirmations: expected an integer >= 0, got -1"],
    ["wrong type of a section", withValue("web", "8080"), 'config: web: expected a mapping, got "8080"'],
    [
      "bad worker name",
      withValue("worker.id", "w 1"),
      'config: worker.id: expected a worker name of 1 to 64 letters, digits, ".", "_" or "-", like "worker-1", got "w 1"',
    ],
    ["boolean", withValue("groupDefaults.customCallsAllowed", "yes"), 'config: groupDefaults.customCallsAllowed: expected true or false, got "yes"'],
    ["enum", withValue("groupDefaults.mode", "anarchy"), 'config: groupDefaults.mode: expected "vote", "admin" or "external", got "anarchy"'],
    ["bad url", withValue("homeserver.url", "matrix.example.org"), /^config: homeserver\.url: expected an http\(s\) URL.*, got "matrix\.example\.org"$/],
    ["url with another scheme", withValue("web.publicUrl", "ftp://x.org"), /^config: web\.publicUrl: expected an http\(s\) URL/],
    ["bad rpc url", withValue("chain.rpcUrl", "localhost:8545"), /^config: chain\.rpcUrl: expected an http\(s\) URL/],
    // API keys live in RPC URLs: a wrong one is never quoted.
    [
      "rpc url not quoted",
      withValue("chain.rpcUrl", "ftp://rpc.example.org/v3/KEY123SECRET"),
      /^config: chain\.rpcUrl: expected an http\(s\) URL like "https:\/\/rpc\.example\.org" \(the value is not shown: it may hold an API key\)$/,
    ],
    ["missing store secret", withValue("store", undefined), /^config: store: missing \(expected a mapping with the store's secret/],
    [
      "store secret in the file",
      withValue("store.secret", "hunter2hunter2hunter2hunter2hunter2"),
      "config: store.secret: secrets must not be written in the config file: use { env: NAME } or { file: PATH }",
    ],
    ["bad invite policy", withValue("acceptInvitesFrom", "friends"), 'config: acceptInvitesFrom: expected "creators" or "anyone", got "friends"'],
    ["bad room mode", withValue("rooms.startIn", "spy"), 'config: rooms.startIn: expected "enforce" or "watch", got "spy"'],
    ["no consent window", withValue("rooms.consentWindow", "0s"), /^config: rooms\.consentWindow: expected a duration .* longer than 0, got "0s"$/],
    [
      "a reminder after the grace ends",
      withValue("rooms", { adoptionGrace: "2d", adoptionReminder: "3d" }),
      "config: rooms.adoptionReminder: expected less than rooms.adoptionGrace (2d), got 3d: the reminder comes that long before the grace period ends",
    ],
    ["bad rate limit", withValue("limits.commandsPerMinutePerSender", 0), "config: limits.commandsPerMinutePerSender: expected an integer >= 1, got 0"],
    ["bad gas budget", withValue("limits.gasPerRoomPerDay", "lots"), 'config: limits.gasPerRoomPerDay: expected an integer >= 0, got "lots"'],
    ["bad low balance", withValue("chain.lowBalance", 0.05), /^config: chain\.lowBalance: expected an amount .*, got 0\.05 \(quote amounts/],
    ["bad address", withValue("chain.factory", "0x1234"), /^config: chain\.factory: expected an address \(0x followed by 40 hex digits\), got "0x1234"$/],
    [
      "bad checksum",
      withValue("groupDefaults.feeToken", USDC.replace("A0b8", "a0B8")),
      /^config: groupDefaults\.feeToken: expected an address with a valid checksum/,
    ],
    ["bad factory", withValue("chain.factory", "deploy-it"), `config: chain.factory: expected "deploy" or the factory's address, got "deploy-it"`],
    ["bad matrix id", withValue("bot.userId", "conclave"), /^config: bot\.userId: expected a Matrix user id like "@conclave:example\.org", got "conclave"$/],
    [
      "bad duration",
      withValue("groupDefaults.period", "30x"),
      /^config: groupDefaults\.period: expected a duration like "30d", "12h", "90m", "45s" or "once", got "30x"$/,
    ],
    ["duration as a number", withValue("groupDefaults.gracePeriod", 3600), /^config: groupDefaults\.gracePeriod: expected a duration .*, got 3600$/],
    [
      "zero voting period",
      withValue("groupDefaults.votingPeriod", "0s"),
      /^config: groupDefaults\.votingPeriod: expected a duration .* longer than 0, got "0s"$/,
    ],
    [
      "once as voting period",
      withValue("groupDefaults.votingPeriod", "once"),
      /^config: groupDefaults\.votingPeriod: .*"once" is only for the membership period.*, got "once"$/,
    ],
    [
      "quorum over 100%",
      withValue("groupDefaults.quorum.add", "120%"),
      'config: groupDefaults.quorum.add: expected a percentage between 0% and 100%, got "120%"',
    ],
    ["percent without %", withValue("safety.minAddQuorum", 20), /^config: safety\.minAddQuorum: expected a percentage like "20%".*, got 20 \(write the % sign/],
    [
      "too many decimals",
      withValue("groupDefaults.quorum.default", "12.345%"),
      /^config: groupDefaults\.quorum\.default: expected a percentage with at most 2 decimals/,
    ],
    ["fee as a YAML number", withValue("groupDefaults.fee", 0.01), /^config: groupDefaults\.fee: expected an amount .*, got 0\.01 \(quote amounts/],
    ["negative fee", withValue("groupDefaults.fee", "-1"), /^config: groupDefaults\.fee: expected an amount as a decimal string/],
    [
      "fee finer than the token",
      withValue("groupDefaults", { feeToken: USDC, feeDecimals: 6, fee: "0.0000001", quorum: { add: "25%" } }),
      'config: groupDefaults.fee: expected an amount with at most 6 decimals, got "0.0000001"',
    ],
    ["native decimals", withValue("groupDefaults.feeDecimals", 6), "config: groupDefaults.feeDecimals: expected 18 (the native coin has 18 decimals), got 6"],
    ["missing key", withValue("chain.rpcUrl", undefined), /^config: chain\.rpcUrl: missing \(expected an http\(s\) URL/],
    ["missing section", withValue("homeserver", undefined), /^config: homeserver: missing \(expected a mapping/],
    ["missing login", withValue("bot.password", undefined), /^config: bot: missing password or accessToken/],
    ["empty value", withValue("web.port", null), "config: web.port: expected an integer from 1 to 65535, got an empty value"],
    ["port out of range", withValue("web.port", 70000), "config: web.port: expected an integer from 1 to 65535, got 70000"],
    ["bad bind", withValue("web.bind", "local host"), /^config: web\.bind: expected an IP address or host name/],
    ["bad prefix", withValue("commandPrefix", "! "), /^config: commandPrefix: expected a command prefix of 1 to 3 characters without spaces/],
    ["long prefix", withValue("commandPrefix", "!!!!"), /^config: commandPrefix: expected a command prefix/],
    ["bad creators", withValue("creators", "everyone"), /^config: creators: expected "anyone" or a list of .*, got "everyone"$/],
    [
      "bad creator",
      withValue("creators", ["@alice:example.org", "bob"]),
      /^config: creators\[1\]: expected a Matrix user id .* or a "\*:example\.org" pattern, got "bob"$/,
    ],
    ["bad log level", withValue("log.level", "loud"), 'config: log.level: expected "debug", "info", "warn" or "error", got "loud"'],
    [
      "bad destination kind",
      withValue("groupDefaults.feeDestination", { kind: "burn" }),
      'config: groupDefaults.feeDestination.kind: expected kind "locked", "release" or "custom", got "burn"',
    ],
    [
      "shares not summing to 100%",
      withValue("groupDefaults.feeDestination", {
        kind: "release",
        recipients: [
          { address: A1, share: "60%" },
          { address: A2, share: "30%" },
        ],
      }),
      "config: groupDefaults.feeDestination.recipients: expected shares summing to 100%, got 90%",
    ],
    [
      "bad recipient",
      withValue("groupDefaults.feeDestination", { kind: "release", recipients: [{ address: "0x0000000000000000000000000000000000000000", share: "100%" }] }),
      /^config: groupDefaults\.feeDestination\.recipients\[0\]\.address: expected a non-zero address/,
    ],
    [
      "bad custom target",
      withValue("groupDefaults.feeDestination", { kind: "custom", target: "me" }),
      /^config: groupDefaults\.feeDestination\.target: expected an address/,
    ],
    ["bad token minimum key", withValue("safety.minTokenFees", { USDC: "1" }), /^config: safety\.minTokenFees\.USDC: expected an address/],
    [
      "bad token minimum",
      withValue("safety.minTokenFees", { [USDC]: { amount: "1.5", decimals: 0 } }),
      `config: safety.minTokenFees.${USDC}.amount: expected an amount with at most 0 decimals, got "1.5"`,
    ],
    ["not a mapping", "just a string\n", 'config: expected a mapping at the top level, got "just a string"'],
    ["empty file", "# nothing\n", /^config: test\.yaml is empty/],
    [
      "unsafe defaults",
      withValue("groupDefaults.quorum", { add: "10%" }),
      "config: groupDefaults: the add quorum 10% is below safety.minAddQuorum 20% and the fee 0.0 is below the safe minimum 0.001; the factory would refuse groups created with these defaults (raise quorum.add or fee)",
    ],
    [
      "unknown fee token with a low quorum",
      withValue("groupDefaults", { quorum: { default: "10%" }, feeToken: USDC, fee: "100", feeDecimals: 6 }),
      /^config: groupDefaults: the add quorum 10% is below safety\.minAddQuorum 20% and the fee token has no safe minimum/,
    ],
  ];

  it.each(cases)("%s", (_name, data, expected) => {
    const err = configError(() => parse(data));
    if (typeof expected === "string") expect(err.message).toBe(expected);
    else expect(err.message).toMatch(expected);
    expect(err.message.split("\n")).toHaveLength(1);
    const m = /^config: (?:([^ :]+): )?/.exec(err.message);
    expect(err.path).toBe(m?.[1] ?? "");
  });

  it("reports several problems, one line each", () => {
    const data = withValue("chain.confirmations", "two", withValue("homeserver.url", "nope", withValue("groupDefaults.period", "1 month")));
    const err = configError(() => parse(data));
    expect(err.message.split("\n")).toEqual([
      'config: homeserver.url: expected an http(s) URL like "https://matrix.example.org", got "nope"',
      'config: chain.confirmations: expected an integer >= 0, got "two"',
      'config: groupDefaults.period: expected a duration like "30d", "12h", "90m", "45s" or "once", got "1 month"',
    ]);
    expect(err.path).toBe("homeserver.url");
    expect(err.problems.map((p) => p.path)).toEqual(["homeserver.url", "chain.confirmations", "groupDefaults.period"]);
  });
});

describe("secrets", () => {
  it("refuses a literal secret, without echoing it", () => {
    for (const [path, value] of [
      ["bot.password", "hunter2"],
      ["bot.accessToken", "syt_secret"],
      ["chain.privateKey", KEY],
    ] as const) {
      const err = configError(() => parse(withValue(path, value)));
      expect(err.message).toBe(`config: ${path}: secrets must not be written in the config file: use { env: NAME } or { file: PATH }`);
      expect(err.message).not.toContain(value);
    }
  });

  it("wants exactly one of env and file", () => {
    const err = configError(() => parse(withValue("bot.password", { env: "A", file: "b" })));
    expect(err.message).toBe("config: bot.password: expected exactly one of env and file ({ env: NAME } or { file: PATH })");
    expect(configError(() => parse(withValue("bot.password", { env: "NOT-A-NAME" }))).message).toMatch(
      /^config: bot\.password\.env: expected an environment variable name/,
    );
  });

  it("refuses a store secret shorter than 32 characters, without quoting it", () => {
    const err = configError(() => parse(minimal(), { ...ENV, CONCLAVE_STORE_SECRET: "short-secret" }));
    expect(err.message).toBe(
      "config: store.secret: environment variable CONCLAVE_STORE_SECRET is too short: expected at least 32 characters (e.g. openssl rand -hex 32)",
    );
    expect(err.message).not.toContain("short-secret");
  });

  it("names a missing env var", () => {
    const err = configError(() => parse(minimal(), { CONCLAVE_BOT_PASSWORD: "pw", CONCLAVE_STORE_SECRET: STORE_SECRET }));
    expect(err.message).toBe("config: chain.privateKey: environment variable CONCLAVE_CHAIN_KEY is not set");
    expect(err.path).toBe("chain.privateKey");
    expect(configError(() => parse(minimal(), { ...ENV, CONCLAVE_BOT_PASSWORD: "" })).message).toBe(
      "config: bot.password: environment variable CONCLAVE_BOT_PASSWORD is empty",
    );
  });

  it("reads files relative to the config file, without the trailing newline", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "password"), "s3cret\n");
    writeFileSync(join(dir, "key"), "ab".repeat(32) + "\r\n");
    writeFileSync(join(dir, "store-secret"), STORE_SECRET + "\n");
    const data = withValue(
      "store.secret",
      { file: "store-secret" },
      withValue("chain.privateKey", { file: "key" }, withValue("bot.password", { file: "./password" })),
    );
    writeFileSync(join(dir, "conclave.yaml"), stringify(data));
    const { config } = loadConfig(join(dir, "conclave.yaml"), {});
    expect(config.bot.password).toBe("s3cret");
    expect(config.chain.privateKey).toBe(KEY);
    expect(config.store.secret).toBe(STORE_SECRET);
    expect(config.store.path).toBe(join(dir, "data", "conclave.sqlite"));
  });

  it("names an unreadable secret file", () => {
    const dir = tempDir();
    const err = configError(() => parse(withValue("bot.password", { file: "missing.txt" }), ENV, dir));
    expect(err.message).toBe(`config: bot.password: cannot read secret file ${join(dir, "missing.txt")}: no such file`);
    expect(err.path).toBe("bot.password");
    const locked = join(dir, "locked");
    writeFileSync(locked, "x");
    chmodSync(locked, 0o000);
    let readable = true;
    try {
      readFileSync(locked);
    } catch {
      readable = false;
    }
    if (!readable) {
      expect(configError(() => parse(withValue("bot.password", { file: locked }))).message).toBe(
        `config: bot.password: cannot read secret file ${locked}: permission denied`,
      );
    }
    expect(configError(() => parse(withValue("bot.password", { file: dir }))).message).toBe(
      `config: bot.password: cannot read secret file ${dir}: it is a directory`,
    );
  });

  it("checks the private key's form without showing it", () => {
    const err = configError(() => parse(minimal(), { ...ENV, CONCLAVE_CHAIN_KEY: "not-a-key-123" }));
    expect(err.message).toBe(
      "config: chain.privateKey: environment variable CONCLAVE_CHAIN_KEY does not hold a private key (expected 64 hex digits, with or without 0x)",
    );
    expect(parse(minimal(), { ...ENV, CONCLAVE_CHAIN_KEY: "ab".repeat(32) }).config.chain.privateKey).toBe(KEY);
  });

  it("reports every unreadable secret at once", () => {
    const err = configError(() => parse(withValue("bot.accessToken", { env: "TOKEN" }), {}));
    expect(err.problems.map((p) => p.path)).toEqual(["bot.password", "bot.accessToken", "chain.privateKey", "store.secret"]);
  });
});

describe("store", () => {
  it("selects PostgreSQL with a postgres:// URL, over TCP or a unix socket", () => {
    for (const url of ["postgres://conclave@db.example.org:5432/conclave", "postgresql://db/conclave", "postgres:///conclave?host=/run/postgresql"]) {
      expect(parse(withValue("store.url", url)).config.store.url).toBe(url);
    }
    expect(parse(minimal()).config.store.url).toBeUndefined();
  });

  it("refuses a password in the URL without echoing it, and other URLs", () => {
    const err = configError(() => parse(withValue("store.url", "postgres://conclave:hunter2@db/conclave")));
    expect(err.message).toBe(
      "config: store.url: secrets must not be written in the config file: leave the password out of the URL and give store.password as { env: NAME } or { file: PATH }",
    );
    expect(err.message).not.toContain("hunter2");
    expect(configError(() => parse(withValue("store.url", "mysql://db/conclave"))).message).toBe(
      'config: store.url: expected a PostgreSQL URL like "postgres://conclave@db.example.org/conclave", got "mysql://db/conclave"',
    );
    expect(configError(() => parse(withValue("store.url", "postgres:///conclave"))).message).toContain("(a host, or ?host=/socket/dir)");
  });

  it("takes the password as a secret, and only with a URL", () => {
    const data = withValue("store.password", { env: "PGPW" }, withValue("store.url", "postgres://conclave@db/conclave"));
    expect(parse(data, { ...ENV, PGPW: "s3cret" }).config.store.password).toBe("s3cret");
    expect(configError(() => parse(withValue("store.password", { env: "PGPW" }), { ...ENV, PGPW: "x" })).message).toBe(
      "config: store.password: a password is only for a PostgreSQL store: give store.url too",
    );
  });
});

describe("YAML", () => {
  it("gives the line and column of a syntax error", () => {
    const text = "homeserver:\n  url: https://matrix.example.org\nchain: [1,\n";
    const err = configError(() => parse(text));
    expect(err.message).toMatch(/^config: YAML syntax error at line \d+, column \d+ of test\.yaml: /);
    expect(err.path).toBe("");
    const base = stringify(minimal());
    const dup = configError(() => parse(base + "chain: {}\n"));
    const line = base.split("\n").length;
    expect(dup.message).toBe(`config: YAML syntax error at line ${line}, column 1 of test.yaml: Map keys must be unique`);
    expect(configError(() => parse("a: &x 1\nb: *y\n")).message).toMatch(/^config: YAML error in test\.yaml: Unresolved alias/);
  });

  it("names the file it cannot read", () => {
    expect(configError(() => loadConfig("/nonexistent/conclave.yaml", ENV)).message).toBe("config: cannot read /nonexistent/conclave.yaml: no such file");
  });

  it("keeps unquoted 0x addresses as text", () => {
    const text = stringify(minimal()).replace("factory: deploy", `factory: ${A1.toLowerCase()}`) + `safety:\n  minTokenFees:\n    ${USDC}: "2"\n`;
    const { config } = parse(text);
    expect(config.chain.factory).toBe(A1);
    expect(config.safety.minTokenFees).toEqual({ [USDC]: 2n * 10n ** 18n });
  });
});

describe("unknown keys", () => {
  it("are warnings at any depth, and ignored", () => {
    const data = minimal();
    data["extra"] = 1;
    withValue("groupDefaults.quorm", { add: "1%" }, data);
    withValue("bot.password.fallback", "x", data);
    withValue("groupDefaults.feeDestination", { kind: "release", recipients: [{ address: A1, share: "100%", note: "me" }] }, data);
    withValue("web.tls", true, data);
    const { config, warnings } = parse(data);
    expect(warnings.sort()).toEqual(
      [
        "unknown key extra (ignored)",
        "unknown key groupDefaults.quorm (ignored)",
        "unknown key bot.password.fallback (ignored)",
        "unknown key groupDefaults.feeDestination.recipients[0].note (ignored)",
        "unknown key web.tls (ignored)",
      ].sort(),
    );
    expect(config.groupDefaults.quorum.add).toBe(QUORUM_DEFAULT);
    expect(config.bot.password).toBe("pw");
    expect(config).not.toHaveProperty("extra");
  });

  it("do not hide errors", () => {
    const data = withValue("chain.confirmations", "two", withValue("chain.confirmation", 2));
    expect(configError(() => parse(data)).message).toBe('config: chain.confirmations: expected an integer >= 0, got "two"');
  });
});

describe("defaults and conversions", () => {
  it("apply the defaults", () => {
    const { config, warnings } = parse(minimal());
    expect(warnings).toEqual([]);
    expect(config).toEqual({
      homeserver: { url: "https://matrix.example.org" },
      bot: { userId: "@conclave:example.org", password: "pw", authorizationDays: 180, requireCrossSignedDevices: false },
      chain: {
        rpcUrl: "http://127.0.0.1:8545",
        confirmations: 1,
        factory: "deploy",
        privateKey: KEY,
        pollIntervalMs: 1000,
        lowBalance: 50_000_000_000_000_000n,
      },
      store: { path: "/tmp/data/conclave.sqlite", secret: STORE_SECRET },
      groupDefaults: {
        quorum: { default: 5000, add: QUORUM_DEFAULT, remove: QUORUM_DEFAULT, config: QUORUM_DEFAULT, feeDestination: QUORUM_DEFAULT, custom: QUORUM_DEFAULT },
        fee: 0n,
        feeToken: "0x0000000000000000000000000000000000000000",
        feeDecimals: 18,
        period: 2_592_000,
        gracePeriod: 604_800,
        votingPeriod: 259_200,
        mode: "vote",
        feeDestination: { kind: "locked" },
        customCallsAllowed: false,
        maxOpenProposals: 3,
      },
      safety: { minAddQuorum: 2000, minFee: 1_000_000_000_000_000n, minTokenFees: {} },
      acceptInvitesFrom: "creators",
      limits: { commandsPerMinutePerSender: 10, commandsPerMinutePerRoom: 60, gasPerRoomPerDay: 2_000_000 },
      commandPrefix: "!",
      web: { port: 8080, bind: "127.0.0.1", linkMinutes: 15, requestsPerMinute: 300, actionsPerMinute: 30, metrics: true, openidHomeservers: {} },
      bridge: { fullPassSeconds: 30 },
      rooms: { consentWindow: 86_400, adoptionGrace: 604_800, adoptionReminder: 86_400, startIn: "enforce" },
      worker: {},
      audit: { redact: false, graceSeconds: 5 },
      log: { level: "info", format: "auto" },
    } satisfies Config);
  });

  it("convert durations, percentages, fees and addresses", () => {
    const data = withValue("groupDefaults", {
      quorum: { default: "12.5%", add: "20%", remove: "100%", config: "0%", custom: "0.01%" },
      fee: "0.01",
      period: "once",
      gracePeriod: "12h",
      votingPeriod: "90m",
      feeDestination: { kind: "custom", target: A2.toLowerCase() },
    });
    withValue("creators", ["@alice:example.org", "*:example.org"], data);
    withValue("store.path", ":memory:", data);
    const g = parse(data).config.groupDefaults;
    expect(g.quorum).toEqual({ default: 1250, add: 2000, remove: 10_000, config: 0, feeDestination: QUORUM_DEFAULT, custom: 1 });
    expect(g.fee).toBe(10_000_000_000_000_000n);
    expect([g.period, g.gracePeriod, g.votingPeriod]).toEqual([0, 43_200, 5_400]);
    expect(g.feeDestination).toEqual({ kind: "custom", target: A2 });
    const c = parse(data).config;
    expect(c.creators).toEqual(["@alice:example.org", "*:example.org"]);
    expect(c.store.path).toBe(":memory:");
  });

  it("convert token fees with the token's decimals", () => {
    const data = withValue("groupDefaults", { feeToken: USDC.toLowerCase(), feeDecimals: 6, fee: "2.5", quorum: { add: "10%" } });
    withValue("safety.minTokenFees", { [USDC]: { amount: "1", decimals: 6 } }, data);
    const { config } = parse(data);
    expect(config.groupDefaults.feeToken).toBe(USDC);
    expect(config.groupDefaults.fee).toBe(2_500_000n);
    expect(config.safety.minTokenFees[USDC]).toBe(1_000_000n);
  });

  it("has the types of the converted values", () => {
    const { config } = parse(minimal());
    expectTypeOf(config.chain.privateKey).toEqualTypeOf<string>();
    expectTypeOf(config.bot.password).toEqualTypeOf<string | undefined>();
    expectTypeOf(config.groupDefaults.fee).toEqualTypeOf<bigint>();
    expectTypeOf(config.groupDefaults.period).toEqualTypeOf<number>();
    expectTypeOf(config.groupDefaults.mode).toEqualTypeOf<"vote" | "admin" | "external">();
    expectTypeOf(config.creators).toEqualTypeOf<"anyone" | string[] | undefined>();
  });
});

describe("parsers", () => {
  it("parseDuration", () => {
    expect(parseDuration("30d")).toBe(2_592_000);
    expect(parseDuration("12h")).toBe(43_200);
    expect(parseDuration("90m")).toBe(5_400);
    expect(parseDuration("45s")).toBe(45);
    expect(parseDuration("0s")).toBe(0);
    expect(parseDuration("once")).toBe(0);
    expect(() => parseDuration("once", { allowOnce: false })).toThrow('"once" is only for the membership period');
    for (const bad of ["30", "1.5d", " 30d", "30D", "30 d", "-1d", "1d12h", "", "forever", "50000d"]) {
      expect(() => parseDuration(bad), bad).toThrow(/^expected a duration/);
    }
    expect(() => parseDuration("3x")).toThrow('expected a duration like "30d", "12h", "90m", "45s" or "once", got "3x"');
  });

  it("parsePercent", () => {
    expect(parsePercent("20%")).toBe(2000);
    expect(parsePercent("12.5%")).toBe(1250);
    expect(parsePercent("66.67%")).toBe(6667);
    expect(parsePercent("0%")).toBe(0);
    expect(parsePercent("100%")).toBe(10_000);
    expect(parsePercent("100.00%")).toBe(10_000);
    expect(() => parsePercent("100.01%")).toThrow('expected a percentage between 0% and 100%, got "100.01%"');
    expect(() => parsePercent("12.345%")).toThrow("at most 2 decimals");
    for (const bad of ["20", "-5%", "20 %", ".5%", "5.%", "%", "twenty%", "1e2%"]) {
      expect(() => parsePercent(bad), bad).toThrow(/^expected a percentage like "20%" or "12\.5%", got /);
    }
  });

  it("parseAmount and parseAddress", () => {
    expect(parseAmount("0.01")).toBe(10_000_000_000_000_000n);
    expect(parseAmount("0")).toBe(0n);
    expect(parseAmount("1.5", 6)).toBe(1_500_000n);
    expect(() => parseAmount("1.5", 0)).toThrow('expected an amount with at most 0 decimals, got "1.5"');
    for (const bad of ["-1", "1e3", ".5", "1,5", "", " 1"]) expect(() => parseAmount(bad), bad).toThrow(/^expected an amount/);
    expect(parseAddress(A1.toLowerCase())).toBe(A1);
    expect(() => parseAddress("0x12")).toThrow('expected an address (0x followed by 40 hex digits), got "0x12"');
  });
});
