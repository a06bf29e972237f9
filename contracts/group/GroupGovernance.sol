// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {GroupMembership} from "./GroupMembership.sol";
import {IGroupExtensionInternal} from "../interfaces/IGroupExtensionInternal.sol";
import {Action, GroupConstants, Mode, ProposalState, VoteType} from "../interfaces/IGroupTypes.sol";

/**
 * @title GroupGovernance
 * @notice Proposals and votes of a group.
 *
 * Influence is 1 point per active member, fixed at the proposal's creation
 * (its snapshot). For each proposal a member's point goes to its own choice if
 * it voted; otherwise to its delegate's choice if the delegate voted;
 * otherwise nowhere. One vote costs the same whatever the group size and the
 * number of delegators:
 * - a voter carries its own point plus its active delegators at the snapshot
 *   (`delegatorsIn`) minus those of them who already voted themselves;
 * - a delegator voting after its delegate takes its point back from the
 *   delegate's choice; voting before it, it is counted among those the
 *   delegate will not carry.
 *
 * A proposal passes when, at its deadline, FOR >= quorum x influence and
 * FOR > AGAINST; it is decided early when the members' own votes (which
 * cannot move) already settle it whatever the rest do.
 */
abstract contract GroupGovernance is GroupMembership {
    /// @notice A proposal as the bot and the web page show it.
    struct ProposalView {
        ProposalState state;
        Action action;
        uint32 snapshot;
        uint32 deadline;
        uint16 influence;
        uint16 quorumBps;
        uint16 quorumVotes;
        uint16 forVotes;
        uint16 againstVotes;
        uint16 abstainVotes;
    }

    bytes32 private constant VOTE_TYPEHASH =
        keccak256("Vote(uint256 proposalId,uint8 support,address voter,uint256 nonce,uint256 deadline)");

    // ------------------------------------------------------------ proposing

    /**
     * @notice Propose `action` with its ABI-encoded `payload`:
     * AddMember/RemoveMember `(address)`, Config `(Settings)`,
     * FeeDestination `(FeeDestination)`, Custom `(address target, uint256 value, bytes data)`.
     * The caller must be an active member.
     * @return proposalId the id used to vote and query
     * @return number the group's sequential number for the proposal
     */
    function propose(Action action, bytes calldata payload) external returns (uint256 proposalId, uint256 number) {
        return _propose(msg.sender, action, payload);
    }

    /// @notice Propose as `proposer`'s authorised relayer (see `setRelayer`).
    function proposeFor(address proposer, Action action, bytes calldata payload) external returns (uint256 proposalId, uint256 number) {
        _checkRelayer(proposer);
        return _propose(proposer, action, payload);
    }

    function _propose(address proposer, Action action, bytes calldata payload) private returns (uint256 proposalId, uint256 number) {
        GroupState memory s = _loadSwept();
        uint32 nowT = _now();
        if (s.lastConfigTime == nowT) revert GroupConfigJustChanged();
        if (_config.mode == Mode.External) revert GroupProposalsDisabled();
        if (_accounts[proposer].expiresAt <= nowT) revert GroupNotActive(proposer);
        // One proposal per second: writes after a proposal in its second are
        // keyed to the next second, which a second proposal's snapshot would miss.
        if (s.lastProposalTime == nowT) revert GroupProposalJustMade();
        _checkProposal(action, payload);

        uint16 quorumBps = _quorumFor(action);
        number = ++s.proposalCount;
        s.lastProposalTime = nowT;
        proposalId = hashProposal(number, action, payload);
        // activeCount fits: it never exceeds MAX_ACTIVE_MEMBERS.
        uint16 influence = uint16(s.activeCount);
        uint16 quorumVotes = uint16(Math.mulDiv(influence, quorumBps, GroupConstants.BPS, Math.Rounding.Ceil));
        uint32 deadline = nowT + _config.votingPeriod;
        _storeProposal(proposalId, ProposalCore({
            snapshot: nowT,
            deadline: deadline,
            action: action,
            executed: false,
            influence: influence,
            quorumVotes: quorumVotes,
            quorumBps: quorumBps,
            forVotes: 0,
            againstVotes: 0,
            abstainVotes: 0,
            forOwn: 0,
            againstOwn: 0,
            abstainOwn: 0
        }));
        _storeState(s);
        emit ProposalCreated(proposalId, number, proposer, action, payload, nowT, deadline, quorumBps, influence);
    }

    /// @notice The id of proposal `number` carrying `action` and `payload`.
    function hashProposal(uint256 number, Action action, bytes calldata payload) public pure returns (uint256) {
        return uint256(keccak256(abi.encode(number, action, keccak256(payload))));
    }

    /// @dev Refuses, at creation, a proposal that could never be executed.
    function _checkProposal(Action action, bytes calldata payload) private view {
        if (action == Action.AddMember) {
            // Adding a current member is not refused here: a pending proposal
            // may remove it first. Execution refuses it if it is still a member.
            _decodeAccount(action, payload);
        } else if (action == Action.RemoveMember) {
            address account = _decodeAccount(action, payload);
            if (!_isMember(account) && !_accounts[account].approved) revert GroupNotMember(account);
        } else {
            // Bulky decoding and validation live in the extension.
            IGroupExtensionInternal(address(this)).checkPayload(action, payload);
        }
    }

    // --------------------------------------------------------------- voting

    /// @notice Vote on `proposalId`: 0 = against, 1 = for, 2 = abstain.
    function castVote(uint256 proposalId, uint8 support) external {
        _castVote(proposalId, msg.sender, support);
    }

    /**
     * @notice Cast the vote `voter` signed (EIP-712
     * `Vote(proposalId, support, voter, nonce, deadline)`). Anyone may submit
     * it; it counts exactly as if `voter` had sent it. A signature works once.
     */
    function castVoteBySig(
        uint256 proposalId,
        uint8 support,
        address voter,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkSignature(
            voter,
            keccak256(abi.encode(VOTE_TYPEHASH, proposalId, support, voter, nonce, deadline)),
            nonce,
            deadline,
            signature
        );
        _castVote(proposalId, voter, support);
    }

    /// @notice Cast `voter`'s vote as its authorised relayer (see `setRelayer`).
    function castVoteFor(address voter, uint256 proposalId, uint8 support) external {
        _checkRelayer(voter);
        _castVote(proposalId, voter, support);
    }

    function _castVote(uint256 proposalId, address voter, uint8 support) private {
        ProposalCore memory p = _loadProposal(proposalId);
        if (p.snapshot == 0) revert GroupUnknownProposal(proposalId);
        ProposalState st = _stateOf(p);
        if (st != ProposalState.Active) revert GroupVotingClosed(proposalId, st);
        if (support > uint8(VoteType.Abstain)) revert GroupInvalidVoteType(support);

        Account storage acc = _accounts[voter];
        uint32 index = acc.index;
        Checkpoint memory c = _checkpointAt(voter, acc.nCheckpoints, p.snapshot);
        if (c.expiresAt <= p.snapshot) revert GroupNotActive(voter);

        mapping(uint256 => uint256) storage ballots = _ballots[proposalId];
        uint256 shift = (uint256(index) & 127) << 1;
        uint256 word = ballots[index >> 7];
        if ((word >> shift) & 3 != 0) revert GroupAlreadyVoted(proposalId, voter);
        ballots[index >> 7] = word | (uint256(support) + 1) << shift;

        // Own point, plus the active delegators at the snapshot that have not voted.
        uint256 weight = 1 + c.delegatorsIn;
        if (c.delegatorsIn != 0) weight -= _votedDelegators[proposalId][index];
        _add(p, support, weight);
        if (support == uint8(VoteType.For)) ++p.forOwn;
        else if (support == uint8(VoteType.Against)) ++p.againstOwn;
        else ++p.abstainOwn;

        if (c.delegate != address(0)) {
            uint32 d = _accounts[c.delegate].index;
            uint256 dChoice = (ballots[d >> 7] >> ((uint256(d) & 127) << 1)) & 3;
            if (dChoice != 0) {
                // The delegate already carried this point: take it back.
                _sub(p, uint8(dChoice - 1));
            } else {
                // The delegate, when it votes, must not carry this point.
                ++_votedDelegators[proposalId][d];
            }
        }
        _storeProposal(proposalId, p);
        emit VoteCast(voter, proposalId, support, weight);
    }

    function _add(ProposalCore memory p, uint8 support, uint256 weight) private pure {
        // Tallies never exceed the influence, a uint16.
        uint16 w = uint16(weight);
        if (support == uint8(VoteType.For)) p.forVotes += w;
        else if (support == uint8(VoteType.Against)) p.againstVotes += w;
        else p.abstainVotes += w;
    }

    function _sub(ProposalCore memory p, uint8 support) private pure {
        if (support == uint8(VoteType.For)) --p.forVotes;
        else if (support == uint8(VoteType.Against)) --p.againstVotes;
        else --p.abstainVotes;
    }

    function _stateOf(ProposalCore memory p) private view returns (ProposalState) {
        if (p.executed) return ProposalState.Executed;
        uint256 nowT = block.timestamp;
        if (nowT <= p.deadline) {
            uint256 movable = uint256(p.influence) - p.forOwn - p.againstOwn - p.abstainOwn;
            // Worst case for FOR: every point not locked by an own vote goes against.
            if (p.forOwn >= p.quorumVotes && p.forOwn > p.againstOwn + movable) return ProposalState.Succeeded;
            // Best case for FOR: every such point goes for.
            uint256 bestFor = p.forOwn + movable;
            if (bestFor < p.quorumVotes || bestFor <= p.againstOwn) return ProposalState.Defeated;
            return ProposalState.Active;
        }
        if (p.forVotes < p.quorumVotes || p.forVotes <= p.againstVotes) return ProposalState.Defeated;
        if (nowT > uint256(p.deadline) + GroupConstants.EXECUTION_WINDOW) return ProposalState.Expired;
        return ProposalState.Succeeded;
    }

    // ------------------------------------------------------------ execution

    /**
     * @notice Execute passed proposal `number`; anyone may call. Refused for a
     * proposal that is still open, defeated, expired or already executed.
     */
    function execute(uint256 number, Action action, bytes calldata payload) external payable nonReentrant returns (uint256 proposalId) {
        proposalId = hashProposal(number, action, payload);
        ProposalCore memory p = _loadProposal(proposalId);
        if (p.snapshot == 0) revert GroupUnknownProposal(proposalId);
        ProposalState st = _stateOf(p);
        if (st == ProposalState.Executed) revert GroupProposalAlreadyExecuted(proposalId);
        if (st != ProposalState.Succeeded) revert GroupProposalNotSucceeded(proposalId, st);
        // Once the group is governed externally, proposals made before cannot run.
        if (_config.mode == Mode.External) revert GroupProposalsDisabled();
        // Mark as executed before any call, to avoid reentrancy.
        p.executed = true;
        _storeProposal(proposalId, p);

        GroupState memory s = _loadSwept();
        if (action == Action.AddMember) {
            _approve(_decodeAccount(action, payload));
        } else if (action == Action.RemoveMember) {
            _remove(s, _decodeAccount(action, payload));
        } else if (action == Action.Config) {
            s.lastConfigTime = _now();
        }
        // State first: the extension's writes and a custom call come after it.
        _storeState(s);
        if (action != Action.AddMember && action != Action.RemoveMember) {
            IGroupExtensionInternal(address(this)).applyPayload(action, payload);
        }
        emit ProposalExecuted(proposalId);
    }

    // ------------------------------------------------------------ decoding

    function _decodeAccount(Action action, bytes calldata payload) private pure returns (address account) {
        if (payload.length != 32) revert GroupMalformedPayload(action);
        uint256 word = abi.decode(payload, (uint256));
        if (word > type(uint160).max || word == 0) revert GroupMalformedPayload(action);
        account = address(uint160(word));
    }

    // ---------------------------------------------------------------- views

    /// @notice Where proposal `proposalId` stands, with its tally.
    function proposal(uint256 proposalId) external view returns (ProposalView memory v) {
        ProposalCore memory p = _loadProposal(proposalId);
        if (p.snapshot == 0) revert GroupUnknownProposal(proposalId);
        v.state = _stateOf(p);
        v.action = p.action;
        v.snapshot = p.snapshot;
        v.deadline = p.deadline;
        v.influence = p.influence;
        v.quorumBps = p.quorumBps;
        v.quorumVotes = p.quorumVotes;
        v.forVotes = p.forVotes;
        v.againstVotes = p.againstVotes;
        v.abstainVotes = p.abstainVotes;
    }

    /// @notice The state of `proposalId`.
    function state(uint256 proposalId) external view returns (ProposalState) {
        ProposalCore memory p = _loadProposal(proposalId);
        if (p.snapshot == 0) revert GroupUnknownProposal(proposalId);
        return _stateOf(p);
    }

    /// @notice `voter`'s own choice on `proposalId`: 0 = none, else VoteType + 1.
    function voteOf(uint256 proposalId, address voter) external view returns (uint8) {
        uint32 index = _accounts[voter].index;
        if (index == 0) return 0;
        return uint8((_ballots[proposalId][index >> 7] >> ((uint256(index) & 127) << 1)) & 3);
    }
}
