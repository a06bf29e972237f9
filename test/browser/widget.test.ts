/**
 * The page as a room widget inside a real widget host, in Chromium, against
 * the real bot, Synapse and chain: a small host page of the tests (see
 * host/) frames the widget URL of the room's `im.vector.modular.widgets`
 * event and answers it with matrix-widget-api's `ClientWidgetApi`, giving a
 * real OpenID token Synapse issued for the test user. The host is treated
 * as untrusted: a refusal, a forged token, another user's token and an
 * error text of its own give no identity and run no script. Then hostile
 * text from the chain, the room and the wallet, the Content-Security-Policy
 * against inline script, and a transaction that fails after it was sent.
 * Screenshots go to test-results/.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EventTimeline } from "matrix-js-sdk";
import { ContractFactory, getAddress, JsonRpcProvider, NonceManager, parseEther, Wallet } from "ethers";
import type { Frame, FrameLocator, Page } from "playwright-core";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";
import { connectWallet, injectWallet, launchBrowser, noticeOf, shot, watch, type Browser, type TestWallet } from "../../scripts/browser.ts";
import { requestOpenIdToken, startWidgetHost, type HostCase, type OpenIdAnswer, type WidgetEvent, type WidgetHost } from "./host/server.ts";
import { groupContract } from "../../src/governance/contracts.ts";

const root = join(import.meta.dirname, "../..");
let sys: System;
let browser: Browser;
let host: WidgetHost;
let alice: ChatUser, bob: ChatUser, dave: ChatUser, mallory: ChatUser;
let room: string;
let group: string;
let bot: string;
let web: string;
let widget: WidgetEvent;
let provider: JsonRpcProvider;

/** A tab with `u`'s wallet injected into it and into every frame it holds; dialogs are counted, not answered. */
async function tab(u: ChatUser, o: { name?: string } = {}): Promise<{ page: Page; wallet: TestWallet; dialogs: string[] }> {
  const page = await browser.newPage();
  watch(page);
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const wallet = await injectWallet(page, { key: u.wallet.privateKey, rpcUrl: sys.chain.rpcUrl, realChainId: sys.chain.chainId, ...o });
  return { page, wallet, dialogs };
}

/** The widget's frame in the host page, once it has navigated to the bot's page. */
async function widgetFrame(page: Page): Promise<Frame> {
  for (let i = 0; i < 100; i++) {
    const f = page.frames().find((x) => x.url().startsWith(`${web}/widget`));
    if (f) return f;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `no widget frame; frames: ${page
      .frames()
      .map((f) => f.url())
      .join(", ")}`,
  );
}

/** The host's account of what it did (capabilities asked, the OpenID answer). */
const hostLog = async (page: Page, kind: string) => page.locator(`#host-log li[data-kind=${kind}]`).allTextContents();

const token = (u: ChatUser): Promise<OpenIdAnswer> => requestOpenIdToken(sys.synapse.baseUrl, u.userId, u.client.getAccessToken()!);

function hostCase(u: ChatUser, openid: () => Promise<OpenIdAnswer>, more: Partial<HostCase> = {}): HostCase {
  return { widget, roomId: room, userId: u.userId, openid, ...more };
}

/** The framed page has no identity: the notice says why, and no Matrix account is shown. */
async function noIdentity(w: FrameLocator, re: RegExp): Promise<string> {
  const n = await noticeOf(w, re);
  expect(n).toMatchObject({ kind: "error", error: "identity" });
  await w.locator("#group-address").waitFor();
  expect(await w.locator("#identity").isHidden()).toBe(true);
  expect(await w.locator("#me-user").count()).toBe(0);
  return n.text;
}

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "dave", "mallory"], web: true });
  ({ alice, bob, dave, mallory } = sys.users as Record<"alice" | "bob" | "dave" | "mallory", ChatUser>);
  bot = sys.botUserId;
  web = sys.webUrl!;
  provider = new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true });
  // dave is in the room but not linked; mallory is not in it.
  room = await groupRoom(alice, [bob, dave], bot);
  await linkWallet(alice, room, bot);
  await linkWallet(bob, room, bot);
  ({ group } = await createGroup(alice, [bob], room, bot, "fee=0.01 period=30d grace=7d quorum=50%"));
  for (const u of [alice, bob]) expect(await authorize(u, room, bot)).toMatch(/Authorised/);
  const funder = new NonceManager(new Wallet(sys.chain.ownerKey, provider));
  for (const u of [dave, mallory]) await (await funder.sendTransaction({ to: u.wallet.address, value: parseEther("1") })).wait();
  // The widget the bot put in the room when the group was created, as a client reads it.
  const events = alice.client.getRoom(room)!.getLiveTimeline().getState(EventTimeline.FORWARDS)!.getStateEvents("im.vector.modular.widgets");
  expect(events).toHaveLength(1);
  widget = events[0]!.getContent<WidgetEvent>();
  browser = await launchBrowser();
  host = await startWidgetHost();
}, 300_000);

afterAll(async () => {
  // Assigned in beforeAll, which may have failed first.
  /* eslint-disable @typescript-eslint/no-unnecessary-condition */
  await host?.stop();
  await browser?.close();
  await sys?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
}, 60_000);

describe("the widget in a widget host", () => {
  it("is framed with the room's widget URL, shows who the user is from a real OpenID token, and links the wallet in the frame", async () => {
    const { page, wallet } = await tab(dave);
    await page.goto(host.open(hostCase(dave, () => token(dave))));
    const frame = await widgetFrame(page);
    const u = new URL(frame.url());
    // The URL of the room's widget event, templated by the host's widget API.
    expect(u.searchParams.get("room")).toBe(room);
    expect(u.searchParams.get("widgetId")).toBe(widget.id);
    expect(u.searchParams.get("group")?.toLowerCase()).toBe(group.toLowerCase());
    const w = page.frameLocator("#widget");
    await w.locator("#me-user").waitFor();
    expect(await w.locator("#me-user").textContent()).toBe(dave.userId);
    expect(await w.locator("#group-address").textContent()).toBe(getAddress(group));
    // The host asked the user and answered with Synapse's token; the widget needs no capability besides.
    expect(await hostLog(page, "openid")).toEqual(["openid: allowed"]);
    expect(await hostLog(page, "capabilities")).toEqual(["capabilities: none asked"]);
    expect(await hostLog(page, "ready")).toHaveLength(1);
    await shot(page, "widget-host-identity");

    await connectWallet(w);
    await w.locator("#link").click();
    const n = await noticeOf(w, /now linked to/);
    expect(n.kind).toBe("ok");
    expect(wallet.calls).toContain("personal_sign");
    await w.locator("#me-linked[data-state=linked]").waitFor();
    expect(await w.locator("#me-linked").textContent()).toBe(`Linked to ${dave.wallet.address}.`);
    await w.locator("#wallet-state[data-state=not-member]").waitFor();
    await shot(page, "widget-host-linked");
    await page.close();
    // The bot holds the link: dave may now be proposed by his Matrix id.
    expect(await alice.ask(room, `!propose add ${dave.userId}`, bot)).toMatch(/Proposal #1/);
  });

  it("shows a clear state when the host refuses the OpenID request: no identity, the group's record still readable", async () => {
    const { page } = await tab(dave);
    // The same tab, with a host of the bot's own site (where the framed page keeps its storage), knew dave a
    // moment ago: that earlier session is not what the host says now.
    await page.goto(
      host.open(
        hostCase(dave, () => token(dave)),
        { sameSite: true },
      ),
    );
    await page.frameLocator("#widget").locator("#me-user").waitFor();
    await page.goto(
      host.open(
        hostCase(dave, async () => ({ state: "blocked" })),
        { sameSite: true },
      ),
    );
    const w = page.frameLocator("#widget");
    const said = await noIdentity(w, /did not confirm who you are/);
    expect(said).toMatch(/User declined to verify their identity/);
    expect(said).toMatch(/open the one-time link from !link/);
    // Not "this room is not a group": the bot was never asked.
    expect(said).not.toMatch(/not a group/);
    expect(await hostLog(page, "openid")).toEqual(["openid: blocked"]);
    expect(await w.locator("#active-count").textContent()).toBe("2 active of 2");
    await shot(page, "widget-host-refused");
    await page.close();
  });

  it("gives no identity for what an untrusted host makes up: a forged token, another user's token, another server's, an error text of its own", async () => {
    const cases: { name: string; c: HostCase; re: RegExp }[] = [
      {
        name: "forged",
        c: hostCase(dave, async () => ({
          state: "allowed",
          token: { access_token: "forgedtokenforgedtoken", expires_in: 3600, matrix_server_name: "localhost", token_type: "Bearer" },
        })),
        re: /did not recognise that token/,
      },
      // The host says its user is dave (in the URL too), and hands over mallory's real token: the page knows only what Synapse says.
      {
        name: "another user's",
        c: hostCase(dave, () => token(mallory), { query: { userId: dave.userId } }),
        re: new RegExp(`${mallory.userId} is not in that room`),
      },
      {
        name: "another server's",
        c: hostCase(dave, async () => {
          const t = await token(dave);
          return t.state === "allowed" ? { state: "allowed", token: { ...t.token, matrix_server_name: "evil.example" } } : t;
        }),
        re: /does not check identities with evil\.example/,
      },
      {
        name: "error text",
        c: hostCase(dave, async () => ({ state: "blocked" }), { openidError: `<img src=x onerror="alert('host')">` }),
        re: /did not confirm who you are/,
      },
    ];
    for (const { name, c, re } of cases) {
      const { page, dialogs } = await tab(dave);
      await page.goto(host.open(c));
      const w = page.frameLocator("#widget");
      const said = await noIdentity(w, re).catch((e: unknown) => {
        throw new Error(`${name}: ${(e as Error).message}`);
      });
      expect(said, name).not.toContain(dave.userId);
      if (c.openidError) {
        // The host's text is shown as text: no element made of it, no script run.
        expect(said).toContain(`<img src=x onerror="alert('host')">`);
        expect(await w.locator("#notice img").count()).toBe(0);
        await shot(page, "widget-host-hostile-error");
      }
      expect(dialogs, name).toEqual([]);
      await page.close();
    }
    // A real token of someone in the room while the host claims dave: the page knows that someone (bob), as Synapse says.
    const { page } = await tab(dave);
    await page.goto(host.open(hostCase(dave, () => token(bob), { query: { userId: dave.userId } })));
    const w = page.frameLocator("#widget");
    await w.locator("#me-user").waitFor();
    expect(await w.locator("#me-user").textContent()).toBe(bob.userId);
    await page.close();
  });

  it("listens to the client that frames it only: a rival frame pushing another member's token gives no identity", async () => {
    const { page } = await tab(dave);
    // The host answers after a while (a person reading its consent dialog); meanwhile a rival frame pushes bob's token.
    const slow = async () => {
      await new Promise((r) => setTimeout(r, 2500));
      return token(dave);
    };
    await page.goto(host.open(hostCase(dave, slow, { rival: await token(bob) })));
    const w = page.frameLocator("#widget");
    await w.locator("#me-user").waitFor({ timeout: 30_000 });
    expect(await w.locator("#me-user").textContent()).toBe(dave.userId);
    // The rival did send (its frame counts its messages).
    const sent = Number(
      (
        await page
          .frames()
          .find((f) => f.url().includes("/rival"))!
          .title()
      ).replace("sent ", ""),
    );
    expect(sent).toBeGreaterThan(1000);
    await page.close();
  });

  it("frames only the widget's page: the bot's other pages refuse any host", async () => {
    const { page } = await tab(dave);
    // The same plain frame holds the widget's page (frame-ancestors *)…
    await page.goto(host.frame(`${web}/widget?room=${room}`));
    await page.frameLocator("#widget").locator("#app").waitFor();
    // …but not the group's page (frame-ancestors 'none', X-Frame-Options DENY): Chromium puts its error page there instead.
    await page.goto(host.frame(`${web}/g/${group}`));
    await expect.poll(() => page.frames()[1]?.url(), { timeout: 15_000 }).toMatch(/^chrome-error:/);
    expect(await page.frameLocator("#widget").locator("#app").count()).toBe(0);
    await page.close();
  });
});

describe("hostile text on the page", () => {
  it("shows a fee token's symbol, a wallet's name and a wallet's error as text, never as markup or script", async () => {
    // A group whose fee token calls itself `<b id=pwn>` (its symbol, read from the chain).
    const artifact = JSON.parse(readFileSync(join(root, "artifacts/contracts/mocks/NamedToken.sol/NamedToken.json"), "utf8")) as { abi: []; bytecode: string };
    const owner = new NonceManager(new Wallet(sys.chain.ownerKey, provider));
    const tokenContract = await new ContractFactory(artifact.abi, artifact.bytecode, owner).deploy(`<img src=x onerror="alert('name')">`, "<b id=pwn>");
    await tokenContract.waitForDeployment();
    const room2 = await groupRoom(alice, [bob, mallory], bot);
    for (const u of [alice, bob]) expect(await linkWallet(u, room2, bot)).toMatch(/now linked/);
    const { group: group2 } = await createGroup(alice, [bob], room2, bot, `token=${await tokenContract.getAddress()} fee=1 quorum=50%`);
    expect(group2).toMatch(/^0x/);
    // Matrix text in the room too: a display name and a room name (the page shows neither, and must never run them).
    await alice.client.setDisplayName(`<img src=x onerror="alert('display name')">`);
    await alice.client.setRoomName(room2, `<img src=x onerror="alert('room name')">`);

    const hostileName = `<img src=x onerror="alert('wallet')">`;
    const { page, wallet, dialogs } = await tab(alice, { name: hostileName });
    await page.goto(`${web}/g/${group2}`);
    await page.locator("#fee").waitFor();
    expect(await page.locator("#fee").textContent()).toContain("<b id=pwn>");
    expect(await page.locator("#pwn").count()).toBe(0);
    // The wallet's announced name, on its button.
    expect(await page.locator("button.connect").first().textContent()).toBe(`Connect ${hostileName}`);
    // An account that is not an address is refused, not shown or sent to the bot.
    wallet.fakeAccounts = [`<img src=x onerror="alert('account')">`];
    await page.locator("button.connect").first().click();
    expect((await noticeOf(page, /not an address/)).kind).toBe("error");
    await page.locator("#wallet-state[data-state=disconnected]").waitFor();
    wallet.fakeAccounts = undefined;
    await connectWallet(page);
    await page.locator("#wallet-state[data-state=active]").waitFor();
    // A wallet's error text: shown as it is.
    wallet.errorNext = `<img src=x onerror="alert('wallet error')">`;
    await page.locator("#authorize").click();
    const n = await noticeOf(page, /Your wallet could not do it/);
    expect(n.text).toContain(`<img src=x onerror="alert('wallet error')">`);
    expect(n.error).toBe("failed");
    expect(await page.locator("#app img").count()).toBe(0);
    await shot(page, "page-hostile-text");
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it("blocks inline script by its Content-Security-Policy: an injected script and an injected handler do not run, and Chromium reports the violations", async () => {
    const { page, dialogs } = await tab(mallory);
    await page.goto(`${web}/g/${group}`);
    await page.locator("#group-address").waitFor();
    // Evaluated through the browser's debugging protocol (which a page's CSP does not govern): it only listens.
    await page.evaluate(() => {
      const seen: string[] = [];
      (window as unknown as { violations: string[] }).violations = seen;
      document.addEventListener("securitypolicyviolation", (e) => seen.push(e.effectiveDirective));
    });
    // Markup that got into the page as an XSS bug would put it: an inline script, and an element with an inline handler.
    await page.addScriptTag({ content: "window.inlineRan = true; alert('inline')" }).catch(() => undefined);
    await page.evaluate(() => document.body.insertAdjacentHTML("beforeend", `<img id="probe" src="/nothing-here" onerror="window.handlerRan = true">`));
    await page.waitForFunction(() => (window as unknown as { violations: string[] }).violations.length >= 2);
    const ran = await page.evaluate(() => ({
      inline: (window as unknown as { inlineRan?: boolean }).inlineRan,
      handler: (window as unknown as { handlerRan?: boolean }).handlerRan,
      violations: (window as unknown as { violations: string[] }).violations,
    }));
    expect(ran.inline).toBeUndefined();
    expect(ran.handler).toBeUndefined();
    expect(ran.violations).toEqual(expect.arrayContaining(["script-src-elem", "script-src-attr"]));
    expect(dialogs).toEqual([]);
    await page.close();
  });
});

describe("a transaction that fails after it was sent", () => {
  it("says why in words: dave, approved, pays while his own payment from elsewhere lands first", async () => {
    for (const u of [alice, bob]) expect(await u.ask(room, "!vote 1 yes", bot)).toMatch(/voted|passed|executed/i);
    const { page, wallet } = await tab(dave);
    await page.goto(`${web}/g/${group}/join`);
    await connectWallet(page);
    await page.locator("#wallet-state[data-state=approved]").waitFor({ timeout: 60_000 });
    // The bot's check passes; before the wallet sends, the same join lands from another device of dave's.
    wallet.beforeSend = async () => {
      const g = groupContract(group, new NonceManager(dave.wallet.connect(provider)));
      await (await g.getFunction("join")({ value: parseEther("0.01") })).wait();
    };
    await page.locator("#pay").click();
    const n = await noticeOf(page, /The transaction failed/);
    expect(n).toMatchObject({ kind: "error", error: "failed" });
    expect(n.text).toMatch(/is already a member/);
    // Once: the payment that landed first made dave a member, the page's own was refused.
    await page.locator("#wallet-state[data-state=active]").waitFor({ timeout: 30_000 });
    await page.locator("#active-count", { hasText: /^3 active of 3$/ }).waitFor({ timeout: 30_000 });
    expect(await page.locator("#treasury").textContent()).toBe("0.01 (native coin)");
    await shot(page, "page-transaction-failed-on-chain");
    await page.close();
  });
});
