// The Synapse pieces of docker/compose.yaml, run against the real Synapse the
// e2e tests use (the same version as the compose image): the script that
// registers the bot's account, and the settings appended to the generated
// homeserver.yaml. (The image's own generator, /start.py, is not here.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureSynapse, startSynapse, type SynapseHandle } from "../../scripts/synapse.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
let hs: SynapseHandle;

beforeAll(async () => {
  await ensureSynapse(ROOT);
  hs = await startSynapse({ root: ROOT });
}, 180_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first
  await hs?.stop();
}, 30_000);

function sh(script: string, env: Record<string, string>): { code: number | null; out: string } {
  const r = spawnSync("sh", [join(ROOT, script)], {
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, PATH: `${join(ROOT, ".venv", "bin")}:${process.env["PATH"] ?? ""}`, ...env },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

async function login(user: string, password: string): Promise<number> {
  const res = await fetch(`${hs.baseUrl}/_matrix/client/v3/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ type: "m.login.password", identifier: { type: "m.id.user", user }, password }),
  });
  await res.body?.cancel();
  return res.status;
}

describe("docker/synapse", () => {
  it("register-bot.sh registers the bot's account with the shared secret, and accepts it existing", async () => {
    const secrets = mkdtempSync(join(tmpdir(), "conclave-secrets-"));
    writeFileSync(join(secrets, "bot_password"), "compose-bot-password\n");
    const env = {
      SYNAPSE_CONFIG: join(hs.dir, "homeserver.yaml"),
      SYNAPSE_URL: hs.baseUrl,
      BOT_PASSWORD_FILE: join(secrets, "bot_password"),
    };
    const first = sh("docker/synapse/register-bot.sh", env);
    expect(first.out).toMatch(/Success!/);
    expect(first.code).toBe(0);
    const again = sh("docker/synapse/register-bot.sh", env);
    expect(again.out).toMatch(/already exists/);
    expect(again.code).toBe(0);
    expect(await login("conclave", "compose-bot-password")).toBe(200);
    expect(await login("conclave", "another-password")).toBe(403);
    // Without the shared secret's config it fails, and says so.
    const wrong = sh("docker/synapse/register-bot.sh", { ...env, SYNAPSE_CONFIG: join(secrets, "missing.yaml") });
    expect(wrong.code).not.toBe(0);
  });

  it("homeserver-conclave.yaml is read by Synapse on top of a homeserver.yaml", () => {
    // Synapse merges several config files, later ones winning, as appending does.
    const code = [
      "import sys",
      "from synapse.config.homeserver import HomeServerConfig",
      "c = HomeServerConfig.load_config('check', ['-c', sys.argv[1], '-c', sys.argv[2]])",
      "r = c.ratelimiting",
      "print(r.rc_invites_per_room.per_second, r.rc_invites_per_user.burst_count, r.rc_invites_per_issuer.per_second, r.rc_message.burst_count, r.rc_joins_local.per_second)",
    ].join("\n");
    const r = spawnSync(
      join(ROOT, ".venv", "bin", "python"),
      ["-c", code, join(hs.dir, "homeserver.yaml"), join(ROOT, "docker", "synapse", "homeserver-conclave.yaml")],
      { encoding: "utf8", cwd: hs.dir, timeout: 60_000 },
    );
    expect(r.stderr).toBe("");
    // The harness's own file sets every limit far higher: these are the appended ones.
    expect(r.stdout.trim()).toBe("50 500 50 500 50");
  });
});
