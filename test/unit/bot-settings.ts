/** The bot's settings in the unit tests that run commands through the bot (defaults of a free group, a server "localhost"). */
import { ZeroAddress } from "ethers";
import type { BotSettings } from "../../src/bot/context.ts";
import { DestinationKind, Mode, QUORUM_DEFAULT } from "../../src/governance/types.ts";

export const SETTINGS: BotSettings = {
  prefix: "!",
  serverName: "localhost",
  creators: ["*:localhost"],
  defaults: {
    config: {
      defaultQuorumBps: 5000,
      addQuorumBps: QUORUM_DEFAULT,
      removeQuorumBps: QUORUM_DEFAULT,
      configQuorumBps: QUORUM_DEFAULT,
      feeDestinationQuorumBps: QUORUM_DEFAULT,
      customQuorumBps: QUORUM_DEFAULT,
      votingPeriod: 3 * 86400,
      period: 30 * 86400,
      gracePeriod: 7 * 86400,
      mode: Mode.Vote,
      customCallsAllowed: false,
      maxOpenProposals: 3,
      fee: 0n,
      feeToken: ZeroAddress,
    },
    controller: ZeroAddress,
    admins: [],
  },
  defaultDestination: { kind: DestinationKind.Locked, target: ZeroAddress, recipients: [], sharesBps: [] },
  feeDecimals: 18,
  linkTtlMs: 3_600_000,
  authorizationDays: 180,
  linkSalt: "salt",
  botUserId: "@conclave:localhost",
  consentWindowMs: 86_400_000,
  adoptionGraceMs: 7 * 86_400_000,
  startIn: "enforce",
};
