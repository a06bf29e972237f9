// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {GroupStorage} from "./group/GroupStorage.sol";
import {IGroupExtensionInternal} from "./interfaces/IGroupExtensionInternal.sol";
import {IGroupFactory} from "./interfaces/IGroupFactory.sol";
import {Action, Config, DestinationKind, FeeDestination, GroupConstants, Mode, Settings} from "./interfaces/IGroupTypes.sol";

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
 * never stop members from paying.
 */
contract GroupExtension is GroupStorage, IGroupExtensionInternal {
    using EnumerableSet for EnumerableSet.AddressSet;
    using SafeERC20 for IERC20;

    constructor() EIP712("Conclave Group", "1") {}

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

    /// @inheritdoc IGroupExtensionInternal
    function applyInitial(bytes calldata settings_, bytes calldata destination) external onlySelf {
        _applySettings(_decodeSettings(settings_));
        _applyDestination(_decodeDestination(destination));
    }

    // -------------------------------------------------- external governance

    /// @notice Replace the settings (the controller, in external mode).
    function updateSettings(Settings calldata newSettings) external {
        _checkController();
        _applySettings(newSettings);
        _state.lastConfigTime = _now();
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

    /// @dev Validates `s` (including the deployment's safety rule) and stores it.
    function _applySettings(Settings memory s) private {
        _validateSettings(s);
        _config = s.config;
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
        if (c.votingPeriod == 0) revert GroupInvalidVotingPeriod();
        if (s.admins.length > GroupConstants.MAX_ADMINS) revert GroupInvalidAdmins();
        for (uint256 i = 0; i < s.admins.length; ++i) {
            if (s.admins[i] == address(0)) revert GroupInvalidAdmins();
            for (uint256 j = 0; j < i; ++j) {
                if (s.admins[j] == s.admins[i]) revert GroupInvalidAdmins();
            }
        }
        if (c.mode == Mode.Admin && s.admins.length == 0) revert GroupAdminsRequired();
        if (c.mode == Mode.External && s.controller.code.length == 0) revert GroupControllerRequired();
        IGroupFactory(_factory).checkSafety(c);
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

    /// @notice Send the treasury's `token` balance (address(0) = native coin) where the fee destination says.
    function release(address token) external nonReentrant {
        DestinationKind kind = _destinationKind;
        if (kind == DestinationKind.Locked) revert GroupFeesLocked();
        uint256 balance = token == address(0) ? address(this).balance : IERC20(token).balanceOf(address(this));
        if (balance == 0) revert GroupNothingToRelease(token);
        if (kind == DestinationKind.Custom) {
            _send(token, _destinationTarget, balance);
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
                _send(token, _recipients[i], amount);
            }
        }
        emit FeesReleased(token, kind, balance);
    }

    /// @notice When `token` may next be released to recipients (0 = now).
    function nextReleaseAt(address token) external view returns (uint256) {
        uint256 last = _lastRelease[token];
        return last == 0 ? 0 : last + GroupConstants.RELEASE_INTERVAL;
    }

    function _send(address token, address to, uint256 amount) private {
        if (amount == 0) return;
        if (token == address(0)) Address.sendValue(payable(to), amount);
        else IERC20(token).safeTransfer(to, amount);
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

    bytes32 private constant RELAYER_TYPEHASH = keccak256("Relayer(address member,address relayer,uint256 nonce,uint256 deadline)");

    /**
     * @notice Authorise `relayer` (the bot) to vote, propose, delegate and
     * accept membership for you; address(0) withdraws it. One relayer at a time.
     */
    function setRelayer(address relayer) external {
        _setRelayer(msg.sender, relayer);
    }

    /**
     * @notice The same, with `member`'s EIP-712 signature of
     * `Relayer(member, relayer, nonce, deadline)`; anyone may submit it, once.
     */
    function setRelayerBySig(address member, address relayer, uint256 nonce, uint256 deadline, bytes calldata signature) external {
        if (block.timestamp > deadline) revert GroupSignatureExpired(deadline);
        _useCheckedNonce(member, nonce);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(RELAYER_TYPEHASH, member, relayer, nonce, deadline)));
        if (!SignatureChecker.isValidSignatureNow(member, digest, signature)) revert GroupInvalidSignature(member);
        _setRelayer(member, relayer);
    }

    function _setRelayer(address member, address relayer) private {
        _accounts[member].relayer = relayer;
        emit RelayerChanged(member, relayer);
    }

    // --------------------------------------------------------------- views

    /// @notice A member's standing, for the bot and the web page.
    struct MemberView {
        uint256 tokenId;
        bool isMember;
        bool active;
        bool approved;
        uint64 expiresAt;
        address delegate;
        uint32 delegatorsIn;
        address relayer;
        bytes32 matrixLink;
    }

    /// @notice Everything about `account`'s membership now.
    function memberInfo(address account) external view returns (MemberView memory v) {
        Account storage acc = _accounts[account];
        Checkpoint memory c = _latest(account, acc.nCheckpoints);
        v.tokenId = acc.index;
        // (c.expiresAt equals acc.expiresAt.)
        v.isMember = c.expiresAt != 0;
        v.active = c.expiresAt > block.timestamp;
        v.approved = acc.approved;
        v.expiresAt = c.expiresAt;
        v.delegate = c.delegate;
        v.delegatorsIn = c.delegatorsIn;
        v.relayer = acc.relayer;
        v.matrixLink = _matrixLinkOf[account];
    }

    /**
     * @notice Whether `account` was an active member at time `t`, its delegate
     * then, and how many active members delegated to it then. Exact for any
     * `t` up to the last proposal's snapshot; later times may not yet reflect
     * lapses that nobody has swept.
     */
    function standingAt(address account, uint256 t) external view returns (bool active, address delegate, uint32 delegatorsIn) {
        uint32 tt = SafeCast.toUint32(t);
        Checkpoint memory c = _checkpointAt(account, _accounts[account].nCheckpoints, tt);
        return (c.expiresAt > tt, c.delegate, c.delegatorsIn);
    }

    /**
     * @notice Accounts with token ids in [from, from + count), with their
     * paid-through times (0 = no longer a member). Token ids start at 1.
     */
    function membersPage(uint256 from, uint256 count) external view returns (address[] memory accounts, uint64[] memory expiries) {
        uint256 last = _state.lastIndex;
        if (from == 0) from = 1;
        uint256 end = from + count > last + 1 ? last + 1 : from + count;
        uint256 n = end > from ? end - from : 0;
        accounts = new address[](n);
        expiries = new uint64[](n);
        for (uint256 i = 0; i < n; ++i) {
            address a = _nodes[uint32(from + i)].account;
            accounts[i] = a;
            expiries[i] = _accounts[a].expiresAt;
        }
    }

    /// @notice The highest token id issued so far (ids are never reused).
    function lastTokenId() external view returns (uint256) {
        return _state.lastIndex;
    }

    /// @notice The number of members active now.
    function activeMemberCount() external view returns (uint256 count) {
        GroupState memory s = _loadState();
        count = s.activeCount;
        uint32 nowT = _now();
        for (uint32 idx = s.head; idx != 0 && _nodes[idx].expiresAt <= nowT; idx = _nodes[idx].next) {
            --count;
        }
    }

    /// @notice How many proposals the group has had (the last number issued).
    function proposalCount() external view returns (uint256) {
        return _state.proposalCount;
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
        return _factory;
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
