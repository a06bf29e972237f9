// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Action, Config, DestinationKind, ProposalState} from "./IGroupTypes.sol";

/// @title The events and errors of a Conclave group, shared by its two code contracts.
interface IGroupEvents {
    // ------------------------------------------------------------ membership

    /// @notice `account` may now become a member by accepting (paying).
    event MemberApproved(address indexed account);
    /// @notice The approval of `account`, which had not accepted yet, was withdrawn.
    event MemberApprovalWithdrawn(address indexed account);
    /// @notice The subscription of `account` ran out at `expiresAt`: it no longer has influence.
    event MemberLapsed(address indexed account, uint32 expiresAt);
    /// @notice `payer` paid `amount` of `token` (address(0) = native coin) for `member`.
    event FeePaid(address indexed member, address indexed payer, address token, uint256 amount);
    /// @notice `delegator` moved its influence from `fromDelegate` to `toDelegate`.
    event DelegateChanged(address indexed delegator, address indexed fromDelegate, address indexed toDelegate);
    /// @notice `member` authorised `relayer` to vote, propose, delegate and accept for it (address(0) = none).
    event RelayerChanged(address indexed member, address indexed relayer);
    /// @notice The linker recorded that `account` is linked to the Matrix account behind `linkHash`.
    event MatrixLinkRecorded(address indexed account, bytes32 indexed linkHash);
    /// @notice The Matrix link of `account` was cleared.
    event MatrixLinkCleared(address indexed account, bytes32 indexed linkHash);

    // ------------------------------------------------------------ governance

    /// @notice Proposal number `number` (shown to people as #number) was created.
    event ProposalCreated(
        uint256 indexed proposalId,
        uint256 indexed number,
        address indexed proposer,
        Action action,
        bytes payload,
        uint32 snapshot,
        uint32 deadline,
        uint16 quorumBps,
        uint16 influence
    );
    /// @notice `voter` voted; `weight` points went to `support` (its own and those it carries).
    event VoteCast(address indexed voter, uint256 indexed proposalId, uint8 support, uint256 weight);
    /// @notice The proposal was executed.
    event ProposalExecuted(uint256 indexed proposalId);

    // -------------------------------------------------------- configuration

    /// @notice The settings were replaced.
    event SettingsChanged(Config config, address controller, address linker, address[] admins);
    /// @notice The fee destination was replaced.
    event FeeDestinationChanged(DestinationKind kind, address target, address[] recipients, uint16[] sharesBps);
    /// @notice `amount` of `token` (address(0) = native coin) left the treasury by the fee destination.
    event FeesReleased(address indexed token, DestinationKind kind, uint256 amount);

    // --------------------------------------------------------------- errors

    error GroupNotMember(address account);
    error GroupAlreadyMember(address account);
    error GroupNotApproved(address account);
    error GroupNotActive(address account);
    error GroupInvalidAccount(address account);
    error GroupNoFounders();
    /// @notice The group has the most active members a proposal can count (65535).
    error GroupFull();
    /// @notice More lapses are due than one call processes; call `sweepLapses` first.
    error GroupLapsesPending();
    error GroupWrongPayment(uint256 expected, uint256 sent);
    error GroupPaidForLife(address account);
    error GroupGracePeriodNotOver(address account, uint256 removableAt);
    error GroupSelfDelegation();
    error GroupDelegateUnchanged(address delegate);
    error GroupMembershipNotTransferable();
    /// @notice As in ERC-6093: no member holds `tokenId`.
    error ERC721NonexistentToken(uint256 tokenId);
    error GroupUnauthorized(address caller);
    error GroupMatrixLinkTaken(bytes32 linkHash, address account);
    error GroupSignatureExpired(uint256 deadline);
    error GroupInvalidSignature(address signer);
    /// @dev Cannot happen: every write sweeps due lapses first. Kept as a tripwire.
    error GroupCheckpointOutOfOrder();

    error GroupUnknownProposal(uint256 proposalId);
    error GroupVotingClosed(uint256 proposalId, ProposalState state);
    error GroupInvalidVoteType(uint8 support);
    error GroupAlreadyVoted(uint256 proposalId, address voter);
    error GroupNotRelayer(address account, address caller);
    error GroupProposalNotSucceeded(uint256 proposalId, ProposalState state);
    error GroupProposalAlreadyExecuted(uint256 proposalId);
    /// @notice No proposal may be created in the same block (or second) as a config change.
    error GroupConfigJustChanged();
    /// @notice Another proposal was created in this second; propose again in the next block.
    error GroupProposalJustMade();
    /// @notice In external mode the controller governs; members make no proposals.
    error GroupProposalsDisabled();
    error GroupCustomCallsDisabled();
    error GroupInvalidCustomTarget(address target);
    error GroupMalformedPayload(Action action);

    /// @notice A quorum is above 100% (10000 basis points).
    error GroupInvalidQuorum(uint16 quorumBps);
    /// @notice The voting period is zero.
    error GroupInvalidVotingPeriod();
    /// @notice Admin mode needs at least one admin.
    error GroupAdminsRequired();
    /// @notice An admin is the zero address or repeated, or there are more than 32.
    error GroupInvalidAdmins();
    /// @notice External mode needs a controller contract.
    error GroupControllerRequired();
    /// @notice Release shares must sum to 10000 basis points over 1..32 distinct non-zero recipients.
    error GroupInvalidShares();
    /// @notice A custom fee destination must be another contract.
    error GroupInvalidDestinationTarget(address target);
    error GroupFeesLocked();
    error GroupNothingToRelease(address token);
    error GroupReleaseTooSoon(address token, uint256 nextReleaseAt);
}
