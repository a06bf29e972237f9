/**
 * Reads the configuration file: YAML → schema (schema.ts) → secrets.
 *
 * - A YAML syntax error, a value the schema refuses, a missing environment
 *   variable or an unreadable secret file is a {@link ConfigError} naming
 *   the key path, one line per problem.
 * - Unknown keys, at any depth, are warnings ("unknown key
 *   groupDefaults.quorm (ignored)"), so a typo never stops the bot but is
 *   reported.
 * - Relative paths (secret files, `store.path`) are relative to the
 *   directory of the configuration file.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { parseDocument, type Tags } from "yaml";
import type { z } from "zod";
import { configSchema, SecretRef, type Config, type ParsedConfig } from "./schema.ts";

export { parseAddress, parseAmount, parseDuration, parsePercent } from "./schema.ts";
export type { Config } from "./schema.ts";

export interface ConfigProblem {
  /** the key path, like "chain.confirmations"; "" for the file as a whole */
  path: string;
  message: string;
}

/**
 * What is wrong with a configuration. The message has one line per
 * problem: `config: chain.confirmations: expected an integer >= 0, got "two"`.
 * `path` is the first problem's key path.
 */
export class ConfigError extends Error {
  readonly path: string;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: ConfigProblem | readonly ConfigProblem[]) {
    const list: readonly ConfigProblem[] = Array.isArray(problems) ? problems : [problems as ConfigProblem];
    super(list.map((p) => (p.path === "" ? `config: ${p.message}` : `config: ${p.path}: ${p.message}`)).join("\n"));
    this.name = "ConfigError";
    this.path = list[0]?.path ?? "";
    this.problems = list;
  }
}

export interface ParseConfigOptions {
  /** where environment secrets are read; default `process.env` */
  env?: NodeJS.ProcessEnv;
  /** the directory relative paths are resolved against; default the working directory */
  baseDir?: string;
  /** the file's name, for YAML syntax errors */
  source?: string;
}

export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

/** Reads, validates and resolves the configuration file at `path`. */
export function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError({ path: "", message: `cannot read ${path}: ${reason(err)}` });
  }
  return parseConfig(text, { env, baseDir: dirname(resolve(path)), source: path });
}

/** {@link loadConfig} on the text of a configuration file. */
export function parseConfig(text: string, options: ParseConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const baseDir = options.baseDir ?? process.cwd();
  const warnings: string[] = [];
  const data = parseYaml(text, options.source ?? "the configuration", warnings);
  const parsed = validate(data, warnings);
  const config = resolveSecrets(parsed, env, baseDir);
  if (config.store.path !== ":memory:" && !isAbsolute(config.store.path)) {
    config.store.path = resolve(baseDir, config.store.path);
  }
  return { config, warnings };
}

/** Formats a key path: `groupDefaults.feeDestination.recipients[0].share`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

function reason(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "no such file";
    if (code === "EACCES") return "permission denied";
    if (code === "EISDIR") return "it is a directory";
    return err.message;
  }
  return String(err);
}

// YAML 1.2 reads 0x... as a hexadecimal integer, which would turn every
// unquoted address into a (rounded) number: keep them strings.
function withoutHexIntegers(tags: Tags): Tags {
  return tags.filter((t) => !(typeof t === "object" && t.tag === "tag:yaml.org,2002:int" && t.format === "HEX"));
}

function parseYaml(text: string, source: string, warnings: string[]): unknown {
  const doc = parseDocument(text, { customTags: withoutHexIntegers, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const at = e.linePos?.[0];
        const where = at === undefined ? `in ${source}` : `line ${at.line}, column ${at.col} of ${source}`;
        // The pretty message repeats the position and quotes the source: keep the first clause.
        const message = e.message.split(/ at line \d+, column \d+/)[0] ?? e.message;
        return { path: "", message: `YAML syntax error at ${where}: ${message}` };
      }),
    );
  }
  for (const w of doc.warnings) {
    const at = w.linePos?.[0];
    warnings.push(`${at === undefined ? "" : `line ${at.line}, column ${at.col}: `}${w.message.split(/ at line \d+/)[0] ?? w.message}`);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // e.g. an alias to an anchor that is not defined (yet), or too many aliases
    throw new ConfigError({ path: "", message: `YAML error in ${source}: ${reason(err)}` });
  }
  if (data === null || data === undefined) {
    throw new ConfigError({ path: "", message: `${source} is empty: expected a mapping with homeserver, bot and chain` });
  }
  return data;
}

/**
 * Runs the schema. Unknown keys are taken out of the input and reported as
 * warnings, then the schema runs again on what is left.
 */
function validate(data: unknown, warnings: string[]): ParsedConfig {
  for (let round = 0; ; round++) {
    const result = configSchema.safeParse(data);
    const unknown = result.success ? [] : result.error.issues.filter(isUnrecognizedKeys);
    if (unknown.length === 0 || round >= 8) {
      if (result.success) return result.data;
      throw new ConfigError(result.error.issues.filter((i) => !isUnrecognizedKeys(i)).map((i) => ({ path: formatPath(i.path), message: i.message })));
    }
    for (const issue of unknown) {
      const holder = at(data, issue.path);
      for (const key of issue.keys) {
        warnings.push(`unknown key ${formatPath([...issue.path, key])} (ignored)`);
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the parsed YAML is a plain object: an unknown key is dropped from it
        if (holder !== null && typeof holder === "object") delete (holder as Record<string, unknown>)[key];
      }
    }
  }
}

function isUnrecognizedKeys(issue: z.core.$ZodIssue): issue is z.core.$ZodIssueUnrecognizedKeys {
  return issue.code === "unrecognized_keys";
}

function at(data: unknown, path: readonly PropertyKey[]): unknown {
  let node = data;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/** Replaces every SecretRef by the secret, or throws naming each that cannot be read. */
function resolveSecrets(parsed: ParsedConfig, env: NodeJS.ProcessEnv, baseDir: string): Config {
  const problems: ConfigProblem[] = [];
  const walk = (node: unknown, path: PropertyKey[]): unknown => {
    if (node instanceof SecretRef) {
      try {
        return readSecret(node, env, baseDir);
      } catch (err) {
        problems.push({ path: formatPath(path), message: reason(err) });
        return "";
      }
    }
    if (Array.isArray(node)) return node.map((v, i) => walk(v, [...path, i]));
    if (node !== null && typeof node === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) out[k] = walk(v, [...path, k]);
      return out;
    }
    return node;
  };
  const config = walk(parsed, []) as Config;
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function readSecret(ref: SecretRef, env: NodeJS.ProcessEnv, baseDir: string): string {
  let value: string;
  if (ref.source === "env") {
    const v = env[ref.name];
    if (v === undefined) throw new Error(`environment variable ${ref.name} is not set`);
    value = v;
  } else {
    const file = resolve(baseDir, ref.name);
    try {
      value = readFileSync(file, "utf8").replace(/[\r\n]+$/, "");
    } catch (err) {
      throw new Error(`cannot read secret file ${file}: ${reason(err)}`, { cause: err });
    }
  }
  if (value === "") throw new Error(`${ref.describe()} is empty`);
  if (ref.format === "strong" && value.length < 32) {
    // Never quote the value.
    throw new Error(`${ref.describe()} is too short: expected at least 32 characters (e.g. openssl rand -hex 32)`);
  }
  if (ref.format === "privateKey") {
    const key = value.trim();
    // Never quote the value: it is (meant to be) a private key.
    if (!/^(0x)?[0-9a-fA-F]{64}$/.test(key)) {
      throw new Error(`${ref.describe()} does not hold a private key (expected 64 hex digits, with or without 0x)`);
    }
    return key.startsWith("0x") ? key : `0x${key}`;
  }
  return value;
}
