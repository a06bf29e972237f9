/**
 * `npm run demo` as a person following the README uses it: the demo prints
 * the logins and the preview's code; the person logs in as alice with a
 * client of their own, consents, and the group is created.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { ChatUser, quietConsole } from "../../scripts/chat.ts";

const root = join(import.meta.dirname, "../..");
let demo: ChildProcess | undefined;
let person: ChatUser | undefined;

afterAll(async () => {
  person?.stop();
  if (demo && demo.exitCode === null) {
    const exited = new Promise((r) => demo!.once("exit", r));
    demo.kill("SIGINT");
    await exited;
  }
}, 60_000);

describe("the demo", () => {
  it("shows the preview, and creates the group when the person logged in as alice consents", async () => {
    quietConsole();
    demo = spawn(process.execPath, ["--disable-warning=ExperimentalWarning", join(root, "scripts/demo.ts")], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const seen = (re: RegExp, ms: number) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the demo did not print ${re}:\n${out.slice(-3000)}`)), ms);
        const check = () => {
          const m = re.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m);
          }
        };
        demo!.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          check();
        });
        check();
      });
    const code = (await seen(/^\s+!dao confirm ([A-Z2-9]{6})$/m, 300_000))[1]!;
    expect(out).toMatch(/\| Preview [A-Z2-9]{6} of the group for this room/);
    expect(out).toMatch(/\| Founders \(active members from the start, their first period paid\): @alice:localhost \(0x[0-9a-fA-F]{40}\), @bob:localhost/);
    expect(out).toMatch(/\| Not members yet: @dave:localhost/);
    const homeserver = /homeserver: (http:\/\/\S+)/.exec(out)![1]!;
    const room = /the room: (!\S+)/.exec(out)![1]!;
    // The person logs in as alice, with the password the demo printed: a device of their own.
    const login = (await (
      await fetch(`${homeserver}/_matrix/client/v3/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "m.login.password", identifier: { type: "m.id.user", user: "alice" }, password: "alice-password" }),
      })
    ).json()) as { user_id: string; access_token: string; device_id: string };
    person = await ChatUser.login(homeserver, { userId: login.user_id, accessToken: login.access_token, deviceId: login.device_id });
    const created = await person.ask(room, `!dao confirm ${code}`, "@conclave:localhost", 120_000);
    expect(created).toMatch(/^This room is now a group: 0x[0-9a-fA-F]{40}\nFounders \(active, first period paid\): @alice:localhost, @bob:localhost/);
    await seen(/conclave demo: the group exists: 0x[0-9a-fA-F]{40}/, 60_000);
    expect(await person.ask(room, "!members", "@conclave:localhost")).toMatch(/^2 member\(s\), 2 active/);
  }, 420_000);
});
