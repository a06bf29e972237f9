// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {GroupStorage} from "./group/GroupStorage.sol";
import {IGroupExtensionInternal} from "./interfaces/IGroupExtensionInternal.sol";
import {IGroupFactory} from "./interfaces/IGroupFactory.sol";
import {Action, Config, DestinationKind, Duration, FeeDestination, GroupConstants, Mode, ProposalState, RelayerScope, Settings} from "./interfaces/IGroupTypes.sol";

/**
 * @title GroupExtension
 * @notice The cold half of a group's code: settings and their validation,
 * the treasury, Matrix links, vote relayers and most views. It runs only by
 * delegatecall from a `Group`, on the group's storage (see `GroupStorage`).
 *
 * Treasury: fees accumulate in the group contract. The fee destination says
 * where they go: locked (they stay), release (to recipients by shares, at
 * most once per 30 days per token) or custom (all to a contract, at any
 * time). `release` is open to anyone; the bot calls it as a keeper duty.
 * Fees are never forwarded during a payment, so a failing recipient can
 * never stop members from paying; and each recipient of a release is paid
 * on its own, with bounded gas: one that fails keeps its share claimable
 * (`claim`) and holds up nobody else.
 */
contract GroupExtension is GroupStorage, IGroupExtensionInternal {
    using EnumerableSet for EnumerableSet.AddressSet;
    using SafeERC20 for IERC20;

    constructor() EIP712("Conclave Group", "1") {
        // `applyInitial` runs only while `_state` is 0: never on this contract's own storage.
        _state = 1;
    }

    modifier onlySelf() {
        if (msg.sender != address(this)) revert GroupUnauthorized(msg.sender);
        _;
    }

    // --------------------------------------------------------- from Group

    /// @inheritdoc IGroupExtensionInternal
    function checkPayload(Action action, bytes calldata payload) external view {
        if (action == Action.Config) {
            _validateSettings(_decodeSettings(payload));
        } else if (action == Action.FeeDestination) {
            _validateDestination(_decodeDestination(payload));
        } else if (action == Action.Custom) {
            if (!_config.customCallsAllowed) revert GroupCustomCallsDisabled();
            (address target, , ) = _decodeCustom(payload);
            if (target == address(this)) revert GroupInvalidCustomTarget(target);
        } else {
            revert GroupMalformedPayload(action);
        }
    }

    /// @inheritdoc IGroupExtensionInternal
    function applyPayload(Action action, bytes calldata payload) external onlySelf {
        if (action == Action.Config) {
            _applySettings(_decodeSettings(payload));
        } else if (action == Action.FeeDestination) {
            _applyDestination(_decodeDestination(payload));
        } else if (action == Action.Custom) {
            (address target, uint256 value, bytes memory data) = _decodeCustom(payload);
            Address.functionCallWithValue(target, data, value);
        } else {
            revert GroupMalformedPayload(action);
        }
    }

    /**
     * @inheritdoc IGroupExtensionInternal
     * @dev Called by `Group.initialize` by delegatecall, before `_state` is set (it is
     * never 0 after). The factory encodes both payloads itself, so they are decoded
     * directly. Storage is all zero here: only what is not zero is written.
     */
    function applyInitial(bytes calldata settings_, bytes calldata destination) external {
        if (_state != 0) revert GroupUnauthorized(msg.sender);
        Settings memory s = abi.decode(settings_, (Settings));
        _validateSettings(s);
        _storeConfig(s.config, 0, false);
        if (s.controller != address(0)) _controller = s.controller;
        if (s.linker != address(0)) _linker = s.linker;
        for (uint256 i = 0; i < s.admins.length; ++i) {
            _admins.add(s.admins[i]);
        }
        emit SettingsChanged(s.config, s.controller, s.linker, s.admins);
        FeeDestination memory d = abi.decode(destination, (FeeDestination));
        _validateDestination(d);
        if (d.kind != DestinationKind.Locked || d.target != address(0)) {
            _destinationKind = d.kind;
            _destinationTarget = d.target;
        }
        if (d.recipients.length != 0) _recipients = d.recipients;
        if (d.sharesBps.length != 0) _sharesBps = d.sharesBps;
        emit FeeDestinationChanged(d.kind, d.target, d.recipients, d.sharesBps);
    }

    /**
     * @dev Stores `c` in `_config`'s two slots, one write each (the second skipped when
     * zero and `always` is not set), with `modeChange` and the free-fee bit in the first
     * (see `GroupStorage`).
     */
    function _storeConfig(Config memory c, uint256 modeChange, bool always) private {
        uint256 w0 = uint256(c.defaultQuorumBps) |
            (uint256(c.addQuorumBps) << 16) |
            (uint256(c.removeQuorumBps) << 32) |
            (uint256(c.configQuorumBps) << 48) |
            (uint256(c.feeDestinationQuorumBps) << 64) |
            (uint256(c.customQuorumBps) << 80) |
            (uint256(c.votingPeriod) << 96) |
            (uint256(c.period) << 128) |
            (uint256(c.gracePeriod) << 160) |
            (uint256(uint8(c.mode)) << 192) |
            ((c.customCallsAllowed ? uint256(1) : 0) << 200) |
            (uint256(c.maxOpenProposals) << 208) |
            (modeChange << CFG_MODE_CHANGE);
        uint256 w1 = uint256(c.fee) | (uint256(uint160(c.feeToken)) << 96);
        if (w1 == 0) w0 |= CFG_FREE;
        assembly {
            // The layout of `Config` (a test compares it with `config()` after each write).
            sstore(_config.slot, w0)
            if or(always, w1) {
                sstore(add(_config.slot, 1), w1)
            }
        }
    }

    // -------------------------------------------------- external governance

    /// @notice Replace the settings (the controller, in external mode).
    function updateSettings(Settings calldata newSettings) external {
        _checkController();
        _applySettings(newSettings);
    }

    /// @notice Replace the fee destination (the controller, in external mode).
    function updateFeeDestination(FeeDestination calldata destination) external {
        _checkController();
        _applyDestination(destination);
    }

    function _checkController() private view {
        if (_config.mode != Mode.External || msg.sender != _controller) revert GroupUnauthorized(msg.sender);
    }

    // ------------------------------------------------------------ settings

    /// @dev Validates `s` (including the deployment's safety rule) and stores it; a change of mode is recorded.
    function _applySettings(Settings memory s) private {
        _validateSettings(s);
        uint256 was = _configWord();
        // A change of mode is recorded now: proposals made before can no longer run.
        uint256 modeChange = s.config.mode != _cfgMode(was) ? _now() : _cfgModeChange(was);
        _storeConfig(s.config, modeChange, true);
        _controller = s.controller;
        _linker = s.linker;
        // Replace the admin set: clear the old one first.
        address[] memory old = _admins.values();
        for (uint256 i = 0; i < old.length; ++i) {
            _admins.remove(old[i]);
        }
        for (uint256 i = 0; i < s.admins.length; ++i) {
            _admins.add(s.admins[i]);
        }
        emit SettingsChanged(s.config, s.controller, s.linker, s.admins);
    }

    /// @dev Reverts with a custom error naming what is wrong with `s`.
    function _validateSettings(Settings memory s) private view {
        Config memory c = s.config;
        _checkQuorum(c.defaultQuorumBps, false);
        _checkQuorum(c.addQuorumBps, true);
        _checkQuorum(c.removeQuorumBps, true);
        _checkQuorum(c.configQuorumBps, true);
        _checkQuorum(c.feeDestinationQuorumBps, true);
        _checkQuorum(c.customQuorumBps, true);
        uint256 max = GroupConstants.MAX_DURATION;
        if (c.votingPeriod == 0 || c.votingPeriod > max) revert GroupInvalidDuration(Duration.VotingPeriod, c.votingPeriod, 1, max);
        if (c.period != 0 && (c.period < GroupConstants.MIN_PERIOD || c.period > max)) {
            revert GroupInvalidDuration(Duration.Period, c.period, GroupConstants.MIN_PERIOD, max);
        }
        if (c.gracePeriod > max) revert GroupInvalidDuration(Duration.GracePeriod, c.gracePeriod, 0, max);
        if (c.maxOpenProposals == 0 || c.maxOpenProposals > GroupConstants.MAX_OPEN_PROPOSALS) {
            revert GroupInvalidMaxOpenProposals(c.maxOpenProposals, GroupConstants.MAX_OPEN_PROPOSALS);
        }
        if (s.admins.length > GroupConstants.MAX_ADMINS) revert GroupInvalidAdmins();
        for (uint256 i = 0; i < s.admins.length; ++i) {
            if (s.admins[i] == address(0)) revert GroupInvalidAdmins();
            for (uint256 j = 0; j < i; ++j) {
                if (s.admins[j] == s.admins[i]) revert GroupInvalidAdmins();
            }
        }
        if (c.mode == Mode.Admin && s.admins.length == 0) revert GroupAdminsRequired();
        if (c.mode == Mode.External && s.controller.code.length == 0) revert GroupControllerRequired();
        IGroupFactory(_factoryAddress()).checkSafety(c);
    }

    function _checkQuorum(uint16 q, bool allowDefault) private pure {
        if (allowDefault && q == GroupConstants.QUORUM_DEFAULT) return;
        if (q > GroupConstants.BPS) revert GroupInvalidQuorum(q);
    }

    /// @dev Validates and stores a fee destination.
    function _applyDestination(FeeDestination memory d) private {
        _validateDestination(d);
        _destinationKind = d.kind;
        _destinationTarget = d.target;
        _recipients = d.recipients;
        _sharesBps = d.sharesBps;
        emit FeeDestinationChanged(d.kind, d.target, d.recipients, d.sharesBps);
    }

    function _validateDestination(FeeDestination memory d) private view {
        if (d.kind == DestinationKind.Release) {
            uint256 n = d.recipients.length;
            if (n == 0 || n > GroupConstants.MAX_RECIPIENTS || n != d.sharesBps.length) revert GroupInvalidShares();
            uint256 total = 0;
            for (uint256 i = 0; i < n; ++i) {
                if (d.recipients[i] == address(0) || d.sharesBps[i] == 0) revert GroupInvalidShares();
                for (uint256 j = 0; j < i; ++j) {
                    if (d.recipients[j] == d.recipients[i]) revert GroupInvalidShares();
                }
                total += d.sharesBps[i];
            }
            if (total != GroupConstants.BPS) revert GroupInvalidShares();
        } else if (d.kind == DestinationKind.Custom) {
            if (d.target.code.length == 0 || d.target == address(this)) revert GroupInvalidDestinationTarget(d.target);
        }
    }

    function _decodeSettings(bytes calldata payload) private view returns (Settings memory) {
        try this.decodeSettings(payload) returns (Settings memory s) {
            return s;
        } catch {
            revert GroupMalformedPayload(Action.Config);
        }
    }

    function _decodeDestination(bytes calldata payload) private view returns (FeeDestination memory) {
        try this.decodeFeeDestination(payload) returns (FeeDestination memory d) {
            return d;
        } catch {
            revert GroupMalformedPayload(Action.FeeDestination);
        }
    }

    function _decodeCustom(bytes calldata payload) private view returns (address, uint256, bytes memory) {
        try this.decodeCustom(payload) returns (address target, uint256 value, bytes memory data) {
            return (target, value, data);
        } catch {
            revert GroupMalformedPayload(Action.Custom);
        }
    }

    /// @notice Decodes a Config payload (reverts when malformed).
    function decodeSettings(bytes calldata payload) external pure returns (Settings memory) {
        return abi.decode(payload, (Settings));
    }

    /// @notice Decodes a FeeDestination payload (reverts when malformed).
    function decodeFeeDestination(bytes calldata payload) external pure returns (FeeDestination memory) {
        return abi.decode(payload, (FeeDestination));
    }

    /// @notice Decodes a Custom payload (reverts when malformed).
    function decodeCustom(bytes calldata payload) external pure returns (address target, uint256 value, bytes memory data) {
        return abi.decode(payload, (address, uint256, bytes));
    }

    // ------------------------------------------------------------ treasury

    /**
     * @notice Send the treasury's `token` balance (address(0) = native coin)
     * where the fee destination says. Each recipient is paid on its own, with
     * at most `PAYOUT_GAS`; a share that cannot be paid stays claimable by its
     * recipient and is not released again.
     */
    function release(address token) external nonReentrant {
        DestinationKind kind = _destinationKind;
        if (kind == DestinationKind.Locked) revert GroupFeesLocked();
        uint256 held = token == address(0) ? address(this).balance : IERC20(token).balanceOf(address(this));
        uint256 balance = held - _totalClaimable[token];
        if (balance == 0) revert GroupNothingToRelease(token);
        if (kind == DestinationKind.Custom) {
            _pay(token, _destinationTarget, balance);
        } else {
            uint256 last = _lastRelease[token];
            if (last != 0 && block.timestamp < last + GroupConstants.RELEASE_INTERVAL) {
                revert GroupReleaseTooSoon(token, last + GroupConstants.RELEASE_INTERVAL);
            }
            // Record the release before paying out, to avoid reentrancy.
            _lastRelease[token] = block.timestamp;
            uint256 n = _recipients.length;
            uint256 paid = 0;
            for (uint256 i = 0; i < n; ++i) {
                // The last recipient gets the rounding remainder.
                uint256 amount = i + 1 == n ? balance - paid : (balance * _sharesBps[i]) / GroupConstants.BPS;
                paid += amount;
                _pay(token, _recipients[i], amount);
            }
        }
        emit FeesReleased(token, kind, balance);
    }

    /// @notice Take the share of `token` that could not be paid to the caller before.
    function claim(address token) external nonReentrant {
        uint256 amount = _claimable[token][msg.sender];
        if (amount == 0) revert GroupNothingToClaim(token, msg.sender);
        // Clear before paying, to avoid reentrancy.
        delete _claimable[token][msg.sender];
        _totalClaimable[token] -= amount;
        if (token == address(0)) Address.sendValue(payable(msg.sender), amount);
        else IERC20(token).safeTransfer(msg.sender, amount);
        emit PayoutClaimed(token, msg.sender, amount);
    }

    /// @notice What `recipient` may claim of `token`.
    function claimable(address token, address recipient) external view returns (uint256) {
        return _claimable[token][recipient];
    }

    /// @notice When `token` may next be released to recipients (0 = now).
    function nextReleaseAt(address token) external view returns (uint256) {
        uint256 last = _lastRelease[token];
        return last == 0 ? 0 : last + GroupConstants.RELEASE_INTERVAL;
    }

    /// @dev Pays `amount` to `to` with bounded gas, ignoring its return data; on failure the amount becomes claimable.
    function _pay(address token, address to, uint256 amount) private {
        if (amount == 0) return;
        bool ok;
        uint256 gasLimit = GroupConstants.PAYOUT_GAS;
        if (token == address(0)) {
            assembly {
                ok := call(gasLimit, to, amount, 0, 0, 0, 0)
            }
        } else {
            bytes memory data = abi.encodeCall(IERC20.transfer, (to, amount));
            assembly {
                ok := call(gasLimit, token, 0, add(data, 0x20), mload(data), 0, 0x20)
                // ERC-20s return true or nothing; anything else is a failure.
                if ok {
                    switch returndatasize()
                    case 0 {
                        ok := gt(extcodesize(token), 0)
                    }
                    default {
                        ok := and(gt(returndatasize(), 31), eq(mload(0), 1))
                    }
                }
            }
        }
        if (!ok) {
            _claimable[token][to] += amount;
            _totalClaimable[token] += amount;
            emit PayoutDeferred(token, to, amount);
        }
    }

    // -------------------------------------------------- links and relayers

    /**
     * @notice Record that `account` is linked to a Matrix account, as a salted
     * hash (the Matrix ID never appears on-chain). Only the linker (the bot,
     * after checking the member's signature) may record; one account per hash.
     */
    function recordMatrixLink(address account, bytes32 linkHash) external {
        if (msg.sender != _linker) revert GroupUnauthorized(msg.sender);
        if (account == address(0) || linkHash == bytes32(0)) revert GroupInvalidAccount(account);
        address holder = _accountOfMatrixLink[linkHash];
        if (holder != address(0) && holder != account) revert GroupMatrixLinkTaken(linkHash, holder);
        bytes32 old = _matrixLinkOf[account];
        if (old != bytes32(0)) delete _accountOfMatrixLink[old];
        _matrixLinkOf[account] = linkHash;
        _accountOfMatrixLink[linkHash] = account;
        emit MatrixLinkRecorded(account, linkHash);
    }

    /// @notice Clear the Matrix link of `account`: by the account itself or the linker.
    function clearMatrixLink(address account) external {
        if (msg.sender != account && msg.sender != _linker) revert GroupUnauthorized(msg.sender);
        bytes32 old = _matrixLinkOf[account];
        if (old == bytes32(0)) revert GroupInvalidAccount(account);
        delete _accountOfMatrixLink[old];
        delete _matrixLinkOf[account];
        emit MatrixLinkCleared(account, old);
    }

    /// @notice The Matrix link hash recorded for `account` (zero if none).
    function matrixLinkOf(address account) external view returns (bytes32) {
        return _matrixLinkOf[account];
    }

    /// @notice The account linked to `linkHash` (zero if none).
    function accountOfMatrixLink(bytes32 linkHash) external view returns (address) {
        return _accountOfMatrixLink[linkHash];
    }

    bytes32 private constant RELAYER_TYPEHASH =
        keccak256("Relayer(address member,address relayer,uint8 scope,uint64 until,uint256 nonce,uint256 deadline)");

    /**
     * @notice Authorise `relayer` (the bot) to act for you until `until` (unix
     * seconds, at most 366 days ahead), for what `scope` says (bits of
     * `RelayerScope`: vote, propose, delegate, accept, and separately config,
     * fee-destination and custom proposals and votes). One relayer at a time;
     * `setRelayer(address(0), 0, 0)` withdraws it.
     */
    function setRelayer(address relayer, uint8 scope, uint64 until) external {
        _setRelayer(msg.sender, relayer, scope, until);
    }

    /**
     * @notice The same, with `member`'s EIP-712 signature of
     * `Relayer(member, relayer, scope, until, nonce, deadline)`; anyone may submit it, once.
     */
    function setRelayerBySig(
        address member,
        address relayer,
        uint8 scope,
        uint64 until,
        uint256 nonce,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkSignature(
            member,
            keccak256(abi.encode(RELAYER_TYPEHASH, member, relayer, scope, until, nonce, deadline)),
            nonce,
            deadline,
            signature
        );
        _setRelayer(member, relayer, scope, until);
    }

    /// @notice The relayer gives up its authority for `member` (the bot does when a member unlinks).
    function renounceRelayer(address member) external {
        if (_rRelayer(_relayers[member]) != msg.sender || msg.sender == address(0)) revert GroupNotRelayer(member, msg.sender);
        delete _relayers[member];
        emit RelayerChanged(member, address(0), 0, 0);
    }

    /// @notice Who may act for `member`, for what and until when (until 0 = nobody).
    function relayerOf(address member) external view returns (address relayer, uint8 scope, uint64 until) {
        uint256 r = _relayers[member];
        return (_rRelayer(r), _rScope(r), _rUntil(r));
    }

    function _setRelayer(address member, address relayer, uint8 scope, uint64 until) private {
        if (relayer == address(0)) {
            if (scope != 0 || until != 0) revert GroupInvalidRelayerAuthority(relayer, scope, until);
            delete _relayers[member];
        } else {
            if (
                scope == 0 ||
                scope & ~RelayerScope.ALL != 0 ||
                until <= block.timestamp ||
                until > block.timestamp + GroupConstants.MAX_RELAYER_DURATION
            ) revert GroupInvalidRelayerAuthority(relayer, scope, until);
            _relayers[member] = uint256(uint160(relayer)) | (uint256(until) << 160) | (uint256(scope) << 224);
        }
        emit RelayerChanged(member, relayer, scope, until);
    }

    /// @notice Cancel the caller's unordered nonces set in `mask` of word `word`.
    function invalidateNonces(uint256 word, uint256 mask) external {
        _nonceBitmap[msg.sender][word] |= mask;
        emit UnorderedNonceInvalidation(msg.sender, word, mask);
    }

    /// @notice Word `word` of `owner`'s nonce bitmap: bit i set = nonce (word << 8 | i) is used.
    function nonceBitmap(address owner, uint256 word) external view returns (uint256) {
        return _nonceBitmap[owner][word];
    }

    // --------------------------------------------------------------- views

    /// @notice A member's standing, for the bot and the web page. Times are unix seconds.
    struct MemberView {
        uint256 tokenId;
        bool isMember;
        bool active;
        bool approved;
        uint64 expiresAt;
        address delegate;
        uint32 delegatorsIn;
        address relayer;
        uint8 relayerScope;
        uint64 relayerUntil;
        bytes32 matrixLink;
    }

    /// @notice Everything about `account`'s membership now; `delegatorsIn` counts active delegators.
    function memberInfo(address account) external view returns (MemberView memory v) {
        uint256 c = _latest[account];
        uint32 nowT = _now();
        uint32 e = _cExpiry(c);
        v.tokenId = _cToken(c);
        v.isMember = e != 0;
        v.active = e > nowT;
        v.approved = _cFlags(c) & FLAG_APPROVED != 0;
        v.expiresAt = _unix(e);
        uint32 d = _cDelegate(c);
        if (d != 0) v.delegate = _mAccount(_tokens[d]);
        if (c != 0) v.delegatorsIn = uint32(_carriedAt(c, nowT));
        uint256 r = _relayers[account];
        v.relayer = _rRelayer(r);
        v.relayerScope = _rScope(r);
        v.relayerUntil = _rUntil(r);
        v.matrixLink = _matrixLinkOf[account];
    }

    /**
     * @notice Whether `account` was an active member at the snapshot of
     * proposal `proposalId`, its delegate then, and how many active members
     * delegated to it then: what the tally of that proposal counts. (History
     * is kept for proposals' snapshots only; other moments are not on record.)
     */
    function standingAtProposal(address account, uint256 proposalId) external view returns (bool active, address delegate, uint32 delegatorsIn) {
        uint256 p = _proposals[proposalId];
        if (p == 0) revert GroupUnknownProposal(proposalId);
        return _standing(account, _pSnapshot(p));
    }

    function _standing(address account, uint40 key) private view returns (bool active, address delegate, uint32 delegatorsIn) {
        uint32 t = uint32(key >> 8);
        uint256 c = _checkpointAt(account, key);
        if (c == 0) return (false, address(0), 0);
        uint32 d = _cDelegate(c);
        return (_cExpiry(c) > t, d == 0 ? address(0) : _mAccount(_tokens[d]), uint32(_carriedAt(c, t)));
    }

    /**
     * @notice Accounts with token ids in [from, from + count), count at most 500,
     * with their paid-through times (unix; 0 = no longer a member). Token ids start at 1.
     */
    function membersPage(uint256 from, uint256 count) external view returns (address[] memory accounts, uint64[] memory expiries) {
        if (count > GroupConstants.MAX_PAGE) revert GroupBatchTooLarge(count, GroupConstants.MAX_PAGE);
        uint256 last = _sLastToken(_state);
        if (from == 0) from = 1;
        uint256 end = from + count > last + 1 ? last + 1 : from + count;
        uint256 n = end > from ? end - from : 0;
        accounts = new address[](n);
        expiries = new uint64[](n);
        for (uint256 i = 0; i < n; ++i) {
            address a = _mAccount(_tokens[from + i]);
            accounts[i] = a;
            expiries[i] = _unix(_cExpiry(_latest[a]));
        }
    }

    /// @notice The highest token id issued so far (ids are never reused).
    function lastTokenId() external view returns (uint256) {
        return _sLastToken(_state);
    }

    /// @notice The number of members active now (a bounded read, however many lapsed).
    function activeMemberCount() external view returns (uint256) {
        return _activeAt(_state, _now());
    }

    /// @notice A proposal as the bot and the web page show it. Times are unix seconds.
    struct ProposalView {
        ProposalState state;
        Action action;
        uint64 snapshot;
        uint64 deadline;
        uint16 influence;
        uint16 quorumBps;
        uint16 quorumVotes;
        uint16 forVotes;
        uint16 againstVotes;
        uint16 abstainVotes;
    }

    /// @notice Where proposal `proposalId` stands, with its tally.
    function proposal(uint256 proposalId) external view returns (ProposalView memory v) {
        uint256 p = _proposals[proposalId];
        if (p == 0) revert GroupUnknownProposal(proposalId);
        v.state = _stateOf(p);
        v.action = _pAction(p);
        v.snapshot = _unix(uint32(_pSnapshot(p) >> 8));
        v.deadline = _unix(_pDeadline(p));
        v.influence = _pInfluence(p);
        v.quorumBps = _pQuorumBps(p);
        v.quorumVotes = _pQuorumVotes(p);
        v.againstVotes = _pTally(p, 0);
        v.forVotes = _pTally(p, 1);
        v.abstainVotes = _pTally(p, 2);
    }

    /// @notice The state of `proposalId`.
    function state(uint256 proposalId) external view returns (ProposalState) {
        uint256 p = _proposals[proposalId];
        if (p == 0) revert GroupUnknownProposal(proposalId);
        return _stateOf(p);
    }

    /// @notice `voter`'s own choice on `proposalId`: 0 = none, else VoteType + 1.
    function voteOf(uint256 proposalId, address voter) external view returns (uint8) {
        uint256 token = _cToken(_latest[voter]);
        if (token == 0) return 0;
        return uint8((_ballots[proposalId][token >> 7] >> ((token & 127) << 1)) & 3);
    }

    /// @notice The unix time the group's clock counts from (one second before its creation).
    function epoch() external view returns (uint256) {
        return _epoch();
    }

    /// @notice Whether `account` is a member whose subscription is paid through now.
    function isActive(address account) external view returns (bool) {
        return _cExpiry(_latest[account]) > _now();
    }

    /// @notice The paid-through time of `tokenId` (unix seconds; type(uint64).max = for life), as in ERC-5643.
    function expiresAt(uint256 tokenId) external view returns (uint64) {
        return _unix(_cExpiry(_latest[_ownerOf(tokenId)]));
    }

    /// @notice ERC-721: 1 for a member, else 0.
    function balanceOf(address owner) external view returns (uint256) {
        if (owner == address(0)) revert GroupInvalidAccount(owner);
        return _isMember(owner) ? 1 : 0;
    }

    /// @notice ERC-721: the member holding `tokenId`.
    function ownerOf(uint256 tokenId) external view returns (address) {
        return _ownerOf(tokenId);
    }

    /// @notice How many proposals the group has had (the last number issued).
    function proposalCount() external view returns (uint256) {
        return _sProposals(_state);
    }

    /// @notice The group's parameters.
    function config() external view returns (Config memory) {
        return _config;
    }

    /// @notice Everything a config proposal can replace, as it stands now.
    function settings() external view returns (Settings memory s) {
        s.config = _config;
        s.controller = _controller;
        s.linker = _linker;
        s.admins = _admins.values();
    }

    /// @notice Where fees go now.
    function feeDestination() external view returns (FeeDestination memory d) {
        d.kind = _destinationKind;
        d.target = _destinationTarget;
        d.recipients = _recipients;
        d.sharesBps = _sharesBps;
    }

    /// @notice The quorum, in basis points, of a new proposal of type `action`.
    function quorumFor(Action action) external view returns (uint16) {
        return _quorumFor(action);
    }

    /// @notice Whether anyone may join by paying, with no proposal (add quorum 0).
    function isOpen() external view returns (bool) {
        return _isOpen();
    }

    /// @notice Whether `account` is an admin (meaningful in admin mode).
    function isAdmin(address account) external view returns (bool) {
        return _isAdmin(account);
    }

    /// @notice The factory that created this group.
    function factory() external view returns (address) {
        return _factoryAddress();
    }

    // ------------------------------------------------ ERC-721 boilerplate

    /// @notice ERC-721 metadata.
    function name() external pure returns (string memory) {
        return "Conclave Membership";
    }

    /// @notice ERC-721 metadata.
    function symbol() external pure returns (string memory) {
        return "CLAVE";
    }

    /// @notice ERC-721 metadata: no per-token metadata.
    function tokenURI(uint256 tokenId) external view returns (string memory) {
        _ownerOf(tokenId);
        return "";
    }

    /// @notice ERC-721: membership is personal, nobody is ever approved.
    function getApproved(uint256 tokenId) external view returns (address) {
        _ownerOf(tokenId);
        return address(0);
    }

    /// @notice ERC-721: membership is personal, nobody is ever approved.
    function isApprovedForAll(address, address) external pure returns (bool) {
        return false;
    }

    /// @notice Membership is personal: always reverts.
    function approve(address, uint256) external pure {
        revert GroupMembershipNotTransferable();
    }

    /// @notice Membership is personal: always reverts.
    function setApprovalForAll(address, bool) external pure {
        revert GroupMembershipNotTransferable();
    }

    /// @notice Membership is personal: always reverts.
    function transferFrom(address, address, uint256) external pure {
        revert GroupMembershipNotTransferable();
    }

    /// @notice Membership is personal: always reverts.
    function safeTransferFrom(address, address, uint256) external pure {
        revert GroupMembershipNotTransferable();
    }

    /// @notice Membership is personal: always reverts.
    function safeTransferFrom(address, address, uint256, bytes calldata) external pure {
        revert GroupMembershipNotTransferable();
    }
}
