// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {GroupStorage} from "./GroupStorage.sol";
import {ExpiryTree} from "./ExpiryTree.sol";
import {GroupConstants, RelayerScope} from "../interfaces/IGroupTypes.sol";
import {IGroupMembership} from "../interfaces/IGroupMembership.sol";
import {IERC5192} from "../interfaces/IERC5192.sol";

/**
 * @title GroupMembership
 * @notice The hot paths of membership: accepting, paying, removal and
 * delegation, with the token events of a non-transferable ERC-721 (ERC-5192).
 * See `GroupStorage` for how influence stays exact with bounded work.
 *
 * Every function here does a fixed amount of work whatever the state: at
 * most three checkpoints and two expiry trees are touched, and nothing
 * depends on how many members there are, how many lapsed, or how long
 * nobody called the group.
 */
abstract contract GroupMembership is GroupStorage, IGroupMembership, IERC5192 {
    using SafeERC20 for IERC20;

    /// @dev ERC-721 `Transfer`, emitted on mint and burn only.
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    /// @notice The paid-through time of `tokenId` changed (the event of ERC-5643).
    event SubscriptionUpdate(uint256 indexed tokenId, uint64 expiration);

    bytes32 private constant ACCEPT_TYPEHASH = keccak256("Accept(address account,uint256 nonce,uint256 deadline)");

    // ------------------------------------------------------------ accepting

    /// @notice Become a member: the caller must be approved (or the group open) and pays the fee.
    function join() external payable {
        _admit(msg.sender, msg.sender);
    }

    /**
     * @notice Accept membership on behalf of `account`, with its EIP-712
     * `Accept(account, nonce, deadline)` signature; the caller pays the fee.
     * Nonces are unordered: any unused one works, once.
     */
    function acceptFor(address account, uint256 nonce, uint256 deadline, bytes calldata signature) external payable {
        _checkSignature(account, keccak256(abi.encode(ACCEPT_TYPEHASH, account, nonce, deadline)), nonce, deadline, signature);
        _admit(account, msg.sender);
    }

    /// @notice Accept membership for `account` as its relayer (scope ACCEPT); the caller pays the fee.
    function joinFor(address account) external payable {
        _checkRelayer(account, RelayerScope.ACCEPT);
        _admit(account, msg.sender);
    }

    /**
     * @notice Pay the next period of `member` (anyone may pay for anyone).
     * An active member's period extends from its paid-through time; a lapsed
     * member's new period starts now. Refused beyond `MAX_PAID_AHEAD` ahead.
     */
    function renew(address member) external payable {
        uint32 nowT = _now();
        uint256 c = _latest[member];
        uint32 e = _cExpiry(c);
        if (e == 0) revert GroupNotMember(member);
        if (e == GroupConstants.LIFETIME) revert GroupPaidForLife(member);
        uint32 period = _cfgPeriod(_configWord());
        uint32 next;
        if (e > nowT) {
            next = period == 0 ? GroupConstants.LIFETIME : e + period;
            _checkAhead(member, next, nowT);
            // Still active: extend in place. For any snapshot up to now, old and
            // new paid-through times are both later, so every lookup answers the
            // same and no new checkpoint is needed.
            _latest[member] = _put(c, 40, 32, next);
            if (next == GroupConstants.LIFETIME) ExpiryTree.remove(_trees, 0, e);
            else ExpiryTree.move(_trees, 0, e, next);
            uint32 d = _cDelegate(c);
            if (d != 0) {
                address holder = _mAccount(_tokens[d]);
                _latest[holder] = _carryMove(_latest[holder], _cFlags(c), e, next);
            }
        } else {
            next = period == 0 ? GroupConstants.LIFETIME : nowT + period;
            uint256 s = _touch(_state, nowT);
            s = _startPeriod(s, member, c, next, nowT);
            _state = s;
        }
        emit SubscriptionUpdate(_cToken(c), _unix(next));
        _collectFee(member, msg.sender);
    }

    /// @notice Remove `account`, whose subscription lapsed more than the grace period ago. Anyone may call.
    function removeLapsed(address account) external {
        uint32 nowT = _now();
        uint256 c = _latest[account];
        if (_cExpiry(c) == 0) revert GroupNotMember(account);
        uint256 removableAt = _removableAt(c);
        if (nowT < removableAt) revert GroupGracePeriodNotOver(account, _unixOrMax(removableAt));
        _state = _remove(_touch(_state, nowT), account, nowT);
    }

    /**
     * @notice Remove each of `accounts` (at most 64) whose subscription lapsed more
     * than the grace period ago; others are skipped. Returns how many were removed.
     */
    function removeLapsedBatch(address[] calldata accounts) external returns (uint256 removed) {
        if (accounts.length > GroupConstants.MAX_BATCH) revert GroupBatchTooLarge(accounts.length, GroupConstants.MAX_BATCH);
        uint32 nowT = _now();
        uint256 s = _touch(_state, nowT);
        for (uint256 i = 0; i < accounts.length; ++i) {
            uint256 c = _latest[accounts[i]];
            if (_cExpiry(c) == 0 || nowT < _removableAt(c)) continue;
            s = _remove(s, accounts[i], nowT);
            ++removed;
        }
        _state = s;
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

    /// @notice Change `delegator`'s delegation as its relayer (scope DELEGATE).
    function delegateFor(address delegator, address to) external {
        _checkRelayer(delegator, RelayerScope.DELEGATE);
        _delegate(delegator, to);
    }

    function _delegate(address delegator, address to) private {
        uint256 c = _latest[delegator];
        uint32 e = _cExpiry(c);
        if (e == 0) revert GroupNotMember(delegator);
        if (to == delegator) revert GroupSelfDelegation();
        uint256 tc = to == address(0) ? 0 : _latest[to];
        if (to != address(0) && _cExpiry(tc) == 0) revert GroupNotMember(to);
        uint32 toToken = _cToken(tc);
        uint32 fromToken = _cDelegate(c);
        if (fromToken == toToken) revert GroupDelegateUnchanged(to);
        address from = fromToken == 0 ? address(0) : _mAccount(_tokens[fromToken]);

        uint256 s = _state;
        uint32 nowT = _now();
        uint40 key = _writeKey(s, nowT);
        uint256 flags = 0;
        // Only an active member's point is carried; a lapsed one's is picked up when it pays again.
        if (e > nowT) {
            if (from != address(0)) _uncarry(s, from, _cFlags(c), e, key, nowT);
            if (to != address(0)) flags = _carry(s, to, tc, e, key, nowT);
        }
        uint256 next = _rekey(c, key, nowT);
        next = _put(next, 72, 32, toToken);
        next = _put(next, 248, 8, flags);
        _save(delegator, c, next, s);
        emit DelegateChanged(delegator, from, to);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IGroupMembership
    function isMember(address account) external view returns (bool) {
        return _isMember(account);
    }

    /// @inheritdoc IERC5192
    function locked(uint256 tokenId) external view returns (bool) {
        _ownerOf(tokenId);
        return true;
    }

    // ------------------------------------------------------------- internal

    function _admit(address account, address payer) internal {
        if (account == address(0)) revert GroupInvalidAccount(account);
        uint32 nowT = _now();
        uint256 c = _latest[account];
        if (_cExpiry(c) != 0) revert GroupAlreadyMember(account);
        if (_cFlags(c) & FLAG_APPROVED == 0 && !_isOpen()) revert GroupNotApproved(account);
        uint256 s = _touch(_state, nowT);
        s = _mint(s, account, c, nowT);
        _state = s;
        _collectFee(account, payer);
    }

    /// @dev Brings the group's active count to `nowT` (the lapses since the last write).
    function _touch(uint256 s, uint32 nowT) internal view returns (uint256) {
        if (_sLastWrite(s) == nowT) return s;
        s = _put(s, 32, 16, _activeAt(s, nowT));
        s = _put(s, 48, 32, nowT);
        if (_sNextEnd(s) <= nowT) s = _put(s, 184, 32, nowT + 1);
        return s;
    }

    /// @dev One more active member whose period ends at `e`; `s` is touched.
    function _addActive(uint256 s, uint32 e) private returns (uint256) {
        uint256 active = _sActive(s);
        if (active >= GroupConstants.MAX_ACTIVE_MEMBERS) revert GroupFull();
        s = _put(s, 32, 16, active + 1);
        if (e != GroupConstants.LIFETIME) {
            ExpiryTree.add(_trees, 0, e, 1);
            if (e < _sNextEnd(s)) s = _put(s, 184, 32, e);
        }
        return s;
    }

    /// @dev Makes `account` (latest checkpoint `c`) an active member with a first paid period.
    function _mint(uint256 s, address account, uint256 c, uint32 nowT) internal returns (uint256) {
        uint32 token = _cToken(c);
        uint256 next = c;
        if (token == 0) {
            // Never a member: nothing to keep in history.
            token = _sLastToken(s) + 1;
            s = _put(s, 0, 32, token);
            _tokens[token] = uint160(account);
            next = _put(next, 104, 32, token);
        }
        uint32 period = _cfgPeriod(_configWord());
        uint32 e = period == 0 ? GroupConstants.LIFETIME : nowT + period;
        // Delegations to this account stay with it (dormant while it was not a member);
        // its own delegation starts empty.
        next = _rekey(next, _writeKey(s, nowT), nowT);
        next = _put(next, 40, 32, e);
        next = _put(next, 72, 32, 0);
        next = _put(next, 248, 8, 0);
        _save(account, c, next, s);
        s = _addActive(s, e);
        emit Transfer(address(0), account, token);
        emit Locked(token);
        emit MemberAdded(account);
        emit SubscriptionUpdate(token, _unix(e));
        return s;
    }

    /// @dev A lapsed member pays again: a new period from now, and its point goes back to its delegate.
    function _startPeriod(uint256 s, address member, uint256 c, uint32 e, uint32 nowT) private returns (uint256) {
        uint40 key = _writeKey(s, nowT);
        uint256 flags = 0;
        uint32 d = _cDelegate(c);
        if (d != 0) {
            address holder = _mAccount(_tokens[d]);
            flags = _carry(s, holder, _latest[holder], e, key, nowT);
        }
        uint256 next = _rekey(c, key, nowT);
        next = _put(next, 40, 32, e);
        next = _put(next, 248, 8, flags);
        _save(member, c, next, s);
        return _addActive(s, e);
    }

    /// @dev Ends `account`'s membership, or withdraws its approval if it has not accepted yet.
    function _remove(uint256 s, address account, uint32 nowT) internal returns (uint256) {
        uint256 c = _latest[account];
        uint32 e = _cExpiry(c);
        if (e == 0) {
            if (_cFlags(c) & FLAG_APPROVED == 0) revert GroupNotMember(account);
            // A non-member's checkpoint says "not active" with or without the flag: no history needed.
            _latest[account] = _put(c, 248, 8, 0);
            emit MemberApprovalWithdrawn(account);
            return s;
        }
        uint40 key = _writeKey(s, nowT);
        if (e > nowT) {
            s = _put(s, 32, 16, _sActive(s) - 1);
            if (e != GroupConstants.LIFETIME) ExpiryTree.remove(_trees, 0, e);
            uint32 d = _cDelegate(c);
            if (d != 0) _uncarry(s, _mAccount(_tokens[d]), _cFlags(c), e, key, nowT);
        }
        uint256 next = _rekey(c, key, nowT);
        next = _put(next, 40, 32, 0);
        next = _put(next, 72, 32, 0);
        next = _put(next, 248, 8, 0);
        _save(account, c, next, s);
        emit Transfer(account, address(0), _cToken(c));
        emit MemberRemoved(account);
        return s;
    }

    function _approve(address account) internal {
        if (account == address(0)) revert GroupInvalidAccount(account);
        uint256 c = _latest[account];
        if (_cExpiry(c) != 0) revert GroupAlreadyMember(account);
        _latest[account] = c | (FLAG_APPROVED << 248);
        emit MemberApproved(account);
    }

    // --------------------------------------------------- checkpoints, carry

    /// @dev `c` with key `key`, its carried count brought to `nowT` and ended inline delegators dropped.
    function _rekey(uint256 c, uint40 key, uint32 nowT) internal view returns (uint256) {
        if (_cKey(c) == key) return c;
        uint256 inTree = _cInTree(c);
        uint32 since = _cSecond(c);
        if (inTree != 0 && since < nowT) {
            inTree = (inTree + 0x10000 - ExpiryTree.countIn(_trees, _cToken(c), since, nowT)) & 0xffff;
            c = _put(c, 232, 16, inTree);
        }
        for (uint256 i = 0; i < 3; ++i) {
            uint32 end = _cEnd(c, i);
            if (end != 0 && end <= nowT) c = _put(c, 136 + 32 * i, 32, 0);
        }
        return _put(c, 0, 40, key);
    }

    /**
     * @dev Stores `next` as `account`'s latest checkpoint. The one it replaces
     * goes to history first when a proposal made since may need it: a lookup at
     * a snapshot at or after its key and before `next`'s would read it.
     */
    function _save(address account, uint256 prev, uint256 next, uint256 s) internal {
        if (_cKey(prev) != _cKey(next) && _cToken(prev) != 0 && _sLastSnapshot(s) >= _cKey(prev)) {
            uint256 token = _cToken(prev);
            uint256 m = _tokens[token];
            uint256 n = _mHistory(m);
            _history[account][n] = prev;
            _tokens[token] = _put(m, 160, 24, n + 1);
        }
        _latest[account] = next;
    }

    /// @dev `holder` (latest `hc`) carries one more active delegator whose period ends at `e`;
    /// returns where it sits, as the delegator's flags.
    function _carry(uint256 s, address holder, uint256 hc, uint32 e, uint40 key, uint32 nowT) private returns (uint256 flags) {
        uint256 next = _rekey(hc, key, nowT);
        flags = FLAG_IN_TREE;
        for (uint256 i = 0; i < 3; ++i) {
            if (_cEnd(next, i) == 0) {
                next = _put(next, 136 + 32 * i, 32, e);
                flags = (i + 1) << SLOT_SHIFT;
                break;
            }
        }
        if (flags == FLAG_IN_TREE) {
            // The inline places are taken: count it in the holder's own tree.
            next = _put(next, 232, 16, _cInTree(next) + 1);
            if (e != GroupConstants.LIFETIME) ExpiryTree.add(_trees, _cToken(next), e, 1);
        }
        _save(holder, hc, next, s);
    }

    /// @dev `holder` no longer carries an active delegator (flags `flags`, period ending at `e`).
    function _uncarry(uint256 s, address holder, uint256 flags, uint32 e, uint40 key, uint32 nowT) private {
        uint256 hc = _latest[holder];
        uint256 next = _rekey(hc, key, nowT);
        uint256 slot = (flags >> SLOT_SHIFT) & 3;
        if (slot != 0) {
            next = _put(next, 136 + 32 * (slot - 1), 32, 0);
        } else if (flags & FLAG_IN_TREE != 0) {
            next = _put(next, 232, 16, _cInTree(next) - 1);
            if (e != GroupConstants.LIFETIME) ExpiryTree.remove(_trees, _cToken(next), e);
        }
        _save(holder, hc, next, s);
    }

    /// @dev An active delegator's period now ends at `next` instead of `e`: in place, as for its own checkpoint.
    function _carryMove(uint256 hc, uint256 flags, uint32 e, uint32 next) private returns (uint256) {
        uint256 slot = (flags >> SLOT_SHIFT) & 3;
        if (slot != 0) return _put(hc, 136 + 32 * (slot - 1), 32, next);
        if (flags & FLAG_IN_TREE != 0) {
            if (next == GroupConstants.LIFETIME) ExpiryTree.remove(_trees, _cToken(hc), e);
            else ExpiryTree.move(_trees, _cToken(hc), e, next);
        }
        return hc;
    }

    // ----------------------------------------------------------- payments

    function _removableAt(uint256 c) private view returns (uint256) {
        uint32 e = _cExpiry(c);
        return e == GroupConstants.LIFETIME ? type(uint256).max : uint256(e) + _cfgGracePeriod(_configWord());
    }

    function _unixOrMax(uint256 t) private view returns (uint256) {
        return t == type(uint256).max ? t : _epoch() + t;
    }

    function _checkAhead(address member, uint32 next, uint32 nowT) private view {
        if (next != GroupConstants.LIFETIME && next - nowT > GroupConstants.MAX_PAID_AHEAD) {
            revert GroupPaidTooFarAhead(member, _unix(next), _epoch() + nowT + GroupConstants.MAX_PAID_AHEAD);
        }
    }

    /// @dev Only the relayer `account` authorised, within its scope and time, may act for it.
    function _checkRelayer(address account, uint8 needed) internal view {
        uint256 r = _relayers[account];
        if (_rRelayer(r) != msg.sender || msg.sender == address(0)) revert GroupNotRelayer(account, msg.sender);
        if (block.timestamp >= _rUntil(r)) revert GroupRelayerExpired(account, _rUntil(r));
        uint8 granted = _rScope(r);
        if (granted & needed != needed) revert GroupRelayerScope(account, needed, granted);
    }

    function _collectFee(address member, address payer) internal {
        // A free group (fee 0, native coin): nothing to read of the second config slot.
        if (_configWord() & CFG_FREE != 0) {
            if (msg.value != 0) revert GroupWrongPayment(0, msg.value);
            return;
        }
        uint256 fee = _config.fee;
        address token = _config.feeToken;
        if (token == address(0)) {
            if (msg.value != fee) revert GroupWrongPayment(fee, msg.value);
        } else {
            if (msg.value != 0) revert GroupWrongPayment(0, msg.value);
            if (fee != 0) IERC20(token).safeTransferFrom(payer, address(this), fee);
        }
        if (fee != 0) emit FeePaid(member, payer, token, fee);
    }
}
