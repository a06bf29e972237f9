import { describe, expect, it } from "vitest";
import { ZeroAddress } from "ethers";
import { addresses, createGroup, DAY, defaultSettings, deployFactory, ethers, initTuple, MIN_ADD_QUORUM_BPS, MIN_NATIVE_FEE, time } from "./fixture.ts";
import { MAX_DURATION, MIN_PERIOD, Mode } from "../../src/governance/types.ts";

describe("GroupFactory", () => {
  it("creates a group as a minimal-proxy clone with founders active and their first period paid", async () => {
    const factory = await deployFactory();
    const signers = await ethers.getSigners();
    const founders = await addresses(signers.slice(1, 4));
    const group = await createGroup(factory, { founders });
    const code = await ethers.provider.getCode(await group.getAddress());
    const now = await time.latest();
    // EIP-1167 runtime code is 45 bytes; the group's epoch (5 bytes, one second before creation)
    // follows it, then the factory's address (20 bytes).
    expect((code.length - 2) / 2).toBe(70);
    expect(code.slice(0, 2 + 20)).toBe("0x363d3d373d3d3d363d73");
    expect(BigInt("0x" + code.slice(2 + 90, 2 + 100))).toBe(BigInt(now - 1));
    expect(ethers.getAddress("0x" + code.slice(2 + 100))).toBe(await factory.getAddress());
    expect(await group.getFunction("epoch")()).toBe(BigInt(now - 1));
    for (const f of founders) {
      expect(await group.getFunction("isMember")(f)).toBe(true);
      expect(await group.getFunction("isActive")(f)).toBe(true);
      const info = await group.getFunction("memberInfo")(f);
      expect(Number(info.expiresAt)).toBe(now + 30 * DAY);
    }
    expect(await group.getFunction("activeMemberCount")()).toBe(3n);
    expect(await group.getFunction("factory")()).toBe(await factory.getAddress());
  });

  it("emits GroupCreated with the creator and the reference", async () => {
    const factory = await deployFactory();
    const [, a, b] = await ethers.getSigners();
    const ref = ethers.id("!room:example.org");
    const tx = await factory.connect(b!).getFunction("createGroup")(initTuple({ founders: [await a!.getAddress()] }), ref);
    await expect(tx.wait()).resolves.toBeTruthy();
    const receipt = await tx.wait();
    const ev = receipt.logs.map((l: never) => factory.interface.parseLog(l)).find((e: { name: string } | null) => e?.name === "GroupCreated");
    expect(ev.args.creator).toBe(await b!.getAddress());
    expect(ev.args.ref).toBe(ref);
  });

  it("refuses a group that is cheap to join both ways, naming both unmet minimums", async () => {
    const factory = await deployFactory();
    const [, a] = await ethers.getSigners();
    const founders = [await a!.getAddress()];
    const cheap = defaultSettings({}, { addQuorumBps: 1000, fee: MIN_NATIVE_FEE - 1n });
    await expect(createGroup(factory, { founders, settings: cheap })).rejects.toThrow(
      new RegExp(`UnsafeGroupConfig\\(1000, ${MIN_ADD_QUORUM_BPS}, ${MIN_NATIVE_FEE - 1n}, ${MIN_NATIVE_FEE}\\)`),
    );
  });

  it("accepts a low add quorum when the fee is at the safe minimum, and a free group with a safe add quorum", async () => {
    const factory = await deployFactory();
    const [, a] = await ethers.getSigners();
    const founders = [await a!.getAddress()];
    const open = await createGroup(factory, { founders, settings: defaultSettings({}, { addQuorumBps: 0, fee: MIN_NATIVE_FEE }) });
    expect(await open.getFunction("isOpen")()).toBe(true);
    const free = await createGroup(factory, { founders, settings: defaultSettings({}, { addQuorumBps: MIN_ADD_QUORUM_BPS, fee: 0n }) });
    expect(await free.getFunction("isOpen")()).toBe(false);
  });

  it("uses the default quorum for the add quorum when it is unset, in the safety rule too", async () => {
    const factory = await deployFactory();
    const [, a] = await ethers.getSigners();
    const founders = [await a!.getAddress()];
    await expect(createGroup(factory, { founders, settings: defaultSettings({}, { defaultQuorumBps: 500 }) })).rejects.toThrow(
      /UnsafeGroupConfig\(500, 2000, 0, 10000000000000000\)/,
    );
  });

  it("counts an ERC-20 fee token without a configured minimum as cheap", async () => {
    const factory = await deployFactory();
    const [, a] = await ethers.getSigners();
    const token = await ethers.deployContract("TestToken");
    const tokenAddr = await token.getAddress();
    const settings = defaultSettings({}, { addQuorumBps: 0, fee: 10n ** 24n, feeToken: tokenAddr });
    await expect(createGroup(factory, { founders: [await a!.getAddress()], settings })).rejects.toThrow(
      new RegExp(`UnsafeGroupConfigUnknownFeeToken\\(0, 2000, "${tokenAddr}"\\)`),
    );
    await (await factory.getFunction("setMinFee")(tokenAddr, true, 100n)).wait();
    const g = await createGroup(factory, { founders: [await a!.getAddress()], settings });
    expect(await g.getFunction("isOpen")()).toBe(true);
  });

  it("lets only the owner change the safe minimums", async () => {
    const factory = await deployFactory();
    const [, a] = await ethers.getSigners();
    await expect(factory.connect(a!).getFunction("setMinAddQuorum")(0)).rejects.toThrow(/OwnableUnauthorizedAccount/);
    await expect(factory.getFunction("setMinAddQuorum")(10_001)).rejects.toThrow(/FactoryInvalidMinimum/);
  });

  it("refuses invalid settings with a custom error each", async () => {
    const factory = await deployFactory();
    const [, a, b] = await ethers.getSigners();
    const founders = [await a!.getAddress()];
    const cases: [ReturnType<typeof defaultSettings>, RegExp][] = [
      [defaultSettings({}, { defaultQuorumBps: 10_001 }), /GroupInvalidQuorum\(10001\)/],
      [defaultSettings({}, { removeQuorumBps: 20_000 }), /GroupInvalidQuorum\(20000\)/],
      [defaultSettings({}, { votingPeriod: 0 }), new RegExp(`GroupInvalidDuration\\(0, 0, 1, ${MAX_DURATION}\\)`)],
      [defaultSettings({}, { period: MAX_DURATION + 1 }), new RegExp(`GroupInvalidDuration\\(1, ${MAX_DURATION + 1}, ${MIN_PERIOD}, ${MAX_DURATION}\\)`)],
      // A period shorter than a day (other than 0, for life).
      [defaultSettings({}, { period: MIN_PERIOD - 1 }), new RegExp(`GroupInvalidDuration\\(1, ${MIN_PERIOD - 1}, ${MIN_PERIOD}, ${MAX_DURATION}\\)`)],
      [defaultSettings({}, { gracePeriod: MAX_DURATION + 1 }), new RegExp(`GroupInvalidDuration\\(2, ${MAX_DURATION + 1}, 0, ${MAX_DURATION}\\)`)],
      [defaultSettings({}, { maxOpenProposals: 0 }), /GroupInvalidMaxOpenProposals\(0, 3\)/],
      [defaultSettings({}, { maxOpenProposals: 4 }), /GroupInvalidMaxOpenProposals\(4, 3\)/],
      [defaultSettings({}, { mode: Mode.Admin }), /GroupAdminsRequired/],
      [defaultSettings({ admins: [ZeroAddress] }, { mode: Mode.Admin }), /GroupInvalidAdmins/],
      [defaultSettings({ admins: [founders[0]!, founders[0]!] }, { mode: Mode.Admin }), /GroupInvalidAdmins/],
      [defaultSettings({ controller: await b!.getAddress() }, { mode: Mode.External }), /GroupControllerRequired/],
    ];
    for (const [settings, error] of cases) {
      await expect(createGroup(factory, { founders, settings })).rejects.toThrow(error);
    }
    await expect(createGroup(factory, { founders: [] })).rejects.toThrow(/GroupNoFounders/);
    const many = Array.from({ length: 257 }, (_, i) => ethers.getAddress(`0x${(0x1000 + i).toString(16).padStart(40, "0")}`));
    await expect(createGroup(factory, { founders: many })).rejects.toThrow(/GroupTooManyFounders\(257, 256\)/);
    await expect(createGroup(factory, { founders: [founders[0]!, founders[0]!] })).rejects.toThrow(/GroupAlreadyMember/);
  });

  it("cannot initialise a group or the implementation twice", async () => {
    const factory = await deployFactory();
    const [, a] = await ethers.getSigners();
    const group = await createGroup(factory, { founders: [await a!.getAddress()] });
    const impl = await ethers.getContractAt("Group", await factory.getFunction("implementation")());
    const args = [ZeroAddress, "0x", "0x", [await a!.getAddress()]] as const;
    await expect(group.connect(a!).getFunction("initialize")(...args)).rejects.toThrow(/InvalidInitialization/);
    await expect(impl.getFunction("initialize")(...args)).rejects.toThrow(/InvalidInitialization/);
  });
});
