// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Action, Config, DestinationKind, Duration, ProposalState} from "./IGroupTypes.sol";

/// @title The events and errors of a Conclave group, shared by its two code contracts.
interface IGroupEvents {
    // ------------------------------------------------------------ membership

    /// @notice `account` may now become a member by accepting (paying).
    event MemberApproved(address indexed account);
    /// @notice The approval of `account`, which had not accepted yet, was withdrawn.
    event MemberApprovalWithdrawn(address indexed account);
    /// @notice `payer` paid `amount` of `token` (address(0) = native coin) for `member`.
    event FeePaid(address indexed member, address indexed payer, address token, uint256 amount);
    /// @notice `delegator` moved its influence from `fromDelegate` to `toDelegate`.
    event DelegateChanged(address indexed delegator, address indexed fromDelegate, address indexed toDelegate);
    /**
     * @notice `member` authorised `relayer` to act for it until `until` (unix seconds) within
     * `scope` (bits of `RelayerScope`); relayer address(0) = no authority.
     */
    event RelayerChanged(address indexed member, address indexed relayer, uint8 scope, uint64 until);
    /// @notice `owner` cancelled the unordered nonces set in `mask` of word `word` (as in Permit2).
    event UnorderedNonceInvalidation(address indexed owner, uint256 word, uint256 mask);
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
        uint64 snapshot,
        uint64 deadline,
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
    /// @notice Paying `recipient` its share failed; the amount stays claimable by it (`claim`).
    event PayoutDeferred(address indexed token, address indexed recipient, uint256 amount);
    /// @notice `recipient` claimed a share that could not be paid before.
    event PayoutClaimed(address indexed token, address indexed recipient, uint256 amount);

    // --------------------------------------------------------------- errors

    error GroupNotMember(address account);
    error GroupAlreadyMember(address account);
    error GroupNotApproved(address account);
    error GroupNotActive(address account);
    error GroupInvalidAccount(address account);
    error GroupNoFounders();
    /// @notice The group has the most active members it can count (32,767).
    error GroupFull();
    /// @notice More founders than one creation takes (256).
    error GroupTooManyFounders(uint256 count, uint256 max);
    /// @notice Paying would put the paid-through time more than `MAX_PAID_AHEAD` ahead of now.
    error GroupPaidTooFarAhead(address account, uint256 paidThrough, uint256 limit);
    /// @notice More accounts than one call takes.
    error GroupBatchTooLarge(uint256 count, uint256 max);
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
    /// @notice This nonce of `owner` was used or cancelled already.
    error GroupNonceUsed(address owner, uint256 nonce);

    error GroupUnknownProposal(uint256 proposalId);
    error GroupVotingClosed(uint256 proposalId, ProposalState state);
    error GroupInvalidVoteType(uint8 support);
    error GroupAlreadyVoted(uint256 proposalId, address voter);
    error GroupNotRelayer(address account, address caller);
    /// @notice The relayer's authority for `account` does not cover this (`needed` bits of RelayerScope).
    error GroupRelayerScope(address account, uint8 needed, uint8 granted);
    /// @notice The relayer's authority for `account` ended at `until`.
    error GroupRelayerExpired(address account, uint64 until);
    /// @notice A relayer authority must name a relayer, a scope within RelayerScope.ALL and an end
    /// in the future, at most MAX_RELAYER_DURATION ahead (or all three empty, to withdraw it).
    error GroupInvalidRelayerAuthority(address relayer, uint8 scope, uint64 until);
    error GroupProposalNotSucceeded(uint256 proposalId, ProposalState state);
    error GroupProposalAlreadyExecuted(uint256 proposalId);
    /// @notice `proposer` already has `max` proposals open; it may propose again when one closes.
    error GroupTooManyOpenProposals(address proposer, uint8 max);
    /// @notice 255 proposals were made in this second already; propose again in the next block.
    error GroupProposalBurst();
    /// @notice The mode changed in this second; propose again in the next block.
    error GroupModeJustChanged();
    /// @notice The mode changed after this proposal was made: it can never run.
    error GroupProposalPredatesModeChange(uint256 proposalId);
    /// @notice In external mode the controller governs; members make no proposals.
    error GroupProposalsDisabled();
    error GroupCustomCallsDisabled();
    error GroupInvalidCustomTarget(address target);
    error GroupMalformedPayload(Action action);

    /// @notice A quorum is above 100% (10000 basis points).
    error GroupInvalidQuorum(uint16 quorumBps);
    /// @notice `which` is `value` seconds; it must be from `min` to `max` (a fee period may also be 0, for life).
    error GroupInvalidDuration(Duration which, uint256 value, uint256 min, uint256 max);
    /// @notice The open-proposal cap must be 1 .. `max`.
    error GroupInvalidMaxOpenProposals(uint8 value, uint8 max);
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
    error GroupNothingToClaim(address token, address recipient);
}
