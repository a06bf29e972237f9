import { describe, expect, it } from "vitest";
import { Contract, type Signer } from "ethers";
import {
  ACCEPT_TYPES,
  addresses,
  as,
  createGroup,
  DAY,
  defaultSettings,
  deployFactory,
  domainOf,
  ethers,
  execute,
  MIN_NATIVE_FEE,
  propose,
  time,
  vote,
} from "./fixture.ts";
import { Action, LIFETIME, MAX_DURATION } from "../../src/governance/types.ts";
import { encodeAccount } from "../../src/governance/encoding.ts";

const FEE = MIN_NATIVE_FEE;
const PERIOD = 30 * DAY;
const GRACE = 7 * DAY;

async function setup(config: Parameters<typeof defaultSettings>[1] = {}) {
  const factory = await deployFactory();
  const signers = await ethers.getSigners();
  const [, alice, bob, carol, dave, mallory] = signers as unknown as [Signer, Signer, Signer, Signer, Signer, Signer];
  const group = await createGroup(factory, {
    founders: await addresses([alice, bob]),
    settings: defaultSettings({}, { fee: FEE, period: PERIOD, gracePeriod: GRACE, ...config }),
  });
  return { factory, group, alice, bob, carol, dave, mallory };
}

/** Passes an add proposal for `who` with the founders' votes. */
async function approve(group: Contract, voters: Signer[], who: Signer) {
  const p = await propose(group, voters[0]!, Action.AddMember, encodeAccount(await who.getAddress()));
  for (const v of voters) await vote(group, v, p, 1);
  await execute(group, voters[0]!, p);
}

describe("membership token", () => {
  it("is a non-transferable ERC-721 (ERC-5192 locked) with a paid-through time", async () => {
    const { group, alice, bob } = await setup();
    const a = await alice.getAddress();
    const tokenId = (await group.getFunction("memberInfo")(a)).tokenId;
    expect(tokenId).toBe(1n);
    expect(await group.getFunction("ownerOf")(tokenId)).toBe(a);
    expect(await group.getFunction("balanceOf")(a)).toBe(1n);
    expect(await group.getFunction("locked")(tokenId)).toBe(true);
    expect(await group.getFunction("expiresAt")(tokenId)).toBe(BigInt((await time.latest()) + PERIOD));
    const g = as(group, alice);
    await expect(g.getFunction("transferFrom")(a, await bob.getAddress(), tokenId)).rejects.toThrow(/GroupMembershipNotTransferable/);
    await expect(g.getFunction("safeTransferFrom(address,address,uint256)")(a, await bob.getAddress(), tokenId)).rejects.toThrow(
      /GroupMembershipNotTransferable/,
    );
    await expect(g.getFunction("approve")(await bob.getAddress(), tokenId)).rejects.toThrow(/GroupMembershipNotTransferable/);
    await expect(g.getFunction("setApprovalForAll")(await bob.getAddress(), true)).rejects.toThrow(/GroupMembershipNotTransferable/);
    await expect(group.getFunction("ownerOf")(99)).rejects.toThrow(/ERC721NonexistentToken\(99\)/);
    // ERC-165, ERC-721, ERC-721 metadata, ERC-5192.
    for (const id of ["0x01ffc9a7", "0x80ac58cd", "0x5b5e139f", "0xb45a3c0e"]) {
      expect(await group.getFunction("supportsInterface")(id)).toBe(true);
    }
    expect(await group.getFunction("supportsInterface")("0xffffffff")).toBe(false);
    // ERC-5643 is not implemented in full (no renewSubscription / cancelSubscription): its id is not claimed.
    const erc5643 = ["renewSubscription(uint256,uint64)", "cancelSubscription(uint256)", "expiresAt(uint256)", "isRenewable(uint256)"]
      .map((f) => BigInt(ethers.id(f).slice(0, 10)))
      .reduce((x, y) => x ^ y);
    expect(erc5643).toBe(0x8c65f84dn);
    expect(await group.getFunction("supportsInterface")("0x8c65f84d")).toBe(false);
  });

  it("emits Transfer and Locked on mint, as ERC-5192 requires", async () => {
    const { group, alice, bob, carol } = await setup();
    await approve(group, [alice, bob], carol);
    const tx = await as(group, carol).getFunction("join")({ value: FEE });
    const names = (await tx.wait()).logs.map((l: never) => group.interface.parseLog(l)?.name);
    expect(names).toEqual(expect.arrayContaining(["Transfer", "Locked", "MemberAdded", "SubscriptionUpdate", "FeePaid"]));
  });
});

describe("accepting = paying", () => {
  it("refuses to let an account join without approval in a closed group", async () => {
    const { group, carol } = await setup();
    await expect(as(group, carol).getFunction("join")({ value: FEE })).rejects.toThrow(/GroupNotApproved/);
  });

  it("makes an approved account a member when it pays the exact fee", async () => {
    const { group, alice, bob, carol } = await setup();
    await approve(group, [alice, bob], carol);
    const c = await carol.getAddress();
    expect((await group.getFunction("memberInfo")(c)).approved).toBe(true);
    expect(await group.getFunction("isMember")(c)).toBe(false);
    await expect(as(group, carol).getFunction("join")({ value: FEE - 1n })).rejects.toThrow(new RegExp(`GroupWrongPayment\\(${FEE}, ${FEE - 1n}\\)`));
    await (await as(group, carol).getFunction("join")({ value: FEE })).wait();
    expect(await group.getFunction("isActive")(c)).toBe(true);
    expect(await ethers.provider.getBalance(await group.getAddress())).toBe(FEE);
    await expect(as(group, carol).getFunction("join")({ value: FEE })).rejects.toThrow(/GroupAlreadyMember/);
  });

  it("accepts a zero fee", async () => {
    const { group, alice, bob, carol } = await setup({ fee: 0n, addQuorumBps: 5000 });
    await approve(group, [alice, bob], carol);
    const rc = await (await as(group, carol).getFunction("join")()).wait();
    expect(await group.getFunction("isActive")(await carol.getAddress())).toBe(true);
    // FeePaid announces a payment: none for a zero fee.
    const names = rc.logs.map((l: never) => group.interface.parseLog(l)?.name);
    expect(names).toContain("MemberAdded");
    expect(names).not.toContain("FeePaid");
  });

  it("lets anyone join an open group (add quorum 0) by paying, with no proposal", async () => {
    const { group, mallory } = await setup({ addQuorumBps: 0 });
    await (await as(group, mallory).getFunction("join")({ value: FEE })).wait();
    expect(await group.getFunction("isActive")(await mallory.getAddress())).toBe(true);
  });

  it("takes the fee in an ERC-20 when the group says so", async () => {
    const factory = await deployFactory();
    const [, alice, carol] = await ethers.getSigners();
    const token = await ethers.deployContract("TestToken");
    const tokenAddr = await token.getAddress();
    await (await factory.getFunction("setMinFee")(tokenAddr, true, 5n)).wait();
    const group = await createGroup(factory, {
      founders: [await alice!.getAddress()],
      settings: defaultSettings({}, { addQuorumBps: 0, fee: 5n, feeToken: tokenAddr }),
    });
    await (await token.getFunction("mint")(await carol!.getAddress(), 100n)).wait();
    await expect(as(group, carol!).getFunction("join")()).rejects.toThrow(/ERC20InsufficientAllowance/);
    await (await (token.connect(carol!) as Contract).getFunction("approve")(await group.getAddress(), 5n)).wait();
    await expect(as(group, carol!).getFunction("join")({ value: 1n })).rejects.toThrow(/GroupWrongPayment\(0, 1\)/);
    await (await as(group, carol!).getFunction("join")()).wait();
    expect(await token.getFunction("balanceOf")(await group.getAddress())).toBe(5n);
    expect(await group.getFunction("isActive")(await carol!.getAddress())).toBe(true);
  });

  it("accepts for an account with its EIP-712 signature, once", async () => {
    const { group, alice, bob, carol, dave } = await setup({ fee: 0n, addQuorumBps: 5000 });
    await approve(group, [alice, bob], carol);
    const c = await carol.getAddress();
    const domain = await domainOf(group);
    const deadline = (await time.latest()) + 3600;
    const sig = await carol.signTypedData(domain, ACCEPT_TYPES, { account: c, nonce: 0, deadline });
    const forged = await dave.signTypedData(domain, ACCEPT_TYPES, { account: c, nonce: 0, deadline });
    await expect(as(group, dave).getFunction("acceptFor")(c, 0, deadline, forged)).rejects.toThrow(/GroupInvalidSignature/);
    await (await as(group, dave).getFunction("acceptFor")(c, 0, deadline, sig)).wait();
    expect(await group.getFunction("isActive")(c)).toBe(true);
    await expect(as(group, dave).getFunction("acceptFor")(c, 0, deadline, sig)).rejects.toThrow(new RegExp(`GroupNonceUsed\\("${c}", 0\\)`));
  });
});

describe("subscription periods", () => {
  it("extends an early payment from the paid-through time, not from now", async () => {
    const { group, alice, bob } = await setup();
    const a = await alice.getAddress();
    const before = (await group.getFunction("memberInfo")(a)).expiresAt as bigint;
    await time.increase(10 * DAY);
    await (await as(group, bob).getFunction("renew")(a, { value: FEE })).wait();
    expect((await group.getFunction("memberInfo")(a)).expiresAt).toBe(before + BigInt(PERIOD));
  });

  it("stops a member being active the moment its period ends, and restarts the period from now when it pays late", async () => {
    const { group, alice } = await setup();
    const a = await alice.getAddress();
    const expiry = Number((await group.getFunction("memberInfo")(a)).expiresAt);
    await time.increaseTo(expiry - 1);
    expect(await group.getFunction("isActive")(a)).toBe(true);
    await time.increaseTo(expiry);
    expect(await group.getFunction("isActive")(a)).toBe(false);
    expect(await group.getFunction("isMember")(a)).toBe(true);
    expect(await group.getFunction("activeMemberCount")()).toBe(0n);
    await time.increase(DAY);
    await (await as(group, alice).getFunction("renew")(a, { value: FEE })).wait();
    expect((await group.getFunction("memberInfo")(a)).expiresAt).toBe(BigInt((await time.latest()) + PERIOD));
    expect(await group.getFunction("activeMemberCount")()).toBe(1n);
  });

  it("makes a period of 0 a lifetime membership that cannot be paid again", async () => {
    const { group, alice } = await setup({ period: 0 });
    const a = await alice.getAddress();
    expect((await group.getFunction("memberInfo")(a)).expiresAt).toBe(LIFETIME);
    expect(await group.getFunction("expiresAt")(1)).toBe(2n ** 64n - 1n);
    await time.increase(3650 * DAY);
    expect(await group.getFunction("isActive")(a)).toBe(true);
    await expect(as(group, alice).getFunction("renew")(a, { value: FEE })).rejects.toThrow(/GroupPaidForLife/);
  });

  it("lets anyone remove a lapsed member after the grace period, and not before", async () => {
    const { group, alice, mallory } = await setup();
    const a = await alice.getAddress();
    const expiry = Number((await group.getFunction("memberInfo")(a)).expiresAt);
    await time.increaseTo(expiry + GRACE - 2);
    await expect(as(group, mallory).getFunction("removeLapsed")(a)).rejects.toThrow(new RegExp(`GroupGracePeriodNotOver\\("${a}", ${expiry + GRACE}\\)`));
    await time.increaseTo(expiry + GRACE);
    const tx = await as(group, mallory).getFunction("removeLapsed")(a);
    const names = (await tx.wait()).logs.map((l: never) => group.interface.parseLog(l)?.name);
    expect(names).toContain("MemberRemoved");
    expect(await group.getFunction("isMember")(a)).toBe(false);
    await expect(group.getFunction("ownerOf")(1)).rejects.toThrow(/ERC721NonexistentToken/);
    await expect(as(group, mallory).getFunction("removeLapsed")(a)).rejects.toThrow(/GroupNotMember/);
  });

  it("refuses to remove a member who paid", async () => {
    const { group, alice, mallory } = await setup();
    const a = await alice.getAddress();
    await time.increase(PERIOD + GRACE + 1);
    await (await as(group, alice).getFunction("renew")(a, { value: FEE })).wait();
    await expect(as(group, mallory).getFunction("removeLapsed")(a)).rejects.toThrow(/GroupGracePeriodNotOver/);
  });

  it("lets a member pay again at once after many simultaneous lapses, and removes lapsed members 64 per call", async () => {
    const factory = await deployFactory();
    const founders = Array.from({ length: 70 }, (_, i) => ethers.getAddress(`0x${(0x1000 + i).toString(16).padStart(40, "0")}`));
    const [, alice] = await ethers.getSigners();
    const a = await alice!.getAddress();
    founders.push(a);
    const group = await createGroup(factory, { founders, settings: defaultSettings({}, { fee: FEE }) });
    await time.increase(PERIOD + 1);
    expect(await group.getFunction("activeMemberCount")()).toBe(0n);
    // 71 lapses fell in one second; nothing needs sweeping before alice pays.
    await (await as(group, alice!).getFunction("renew")(a, { value: FEE })).wait();
    expect(await group.getFunction("activeMemberCount")()).toBe(1n);
    const lapsed = founders.slice(0, 70);
    const g = as(group, alice!);
    await expect(g.getFunction("removeLapsedBatch")([...lapsed, a])).rejects.toThrow(/GroupBatchTooLarge\(71, 64\)/);
    // Within the grace period nobody is removed.
    expect(await g.getFunction("removeLapsedBatch").staticCall(lapsed.slice(0, 64))).toBe(0n);
    await time.increase(GRACE);
    // Skipped: a member who paid (alice) and an account that is no member.
    const stranger = ethers.Wallet.createRandom().address;
    const batch = [a, stranger, ...lapsed.slice(0, 62)];
    expect(await g.getFunction("removeLapsedBatch").staticCall(batch)).toBe(62n);
    const rc = await (await g.getFunction("removeLapsedBatch")(batch)).wait();
    const removed = rc.logs.map((l: never) => group.interface.parseLog(l)).filter((e: { name: string } | null) => e?.name === "MemberRemoved");
    expect(removed.map((e: { args: { account: string } }) => e.args.account)).toEqual(lapsed.slice(0, 62));
    expect(await group.getFunction("isMember")(lapsed[0])).toBe(false);
    expect(await group.getFunction("isMember")(lapsed[62])).toBe(true);
    expect(await group.getFunction("isMember")(a)).toBe(true);
    expect(await g.getFunction("removeLapsedBatch").staticCall(lapsed.slice(62))).toBe(8n);
    expect(await group.getFunction("activeMemberCount")()).toBe(1n);
  });

  it("refuses payments that would put the paid-through time more than 7,300 days ahead", async () => {
    const period = MAX_DURATION;
    const { group, alice } = await setup({ period, gracePeriod: 0 });
    const a = await alice.getAddress();
    const created = (await group.getFunction("memberInfo")(a)).expiresAt as bigint;
    await (await as(group, alice).getFunction("renew")(a, { value: FEE })).wait();
    expect((await group.getFunction("memberInfo")(a)).expiresAt).toBe(created + BigInt(period));
    const now = BigInt(await time.latest()) + 1n;
    await time.setNextBlockTimestamp(now);
    await expect(as(group, alice).getFunction("renew")(a, { value: FEE })).rejects.toThrow(
      new RegExp(`GroupPaidTooFarAhead\\("${a}", ${created + 2n * BigInt(period)}, ${now + 2n * BigInt(MAX_DURATION)}\\)`),
    );
  });
});

describe("Matrix links", () => {
  it("records a salted hash, one account per Matrix account, only by the linker", async () => {
    const factory = await deployFactory();
    const [, alice, bob, linker] = await ethers.getSigners();
    const [a, b, l] = await addresses([alice!, bob!, linker!]);
    const group = await createGroup(factory, { founders: [a!, b!], settings: defaultSettings({ linker: l! }) });
    const hash = ethers.keccak256(ethers.toUtf8Bytes("salt|@alice:example.org"));
    await expect(as(group, alice!).getFunction("recordMatrixLink")(a, hash)).rejects.toThrow(/GroupUnauthorized/);
    await (await as(group, linker!).getFunction("recordMatrixLink")(a, hash)).wait();
    expect(await group.getFunction("matrixLinkOf")(a)).toBe(hash);
    expect(await group.getFunction("accountOfMatrixLink")(hash)).toBe(a);
    await expect(as(group, linker!).getFunction("recordMatrixLink")(b, hash)).rejects.toThrow(/GroupMatrixLinkTaken/);
    await expect(as(group, bob!).getFunction("clearMatrixLink")(a)).rejects.toThrow(/GroupUnauthorized/);
    await (await as(group, alice!).getFunction("clearMatrixLink")(a)).wait();
    expect(await group.getFunction("accountOfMatrixLink")(hash)).toBe(ethers.ZeroAddress);
    await (await as(group, linker!).getFunction("recordMatrixLink")(b, hash)).wait();
    expect(await group.getFunction("accountOfMatrixLink")(hash)).toBe(b);
  });
});
