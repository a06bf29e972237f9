// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {GroupStorage} from "./GroupStorage.sol";
import {GroupConstants} from "../interfaces/IGroupTypes.sol";
import {IGroupMembership} from "../interfaces/IGroupMembership.sol";
import {IERC5192} from "../interfaces/IERC5192.sol";
import {IERC5643} from "../interfaces/IERC5643.sol";

/**
 * @title GroupMembership
 * @notice The hot paths of membership: accepting, paying, lapsing, removal and
 * delegation, with the token events of a non-transferable ERC-721 (ERC-5192)
 * whose paid-through time follows ERC-5643. See `GroupStorage` for how
 * influence stays exact without looping over members.
 */
abstract contract GroupMembership is GroupStorage, IGroupMembership, IERC5192, IERC5643 {
    using SafeERC20 for IERC20;

    /// @dev ERC-721 `Transfer`, emitted on mint and burn only.
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);

    bytes32 private constant ACCEPT_TYPEHASH = keccak256("Accept(address account,uint256 nonce,uint256 deadline)");
    /// @dev Lapses a state-changing call sweeps by itself; more need `sweepLapses` first.
    uint256 internal constant MAX_SWEEP = 64;

    // ------------------------------------------------------------ accepting

    /// @notice Become a member: the caller must be approved (or the group open) and pays the fee.
    function join() external payable {
        GroupState memory s = _loadSwept();
        _admit(s, msg.sender);
        _storeState(s);
        _collectFee(msg.sender, msg.sender);
    }

    /**
     * @notice Accept membership on behalf of `account`, with its EIP-712
     * `Accept(account, nonce, deadline)` signature; the caller pays the fee.
     * Lets the bot relay a member's acceptance in groups with a zero fee.
     */
    function acceptFor(address account, uint256 nonce, uint256 deadline, bytes calldata signature) external payable {
        _checkSignature(account, keccak256(abi.encode(ACCEPT_TYPEHASH, account, nonce, deadline)), nonce, deadline, signature);
        GroupState memory s = _loadSwept();
        _admit(s, account);
        _storeState(s);
        _collectFee(account, msg.sender);
    }

    /**
     * @notice Pay the next period of `member` (anyone may pay for anyone).
     * An active member's period extends from its paid-through time; a lapsed
     * member's new period starts now.
     */
    function renew(address member) external payable {
        GroupState memory s = _loadSwept();
        _renew(s, member);
        _storeState(s);
        _collectFee(member, msg.sender);
    }

    /// @notice Remove `account`, whose subscription lapsed more than the grace period ago. Anyone may call.
    function removeLapsed(address account) external {
        GroupState memory s = _loadSwept();
        uint32 expiry = _accounts[account].expiresAt;
        if (expiry == 0) revert GroupNotMember(account);
        uint256 removableAt = uint256(expiry) + _config.gracePeriod;
        if (expiry == GroupConstants.LIFETIME || block.timestamp < removableAt) {
            revert GroupGracePeriodNotOver(account, expiry == GroupConstants.LIFETIME ? type(uint256).max : removableAt);
        }
        _remove(s, account);
        _storeState(s);
    }

    /// @notice Process up to `max` due lapses. Anyone may call; returns how many are still due.
    function sweepLapses(uint256 max) external returns (uint256 pending) {
        GroupState memory s = _loadState();
        _sweep(s, max);
        _storeState(s);
        uint32 idx = s.head;
        uint32 nowT = _now();
        while (idx != 0 && _nodes[idx].expiresAt <= nowT) {
            ++pending;
            idx = _nodes[idx].next;
        }
    }

    // ----------------------------------------------------------- delegation

    /**
     * @notice Give your influence to `to` (a member), or take it back with
     * address(0). One hop: `to`'s own delegation does not pass it on. For each
     * proposal, your vote, if you cast one, overrides the delegation.
     */
    function delegate(address to) external {
        _delegate(msg.sender, to);
    }

    /// @notice Change `delegator`'s delegation as its authorised relayer (see `setRelayer`).
    function delegateFor(address delegator, address to) external {
        _checkRelayer(delegator);
        _delegate(delegator, to);
    }

    /**
     * @notice Accept membership for `account` as its authorised relayer (see
     * `setRelayer`); the caller pays the fee.
     */
    function joinFor(address account) external payable {
        _checkRelayer(account);
        GroupState memory s = _loadSwept();
        _admit(s, account);
        _storeState(s);
        _collectFee(account, msg.sender);
    }

    function _delegate(address delegator, address to) private {
        GroupState memory s = _loadSwept();
        Account storage acc = _accounts[delegator];
        Checkpoint memory c = _latest(delegator, acc.nCheckpoints);
        if (c.expiresAt == 0) revert GroupNotMember(delegator);
        if (to == delegator) revert GroupSelfDelegation();
        if (to != address(0) && !_isMember(to)) revert GroupNotMember(to);
        address from = c.delegate;
        if (from == to) revert GroupDelegateUnchanged(to);
        uint32 key = _key(s);
        // Only active members count in their delegate's `delegatorsIn`.
        if (c.expiresAt > _now()) {
            if (from != address(0)) _adjustDelegatorsIn(from, key, false);
            if (to != address(0)) _adjustDelegatorsIn(to, key, true);
        }
        c.key = key;
        c.delegate = to;
        _write(delegator, acc, c);
        _storeState(s);
        emit DelegateChanged(delegator, from, to);
    }

    // ------------------------------------------------------------- internal

    function _loadSwept() internal returns (GroupState memory s) {
        s = _loadState();
        if (!_sweep(s, MAX_SWEEP)) revert GroupLapsesPending();
    }

    /// @dev Processes due lapses from the head of the expiry list; false if more than `max` are due.
    function _sweep(GroupState memory s, uint256 max) internal returns (bool done) {
        uint32 nowT = _now();
        // Common case: nothing is due, and that costs no storage read.
        if (s.head == 0 || s.headExpiry > nowT) return true;
        uint32 idx = s.head;
        uint32 expiry = s.headExpiry;
        done = true;
        while (true) {
            if (max == 0) {
                done = false;
                break;
            }
            --max;
            Node storage node = _nodes[idx];
            address account = node.account;
            uint32 next = node.next;
            node.next = 0;
            Checkpoint memory c = _latestOf(account);
            // The lapse happened at `expiry`: that is its key (see contract doc).
            if (c.delegate != address(0)) _adjustDelegatorsIn(c.delegate, expiry, false);
            --s.activeCount;
            emit MemberLapsed(account, expiry);
            idx = next;
            if (idx == 0) break;
            expiry = _nodes[idx].expiresAt;
            if (expiry > nowT) break;
        }
        s.head = idx;
        if (idx == 0) {
            s.tail = 0;
            s.headExpiry = 0;
        } else {
            _nodes[idx].prev = 0;
            s.headExpiry = expiry;
        }
    }

    function _approve(address account) internal {
        if (account == address(0)) revert GroupInvalidAccount(account);
        Account storage acc = _accounts[account];
        if (acc.expiresAt != 0) revert GroupAlreadyMember(account);
        acc.approved = true;
        emit MemberApproved(account);
    }

    function _admit(GroupState memory s, address account) internal {
        Account storage acc = _accounts[account];
        Checkpoint memory c = _latest(account, acc.nCheckpoints);
        if (c.expiresAt != 0) revert GroupAlreadyMember(account);
        if (!acc.approved && !_isOpen()) revert GroupNotApproved(account);
        _mint(s, account, acc, c);
    }

    /// @dev Makes `account` an active member with a first paid period.
    function _mint(GroupState memory s, address account, Account storage acc, Checkpoint memory c) internal {
        if (s.activeCount >= GroupConstants.MAX_ACTIVE_MEMBERS) revert GroupFull();
        uint32 idx = acc.index;
        if (idx == 0) {
            idx = ++s.lastIndex;
            acc.index = idx;
            _nodes[idx].account = account;
        }
        acc.approved = false;
        uint32 period = _config.period;
        uint32 expiry = period == 0 ? GroupConstants.LIFETIME : _now() + period;
        // `delegatorsIn` is kept: delegations to a removed member stay dormant and revive.
        c.key = _key(s);
        c.expiresAt = expiry;
        c.delegate = address(0);
        _write(account, acc, c);
        ++s.activeCount;
        if (expiry != GroupConstants.LIFETIME) _listInsert(s, idx, expiry);
        emit Transfer(address(0), account, idx);
        emit Locked(idx);
        emit MemberAdded(account);
        emit SubscriptionUpdate(idx, expiry);
    }

    function _renew(GroupState memory s, address member) internal {
        Account storage acc = _accounts[member];
        uint24 n = acc.nCheckpoints;
        Checkpoint memory c = _latest(member, n);
        if (c.expiresAt == 0) revert GroupNotMember(member);
        if (c.expiresAt == GroupConstants.LIFETIME) revert GroupPaidForLife(member);
        uint32 period = _config.period;
        uint32 nowT = _now();
        uint32 expiry;
        if (c.expiresAt > nowT) {
            expiry = period == 0 ? GroupConstants.LIFETIME : c.expiresAt + period;
            // Still active: extend in place. For any past time t at or after the
            // latest key, old and new expiry are both > now >= t, so every
            // lookup answers the same: no new checkpoint is needed.
            _checkpoints[member][n - 1].expiresAt = expiry;
            acc.expiresAt = expiry;
            _listRemove(s, acc.index);
        } else {
            if (s.activeCount >= GroupConstants.MAX_ACTIVE_MEMBERS) revert GroupFull();
            expiry = period == 0 ? GroupConstants.LIFETIME : nowT + period;
            c.key = _key(s);
            c.expiresAt = expiry;
            _write(member, acc, c);
            ++s.activeCount;
            if (c.delegate != address(0)) _adjustDelegatorsIn(c.delegate, c.key, true);
        }
        if (expiry != GroupConstants.LIFETIME) _listInsert(s, acc.index, expiry);
        emit SubscriptionUpdate(acc.index, expiry);
    }

    /// @dev Ends `account`'s membership, or withdraws its approval if it has not accepted yet.
    function _remove(GroupState memory s, address account) internal {
        Account storage acc = _accounts[account];
        Checkpoint memory c = _latest(account, acc.nCheckpoints);
        if (c.expiresAt == 0) {
            if (!acc.approved) revert GroupNotMember(account);
            acc.approved = false;
            emit MemberApprovalWithdrawn(account);
            return;
        }
        uint32 key = _key(s);
        if (c.expiresAt > _now()) {
            --s.activeCount;
            if (c.delegate != address(0)) _adjustDelegatorsIn(c.delegate, key, false);
            if (c.expiresAt != GroupConstants.LIFETIME) _listRemove(s, acc.index);
        }
        c.key = key;
        c.expiresAt = 0;
        c.delegate = address(0);
        _write(account, acc, c);
        acc.approved = false;
        emit Transfer(account, address(0), acc.index);
        emit MemberRemoved(account);
    }

    /// @dev Only the relayer `account` authorised may act for it.
    function _checkRelayer(address account) internal view {
        if (_accounts[account].relayer != msg.sender || msg.sender == address(0)) revert GroupNotRelayer(account, msg.sender);
    }

    function _collectFee(address member, address payer) internal {
        uint256 fee = _config.fee;
        address token = _config.feeToken;
        if (token == address(0)) {
            if (msg.value != fee) revert GroupWrongPayment(fee, msg.value);
        } else {
            if (msg.value != 0) revert GroupWrongPayment(0, msg.value);
            if (fee != 0) IERC20(token).safeTransferFrom(payer, address(this), fee);
        }
        emit FeePaid(member, payer, token, fee);
    }

    function _checkSignature(
        address signer,
        bytes32 structHash,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) internal {
        if (block.timestamp > deadline) revert GroupSignatureExpired(deadline);
        // A used nonce is refused here, so a signature works once.
        _useCheckedNonce(signer, nonce);
        if (!SignatureChecker.isValidSignatureNow(signer, _hashTypedDataV4(structHash), signature)) {
            revert GroupInvalidSignature(signer);
        }
    }

    function _adjustDelegatorsIn(address account, uint32 key, bool increase) internal {
        Account storage acc = _accounts[account];
        Checkpoint memory c = _latest(account, acc.nCheckpoints);
        c.key = key;
        c.delegatorsIn = increase ? c.delegatorsIn + 1 : c.delegatorsIn - 1;
        _write(account, acc, c);
    }

    /// @dev Inserts `idx` in the expiry-ordered list. New expiries are usually the
    /// latest, so the walk starts at the tail.
    function _listInsert(GroupState memory s, uint32 idx, uint32 expiry) internal {
        uint32 prev = s.tail;
        while (prev != 0 && _nodes[prev].expiresAt > expiry) {
            prev = _nodes[prev].prev;
        }
        uint32 next = prev == 0 ? s.head : _nodes[prev].next;
        Node storage node = _nodes[idx];
        node.expiresAt = expiry;
        node.prev = prev;
        node.next = next;
        if (prev == 0) {
            s.head = idx;
            s.headExpiry = expiry;
        } else {
            _nodes[prev].next = idx;
        }
        if (next == 0) s.tail = idx;
        else _nodes[next].prev = idx;
    }

    function _listRemove(GroupState memory s, uint32 idx) internal {
        Node storage node = _nodes[idx];
        uint32 prev = node.prev;
        uint32 next = node.next;
        if (prev == 0) {
            s.head = next;
            s.headExpiry = next == 0 ? 0 : _nodes[next].expiresAt;
        } else {
            _nodes[prev].next = next;
        }
        if (next == 0) s.tail = prev;
        else _nodes[next].prev = prev;
        node.prev = 0;
        node.next = 0;
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IGroupMembership
    function isMember(address account) public view returns (bool) {
        return _isMember(account);
    }

    /// @notice Whether `account` is a member whose subscription is paid through now.
    function isActive(address account) external view returns (bool) {
        return _accounts[account].expiresAt > block.timestamp;
    }

    /// @inheritdoc IERC5643
    function expiresAt(uint256 tokenId) external view returns (uint64) {
        return _accounts[ownerOf(tokenId)].expiresAt;
    }

    /// @inheritdoc IERC5192
    function locked(uint256 tokenId) external view returns (bool) {
        ownerOf(tokenId);
        return true;
    }

    /// @notice ERC-721: 1 for a member, else 0.
    function balanceOf(address owner) external view returns (uint256) {
        if (owner == address(0)) revert GroupInvalidAccount(owner);
        return _isMember(owner) ? 1 : 0;
    }

    /// @notice ERC-721: the member holding `tokenId`.
    function ownerOf(uint256 tokenId) public view returns (address) {
        return _ownerOf(tokenId);
    }
}
