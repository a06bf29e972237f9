// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {Action, Config, DestinationKind, GroupConstants, Mode, ProposalState} from "../interfaces/IGroupTypes.sol";
import {IGroupEvents} from "../interfaces/IGroupEvents.sol";

/**
 * @title GroupStorage
 * @notice The storage layout, shared helpers, events and errors of a group.
 *
 * A group's code lives in two contracts that share this layout: `Group` (the
 * hot paths: paying, delegating, proposing, voting, executing) and
 * `GroupExtension` (configuration, treasury, Matrix links, views), which
 * `Group` reaches by delegatecall from its fallback. Both inherit exactly
 * this contract and declare no storage of their own, so their layouts are
 * the same; a test compares them.
 *
 * How influence stays exact without looping over members:
 * - Every account has checkpoints `(key, expiresAt, delegatorsIn, delegate)`;
 *   `delegatorsIn` counts the ACTIVE members delegating to the account.
 * - A member stops being active passively, when time passes its paid-through
 *   time. Active members with a finite expiry sit in a list sorted by expiry;
 *   before any change of checkpoints, the lapses that are due are "swept" from
 *   its head, and each lapse is written with the lapse time as its key. Since
 *   every write sweeps first, keys stay in order and a lookup at any past
 *   time sees the lapses that had happened by then.
 * - A checkpoint written in the same second as a proposal's creation, after
 *   it, gets the next second as its key, so it never changes that snapshot.
 */
abstract contract GroupStorage is EIP712, Nonces, ReentrancyGuardTransient, IGroupEvents {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @dev Per address, one slot. `index` is the token id, kept for life, even
    /// across removals. `expiresAt` repeats the latest checkpoint's, so that
    /// "is a member / is active now" costs one read.
    struct Account {
        uint32 index;
        uint24 nCheckpoints;
        bool approved;
        uint32 expiresAt;
        address relayer;
    }

    /// @dev One slot. `expiresAt` 0 = not a member; LIFETIME = paid for life.
    struct Checkpoint {
        uint32 key;
        uint32 expiresAt;
        uint32 delegatorsIn;
        address delegate;
    }

    /// @dev Per token id: its account and its place in the expiry-ordered list.
    struct Node {
        address account;
        uint32 prev;
        uint32 next;
        uint32 expiresAt;
    }

    /// @dev One slot of group-wide counters, loaded and stored once per call.
    /// `head`/`tail` bound the expiry-ordered list; `headExpiry` repeats the
    /// head's expiry so that checking for due lapses costs no extra read.
    struct GroupState {
        uint32 lastIndex;
        uint32 activeCount;
        uint32 head;
        uint32 tail;
        uint32 headExpiry;
        uint32 lastProposalTime;
        uint32 proposalCount;
        uint32 lastConfigTime;
    }

    /// @dev One slot: the proposal and its running tally.
    struct ProposalCore {
        uint32 snapshot;
        uint32 deadline;
        Action action;
        bool executed;
        uint16 influence;
        uint16 quorumVotes;
        uint16 quorumBps;
        uint16 forVotes;
        uint16 againstVotes;
        uint16 abstainVotes;
        // Points from members' own votes: these can no longer move.
        uint16 forOwn;
        uint16 againstOwn;
        uint16 abstainOwn;
    }

    // ------------------------------------------------------------- settings
    Config internal _config;
    address internal _factory;
    address internal _controller;
    address internal _linker;
    EnumerableSet.AddressSet internal _admins;
    DestinationKind internal _destinationKind;
    address internal _destinationTarget;
    address[] internal _recipients;
    uint16[] internal _sharesBps;
    mapping(address token => uint256) internal _lastRelease;

    // ----------------------------------------------------------- membership
    mapping(address account => Account) internal _accounts;
    mapping(address account => mapping(uint256 i => Checkpoint)) internal _checkpoints;
    mapping(uint32 index => Node) internal _nodes;
    GroupState internal _state;
    mapping(address account => bytes32) internal _matrixLinkOf;
    mapping(bytes32 linkHash => address) internal _accountOfMatrixLink;

    // ----------------------------------------------------------- governance
    mapping(uint256 proposalId => ProposalCore) internal _proposals;
    /// @dev 2 bits per token id: 0 = not voted, else VoteType + 1.
    mapping(uint256 proposalId => mapping(uint256 word => uint256)) internal _ballots;
    /// @dev Per delegate: how many of its delegators have voted themselves while it had not.
    mapping(uint256 proposalId => mapping(uint32 index => uint256)) internal _votedDelegators;

    // -------------------------------------------------------------- helpers

    // The hot structs are read and written as one word each: the compiler
    // would otherwise read and write them field by field. Fields sit from the
    // lowest-order bits up, in declaration order, as Solidity lays them out;
    // the views read them the ordinary way, so tests compare both.

    function _loadState() internal view returns (GroupState memory s) {
        uint256 w;
        assembly {
            w := sload(_state.slot)
        }
        s.lastIndex = uint32(w);
        s.activeCount = uint32(w >> 32);
        s.head = uint32(w >> 64);
        s.tail = uint32(w >> 96);
        s.headExpiry = uint32(w >> 128);
        s.lastProposalTime = uint32(w >> 160);
        s.proposalCount = uint32(w >> 192);
        s.lastConfigTime = uint32(w >> 224);
    }

    function _storeState(GroupState memory s) internal {
        uint256 w = uint256(s.lastIndex) |
            (uint256(s.activeCount) << 32) |
            (uint256(s.head) << 64) |
            (uint256(s.tail) << 96) |
            (uint256(s.headExpiry) << 128) |
            (uint256(s.lastProposalTime) << 160) |
            (uint256(s.proposalCount) << 192) |
            (uint256(s.lastConfigTime) << 224);
        assembly {
            sstore(_state.slot, w)
        }
    }

    function _loadProposal(uint256 proposalId) internal view returns (ProposalCore memory p) {
        ProposalCore storage ptr = _proposals[proposalId];
        uint256 w;
        assembly {
            w := sload(ptr.slot)
        }
        p.snapshot = uint32(w);
        p.deadline = uint32(w >> 32);
        p.action = Action(uint8(w >> 64));
        p.executed = uint8(w >> 72) != 0;
        p.influence = uint16(w >> 80);
        p.quorumVotes = uint16(w >> 96);
        p.quorumBps = uint16(w >> 112);
        p.forVotes = uint16(w >> 128);
        p.againstVotes = uint16(w >> 144);
        p.abstainVotes = uint16(w >> 160);
        p.forOwn = uint16(w >> 176);
        p.againstOwn = uint16(w >> 192);
        p.abstainOwn = uint16(w >> 208);
    }

    function _storeProposal(uint256 proposalId, ProposalCore memory p) internal {
        ProposalCore storage ptr = _proposals[proposalId];
        uint256 w = uint256(p.snapshot) |
            (uint256(p.deadline) << 32) |
            (uint256(uint8(p.action)) << 64) |
            (p.executed ? uint256(1) << 72 : 0) |
            (uint256(p.influence) << 80) |
            (uint256(p.quorumVotes) << 96) |
            (uint256(p.quorumBps) << 112) |
            (uint256(p.forVotes) << 128) |
            (uint256(p.againstVotes) << 144) |
            (uint256(p.abstainVotes) << 160) |
            (uint256(p.forOwn) << 176) |
            (uint256(p.againstOwn) << 192) |
            (uint256(p.abstainOwn) << 208);
        assembly {
            sstore(ptr.slot, w)
        }
    }

    function _now() internal view returns (uint32) {
        return SafeCast.toUint32(block.timestamp);
    }

    /// @dev The key of a checkpoint written now: a write in the same second as a
    /// proposal's creation, after it, must not change that proposal's snapshot.
    function _key(GroupState memory s) internal view returns (uint32) {
        uint32 t = _now();
        return s.lastProposalTime == t ? t + 1 : t;
    }

    function _latest(address account, uint24 n) internal view returns (Checkpoint memory c) {
        if (n != 0) c = _checkpoints[account][n - 1];
    }

    function _latestOf(address account) internal view returns (Checkpoint memory) {
        return _latest(account, _accounts[account].nCheckpoints);
    }

    /// @dev Appends `c`, or overwrites the latest checkpoint when it has the same key.
    function _write(address account, Account storage acc, Checkpoint memory c) internal {
        uint24 n = acc.nCheckpoints;
        if (acc.expiresAt != c.expiresAt) acc.expiresAt = c.expiresAt;
        if (n != 0) {
            uint32 lastKey = _checkpoints[account][n - 1].key;
            if (c.key < lastKey) revert GroupCheckpointOutOfOrder();
            if (c.key == lastKey) {
                _checkpoints[account][n - 1] = c;
                return;
            }
        }
        _checkpoints[account][n] = c;
        acc.nCheckpoints = n + 1;
    }

    /// @dev The checkpoint of `account` in force at time `t` (the last with key <= t).
    function _checkpointAt(address account, uint24 n, uint32 t) internal view returns (Checkpoint memory c) {
        if (n == 0) return c;
        c = _checkpoints[account][n - 1];
        // Most lookups are for a snapshot taken after the account's last change.
        if (c.key <= t) return c;
        uint256 lo = 0;
        uint256 hi = n - 1;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (_checkpoints[account][mid].key > t) hi = mid;
            else lo = mid + 1;
        }
        if (lo == 0) {
            delete c;
        } else {
            c = _checkpoints[account][lo - 1];
        }
    }

    /// @dev The quorum (basis points) that proposals of `action` need now.
    function _quorumFor(Action action) internal view returns (uint16) {
        uint16 q;
        if (action == Action.AddMember) q = _config.addQuorumBps;
        else if (action == Action.RemoveMember) q = _config.removeQuorumBps;
        else if (action == Action.Config) q = _config.configQuorumBps;
        else if (action == Action.FeeDestination) q = _config.feeDestinationQuorumBps;
        else q = _config.customQuorumBps;
        return q == GroupConstants.QUORUM_DEFAULT ? _config.defaultQuorumBps : q;
    }

    /// @dev An open group lets anyone join by paying, with no proposal.
    function _isOpen() internal view returns (bool) {
        return _config.mode != Mode.External && _quorumFor(Action.AddMember) == 0;
    }

    function _isAdmin(address account) internal view returns (bool) {
        return _admins.contains(account);
    }

    function _isMember(address account) internal view returns (bool) {
        return _accounts[account].expiresAt != 0;
    }

    /// @dev The member holding `tokenId`; reverts when none does.
    function _ownerOf(uint256 tokenId) internal view returns (address owner) {
        if (tokenId != 0 && tokenId <= type(uint32).max) owner = _nodes[uint32(tokenId)].account;
        if (owner == address(0) || !_isMember(owner)) revert ERC721NonexistentToken(tokenId);
    }
}
