import { describe, expect, it } from "vitest";
import { Contract, ZeroAddress } from "ethers";
import { addresses, as, createGroup, DAY, defaultSettings, deployFactory, ethers, MIN_NATIVE_FEE, time } from "./fixture.ts";
import { DestinationKind, type FeeDestination } from "../../src/governance/types.ts";

const FEE = MIN_NATIVE_FEE;

async function setup(destination: FeeDestination | undefined, feeToken = ZeroAddress) {
  const factory = await deployFactory();
  const [, alice, bob, carol, keeper] = await ethers.getSigners();
  if (feeToken !== ZeroAddress) await (await factory.getFunction("setMinFee")(feeToken, true, FEE)).wait();
  const group = await createGroup(factory, {
    founders: await addresses([alice!, bob!]),
    settings: defaultSettings({}, { fee: FEE, addQuorumBps: 0, feeToken }),
    ...(destination ? { destination } : {}),
  });
  return { group, alice: alice!, bob: bob!, carol: carol!, keeper: keeper! };
}

describe("fee destination", () => {
  it("keeps fees in the group when locked", async () => {
    const { group, carol, keeper } = await setup(undefined);
    await (await as(group, carol).getFunction("join")({ value: FEE })).wait();
    await expect(as(group, keeper).getFunction("release")(ZeroAddress)).rejects.toThrow(/GroupFeesLocked/);
    expect(await ethers.provider.getBalance(await group.getAddress())).toBe(FEE);
  });

  it("releases to recipients by shares, at most once a month, by anyone", async () => {
    const r1 = ethers.Wallet.createRandom().address;
    const r2 = ethers.Wallet.createRandom().address;
    const { group, alice, carol, keeper } = await setup({ kind: DestinationKind.Release, target: ZeroAddress, recipients: [r1, r2], sharesBps: [7500, 2500] });
    await (await as(group, carol).getFunction("join")({ value: FEE })).wait();
    await (await as(group, alice).getFunction("renew")(await alice.getAddress(), { value: FEE })).wait();
    await (await as(group, keeper).getFunction("release")(ZeroAddress)).wait();
    expect(await ethers.provider.getBalance(r1)).toBe((2n * FEE * 3n) / 4n);
    expect(await ethers.provider.getBalance(r2)).toBe((2n * FEE) / 4n);
    await (await as(group, alice).getFunction("renew")(await alice.getAddress(), { value: FEE })).wait();
    const next = await group.getFunction("nextReleaseAt")(ZeroAddress);
    await expect(as(group, keeper).getFunction("release")(ZeroAddress)).rejects.toThrow(new RegExp(`GroupReleaseTooSoon\\("${ZeroAddress}", ${next}\\)`));
    await time.increaseTo(Number(next));
    await (await as(group, keeper).getFunction("release")(ZeroAddress)).wait();
    expect(await ethers.provider.getBalance(await group.getAddress())).toBe(0n);
    await time.increase(31 * DAY);
    await expect(as(group, keeper).getFunction("release")(ZeroAddress)).rejects.toThrow(/GroupNothingToRelease/);
  });

  it("sends everything to a custom contract, in the fee token", async () => {
    const token = await ethers.deployContract("TestToken");
    const sink = await ethers.deployContract("TestToken");
    const sinkAddr = await sink.getAddress();
    const { group, carol, keeper } = await setup({ kind: DestinationKind.Custom, target: sinkAddr, recipients: [], sharesBps: [] }, await token.getAddress());
    await (await token.getFunction("mint")(await carol.getAddress(), FEE)).wait();
    await (await (token.connect(carol) as Contract).getFunction("approve")(await group.getAddress(), FEE)).wait();
    await (await as(group, carol).getFunction("join")()).wait();
    await (await as(group, keeper).getFunction("release")(await token.getAddress())).wait();
    expect(await token.getFunction("balanceOf")(sinkAddr)).toBe(FEE);
  });

  it("refuses a custom destination that is not a contract, and bad shares", async () => {
    const eoa = ethers.Wallet.createRandom().address;
    await expect(setup({ kind: DestinationKind.Custom, target: eoa, recipients: [], sharesBps: [] })).rejects.toThrow(/GroupInvalidDestinationTarget/);
    await expect(setup({ kind: DestinationKind.Release, target: ZeroAddress, recipients: [eoa, eoa], sharesBps: [5000, 5000] })).rejects.toThrow(
      /GroupInvalidShares/,
    );
    await expect(setup({ kind: DestinationKind.Release, target: ZeroAddress, recipients: [eoa], sharesBps: [9999] })).rejects.toThrow(/GroupInvalidShares/);
  });
});
