/**
 * The governance page: the group's public record for anyone, and, with a
 * browser wallet, linking, paying, voting, delegating and the bot's
 * authority. Runs as a page of its own (`/g/0x…`, `/link#token`) or as a
 * room widget (`/widget?room=…`), where the Matrix client proves who the
 * user is with an OpenID token that the bot checks at the homeserver.
 *
 * Nothing secret lives here: the session is a bearer token for this tab,
 * and every action is signed or sent by the wallet itself.
 */
import { decodeFunctionResult, encodeFunctionData, formatUnits, getAddress, parseAbi, zeroAddress } from "viem";
import { WidgetApi } from "matrix-widget-api";
import type { GroupRecord, RecordProposal, Standing, TypedData, WebMe } from "../../ports/web.ts";
import { fill, formatDuration, formatTime, h, percent, shortAddress, who } from "./dom.ts";
import { discover, Wallet, WalletError, walletError, type WalletInfo } from "./wallet.ts";

const GROUP_ABI = parseAbi([
  "function join() payable",
  "function renew(address member) payable",
  "function delegate(address to)",
  "function castVote(uint256 proposalId, uint8 support)",
  "function setRelayer(address relayer, uint8 scope, uint64 until)",
]);
const ERC20_ABI = parseAbi([
  "function approve(address spender, uint256 amount) returns (bool)",
  "function allowance(address owner, address spender) view returns (uint256)",
]);
const SUPPORT = { yes: 1, no: 0, abstain: 2 } as const;
/** An address (an account, a group). */
const ACCOUNT = /^0x[0-9a-fA-F]{40}$/;
type Choice = keyof typeof SUPPORT;

// ---------------------------------------------------------------------------
// The bot's API
// ---------------------------------------------------------------------------

type Result<T> = ({ ok: true; lines: string[] } & T) | { ok: false; error: string };

/** This tab's storage; none in a framed widget whose browser keeps third parties from storage. */
const tab: Storage | undefined = (() => {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
})();
let session = tab?.getItem("conclave.session") ?? "";

async function api<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<Result<T>> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(session ? { authorization: `Bearer ${session}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch {
    return { ok: false, error: "The bot's page server cannot be reached; try again." };
  }
  try {
    return (await res.json()) as Result<T>;
  } catch {
    return { ok: false, error: `The bot's page server answered ${res.status}.` };
  }
}

// ---------------------------------------------------------------------------
// State and the parts of the page
// ---------------------------------------------------------------------------

const app = document.getElementById("app")!;
const state: {
  group?: string;
  focus?: number;
  record?: GroupRecord;
  me?: WebMe;
  wallets: WalletInfo[];
  wallet?: Wallet;
  standing?: Standing;
  busy: boolean;
} = { wallets: [], busy: false };

const parts = {
  identity: h("section", { id: "identity", class: "card" }),
  wallet: h("section", { id: "wallet", class: "card", "aria-live": "polite" }),
  notice: h("div", { id: "notice", role: "status", "aria-live": "polite" }),
  facts: h("section", { id: "facts", class: "card" }),
  proposals: h("section", { id: "proposals" }),
  members: h("section", { id: "members", class: "card" }),
};

/** Says what happened: `kind` is ok, error (with `code` for tests and styles), or info. */
function say(kind: "ok" | "error" | "info", text: string | string[], code = ""): void {
  const lines = Array.isArray(text) ? text : [text];
  fill(parts.notice, h("div", { class: `msg ${kind}`, "data-kind": kind, "data-error": code || undefined }, ...lines.map((l) => h("p", {}, l))));
}

function failure(e: unknown): void {
  const w = walletError(e);
  say("error", w.message, w.kind);
}

async function busy(what: string, fn: () => Promise<void>): Promise<void> {
  if (state.busy) return;
  state.busy = true;
  say("info", what);
  renderWallet();
  try {
    await fn();
  } catch (e) {
    failure(e);
  } finally {
    state.busy = false;
    await refresh();
  }
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

async function loadRecord(): Promise<void> {
  if (!state.group) return;
  const r = await api<{ record: GroupRecord }>("GET", `/api/groups/${state.group}`);
  if (!r.ok) {
    fill(parts.facts, h("p", { class: "error" }, r.error));
    return;
  }
  state.record = r.record;
}

async function loadStanding(): Promise<void> {
  if (!state.group || !state.wallet?.account) {
    delete state.standing;
    return;
  }
  const r = await api<{ standing: Standing }>("GET", `/api/groups/${state.group}/accounts/${state.wallet.account}`);
  if (r.ok) state.standing = r.standing;
}

async function loadMe(): Promise<void> {
  if (!session) return;
  const r = await api<{ me: WebMe }>("GET", "/api/me");
  if (r.ok) state.me = r.me;
  else {
    session = "";
    tab?.removeItem("conclave.session");
    delete state.me;
  }
}

async function refresh(): Promise<void> {
  await Promise.all([loadRecord(), loadMe()]);
  if (state.wallet) await state.wallet.refreshChain().catch(() => undefined);
  await loadStanding();
  render();
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

function render(): void {
  renderIdentity();
  renderWallet();
  renderFacts();
  renderProposals();
  renderMembers();
}

function renderIdentity(): void {
  const me = state.me;
  if (!me) {
    fill(parts.identity);
    parts.identity.hidden = true;
    return;
  }
  parts.identity.hidden = false;
  const rows: (HTMLElement | null)[] = [h("p", {}, "Matrix account: ", h("strong", { id: "me-user" }, me.userId))];
  if (me.linked) {
    rows.push(
      h("p", { id: "me-linked", "data-state": "linked" }, "Linked to ", h("code", {}, ACCOUNT.test(me.linked) ? getAddress(me.linked) : me.linked), "."),
    );
    rows.push(
      h(
        "label",
        { class: "toggle" },
        h("input", {
          type: "checkbox",
          id: "show-id",
          ...(me.showId ? { checked: true } : {}),
          onchange: (e: Event) => void setShowId((e.target as HTMLInputElement).checked),
        }),
        " Show my Matrix id next to my address on this page (otherwise only the address is public)",
      ),
    );
  } else {
    const w = state.wallet;
    const target = me.pending?.address;
    let action: HTMLElement;
    if (!w?.account) action = h("p", { class: "muted" }, "Connect your wallet below to link it to this account.");
    else if (target && target.toLowerCase() !== w.account.toLowerCase()) {
      action = h("p", { "data-state": "wrong-account" }, `You asked to link ${target}: switch your wallet to that account (it shows ${w.account}).`);
    } else {
      action = h("button", { id: "link", disabled: state.busy, onclick: () => void linkWallet() }, `Link ${shortAddress(w.account)} to ${me.userId}`);
    }
    rows.push(
      h(
        "p",
        { id: "me-linked", "data-state": "unlinked" },
        target ? `Link ${target}: your wallet signs one message naming your Matrix account, the room and a fresh nonce.` : "Not linked yet.",
      ),
      action,
    );
  }
  fill(parts.identity, h("h2", {}, "You in Matrix"), ...rows);
}

function walletState(s: string, ...children: (HTMLElement | string | null)[]): HTMLElement {
  return h("div", { id: "wallet-state", "data-state": s }, ...children);
}

function renderWallet(): void {
  const r = state.record;
  const w = state.wallet;
  const title = h("h2", {}, "Your wallet");
  if (state.wallets.length === 0) {
    fill(
      parts.wallet,
      title,
      walletState(
        "no-wallet",
        h(
          "p",
          {},
          "No browser wallet found. You can read everything here without one; to link, pay, vote or delegate, install a wallet (any that supports EIP-6963 or EIP-1193) and reload, or use the chat commands.",
        ),
      ),
    );
    return;
  }
  if (!w?.account) {
    fill(
      parts.wallet,
      title,
      walletState(
        "disconnected",
        h("p", {}, "Connect a wallet to act. The page only asks it to sign or send what you confirm there."),
        ...state.wallets.map((info) =>
          h("button", { class: "connect", "data-rdns": info.rdns, disabled: state.busy, onclick: () => void connect(info) }, `Connect ${info.name}`),
        ),
      ),
    );
    return;
  }
  if (!r) {
    fill(parts.wallet, title, walletState("connected", h("p", {}, `Connected: ${w.account}`)));
    return;
  }
  if (w.chainId !== r.chainId) {
    fill(
      parts.wallet,
      title,
      walletState(
        "wrong-chain",
        h("p", {}, `Your wallet is on chain ${w.chainId}; this group lives on chain ${r.chainId}.`),
        h(
          "button",
          { id: "switch-chain", disabled: state.busy, onclick: () => void busy("Asking your wallet to switch…", () => switchChain(r.chainId)) },
          `Switch to chain ${r.chainId}`,
        ),
      ),
    );
    return;
  }
  const s = state.standing;
  const head = h("p", {}, "Connected: ", h("code", { id: "account" }, w.account));
  if (!s) {
    fill(parts.wallet, title, walletState("connected", head));
    return;
  }
  const fee = r.fee;
  const payLabel = fee.amount === "0" ? "" : ` (${fee.text})`;
  if (!s.isMember && !s.approved && !r.open) {
    fill(
      parts.wallet,
      title,
      walletState(
        "not-member",
        head,
        h(
          "p",
          {},
          "This address is not a member of the group. A member can propose adding you: link this address from chat (!link) or above, then ask a member to send !propose add @you.",
        ),
      ),
    );
    return;
  }
  if (!s.isMember) {
    fill(
      parts.wallet,
      title,
      walletState(
        "approved",
        head,
        h("p", {}, r.open && !s.approved ? "This group is open: anyone may join by paying the fee." : "You are approved: pay the fee to become a member."),
        payButtons("join", `Pay and join${payLabel}`),
      ),
    );
    return;
  }
  const parts2: (HTMLElement | null)[] = [head];
  if (!s.active) {
    parts2.push(
      h(
        "p",
        { class: "warn" },
        `Your membership lapsed on ${formatTime(s.expiresAt)}: you have no influence until you pay again${r.grace ? `, and after the grace period (${formatDuration(r.grace)}) you may be removed` : ""}.`,
      ),
    );
    parts2.push(payButtons("renew", `Renew${payLabel}`));
    fill(parts.wallet, title, walletState("lapsed", ...parts2));
    return;
  }
  parts2.push(h("p", {}, s.lifetime ? "Active member, paid for life." : `Active member, paid through ${formatTime(s.expiresAt)}.`));
  if (!s.lifetime && r.period !== 0) parts2.push(payButtons("renew", `Pay ahead${payLabel}`));
  parts2.push(delegation(r, s), authority(r, s));
  fill(parts.wallet, title, walletState("active", ...parts2));
}

function payButtons(kind: "join" | "renew", label: string): HTMLElement {
  const r = state.record!;
  const native = r.fee.token === zeroAddress;
  return h(
    "div",
    { class: "row" },
    !native && r.fee.amount !== "0"
      ? h(
          "button",
          { id: "approve", disabled: state.busy, onclick: () => void busy("Approving the fee in your wallet…", approveFee) },
          `1. Approve ${formatUnits(BigInt(r.fee.amount), r.fee.decimals)} ${r.fee.symbol}`,
        )
      : null,
    h(
      "button",
      { id: "pay", disabled: state.busy, onclick: () => void busy("Paying from your wallet…", () => pay(kind)) },
      native || r.fee.amount === "0" ? label : `2. ${label}`,
    ),
  );
}

function delegation(r: GroupRecord, s: Standing): HTMLElement {
  const others = r.members.filter((m) => m.address.toLowerCase() !== s.address.toLowerCase());
  if (s.delegate) {
    const d = r.members.find((m) => m.address.toLowerCase() === s.delegate!.toLowerCase());
    return h(
      "div",
      { class: "box", id: "delegation", "data-state": "delegating" },
      h("p", {}, "You delegate to ", who(s.delegate, d?.userId), ". On proposals made from now on your point follows their vote, unless you vote yourself."),
      h(
        "button",
        {
          id: "undelegate",
          disabled: state.busy,
          onclick: () =>
            void busy("Taking your vote back…", () => sendGroupTx("delegate", [zeroAddress], "You take your vote back for proposals made from now on.")),
        },
        "Undelegate",
      ),
    );
  }
  const select = h(
    "select",
    { id: "delegate-to" },
    ...others.map((m) => h("option", { value: m.address }, `${shortAddress(m.address)}${m.userId ? ` ${m.userId}` : ""}${m.active ? "" : " (lapsed)"}`)),
  );
  return h(
    "div",
    { class: "box", id: "delegation", "data-state": "own" },
    h("p", {}, "You vote for yourself. You may delegate your point to another member (one hop; your own vote always wins)."),
    others.length
      ? h(
          "div",
          { class: "row" },
          select,
          h(
            "button",
            {
              id: "delegate",
              disabled: state.busy,
              onclick: () =>
                void busy("Delegating from your wallet…", () =>
                  sendGroupTx("delegate", [(select as HTMLSelectElement).value], "Delegated: on proposals made from now on your point follows their vote."),
                ),
            },
            "Delegate",
          ),
        )
      : null,
  );
}

function authority(r: GroupRecord, s: Standing): HTMLElement {
  if (s.relayer) {
    return h(
      "div",
      { class: "box", id: "authority", "data-state": "authorised" },
      h("p", {}, "The bot acts for you on your chat commands and poll answers:"),
      h("ul", {}, ...s.relayer.words.map((w) => h("li", {}, w))),
      h(
        "button",
        {
          id: "revoke",
          disabled: state.busy,
          onclick: () =>
            void busy("Withdrawing the bot's authority from your wallet…", () =>
              sendGroupTx("setRelayer", [zeroAddress, 0, 0n], "The bot no longer acts for you."),
            ),
        },
        "Revoke the bot's authority",
      ),
    );
  }
  const extras = [
    ["config", "settings changes (quorums, fee, periods, mode)"],
    ["fees", "where the treasury goes"],
    ["custom", "custom calls"],
  ] as const;
  const boxes = extras.map(([k, words]) => h("label", { class: "toggle" }, h("input", { type: "checkbox", class: "extra", value: k }), ` also ${words}`));
  const days = h("input", { type: "number", id: "days", min: "1", max: "365", value: "180" });
  return h(
    "div",
    { class: "box", id: "authority", "data-state": "none" },
    h(
      "p",
      {},
      s.otherRelayer
        ? `Another address (${s.otherRelayer}) holds authority to act for you; authorising the bot replaces it.`
        : "The bot does not act for you: your chat votes and poll answers do not count until you authorise it. Votes signed here need no authority.",
    ),
    h("div", { class: "row" }, ...boxes),
    h("label", {}, "for ", days, " days"),
    h("button", { id: "authorize", disabled: state.busy, onclick: () => void authorise(r, boxes, days as HTMLInputElement) }, "Authorise the bot…"),
    h("div", { id: "authority-words" }),
  );
}

function renderFacts(): void {
  const r = state.record;
  if (!r) return;
  fill(
    parts.facts,
    h("h2", {}, "The group"),
    h(
      "dl",
      {},
      h("dt", {}, "Contract"),
      h("dd", {}, h("code", { id: "group-address" }, r.group), ` on chain ${r.chainId}`),
      h("dt", {}, "Members"),
      h("dd", { id: "active-count" }, `${r.activeCount} active of ${r.members.length}`),
      h("dt", {}, "Fee"),
      h("dd", { id: "fee" }, r.fee.text, r.grace ? `; grace ${formatDuration(r.grace)}` : ""),
      h("dt", {}, "Voting"),
      h("dd", {}, `${formatDuration(r.voting)}; mode ${r.mode}${r.open ? "; open: anyone may join by paying" : ""}`),
      h("dt", {}, "Fee destination"),
      h("dd", { id: "fee-destination" }, r.feeDestination.text),
      h("dt", {}, "Treasury"),
      h("dd", { id: "treasury" }, r.treasury.text),
    ),
    h("details", {}, h("summary", {}, "All settings"), ...r.settingsLines.map((l) => h("p", {}, l))),
  );
}

function myVote(p: RecordProposal): string | undefined {
  const a = state.wallet?.account.toLowerCase();
  return a ? p.votes.find((v) => v.voter.toLowerCase() === a)?.choice : undefined;
}

function proposalCard(p: RecordProposal): HTMLElement {
  const r = state.record!;
  const total = Math.max(p.influence, 1);
  const bar = (n: number, cls: string) => h("span", { class: `bar ${cls}`, "data-width": String(Math.round((n / total) * 100)) });
  const voteRow: (HTMLElement | null)[] = [];
  const s = state.standing;
  const mine = myVote(p);
  if (p.state === "open" && state.wallet?.account && s?.isMember && state.wallet.chainId === r.chainId) {
    if (mine) voteRow.push(h("p", { class: "voted" }, `You voted ${mine}.`));
    else {
      const own = h("input", { type: "checkbox", class: "own-tx" });
      voteRow.push(
        h(
          "div",
          { class: "row vote" },
          ...(["yes", "no", "abstain"] as const).map((c) =>
            h(
              "button",
              { class: `vote-${c}`, disabled: state.busy, onclick: () => void vote(p, c, (own as HTMLInputElement).checked) },
              c === "yes" ? "Yes" : c === "no" ? "No" : "Abstain",
            ),
          ),
          h("label", { class: "toggle" }, own, " send it from my wallet (I pay the gas) instead of signing for the bot to submit"),
        ),
      );
    }
  }
  return h(
    "article",
    { class: `proposal card state-${p.state}`, id: `proposal-${p.number}`, "data-state": p.state },
    h("h3", {}, h("a", { href: `/g/${r.group}/p/${p.number}` }, `#${p.number}`), " ", p.summary, " ", h("span", { class: `badge ${p.state}` }, p.state)),
    p.changes.length ? h("ul", {}, ...p.changes.map((c) => h("li", {}, c))) : null,
    h(
      "p",
      { class: "tally" },
      `FOR ${p.forVotes} · AGAINST ${p.againstVotes} · ABSTAIN ${p.abstainVotes}`,
      h("span", { class: "muted" }, ` — needs ${p.quorumVotes} FOR of ${p.influence} (quorum ${percent(p.quorumBps)}) and more FOR than AGAINST`),
    ),
    h("div", { class: "bars" }, bar(p.forVotes, "for"), bar(p.againstVotes, "against"), bar(p.abstainVotes, "abstain")),
    h(
      "p",
      { class: "muted" },
      `${p.state === "open" ? "Deadline" : "Deadline was"} ${formatTime(p.deadline)} · proposed by `,
      who(p.proposer, p.proposerUserId),
      p.executedTx ? " · executed in " : "",
      p.executedTx ? h("code", {}, shortAddress(p.executedTx)) : null,
    ),
    p.votes.length
      ? h(
          "details",
          { class: "votes", open: state.focus === p.number },
          h("summary", {}, `${p.votes.length} vote(s)`),
          h("ul", {}, ...p.votes.map((v) => h("li", {}, who(v.voter, v.userId), `: ${v.choice}${v.weight > 1 ? ` (${v.weight} points)` : ""}`))),
        )
      : null,
    ...voteRow,
  );
}

function renderProposals(): void {
  const r = state.record;
  if (!r) return;
  const list = state.focus !== undefined ? r.proposals.filter((p) => p.number === state.focus) : r.proposals;
  const open = list.filter((p) => p.state === "open");
  const past = list.filter((p) => p.state !== "open");
  fill(
    parts.proposals,
    h("h2", {}, state.focus !== undefined ? `Proposal #${state.focus}` : "Open proposals"),
    ...(open.length ? open.map(proposalCard) : [h("p", { class: "muted" }, state.focus !== undefined ? "" : "None open.")]),
    past.length ? h("h2", {}, state.focus !== undefined ? "" : "Past proposals") : null,
    ...past.map(proposalCard),
    state.focus !== undefined && list.length === 0 ? h("p", { class: "error" }, `There is no proposal #${state.focus}.`) : null,
    state.focus !== undefined ? h("p", {}, h("a", { href: `/g/${r.group}` }, "All proposals")) : null,
  );
  for (const el of parts.proposals.querySelectorAll<HTMLElement>(".bar")) el.style.width = `${el.dataset.width ?? 0}%`;
}

function renderMembers(): void {
  const r = state.record;
  if (!r) return;
  fill(
    parts.members,
    h("h2", {}, "Members"),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", {}, "Member"), h("th", {}, "Paid through"), h("th", {}, "Delegates to"))),
      h(
        "tbody",
        {},
        ...r.members.map((m) =>
          h(
            "tr",
            { class: m.active ? "active" : "lapsed" },
            h("td", {}, who(m.address, m.userId)),
            h("td", {}, m.lifetime ? "for life" : m.active ? formatTime(m.expiresAt) : `lapsed since ${formatTime(m.expiresAt)}`),
            h("td", {}, m.delegate ? who(m.delegate, r.members.find((x) => x.address.toLowerCase() === m.delegate!.toLowerCase())?.userId) : "—"),
          ),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------

async function connect(info: WalletInfo): Promise<void> {
  await busy(`Asking ${info.name} to connect…`, async () => {
    const w = new Wallet(info);
    await w.connect();
    state.wallet = w;
    info.provider.on?.("accountsChanged", (a: unknown) => {
      if (Array.isArray(a) && typeof a[0] === "string" && ACCOUNT.test(a[0])) w.account = a[0];
      void refresh();
    });
    info.provider.on?.("chainChanged", () => void refresh());
    say("ok", `Connected ${shortAddress(w.account)}.`);
  });
}

async function switchChain(chainId: number): Promise<void> {
  await state.wallet!.switchChain(chainId);
  say("ok", `Your wallet is on chain ${chainId} now.`);
}

/** Checks with the bot that the transaction would succeed, then has the wallet send it. */
async function sendChecked(to: string, data: `0x${string}`, value: bigint, done: string): Promise<void> {
  const w = state.wallet!;
  const check = await api("POST", `/api/groups/${state.group}/check`, { from: w.account, to, data, value: value.toString() });
  if (!check.ok) {
    say("error", `This transaction would fail, so it was not sent: ${check.error}`, "failed");
    return;
  }
  try {
    const hash = await w.send({ to, data, value });
    say("ok", [done, `Transaction ${hash}.`]);
  } catch (e) {
    const err = walletError(e);
    if (err.kind !== "failed") throw err;
    // Say why, in words: the same check again now tells the reason.
    const again = await api("POST", `/api/groups/${state.group}/check`, { from: w.account, to, data, value: value.toString() });
    say("error", `The transaction failed: ${again.ok ? err.message : again.error}`, "failed");
  }
}

async function sendGroupTx(fn: "delegate" | "setRelayer" | "castVote" | "join" | "renew", args: unknown[], done: string, value = 0n): Promise<void> {
  const data = encodeFunctionData({ abi: GROUP_ABI, functionName: fn, args: args as never });
  await sendChecked(state.record!.group, data, value, done);
}

async function approveFee(): Promise<void> {
  const r = state.record!;
  const w = state.wallet!;
  const current = decodeFunctionResult({
    abi: ERC20_ABI,
    functionName: "allowance",
    data: (await w.ethCall(
      r.fee.token,
      encodeFunctionData({ abi: ERC20_ABI, functionName: "allowance", args: [w.account as `0x${string}`, r.group as `0x${string}`] }),
    )) as `0x${string}`,
  });
  if (current >= BigInt(r.fee.amount)) {
    say("ok", "The group may already take the fee from your tokens: pay now.");
    return;
  }
  await sendChecked(
    r.fee.token,
    encodeFunctionData({ abi: ERC20_ABI, functionName: "approve", args: [r.group as `0x${string}`, BigInt(r.fee.amount)] }),
    0n,
    "Approved: the group may take the fee once. Now pay.",
  );
}

async function pay(kind: "join" | "renew"): Promise<void> {
  const r = state.record!;
  const value = r.fee.token === zeroAddress ? BigInt(r.fee.amount) : 0n;
  if (kind === "join") await sendGroupTx("join", [], "Paid: you are a member now.", value);
  else await sendGroupTx("renew", [state.wallet!.account], "Paid: your membership is extended by one period.", value);
}

async function vote(p: RecordProposal, choice: Choice, own: boolean): Promise<void> {
  await busy(own ? "Sending your vote from your wallet…" : "Asking your wallet to sign your vote…", async () => {
    const w = state.wallet!;
    if (own) {
      await sendGroupTx("castVote", [BigInt(p.id), SUPPORT[choice]], `You voted ${choice} on #${p.number}.`);
      return;
    }
    const req = await api<{ typed: TypedData }>("POST", `/api/groups/${state.group}/vote/request`, { voter: w.account, number: p.number, choice });
    if (!req.ok) {
      say("error", req.error, "refused");
      return;
    }
    const signature = await w.signTyped(req.typed);
    say("info", "Signed; the bot is submitting your vote…");
    const m = req.typed.message;
    const sent = await api<{ tx: string }>("POST", `/api/groups/${state.group}/vote`, {
      voter: w.account,
      number: p.number,
      choice,
      nonce: String(m.nonce),
      deadline: Number(m.deadline),
      signature,
    });
    if (!sent.ok) say("error", sent.error, "refused");
    else say("ok", [...sent.lines, `Transaction ${sent.tx}.`]);
  });
}

async function authorise(r: GroupRecord, boxes: HTMLElement[], days: HTMLInputElement): Promise<void> {
  await busy("Preparing the authorisation…", async () => {
    const w = state.wallet!;
    const extra = boxes
      .map((b) => b.querySelector("input") as HTMLInputElement)
      .filter((i) => i.checked)
      .map((i) => i.value);
    const req = await api<{ typed: TypedData; words: string[] }>("POST", `/api/groups/${r.group}/relayer/request`, {
      member: w.account,
      extra,
      days: Number(days.value),
    });
    if (!req.ok) {
      say("error", req.error, "refused");
      return;
    }
    // The authority in words first; the wallet shows the same as typed data.
    say("info", ["You are about to sign:", ...req.words]);
    const signature = await w.signTyped(req.typed);
    const m = req.typed.message;
    const sent = await api<{ tx: string }>("POST", `/api/groups/${r.group}/relayer`, {
      member: w.account,
      scope: Number(m.scope),
      until: Number(m.until),
      nonce: String(m.nonce),
      deadline: Number(m.deadline),
      signature,
    });
    if (!sent.ok) say("error", sent.error, "refused");
    else say("ok", ["Authorised.", ...sent.lines, `Transaction ${sent.tx}.`]);
  });
}

async function linkWallet(): Promise<void> {
  await busy("Asking your wallet to sign the link message…", async () => {
    const w = state.wallet!;
    let message = state.me?.pending?.address.toLowerCase() === w.account.toLowerCase() ? state.me.pending.message : undefined;
    if (!message) {
      const start = await api<{ message: string }>("POST", "/api/me/link/start", { address: w.account });
      if (!start.ok) {
        say("error", start.error, "refused");
        return;
      }
      message = start.message;
    }
    const signature = await w.signText(message);
    const done = await api<{ address: string }>("POST", "/api/me/link", { signature });
    if (!done.ok) say("error", done.error, "refused");
    else say("ok", done.lines);
  });
}

async function setShowId(show: boolean): Promise<void> {
  await busy(show ? "Showing your Matrix id…" : "Hiding your Matrix id…", async () => {
    const r = await api("POST", "/api/me/show-id", { show });
    if (!r.ok) say("error", r.error);
    else say("ok", show ? "Your Matrix id is shown next to your address." : "Only your address is shown.");
  });
}

// ---------------------------------------------------------------------------
// Start: which page, and who is looking
// ---------------------------------------------------------------------------

function adopt(s: string, me: WebMe): void {
  session = s;
  tab?.setItem("conclave.session", s);
  state.me = me;
  if (me.group) state.group = me.group;
}

/** In a room widget: the Matrix client proves who the user is with an OpenID token. */
async function widgetIdentity(params: URLSearchParams): Promise<string | undefined> {
  const room = params.get("room") ?? params.get("roomId") ?? "";
  const parent = params.get("parentUrl");
  let origin: string | null;
  try {
    origin = parent ? new URL(parent).origin : null;
  } catch {
    origin = null;
  }
  // Only the client that frames this page speaks for it. matrix-widget-api takes a message from any
  // window (another widget of the same client can guess its request ids and push a token of its own),
  // so the others are dropped before it sees them.
  window.addEventListener(
    "message",
    (ev) => {
      if (ev.source !== window.parent || (origin !== null && ev.origin !== origin)) ev.stopImmediatePropagation();
    },
    true,
  );
  const widget = new WidgetApi(params.get("widgetId"), origin);
  const ready = new Promise<void>((resolve) => widget.once("ready", () => resolve()));
  widget.start();
  await Promise.race([ready, new Promise((r) => setTimeout(r, 5000))]);
  let token;
  try {
    token = await widget.requestOpenIDConnectToken();
  } catch (e) {
    return `Your Matrix client did not confirm who you are (${(e as Error).message}): you can still read the record, or open the one-time link from !link.`;
  }
  const r = await api<{ session: string; me: WebMe }>("POST", "/api/session/openid", {
    access_token: token.access_token,
    matrix_server_name: token.matrix_server_name,
    room_id: room,
  });
  if (!r.ok) return r.error;
  adopt(r.session, r.me);
  return undefined;
}

async function start(): Promise<void> {
  const path = location.pathname;
  const params = new URLSearchParams(location.search);
  const problems: string[] = [];
  if (path === "/link" || path === "/link/") {
    const token = location.hash.slice(1);
    // The token leaves the address bar at once: it works once, and only here.
    history.replaceState(null, "", "/link");
    const r = await api<{ session: string; me: WebMe }>("POST", "/api/session/link", { token });
    if (!r.ok) problems.push(r.error);
    else {
      adopt(r.session, r.me);
      if (r.me.group) history.replaceState(null, "", `/g/${r.me.group}`);
    }
  } else if (path === "/widget") {
    // In a widget, who is looking is what the client proves now: a session this tab kept from before is dropped.
    session = "";
    tab?.removeItem("conclave.session");
    const problem = await widgetIdentity(params);
    if (problem) {
      problems.push(problem);
      // Without an identity the page still shows the record of the group the widget names (public data).
      const g = params.get("group") ?? "";
      if (ACCOUNT.test(g)) state.group = g;
    } else if (!state.group) problems.push("This room is not a group yet: !dao create makes it one.");
  } else {
    const m = /^\/g\/(0x[0-9a-fA-F]{40})(?:\/p\/(\d+)|\/join)?\/?$/.exec(path);
    if (m) {
      state.group = m[1]!;
      if (m[2]) state.focus = Number(m[2]);
    }
    await loadMe();
    if (state.me && !state.group && state.me.group) state.group = state.me.group;
  }
  fill(
    app,
    h(
      "header",
      {},
      h("h1", {}, "Conclave"),
      h("p", { class: "muted" }, state.group ? "The group's record, and your wallet's part in it." : "A room's group DAO."),
    ),
    parts.notice,
    parts.identity,
    parts.wallet,
    parts.facts,
    parts.proposals,
    parts.members,
  );
  if (problems.length) say("error", problems, "identity");
  if (!state.group && !state.me) {
    fill(parts.facts, h("p", {}, "Open this page from your room: the bot's answers link to it (!proposals, !join), and the room's widget opens it."));
  }
  state.wallets = await discover();
  await refresh();
  // Live tallies: read the record again every few seconds while the page is open.
  setInterval(() => {
    if (!state.busy && document.visibilityState === "visible") void refresh();
  }, 5000);
}

void start().catch((e: unknown) => {
  fill(app, h("p", { class: "error" }, `The page failed to start: ${e instanceof WalletError ? e.message : (e as Error).message}`));
});
