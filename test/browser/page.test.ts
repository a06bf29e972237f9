/**
 * The governance page in a real Chromium against the real bot, Synapse and
 * chain: the public record without a wallet, linking through the one-time
 * link of `!link`, paying, voting (signed for the bot, and from the
 * wallet), delegating, authorising and revoking, and every error state the
 * page has words for. Screenshots go to test-results/.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { getAddress, NonceManager, parseEther, Wallet, JsonRpcProvider } from "ethers";
import type { Page } from "playwright-core";
import { startSystem, type System } from "../../scripts/harness.ts";
import { authorize, createGroup, dm, groupRoom, linkWallet } from "../../scripts/scenario.ts";
import { quietConsole, type ChatUser } from "../../scripts/chat.ts";
import { connectWallet, injectWallet, launchBrowser, noticeOf, shot, watch, type Browser, type TestWallet } from "../../scripts/browser.ts";
import { EventTimeline } from "matrix-js-sdk";

const root = join(import.meta.dirname, "../..");
let sys: System;
let browser: Browser;
let alice: ChatUser, bob: ChatUser, carol: ChatUser, dave: ChatUser;
let room: string;
let group: string;
let bot: string;
let web: string;
let funder: NonceManager;

/** A page with `u`'s wallet injected (its key signs; the chain is the real one). */
async function walletPage(u: ChatUser, startChainId?: number): Promise<{ page: Page; wallet: TestWallet }> {
  const page = await browser.newPage();
  watch(page);
  const wallet = await injectWallet(page, {
    key: u.wallet.privateKey,
    rpcUrl: sys.chain.rpcUrl,
    realChainId: sys.chain.chainId,
    ...(startChainId ? { startChainId } : {}),
  });
  return { page, wallet };
}

const walletState = (page: Page) => page.locator("#wallet-state").getAttribute("data-state");
const notice = (page: Page) => page.locator("#notice .msg");

async function noticeSays(page: Page, re: RegExp, kind?: "ok" | "error"): Promise<string> {
  const n = await noticeOf(page, re);
  if (kind) expect(n.kind).toBe(kind);
  return n.text;
}

beforeAll(async () => {
  quietConsole();
  sys = await startSystem({ root, users: ["alice", "bob", "carol", "dave"], web: true });
  ({ alice, bob, carol, dave } = sys.users as Record<"alice" | "bob" | "carol" | "dave", ChatUser>);
  bot = sys.botUserId;
  web = sys.webUrl!;
  room = await groupRoom(alice, [bob, dave], bot);
  await linkWallet(alice, room, bot);
  await linkWallet(bob, room, bot);
  // The founders (alice and bob, linked) consent to the preview; the last consent creates the group.
  ({ group } = await createGroup(alice, [bob], room, bot, "fee=0.01 period=30d grace=7d quorum=50%"));
  expect(await authorize(alice, room, bot, "+config")).toMatch(/Authorised/);
  // Members pay their own gas from their wallets.
  funder = new NonceManager(new Wallet(sys.chain.ownerKey, new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true })));
  for (const u of [alice, bob, carol, dave]) await (await funder.sendTransaction({ to: u.wallet.address, value: parseEther("1") })).wait();
  browser = await launchBrowser();
}, 300_000);

afterAll(async () => {
  /* eslint-disable @typescript-eslint/no-unnecessary-condition -- assigned in beforeAll, which may have failed first */
  await browser?.close();
  await sys?.stop();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
}, 60_000);

describe("the governance page", () => {
  it("shows the group's public record without a wallet, with strict headers", async () => {
    const res = await fetch(`${web}/g/${group}`);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("set-cookie")).toBeNull();

    const page = await browser.newPage();
    await page.goto(`${web}/g/${group}`);
    await page.locator("#wallet-state[data-state=no-wallet]").waitFor();
    expect(await page.locator("#wallet-state").textContent()).toMatch(/No browser wallet found/);
    expect(await page.locator("#group-address").textContent()).toBe(getAddress(group));
    expect(await page.locator("#fee").textContent()).toMatch(/0\.01 \(native coin\) every 30d; grace 7d/);
    expect(await page.locator("#active-count").textContent()).toBe("2 active of 2");
    expect(await page.locator("#fee-destination").textContent()).toMatch(/stay in the group contract/);
    expect(await page.locator("#treasury").textContent()).toMatch(/^0\.0 \(native coin\)$/);
    // Addresses only: nobody chose to show a Matrix id.
    const members = (await page.locator("#members").textContent()) ?? "";
    expect(members).toContain(alice.wallet.address.slice(0, 6));
    expect(members).not.toContain("@alice");
    expect(members).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    await shot(page, "page-no-wallet");
    await page.close();
  });

  it("links through the one-time link of !link: one signature, and the link works once", async () => {
    const d = await dm(carol, bot);
    const asked = await carol.ask(d, `!link ${carol.wallet.address} ${room}`, bot);
    const url = /(http:\/\/127\.0\.0\.1:\d+\/link#[A-Za-z0-9_-]+)/.exec(asked)?.[1];
    expect(url, asked).toBeDefined();
    const { page, wallet } = await walletPage(carol);
    await page.goto(url!);
    await page.locator("#me-user").waitFor();
    expect(await page.locator("#me-user").textContent()).toBe(carol.userId);
    // The token left the address bar.
    expect(page.url()).not.toContain("#");
    await connectWallet(page);
    await page.locator("#link").click();
    await noticeSays(page, /now linked to/, "ok");
    expect(wallet.calls).toContain("personal_sign");
    await page.locator("#me-linked[data-state=linked]").waitFor();
    expect(await walletState(page)).toBe("not-member");
    expect(await page.locator("#wallet-state").textContent()).toMatch(/This address is not a member of the group/);
    await shot(page, "page-linked-not-member");

    // The same link again: refused, it was used.
    const again = await browser.newPage();
    await again.goto(url!);
    await noticeSays(again, /already used or has expired/, "error");
    await again.locator("#wallet-state").waitFor();
    expect(await again.locator("#identity").isHidden()).toBe(true);
    await again.close();
    // So is a made-up one, and the API says the same.
    const forged = await fetch(`${web}/api/session/link`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: "A".repeat(32) }),
    });
    expect(forged.status).toBe(403);
    await page.close();
    expect(await carol.ask(d, "!status", bot)).toMatch(/This is a direct chat, not a group|not a group yet|Group status/);
  });

  it("offers to switch a wallet on the wrong chain", async () => {
    const { page } = await walletPage(alice, 1);
    await page.goto(`${web}/g/${group}`);
    await connectWallet(page);
    await page.locator("#wallet-state[data-state=wrong-chain]").waitFor();
    expect(await page.locator("#wallet-state").textContent()).toMatch(new RegExp(`on chain 1; this group lives on chain ${sys.chain.chainId}`));
    await shot(page, "page-wrong-chain");
    await page.locator("#switch-chain").click();
    await page.locator("#wallet-state[data-state=active]").waitFor();
    await page.close();
  });

  it("votes: signed and relayed by the bot, or sent from the wallet; a rejected signature sends nothing", async () => {
    expect(await alice.ask(room, "!propose add @carol:localhost", bot)).toMatch(/Proposal #1/);
    const before = await sys.botNonce();

    // bob: rejects the signature first, then sends his vote from his own wallet.
    const b = await walletPage(bob);
    await b.page.goto(`${web}/g/${group}/p/1`);
    await connectWallet(b.page);
    await b.page.locator("#proposal-1 .vote-yes").waitFor();
    b.wallet.rejectNext = true;
    await b.page.locator("#proposal-1 .vote-yes").click();
    await noticeSays(b.page, /You rejected the request in your wallet/, "error");
    expect(await notice(b.page).getAttribute("data-error")).toBe("rejected");
    await shot(b.page, "page-signature-rejected");
    expect(await sys.botNonce()).toBe(before);
    await b.page.locator("#proposal-1 .own-tx").check();
    await b.page.locator("#proposal-1 .vote-yes").click();
    await noticeSays(b.page, /You voted yes on #1/, "ok");
    expect(await sys.botNonce()).toBe(before);

    // alice signs; the bot submits it, and executes the proposal it passes.
    const a = await walletPage(alice);
    await a.page.goto(`${web}/g/${group}/p/1`);
    await connectWallet(a.page);
    await a.page.locator("#proposal-1 .vote-yes").click();
    const said = await noticeSays(a.page, /voted yes on #1/, "ok");
    expect(said).toMatch(/FOR 2/);
    expect(said).toMatch(/passed and was executed/);
    expect(await sys.botNonce()).toBeGreaterThan(before);
    await a.page.locator("#proposal-1[data-state=executed]").waitFor({ timeout: 30_000 });
    const card = (await a.page.locator("#proposal-1").textContent()) ?? "";
    expect(card).toMatch(/FOR 2 · AGAINST 0 · ABSTAIN 0/);
    // On the proposal's own page its votes are open: who voted what.
    await a.page.locator("#proposal-1 details.votes[open] li").first().waitFor();
    expect(await a.page.locator("#proposal-1 .votes li").allTextContents()).toEqual(
      expect.arrayContaining([expect.stringMatching(/: yes$/), expect.stringMatching(/: yes$/)]),
    );
    expect(await a.page.locator("#proposal-1 .votes li").count()).toBe(2);
    await shot(a.page, "page-proposal-executed");
    await a.page.close();
    await b.page.close();
  });

  it("refuses to relay a vote nobody signed, and spends nothing for it", async () => {
    expect(await alice.ask(room, "!propose config voting=2d", bot)).toMatch(/Proposal #2/);
    const before = await sys.botNonce();
    const post = (path: string, body: unknown) =>
      fetch(`${web}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }).then(
        (r) => r.json() as Promise<{ ok: boolean; error?: string; typed?: { message: Record<string, string | number> } }>,
      );
    const req = await post(`/api/groups/${group}/vote/request`, { voter: alice.wallet.address, number: 2, choice: "yes" });
    expect(req.ok).toBe(true);
    const m = req.typed!.message;
    // Signed by someone else (dave) for alice's address.
    const { EIP712Domain: _d, ...types } = (req.typed as unknown as { types: Record<string, { name: string; type: string }[]> }).types;
    const forged = await dave.wallet.signTypedData((req.typed as unknown as { domain: Record<string, unknown> }).domain, types, m);
    const r = await post(`/api/groups/${group}/vote`, {
      voter: alice.wallet.address,
      number: 2,
      choice: "yes",
      nonce: String(m.nonce),
      deadline: Number(m.deadline),
      signature: forged,
    });
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/signed by 0x.*not by/) });
    // Not a signature at all.
    const bad = await post(`/api/groups/${group}/vote`, {
      voter: alice.wallet.address,
      number: 2,
      choice: "yes",
      nonce: String(m.nonce),
      deadline: Number(m.deadline),
      signature: `0x${"11".repeat(65)}`,
    });
    expect(bad.ok).toBe(false);
    // Signed by alice for "yes", submitted as "no".
    const real = await alice.wallet.signTypedData((req.typed as unknown as { domain: Record<string, unknown> }).domain, types, m);
    const switched = await post(`/api/groups/${group}/vote`, {
      voter: alice.wallet.address,
      number: 2,
      choice: "no",
      nonce: String(m.nonce),
      deadline: Number(m.deadline),
      signature: real,
    });
    expect(switched.ok).toBe(false);
    expect(await sys.botNonce()).toBe(before);
  });

  it("pays: carol, approved, pays the fee from her wallet and becomes a member", async () => {
    const { page } = await walletPage(carol);
    await page.goto(`${web}/g/${group}/join`);
    await connectWallet(page);
    await page.locator("#wallet-state[data-state=approved]").waitFor();
    expect(await page.locator("#wallet-state").textContent()).toMatch(/You are approved: pay the fee/);
    await shot(page, "page-approved");
    await page.locator("#pay").click();
    await noticeSays(page, /Paid: you are a member now/, "ok");
    await page.locator("#wallet-state[data-state=active]").waitFor();
    expect(await page.locator("#wallet-state").textContent()).toMatch(/Active member, paid through/);
    await page.locator("#treasury", { hasText: /^0\.01 \(native coin\)$/ }).waitFor();
    await page.close();
    await carol.join(room);
  });

  it("delegates and undelegates from the wallet", async () => {
    const { page } = await walletPage(carol);
    await page.goto(`${web}/g/${group}`);
    await connectWallet(page);
    await page.locator("#delegation[data-state=own]").waitFor();
    await page.locator("#delegate-to").selectOption(alice.wallet.address);
    await page.locator("#delegate").click();
    await noticeSays(page, /Delegated/, "ok");
    await page.locator("#delegation[data-state=delegating]").waitFor();
    expect(await page.locator("#members").textContent()).toContain(alice.wallet.address.slice(0, 6));
    await page.locator("#undelegate").click();
    await noticeSays(page, /take your vote back/, "ok");
    await page.locator("#delegation[data-state=own]").waitFor();
    await page.close();
  });

  it("authorises the bot, showing scope and end, and revokes it", async () => {
    const { page, wallet } = await walletPage(carol);
    await page.goto(`${web}/g/${group}`);
    await connectWallet(page);
    await page.locator("#authority[data-state=none]").waitFor();
    await page.locator("#days").fill("30");
    await page.locator("#authorize").click();
    const said = await noticeSays(page, /Authorised/, "ok");
    expect(said).toMatch(/vot/);
    expect(said).toMatch(/It does not cover config proposals/);
    expect(wallet.calls).toContain("eth_signTypedData_v4");
    await page.locator("#authority[data-state=authorised]").waitFor();
    expect(await page.locator("#authority").textContent()).toMatch(/until \d{4}-\d\d-\d\d/);
    await shot(page, "page-authorised");
    expect(await carol.ask(room, "!status", bot)).toMatch(/The bot may act for you/);
    await page.locator("#revoke").click();
    await noticeSays(page, /no longer acts for you/, "ok");
    await page.locator("#authority[data-state=none]").waitFor();
    expect(await carol.ask(room, "!status", bot)).toMatch(/The bot may not act for you/);
    await page.close();
  });

  it("says why a transaction would fail, and a lapsed member can renew", async () => {
    const { page } = await walletPage(carol);
    await page.goto(`${web}/g/${group}`);
    await connectWallet(page);
    await page.locator("#wallet-state[data-state=active]").waitFor();
    // Spend carol's coin so the fee cannot be paid.
    const w = carol.wallet.connect(new JsonRpcProvider(sys.chain.rpcUrl, sys.chain.chainId, { staticNetwork: true }));
    const balance = await w.provider!.getBalance(w.address);
    await (await w.sendTransaction({ to: dave.wallet.address, value: balance - parseEther("0.005") })).wait();
    await page.locator("#pay").click();
    const said = await noticeSays(page, /would fail/, "error");
    expect(said).toMatch(/Your wallet holds 0\.00\d+ of the native coin; this needs 0\.01 and the gas/);
    expect(await notice(page).getAttribute("data-error")).toBe("failed");
    await shot(page, "page-transaction-failed");
    await (await funder.sendTransaction({ to: carol.wallet.address, value: parseEther("1") })).wait();

    // A month and more later, carol has lapsed.
    await fetch(sys.chain.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "evm_increaseTime", params: [31 * 86_400] }),
    });
    await fetch(sys.chain.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "evm_mine", params: [] }),
    });
    await page.reload();
    await connectWallet(page);
    await page.locator("#wallet-state[data-state=lapsed]").waitFor();
    expect(await page.locator("#wallet-state").textContent()).toMatch(/lapsed on/);
    await shot(page, "page-lapsed");
    await page.locator("#pay").click();
    await noticeSays(page, /extended by one period/, "ok");
    await page.locator("#wallet-state[data-state=active]").waitFor();
    await page.close();
  });
});

describe("the page as a room widget", () => {
  it("is in the room as a widget, and learns who the user is from a real OpenID token checked at the homeserver", async () => {
    // The widget the bot put in the room at !dao create.
    const state = alice.client.getRoom(room)!.getLiveTimeline().getState(EventTimeline.FORWARDS)!.getStateEvents("im.vector.modular.widgets");
    expect(state).toHaveLength(1);
    const w = state[0]!.getContent<{ id: string; type: string; url: string; creatorUserId: string }>();
    expect(w).toMatchObject({ type: "m.custom", creatorUserId: bot });
    // The group is named in the URL for the public record; who is looking comes from the OpenID check only.
    expect(w.url.toLowerCase()).toBe(`${web}/widget?room=$matrix_room_id&widgetId=$matrix_widget_id&group=${group}`.toLowerCase());
    // Framed by Matrix clients: the widget's page allows it, no other page does.
    expect((await fetch(`${web}/widget?room=x`)).headers.get("content-security-policy")).toContain("frame-ancestors *");

    const post = (path: string, body: unknown, session?: string) =>
      fetch(`${web}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(session ? { authorization: `Bearer ${session}` } : {}) },
        body: JSON.stringify(body),
      });
    // A forged token is refused by the homeserver's check, whatever the page claims.
    expect((await post("/api/session/openid", { access_token: "forged-token", matrix_server_name: "localhost", room_id: room })).status).toBe(403);
    const elsewhere = await post("/api/session/openid", { access_token: "x", matrix_server_name: "evil.example", room_id: room });
    expect(((await elsewhere.json()) as { error: string }).error).toMatch(/does not check identities with evil\.example/);

    // alice unlinks in chat, then links again with the identity her client's token proves.
    expect(await alice.ask(room, "!unlink", bot)).toMatch(/no longer linked/);
    const token = (await (
      await fetch(`${sys.synapse.baseUrl}/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/openid/request_token`, {
        method: "POST",
        headers: { authorization: `Bearer ${alice.client.getAccessToken()!}`, "content-type": "application/json" },
        body: "{}",
      })
    ).json()) as { access_token: string; matrix_server_name: string };
    // A real token, but for a room its user is not in: refused.
    expect((await post("/api/session/openid", { ...token, room_id: "!elsewhere:localhost" })).status).toBe(403);
    const opened = (await (await post("/api/session/openid", { ...token, room_id: room })).json()) as { ok: boolean; session: string; me: { userId: string } };
    expect(opened).toMatchObject({ ok: true, me: { userId: alice.userId } });
    const start = (await (await post("/api/me/link/start", { address: alice.wallet.address }, opened.session)).json()) as { ok: boolean; message: string };
    expect(start.message).toContain(`Matrix user: ${alice.userId}`);
    const linked = (await (await post("/api/me/link", { signature: await alice.wallet.signMessage(start.message) }, opened.session)).json()) as {
      ok: boolean;
      lines: string[];
    };
    expect(linked.ok).toBe(true);
    expect(linked.lines.join(" ")).toMatch(/now linked to/);
    // alice chooses to show her Matrix id on the public page; bob did not.
    expect((await post("/api/me/show-id", { show: true }, opened.session)).status).toBe(200);
    const r = (await (await fetch(`${web}/api/groups/${group}`)).json()) as { record: { members: { address: string; userId?: string }[] } };
    expect(r.record.members.find((m) => m.address === alice.wallet.address)?.userId).toBe(alice.userId);
    expect(r.record.members.find((m) => m.address === bob.wallet.address)?.userId).toBeUndefined();
    // Without a session, none of it.
    expect((await post("/api/me/show-id", { show: false })).status).toBe(401);
  });
});
