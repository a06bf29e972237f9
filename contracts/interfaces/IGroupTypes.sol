// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice Who may change membership directly, besides passed proposals.
enum Mode {
    // Everyone is equal; member changes need a proposal.
    Vote,
    // Named admins may add and remove members directly.
    Admin,
    // An external governance system (the controller) drives the group.
    External
}

/// @notice What a proposal does when executed. Each has its own quorum.
enum Action {
    AddMember,
    RemoveMember,
    Config,
    FeeDestination,
    Custom
}

/// @notice Where collected fees go.
enum DestinationKind {
    // Fees stay in the group contract.
    Locked,
    // Fees are released to recipients by shares, at most once a month.
    Release,
    // Fees are sent to a contract named by the group.
    Custom
}

/// @notice Vote choices, in the order OpenZeppelin's Governor uses.
enum VoteType {
    Against,
    For,
    Abstain
}

/// @notice Where a proposal stands.
enum ProposalState {
    Active,
    Defeated,
    Succeeded,
    Executed,
    Expired
}

/// @notice The durations a group's settings hold, named in `GroupInvalidDuration`.
enum Duration {
    VotingPeriod,
    Period,
    GracePeriod
}

/**
 * @notice A group's governable parameters.
 * Quorums are in basis points (1% = 100) of the influence at the proposal's
 * snapshot. A per-action quorum of `QUORUM_DEFAULT` (type(uint16).max) means
 * "use `defaultQuorumBps`". Durations are in seconds, each at most
 * `GroupConstants.MAX_DURATION` (3650 days).
 */
struct Config {
    uint16 defaultQuorumBps;
    uint16 addQuorumBps;
    uint16 removeQuorumBps;
    uint16 configQuorumBps;
    uint16 feeDestinationQuorumBps;
    uint16 customQuorumBps;
    // Seconds a proposal stays open for votes (1 .. MAX_DURATION).
    uint32 votingPeriod;
    // Seconds one payment buys; 0 = pay once, member for life.
    uint32 period;
    // Seconds after a lapse before anyone may remove the member.
    uint32 gracePeriod;
    Mode mode;
    // Whether proposals may carry arbitrary calls (Action.Custom).
    bool customCallsAllowed;
    // How many proposals one member may have open at a time (1 .. MAX_OPEN_PROPOSALS).
    uint8 maxOpenProposals;
    // Fee per period, in `feeToken` units (0 allowed).
    uint96 fee;
    // ERC-20 the fee is paid in; address(0) = the chain's native coin.
    address feeToken;
}

/// @notice Everything a config proposal (or the controller) can replace.
struct Settings {
    Config config;
    // The external governance contract (Mode.External); may be address(0) otherwise.
    address controller;
    // The account allowed to record Matrix links (the Conclave bot).
    address linker;
    // Admins (Mode.Admin); ignored but kept in other modes.
    address[] admins;
}

/// @notice Where fees go, chosen by proposals of type FeeDestination.
struct FeeDestination {
    DestinationKind kind;
    // Contract receiving the fees (Custom).
    address target;
    // Recipients and their shares in basis points summing to 10000 (Release).
    address[] recipients;
    uint16[] sharesBps;
}

/// @notice What the factory passes to a new group.
struct GroupInit {
    Settings settings;
    FeeDestination destination;
    address[] founders;
}

/// @notice Constants shared by the contracts and the bot.
library GroupConstants {
    uint16 internal constant QUORUM_DEFAULT = type(uint16).max;
    uint16 internal constant BPS = 10_000;
    // Active members of one group, at most: counts in the expiry trees stay below 2^15.
    uint32 internal constant MAX_ACTIVE_MEMBERS = 32_767;
    // Founders of one group: creation is one transaction.
    uint256 internal constant MAX_FOUNDERS = 256;
    // Paid-through time of a lifetime membership (period 0), in the group's clock.
    uint32 internal constant LIFETIME = type(uint32).max;
    // Longest voting period, fee period and grace period: about ten years.
    uint32 internal constant MAX_DURATION = 3650 days;
    // Shortest fee period (other than 0, for life): a member's periods never end twice in a day.
    uint32 internal constant MIN_PERIOD = 1 days;
    // How far ahead a subscription may be paid: twice the longest period.
    uint32 internal constant MAX_PAID_AHEAD = 2 * MAX_DURATION;
    // Open proposals one member may have at a time, at most (the setting's upper limit).
    uint8 internal constant MAX_OPEN_PROPOSALS = 3;
    // A passed proposal must be executed within this time after its deadline.
    uint32 internal constant EXECUTION_WINDOW = 30 days;
    // Release destinations pay out at most once per this interval.
    uint32 internal constant RELEASE_INTERVAL = 30 days;
    // Gas each recipient of a release may use; a recipient that fails keeps its share claimable.
    uint256 internal constant PAYOUT_GAS = 100_000;
    // Longest authority a member may give its relayer.
    uint64 internal constant MAX_RELAYER_DURATION = 366 days;
    // Lapsed members `removeLapsedBatch` removes in one call, at most.
    uint256 internal constant MAX_BATCH = 64;
    // Accounts `membersPage` returns in one call, at most.
    uint256 internal constant MAX_PAGE = 500;
    uint256 internal constant MAX_RECIPIENTS = 32;
    uint256 internal constant MAX_ADMINS = 32;
}

/**
 * @notice What a relayer (the bot) may do for a member, as bits of `scope`.
 * Proposals of type Config, FeeDestination and Custom, and votes on them,
 * need their own bit besides PROPOSE or VOTE: a member's authority covers
 * them only when it says so.
 */
library RelayerScope {
    uint8 internal constant VOTE = 1;
    uint8 internal constant PROPOSE = 2;
    uint8 internal constant DELEGATE = 4;
    uint8 internal constant ACCEPT = 8;
    uint8 internal constant CONFIG = 16;
    uint8 internal constant FEE_DESTINATION = 32;
    uint8 internal constant CUSTOM = 64;
    uint8 internal constant ALL = 127;
}
