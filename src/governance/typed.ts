/**
 * The EIP-712 types a group checks (Vote and Accept in contracts/group,
 * Relayer in contracts/GroupExtension.sol), for the bot, the web page and
 * the tests. Domain: `Conclave Group` / `1` / chain id / the group's address.
 */
export const VOTE_TYPES = {
  Vote: [
    { name: "proposalId", type: "uint256" },
    { name: "support", type: "uint8" },
    { name: "voter", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

export const ACCEPT_TYPES = {
  Accept: [
    { name: "account", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

export const RELAYER_TYPES = {
  Relayer: [
    { name: "member", type: "address" },
    { name: "relayer", type: "address" },
    { name: "scope", type: "uint8" },
    { name: "until", type: "uint64" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};
