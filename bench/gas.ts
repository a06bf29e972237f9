// Gas benchmark: our group DAO against an OpenZeppelin 5.x Governor
// (ERC721Votes + GovernorCountingOverridable, 10 members, no timelock), on
// the same in-process Hardhat network, with the same compiler settings.
// Prints a table and writes bench/results/gas.json.
//
// usage: npm run bench:gas
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { network } from "hardhat";
import { Contract, type Signer, type TransactionReceipt } from "ethers";
import { measureOz } from "./oz.ts";
import { benchSettings, measureWorstCase, type WorstCase } from "./gas-worst.ts";
import { deployFactory } from "../src/governance/deploy.ts";
import { FACTORY_ABI, GROUP_ABI } from "../src/governance/contracts.ts";
import { destinationValues, encodeAccount, LOCKED_DESTINATION, settingsValues } from "../src/governance/encoding.ts";
import { Action, QUORUM_DEFAULT, VoteType, type GroupSettings } from "../src/governance/types.ts";

const { ethers, networkHelpers } = await network.create();
const { time } = networkHelpers;
const DAY = 86_400;

const ABI = GROUP_ABI;

// The same group as the worst case's, but closed (add quorum = the default) and with a grace period.
const settings = (period: number): GroupSettings => benchSettings(period, QUORUM_DEFAULT, 7 * DAY);

async function send(c: Contract, from: Signer, fn: string, args: unknown[], value?: bigint): Promise<TransactionReceipt> {
  const tx = await (c.connect(from) as Contract).getFunction(fn)(...args, ...(value !== undefined ? [{ value }] : []));
  const rc = (await tx.wait()) as TransactionReceipt | null;
  if (!rc || rc.status !== 1) throw new Error(`${fn} failed`);
  return rc;
}
const gas = (rc: TransactionReceipt) => Number(rc.gasUsed);

async function createGroup(factory: Contract, from: Signer, founders: string[], s: GroupSettings) {
  const rc = await send(factory, from, "createGroup", [[settingsValues(s), destinationValues(LOCKED_DESTINATION), founders], ethers.ZeroHash]);
  const ev = rc.logs.map((l) => factory.interface.parseLog(l)).find((e) => e?.name === "GroupCreated");
  return { group: new Contract(ev!.args.group as string, ABI, ethers.provider), rc };
}

async function proposeAdd(group: Contract, from: Signer, who: string) {
  const payload = encodeAccount(who);
  const rc = await send(group, from, "propose", [Action.AddMember, payload]);
  const ev = rc.logs.map((l) => group.interface.parseLog(l)).find((e) => e?.name === "ProposalCreated");
  return { id: ev!.args.proposalId as bigint, number: ev!.args.number as bigint, payload, rc };
}

/** Our side of the 10-member session, mirroring bench/oz.ts step by step. */
async function measureOurs(signers: Signer[]) {
  const [deployer, ...rest] = signers;
  const members = rest.slice(0, 10);
  const newMember = rest[10]!;
  const addrs = await Promise.all(members.map((m) => m.getAddress()));
  // The deployment is three creations (extension, implementation, factory), one block each here.
  const before = await ethers.provider.getBlockNumber();
  const factory = new Contract(await deployFactory(deployer!, await deployer!.getAddress(), { minAddQuorumBps: 0, minNativeFee: 0n }), FACTORY_ABI, deployer);
  let factoryDeploy = 0;
  for (let b = before + 1; b <= (await ethers.provider.getBlockNumber()); b++) factoryDeploy += Number((await ethers.provider.getBlock(b))!.gasUsed);
  const { group, rc: createRc } = await createGroup(factory, deployer!, addrs, settings(30 * DAY));

  // X (members[1]) delegates to Y (members[2]) before the proposal.
  const delegate = gas(await send(group, members[1]!, "delegate", [addrs[2]]));
  const add = await proposeAdd(group, members[0]!, await newMember.getAddress());
  const firstVote = gas(await send(group, members[0]!, "castVote", [add.id, VoteType.For]));
  const laterVote = gas(await send(group, members[2]!, "castVote", [add.id, VoteType.For]));
  await send(group, members[3]!, "castVote", [add.id, VoteType.Against]);
  const overrideVote = gas(await send(group, members[1]!, "castVote", [add.id, VoteType.Against]));
  await send(group, members[4]!, "castVote", [add.id, VoteType.For]);
  await time.increase(3 * DAY + 1);
  const executeAdd = gas(await send(group, deployer!, "execute", [add.number, Action.AddMember, add.payload]));
  // Our add approves; the new member accepts by paying (fee 0 here): the OZ mint does both at once.
  const join = gas(await send(group, newMember, "join", []));
  const renew = gas(await send(group, members[5]!, "renew", [addrs[5]]));

  const rmPayload = encodeAccount(addrs[9]!);
  const rmRc = await send(group, members[0]!, "propose", [Action.RemoveMember, rmPayload]);
  const rm = rmRc.logs.map((l) => group.interface.parseLog(l)).find((e) => e?.name === "ProposalCreated")!;
  await send(group, members[0]!, "castVote", [rm.args.proposalId, VoteType.For]);
  await send(group, members[2]!, "castVote", [rm.args.proposalId, VoteType.For]);
  await time.increase(3 * DAY + 1);
  const executeRemove = gas(await send(group, deployer!, "execute", [rm.args.number, Action.RemoveMember, rmPayload]));
  if (await group.getFunction("isMember")(addrs[9])) throw new Error("remove did not remove");

  return {
    factoryDeploy,
    create: gas(createRc),
    propose: gas(add.rc),
    firstVote,
    laterVote,
    overrideVote,
    delegate,
    join,
    renew,
    executeAdd,
    executeRemove,
  };
}

/** Vote gas in a group of `n` members: member n votes right after member n-1 (same ballot word). */
async function voteGasAt(n: number, deployer: Signer) {
  const factory = new Contract(await deployFactory(deployer, await deployer.getAddress(), { minAddQuorumBps: 0, minNativeFee: 0n }), FACTORY_ABI, deployer);
  const founder = deployer;
  const { group } = await createGroup(factory, deployer, [await founder.getAddress()], {
    ...settings(30 * DAY),
    config: { ...settings(30 * DAY).config, addQuorumBps: 0 },
  });
  // Members join an open group one by one, as they would.
  const wallets: Signer[] = [];
  for (let i = 1; i < n; i++) {
    const w = ethers.Wallet.createRandom().connect(ethers.provider);
    await networkHelpers.setBalance(w.address, 10n ** 18n);
    await send(group, w, "join", []);
    wallets.push(w);
  }
  const voters = [founder, ...wallets];
  const p = await proposeAdd(group, founder, ethers.Wallet.createRandom().address);
  await send(group, voters[n - 2]!, "castVote", [p.id, VoteType.For]);
  const later = gas(await send(group, voters[n - 1]!, "castVote", [p.id, VoteType.Against]));
  return later;
}

const signers = await ethers.getSigners();
const ours = await measureOurs(signers);
const oz = await measureOz(ethers, signers, networkHelpers);

const rows: { name: string; ours: number; oz: number | null; note?: string }[] = [
  { name: "create a 10-founder group", ours: ours.create, oz: oz.deploy, note: "ours: clone + init; OZ: token + governor deploy, 10 mints" },
  { name: "create, with voting power ready", ours: ours.create, oz: oz.deployWithDelegations, note: "OZ members must self-delegate before they can vote" },
  { name: "propose", ours: ours.propose, oz: oz.propose },
  { name: "first vote", ours: ours.firstVote, oz: oz.firstVote },
  { name: "later vote", ours: ours.laterVote, oz: oz.laterVote },
  { name: "delegator override vote", ours: ours.overrideVote, oz: oz.overrideVote },
  { name: "delegate", ours: ours.delegate, oz: oz.delegate },
  { name: "execute an add", ours: ours.executeAdd, oz: oz.executeAdd, note: "ours approves; the member then joins (below)" },
  { name: "execute an add + join", ours: ours.executeAdd + ours.join, oz: oz.executeAdd },
  { name: "execute a remove", ours: ours.executeRemove, oz: oz.executeRemove },
  { name: "join subscription", ours: ours.join, oz: null, note: "no OZ equivalent" },
  { name: "renew subscription", ours: ours.renew, oz: null, note: "no OZ equivalent" },
];

const voteGasByMembers: Record<string, number> = {};
for (const n of [10, 100, 1000]) voteGasByMembers[String(n)] = await voteGasAt(n, signers[0]!);

const operations = rows.map((r) => ({
  name: r.name,
  ours: r.ours,
  oz: r.oz,
  ratio: r.oz ? Math.round((r.ours / r.oz) * 1000) / 1000 : null,
  ...(r.note ? { note: r.note } : {}),
}));

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`${"operation".padEnd(34)}${pad("ours", 10)}${pad("OZ", 10)}${pad("ours/OZ", 9)}`);
for (const o of operations) {
  console.log(`${o.name.padEnd(34)}${pad(o.ours, 10)}${pad(o.oz ?? "-", 10)}${pad(o.ratio ?? "-", 9)}`);
}
console.log(`\nfactory deployment (once per deployment): ${ours.factoryDeploy}`);
console.log("vote gas by group size:", voteGasByMembers);
const spread = (voteGasByMembers["1000"]! - voteGasByMembers["10"]!) / voteGasByMembers["10"]!;
console.log(`vote gas at 1000 vs 10 members: ${(spread * 100).toFixed(2)}%`);

// The worst case, on a network of its own: blocks may share a second and hold thousands of transactions.
const sizes = (process.env.GAS_SIZES ?? "10,1000,10000").split(",").map(Number);
const worst = await network.create({ override: { allowBlocksWithSameTimestamp: true, blockGasLimit: 2n ** 40n } });
const worstCase: WorstCase = await measureWorstCase(worst.ethers, sizes, (l) => console.log(l));
console.log(`\nworst case (the higher of "prepaid a year ahead" and "lapsed in one second"), gas per transaction:`);
console.log(`${"operation".padEnd(12)}${sizes.map((n) => pad(n, 10)).join("")}  spread`);
for (const [op, bySize] of Object.entries(worstCase)) {
  const v = sizes.map((n) => bySize[String(n)] ?? 0);
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  console.log(`${op.padEnd(12)}${v.map((x) => pad(x, 10)).join("")}  ${(((hi - lo) / lo) * 100).toFixed(1)}%`);
}

const out = join(import.meta.dirname, "results");
mkdirSync(out, { recursive: true });
writeFileSync(join(out, "gas.json"), JSON.stringify({ operations, voteGasByMembers, factoryDeploy: ours.factoryDeploy, worstCase }, null, 2) + "\n");
console.log(`wrote ${join("bench", "results", "gas.json")}`);
