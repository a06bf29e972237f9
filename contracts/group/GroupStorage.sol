// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {Action, Config, DestinationKind, GroupConstants, Mode, ProposalState} from "../interfaces/IGroupTypes.sol";
import {IGroupEvents} from "../interfaces/IGroupEvents.sol";
import {ExpiryTree} from "./ExpiryTree.sol";

/**
 * @title GroupStorage
 * @notice The storage layout, shared helpers, events and errors of a group.
 *
 * A group's code lives in two contracts that share this layout: `Group` (the
 * hot paths: paying, delegating, proposing, voting, executing) and
 * `GroupExtension` (configuration, treasury, Matrix links, relayers, views),
 * which `Group` reaches by delegatecall from its fallback. Both inherit exactly
 * this contract and declare no storage of their own; a test compares them.
 *
 * How influence stays exact while no transaction ever loops over members,
 * lapses or elapsed time:
 * - The group keeps its own clock: seconds since its creation, in 32 bits.
 *   A "key" orders what happens within a second: `second << 8 | seq`, where
 *   seq counts the proposals already made in that second.
 * - Each account has a latest checkpoint, one word: (key, paid-through time,
 *   delegate, token id, points carried). A lookup at a proposal's snapshot
 *   reads it, or, when it changed after the snapshot, its history. History is
 *   written only when a proposal may need it (an account changing after a
 *   proposal was made), so quiet periods cost nothing.
 * - A member stops being active passively, the second its paid-through time
 *   passes. Nothing is written then. Instead every subscription end is
 *   counted in an `ExpiryTree` when it is scheduled, and "how many ends fell
 *   between these two moments" is a bounded read. The group's active count
 *   is stored as of its last change and corrected by that count.
 * - Points delegated to a member are carried in its checkpoint: the
 *   paid-through times of up to three delegators, plus a count of further
 *   delegators whose ends sit in the member's own tree. Both answer "how
 *   many of them were active at that snapshot" exactly, in bounded reads.
 */
abstract contract GroupStorage is EIP712, ReentrancyGuardTransient, IGroupEvents {
    using EnumerableSet for EnumerableSet.AddressSet;

    // ------------------------------------------------------------- settings
    Config internal _config;
    address internal _controller;
    address internal _linker;
    EnumerableSet.AddressSet internal _admins;
    DestinationKind internal _destinationKind;
    address internal _destinationTarget;
    address[] internal _recipients;
    uint16[] internal _sharesBps;
    mapping(address token => uint256) internal _lastRelease;
    mapping(address token => mapping(address recipient => uint256)) internal _claimable;
    mapping(address token => uint256) internal _totalClaimable;

    // ----------------------------------------------------------- membership
    /// @dev The latest checkpoint of each account (layout below, `_c*`).
    mapping(address account => uint256) internal _latest;
    /// @dev Earlier checkpoints a proposal may still need, in key order.
    mapping(address account => mapping(uint256 i => uint256)) internal _history;
    /// @dev Per token id: its account, how many history entries it has, its open proposals (layout `_m*`).
    mapping(uint256 tokenId => uint256) internal _tokens;
    /// @dev The expiry trees: 0 for the group, a token id for those delegating to its holder.
    mapping(uint256 => uint256) internal _trees;
    /// @dev One word of group-wide counters (layout `_s*`).
    uint256 internal _state;
    /// @dev Per member: the relayer it authorised, until when, for what (layout `_r*`).
    mapping(address account => uint256) internal _relayers;
    /// @dev Unordered signature nonces, as in Permit2: 256 per word.
    mapping(address account => mapping(uint256 word => uint256)) internal _nonceBitmap;
    mapping(address account => bytes32) internal _matrixLinkOf;
    mapping(bytes32 linkHash => address) internal _accountOfMatrixLink;

    // ----------------------------------------------------------- governance
    /// @dev One word per proposal: its snapshot, deadline and running tally (layout `_p*`).
    mapping(uint256 proposalId => uint256) internal _proposals;
    /// @dev 2 bits per token id: 0 = not voted, else VoteType + 1.
    mapping(uint256 proposalId => mapping(uint256 word => uint256)) internal _ballots;
    /// @dev Per delegate: how many of its delegators have voted themselves while it had not.
    mapping(uint256 proposalId => mapping(uint256 tokenId => uint256)) internal _votedDelegators;

    // ================================================================ words
    //
    // Config, first slot: the fields of `Config` up to `maxOpenProposals` (bits 0..216, as
    // Solidity packs them), then 216..248 the second of the latest mode change, and bit 248
    // set when the fee is 0 in the native coin (the second slot, fee and fee token, is zero).
    // Hot paths read this one word; only `GroupExtension._storeConfig` writes it.
    uint256 internal constant CFG_MODE_CHANGE = 216;
    uint256 internal constant CFG_FREE = uint256(1) << 248;

    function _configWord() internal view returns (uint256 w) {
        assembly {
            w := sload(_config.slot)
        }
    }

    function _cfgMode(uint256 w) internal pure returns (Mode) {
        return Mode(uint8(w >> 192));
    }

    function _cfgVotingPeriod(uint256 w) internal pure returns (uint32) {
        return uint32(w >> 96);
    }

    function _cfgPeriod(uint256 w) internal pure returns (uint32) {
        return uint32(w >> 128);
    }

    function _cfgGracePeriod(uint256 w) internal pure returns (uint32) {
        return uint32(w >> 160);
    }

    function _cfgMaxOpenProposals(uint256 w) internal pure returns (uint8) {
        return uint8(w >> 208);
    }

    function _cfgModeChange(uint256 w) internal pure returns (uint32) {
        return uint32(w >> CFG_MODE_CHANGE);
    }

    /// @dev The quorum (basis points) of `action` in config word `w`: the quorums follow the
    /// default one in `Action` order, 16 bits each.
    function _cfgQuorum(uint256 w, Action action) internal pure returns (uint16) {
        uint16 q = uint16(w >> (16 * (uint256(uint8(action)) + 1)));
        return q == GroupConstants.QUORUM_DEFAULT ? uint16(w) : q;
    }
    //
    // Checkpoint (bits, from the lowest):
    //   0..40   key          second << 8 | seq
    //   40..72  expiresAt    paid-through second; 0 = not a member; LIFETIME = for life
    //   72..104 delegate     token id of the delegate, 0 = none
    //   104..136 tokenId     the account's own token id (kept for life)
    //   136..232 ends[3]     paid-through seconds of up to three delegators (0 = free)
    //   232..248 inTree      delegators counted in the own tree, active at key
    //   248..256 flags       APPROVED; where this account's point sits with its delegate
    uint256 internal constant FLAG_APPROVED = 1;
    uint256 internal constant FLAG_IN_TREE = 2;
    // Bits 2..3 of the flags: 1 + the inline slot of the delegate's checkpoint holding this account's end.
    uint256 internal constant SLOT_SHIFT = 2;

    function _cKey(uint256 c) internal pure returns (uint40) {
        return uint40(c);
    }

    function _cSecond(uint256 c) internal pure returns (uint32) {
        return uint32(c >> 8);
    }

    function _cExpiry(uint256 c) internal pure returns (uint32) {
        return uint32(c >> 40);
    }

    function _cDelegate(uint256 c) internal pure returns (uint32) {
        return uint32(c >> 72);
    }

    function _cToken(uint256 c) internal pure returns (uint32) {
        return uint32(c >> 104);
    }

    function _cEnd(uint256 c, uint256 i) internal pure returns (uint32) {
        return uint32(c >> (136 + 32 * i));
    }

    function _cInTree(uint256 c) internal pure returns (uint16) {
        return uint16(c >> 232);
    }

    function _cFlags(uint256 c) internal pure returns (uint256) {
        return c >> 248;
    }

    /// @dev Replaces `width` bits of `w` at `shift` by `v` (v must fit).
    function _put(uint256 w, uint256 shift, uint256 width, uint256 v) internal pure returns (uint256) {
        uint256 mask = ((uint256(1) << width) - 1) << shift;
        return (w & ~mask) | (v << shift);
    }

    // Token (per token id): 0..160 account, 160..184 history length, 184..256 three open-proposal
    // deadlines in units of 256 seconds, rounded up (0 = free).
    function _mAccount(uint256 m) internal pure returns (address) {
        return address(uint160(m));
    }

    function _mHistory(uint256 m) internal pure returns (uint256) {
        return (m >> 160) & 0xffffff;
    }

    // State: 0..32 last token id, 32..48 active count at `lastWrite`, 48..80 lastWrite,
    // 80..112 proposal count, 112..152 key of the latest proposal's snapshot,
    // 152..184 unused (the latest mode change is in the config word), 184..216 a bound:
    // no end scheduled after `lastWrite` lies before it.
    function _sLastToken(uint256 s) internal pure returns (uint32) {
        return uint32(s);
    }

    function _sActive(uint256 s) internal pure returns (uint16) {
        return uint16(s >> 32);
    }

    function _sLastWrite(uint256 s) internal pure returns (uint32) {
        return uint32(s >> 48);
    }

    function _sProposals(uint256 s) internal pure returns (uint32) {
        return uint32(s >> 80);
    }

    function _sLastSnapshot(uint256 s) internal pure returns (uint40) {
        return uint40(s >> 112);
    }

    function _sNextEnd(uint256 s) internal pure returns (uint32) {
        return uint32(s >> 184);
    }

    // Proposal: 0..40 snapshot key, 40..72 deadline, 72..80 action, 80..88 executed,
    // 88..104 influence, 104..120 quorum votes, 120..136 quorum bps, then six 16-bit
    // tallies from 136, in VoteType order: against, for, abstain (all points), then the
    // members' own against, for, abstain; bit 232: a delegator voted while its delegate had not
    // (until then no `_votedDelegators` count of the proposal is other than 0).
    uint256 internal constant P_TALLY = 136;
    uint256 internal constant P_OWN = 184;
    uint256 internal constant P_DELEGATOR_VOTED = 1 << 232;

    function _pSnapshot(uint256 p) internal pure returns (uint40) {
        return uint40(p);
    }

    function _pDeadline(uint256 p) internal pure returns (uint32) {
        return uint32(p >> 40);
    }

    function _pAction(uint256 p) internal pure returns (Action) {
        return Action(uint8(p >> 72));
    }

    function _pExecuted(uint256 p) internal pure returns (bool) {
        return uint8(p >> 80) != 0;
    }

    function _pInfluence(uint256 p) internal pure returns (uint16) {
        return uint16(p >> 88);
    }

    function _pQuorumVotes(uint256 p) internal pure returns (uint16) {
        return uint16(p >> 104);
    }

    function _pQuorumBps(uint256 p) internal pure returns (uint16) {
        return uint16(p >> 120);
    }

    /// @dev Tally `i`: 0..2 = against/for/abstain (all points), 3..5 = the members' own votes.
    function _pTally(uint256 p, uint256 i) internal pure returns (uint16) {
        return uint16(p >> (P_TALLY + 16 * i));
    }

    // Relayer: 0..160 relayer, 160..224 until (unix seconds), 224..232 scope bits.
    function _rRelayer(uint256 r) internal pure returns (address) {
        return address(uint160(r));
    }

    function _rUntil(uint256 r) internal pure returns (uint64) {
        return uint64(r >> 160);
    }

    function _rScope(uint256 r) internal pure returns (uint8) {
        return uint8(r >> 224);
    }

    // ================================================================ clock

    /// @dev The group's epoch: one second before its creation, carried in the clone's code
    /// (5 bytes; the factory's address follows, 20 bytes).
    function _epoch() internal view returns (uint256 e) {
        assembly {
            // The immutable argument follows the 45 bytes of the EIP-1167 proxy code.
            extcodecopy(address(), 0, 0x2d, 32)
            e := shr(216, mload(0))
        }
    }

    /// @dev The factory that created the group, carried in the clone's code after the epoch.
    function _factoryAddress() internal view returns (address f) {
        assembly {
            extcodecopy(address(), 0, 0x32, 32)
            f := shr(96, mload(0))
        }
    }

    /// @dev Now, in the group's clock. Checked: past ~136 years after creation every call reverts.
    function _now() internal view returns (uint32) {
        return uint32(block.timestamp - _epoch());
    }

    /// @dev The key of a write now: after the proposals already made in this second.
    function _writeKey(uint256 s, uint32 nowT) internal pure returns (uint40) {
        uint40 last = _sLastSnapshot(s);
        if (uint32(last >> 8) != nowT) return uint40(nowT) << 8;
        return (uint40(nowT) << 8) | ((last & 0xff) + 1);
    }

    /// @dev Unix time of a second of the group's clock.
    function _unix(uint32 t) internal view returns (uint64) {
        if (t == 0) return 0;
        if (t == GroupConstants.LIFETIME) return type(uint64).max;
        return uint64(_epoch() + t);
    }

    /// @dev `_unix`, with the epoch already read.
    function _unixFrom(uint256 epoch, uint32 t) internal pure returns (uint64) {
        if (t == 0) return 0;
        if (t == GroupConstants.LIFETIME) return type(uint64).max;
        return uint64(epoch + t);
    }

    // =========================================================== lookups

    /// @dev The checkpoint of `account` in force at `key`: the last one with a key <= `key` (0 if none).
    function _checkpointAt(address account, uint40 key) internal view returns (uint256 c) {
        c = _latest[account];
        if (_cKey(c) <= key) return c;
        // Most lookups are for a snapshot after the account's latest change, handled above.
        uint32 token = _cToken(c);
        if (token == 0) return 0;
        mapping(uint256 => uint256) storage h = _history[account];
        uint256 lo = 0;
        uint256 hi = _mHistory(_tokens[token]);
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (_cKey(h[mid]) > key) hi = mid;
            else lo = mid + 1;
        }
        return lo == 0 ? 0 : h[lo - 1];
    }

    /// @dev How many of the members delegating to the holder of checkpoint `c` are active at second `t`
    /// (t at or after c's second).
    function _carriedAt(uint256 c, uint32 t) internal view returns (uint256 n) {
        for (uint256 i = 0; i < 3; ++i) {
            if (_cEnd(c, i) > t) ++n;
        }
        uint256 inTree = _cInTree(c);
        if (inTree != 0) {
            // inTree counted them at c's second; the tree says how many ended since.
            n += (inTree + 0x10000 - ExpiryTree.countIn(_trees, _cToken(c), _cSecond(c), t)) & 0xffff;
        }
    }

    /// @dev The group's active count at second `nowT` (at or after its last write).
    function _activeAt(uint256 s, uint32 nowT) internal view returns (uint256) {
        uint32 last = _sLastWrite(s);
        if (last == nowT || _sNextEnd(s) > nowT) return _sActive(s);
        return (uint256(_sActive(s)) + 0x10000 - ExpiryTree.countIn(_trees, 0, last, nowT)) & 0xffff;
    }

    // ========================================================== proposals

    /// @dev The quorum (basis points) that proposals of `action` need now.
    function _quorumFor(Action action) internal view returns (uint16) {
        return _cfgQuorum(_configWord(), action);
    }

    /// @dev Where a proposal stands; see `GroupGovernance` for the early-decision rule.
    function _stateOf(uint256 p) internal view returns (ProposalState) {
        if (_pExecuted(p)) return ProposalState.Executed;
        uint32 nowT = _now();
        uint256 quorum = _pQuorumVotes(p);
        if (nowT <= _pDeadline(p)) {
            uint256 againstOwn = _pTally(p, 3);
            uint256 forOwn = _pTally(p, 4);
            uint256 movable = uint256(_pInfluence(p)) - forOwn - againstOwn - _pTally(p, 5);
            // Worst case for FOR: every point not locked by an own vote goes against.
            if (forOwn >= quorum && forOwn > againstOwn + movable) return ProposalState.Succeeded;
            // Best case for FOR: every such point goes for.
            uint256 bestFor = forOwn + movable;
            if (bestFor < quorum || bestFor <= againstOwn) return ProposalState.Defeated;
            return ProposalState.Active;
        }
        uint256 forVotes = _pTally(p, 1);
        if (forVotes < quorum || forVotes <= _pTally(p, 0)) return ProposalState.Defeated;
        if (uint256(nowT) > uint256(_pDeadline(p)) + GroupConstants.EXECUTION_WINDOW) return ProposalState.Expired;
        return ProposalState.Succeeded;
    }

    /// @dev The quorum in votes for `influence` points at `bps`.
    function _quorumVotes(uint256 influence, uint256 bps) internal pure returns (uint256) {
        // influence < 2^16 and bps < 2^16: the product cannot overflow; rounded up.
        return (influence * bps + GroupConstants.BPS - 1) / GroupConstants.BPS;
    }

    // ============================================================ members

    /// @dev An open group lets anyone join by paying, with no proposal.
    function _isOpen() internal view returns (bool) {
        uint256 w = _configWord();
        return _cfgMode(w) != Mode.External && _cfgQuorum(w, Action.AddMember) == 0;
    }

    function _isAdmin(address account) internal view returns (bool) {
        return _admins.contains(account);
    }

    function _isMember(address account) internal view returns (bool) {
        return _cExpiry(_latest[account]) != 0;
    }

    /// @dev The member holding `tokenId`; reverts when none does.
    function _ownerOf(uint256 tokenId) internal view returns (address owner) {
        if (tokenId != 0 && tokenId <= type(uint32).max) owner = _mAccount(_tokens[tokenId]);
        if (owner == address(0) || !_isMember(owner)) revert ERC721NonexistentToken(tokenId);
    }

    // ========================================================= signatures

    /// @dev Uses `owner`'s unordered nonce `nonce` (Permit2's bitmap): each works once, in any order.
    function _useNonce(address owner, uint256 nonce) internal {
        uint256 word = nonce >> 8;
        uint256 bit = uint256(1) << (nonce & 0xff);
        uint256 w = _nonceBitmap[owner][word];
        if (w & bit != 0) revert GroupNonceUsed(owner, nonce);
        _nonceBitmap[owner][word] = w | bit;
    }

    /// @dev Checks an EIP-712 signature of `signer` over `structHash`, using its nonce.
    function _checkSignature(
        address signer,
        bytes32 structHash,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) internal {
        if (block.timestamp > deadline) revert GroupSignatureExpired(deadline);
        _useNonce(signer, nonce);
        if (!SignatureChecker.isValidSignatureNow(signer, _hashTypedDataV4(structHash), signature)) {
            revert GroupInvalidSignature(signer);
        }
    }
}
