// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {GroupMembership} from "./GroupMembership.sol";
import {IGroupExtensionInternal} from "../interfaces/IGroupExtensionInternal.sol";
import {Action, Mode, ProposalState, RelayerScope, VoteType} from "../interfaces/IGroupTypes.sol";

/**
 * @title GroupGovernance
 * @notice Proposals and votes of a group.
 *
 * Influence is 1 point per active member, fixed at the proposal's creation
 * (its snapshot: the group as it stood when the proposal was made, later
 * changes in the same second included in the next proposal only). For each
 * proposal a member's point goes to its own choice if it voted; otherwise to
 * its delegate's choice if the delegate voted; otherwise nowhere. One vote
 * costs the same whatever the group size and the number of delegators:
 * - a voter carries its own point plus its delegators active at the snapshot
 *   (see `GroupStorage._carriedAt`) minus those of them who already voted;
 * - a delegator voting after its delegate takes its point back from the
 *   delegate's choice; voting before it, it is counted among those the
 *   delegate will not carry.
 *
 * A proposal passes when, at its deadline, FOR >= quorum x influence and
 * FOR > AGAINST; it is decided early when the members' own votes (which
 * cannot move) already settle it whatever the rest do.
 *
 * Spam is bounded per member: at most `maxOpenProposals` (1..3) of a
 * member's proposals may be open at a time. Any number of members may
 * propose in the same second.
 */
abstract contract GroupGovernance is GroupMembership {
    bytes32 private constant VOTE_TYPEHASH =
        keccak256("Vote(uint256 proposalId,uint8 support,address voter,uint256 nonce,uint256 deadline)");

    // ------------------------------------------------------------ proposing

    /**
     * @notice Propose `action` with its ABI-encoded `payload`:
     * AddMember/RemoveMember `(address)`, Config `(Settings)`,
     * FeeDestination `(FeeDestination)`, Custom `(address target, uint256 value, bytes data)`.
     * The caller must be an active member with fewer than `maxOpenProposals` open.
     * @return proposalId the id used to vote and query
     * @return number the group's sequential number for the proposal
     */
    function propose(Action action, bytes calldata payload) external returns (uint256 proposalId, uint256 number) {
        return _propose(msg.sender, action, payload);
    }

    /// @notice Propose as `proposer`'s relayer (scope PROPOSE, and CONFIG / FEE_DESTINATION / CUSTOM for those).
    function proposeFor(address proposer, Action action, bytes calldata payload) external returns (uint256 proposalId, uint256 number) {
        _checkRelayer(proposer, RelayerScope.PROPOSE | _scopeOf(action));
        return _propose(proposer, action, payload);
    }

    function _propose(address proposer, Action action, bytes calldata payload) private returns (uint256 proposalId, uint256 number) {
        uint256 epoch = _epoch();
        uint32 nowT = uint32(block.timestamp - epoch);
        uint256 p;
        (p, number) = _newProposal(proposer, action, payload, nowT);
        proposalId = hashProposal(number, action, payload);
        _proposals[proposalId] = p;
        emit ProposalCreated(proposalId, number, proposer, action, payload, _unixFrom(epoch, nowT), _unixFrom(epoch, _pDeadline(p)), _pQuorumBps(p), _pInfluence(p));
    }

    /// @dev Admits `proposer`, checks the proposal and numbers it: returns its word and its number.
    function _newProposal(address proposer, Action action, bytes calldata payload, uint32 nowT) private returns (uint256 p, uint256 number) {
        uint256 cfg = _configWord();
        uint32 deadline = _admitProposer(proposer, nowT, cfg);
        _checkProposal(action, payload);
        uint256 s = _touch(_state, nowT);
        if (_cfgModeChange(cfg) == nowT) revert GroupModeJustChanged();
        uint40 snapshot = _snapshotKey(s, nowT);
        number = _sProposals(s) + 1;
        _state = _put(_put(s, 80, 32, number), 112, 40, snapshot);
        // The active count never exceeds MAX_ACTIVE_MEMBERS, a uint16.
        uint256 influence = _sActive(s);
        uint256 quorumBps = _cfgQuorum(cfg, action);
        p =
            uint256(snapshot) |
            (uint256(deadline) << 40) |
            (uint256(uint8(action)) << 72) |
            (influence << 88) |
            (_quorumVotes(influence, quorumBps) << 104) |
            (quorumBps << 120);
    }

    /// @dev The snapshot sees every write made so far, in this second too; writes after it get a later key.
    function _snapshotKey(uint256 s, uint32 nowT) private pure returns (uint40) {
        uint40 last = _sLastSnapshot(s);
        uint256 seq = uint32(last >> 8) == nowT ? (last & 0xff) + 1 : 0;
        if (seq == 0xff) revert GroupProposalBurst();
        return (uint40(nowT) << 8) | uint40(seq);
    }

    /// @dev Checks that `proposer` may propose now and records its open proposal; returns the deadline.
    function _admitProposer(address proposer, uint32 nowT, uint256 cfg) private returns (uint32 deadline) {
        if (_cfgMode(cfg) == Mode.External) revert GroupProposalsDisabled();
        uint256 c = _latest[proposer];
        if (_cExpiry(c) <= nowT) revert GroupNotActive(proposer);
        deadline = nowT + _cfgVotingPeriod(cfg);
        uint256 token = _cToken(c);
        _tokens[token] = _openProposal(_tokens[token], proposer, deadline, nowT, _cfgMaxOpenProposals(cfg));
    }

    /**
     * @dev Counts `proposer`'s open proposals in its token word `m` (three
     * deadlines, in units of 256 s rounded up, so one counts as open up to
     * 256 s after its deadline) and records one more.
     */
    function _openProposal(uint256 m, address proposer, uint32 deadline, uint32 nowT, uint8 max) private pure returns (uint256) {
        uint256 open = 0;
        uint256 free = 3;
        for (uint256 i = 0; i < 3; ++i) {
            uint256 u = (m >> (184 + 24 * i)) & 0xffffff;
            if (u != 0 && (u << 8) >= nowT) ++open;
            else if (free == 3) free = i;
        }
        if (open >= max || free == 3) revert GroupTooManyOpenProposals(proposer, max);
        return _put(m, 184 + 24 * free, 24, (uint256(deadline) + 255) >> 8);
    }

    /// @notice The id of proposal `number` carrying `action` and `payload`.
    function hashProposal(uint256 number, Action action, bytes calldata payload) public pure returns (uint256) {
        uint256 id;
        // keccak256(abi.encode(number, action, keccak256(payload))), in scratch memory past the free pointer.
        uint256 n = number;
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, payload.offset, payload.length)
            let h := keccak256(m, payload.length)
            mstore(m, n)
            mstore(add(m, 0x20), action)
            mstore(add(m, 0x40), h)
            id := keccak256(m, 0x60)
        }
        return id;
    }

    /// @dev What, besides VOTE or PROPOSE, a relayer needs to act on a proposal of `action`.
    function _scopeOf(Action action) private pure returns (uint8) {
        if (action == Action.Config) return RelayerScope.CONFIG;
        if (action == Action.FeeDestination) return RelayerScope.FEE_DESTINATION;
        if (action == Action.Custom) return RelayerScope.CUSTOM;
        return 0;
    }

    /// @dev Refuses, at creation, a proposal that could never be executed.
    function _checkProposal(Action action, bytes calldata payload) private view {
        if (action == Action.AddMember) {
            // Adding a current member is not refused here: a pending proposal
            // may remove it first. Execution refuses it if it is still a member.
            _decodeAccount(action, payload);
        } else if (action == Action.RemoveMember) {
            address account = _decodeAccount(action, payload);
            uint256 c = _latest[account];
            if (_cExpiry(c) == 0 && _cFlags(c) & FLAG_APPROVED == 0) revert GroupNotMember(account);
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
     * it; it counts exactly as if `voter` had sent it. Each signature works
     * once; nonces are unordered, so a pending one holds up no other.
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

    /// @notice Cast `voter`'s vote as its relayer (scope VOTE, and CONFIG / FEE_DESTINATION / CUSTOM for those).
    function castVoteFor(address voter, uint256 proposalId, uint8 support) external {
        _checkRelayer(voter, RelayerScope.VOTE | _scopeOf(_pAction(_proposals[proposalId])));
        _castVote(proposalId, voter, support);
    }

    function _castVote(uint256 proposalId, address voter, uint8 support) private {
        uint256 p = _proposals[proposalId];
        if (p == 0) revert GroupUnknownProposal(proposalId);
        ProposalState st = _stateOf(p);
        if (st != ProposalState.Active) revert GroupVotingClosed(proposalId, st);
        if (support > uint8(VoteType.Abstain)) revert GroupInvalidVoteType(support);

        uint32 second = uint32(_pSnapshot(p) >> 8);
        uint256 c = _checkpointAt(voter, _pSnapshot(p));
        if (_cExpiry(c) <= second) revert GroupNotActive(voter);
        uint256 token = _cToken(c);
        mapping(uint256 => uint256) storage ballots = _ballots[proposalId];
        _recordBallot(ballots, proposalId, voter, token, support);

        // Own point, plus the delegators active at the snapshot that have not voted themselves.
        uint256 weight = 1;
        uint256 carried = _carriedAt(c, second);
        // The count of delegators who voted first is read only once one has (the flag says so).
        if (carried != 0) weight += p & P_DELEGATOR_VOTED == 0 ? carried : carried - _votedDelegators[proposalId][token];
        // Tallies never exceed the influence, a uint16: plain adds on the packed word.
        p += weight << (P_TALLY + 16 * support);
        p += uint256(1) << (P_OWN + 16 * support);
        uint256 d = _cDelegate(c);
        if (d != 0) p = _overrideDelegate(ballots, proposalId, p, d);
        _proposals[proposalId] = p;
        emit VoteCast(voter, proposalId, support, weight);
    }

    function _recordBallot(mapping(uint256 => uint256) storage ballots, uint256 proposalId, address voter, uint256 token, uint8 support) private {
        uint256 shift = (token & 127) << 1;
        uint256 word = ballots[token >> 7];
        if ((word >> shift) & 3 != 0) revert GroupAlreadyVoted(proposalId, voter);
        ballots[token >> 7] = word | ((uint256(support) + 1) << shift);
    }

    /// @dev A delegator of `d` voted itself: its point is not `d`'s to carry.
    function _overrideDelegate(mapping(uint256 => uint256) storage ballots, uint256 proposalId, uint256 p, uint256 d) private returns (uint256) {
        uint256 dChoice = (ballots[d >> 7] >> ((d & 127) << 1)) & 3;
        if (dChoice != 0) {
            // The delegate already carried this point: take it back.
            return p - (uint256(1) << (P_TALLY + 16 * (dChoice - 1)));
        }
        // The delegate, when it votes, must not carry this point.
        ++_votedDelegators[proposalId][d];
        return p | P_DELEGATOR_VOTED;
    }

    // ------------------------------------------------------------ execution

    /**
     * @notice Execute passed proposal `number`; anyone may call. Refused for a
     * proposal that is still open, defeated, expired or already executed, and
     * for one made before the group's latest change of mode.
     */
    function execute(uint256 number, Action action, bytes calldata payload) external payable nonReentrant returns (uint256 proposalId) {
        proposalId = hashProposal(number, action, payload);
        uint256 p = _proposals[proposalId];
        if (p == 0) revert GroupUnknownProposal(proposalId);
        ProposalState st = _stateOf(p);
        if (st == ProposalState.Executed) revert GroupProposalAlreadyExecuted(proposalId);
        if (st != ProposalState.Succeeded) revert GroupProposalNotSucceeded(proposalId, st);
        uint256 cfg = _configWord();
        // Once the group is governed externally, proposals made before cannot run.
        if (_cfgMode(cfg) == Mode.External) revert GroupProposalsDisabled();
        // Nor can any made before a change of mode, whatever the mode is now.
        if (uint32(_pSnapshot(p) >> 8) <= _cfgModeChange(cfg)) revert GroupProposalPredatesModeChange(proposalId);
        // Mark as executed before any call, to avoid reentrancy.
        _proposals[proposalId] = p | (uint256(1) << 80);

        if (action == Action.AddMember) {
            _approve(_decodeAccount(action, payload));
        } else if (action == Action.RemoveMember) {
            uint32 nowT = _now();
            _state = _remove(_touch(_state, nowT), _decodeAccount(action, payload), nowT);
        } else {
            // The extension's writes and a custom call come after every write of ours.
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
}
