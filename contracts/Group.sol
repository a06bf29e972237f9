// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {GroupGovernance} from "./group/GroupGovernance.sol";
import {IGroupExtensionInternal} from "./interfaces/IGroupExtensionInternal.sol";
import {IGroupMembership} from "./interfaces/IGroupMembership.sol";
import {IERC5192} from "./interfaces/IERC5192.sol";
import {ExpiryTree} from "./group/ExpiryTree.sol";
import {GroupConstants, Mode} from "./interfaces/IGroupTypes.sol";

/**
 * @title Group
 * @notice One group DAO: membership token, subscriptions, proposals, votes,
 * delegation and treasury. Deployed once as an implementation; every group is
 * a minimal-proxy clone made by `GroupFactory`, and initialised once.
 *
 * This contract holds the hot paths; every other function (configuration,
 * treasury, Matrix links, most views) is in `GroupExtension`, reached through
 * the fallback by delegatecall on the same storage. The full ABI of a group is
 * the union of both ABIs.
 *
 * Membership changes besides passed proposals (`IGroupMembership`):
 * - admin mode: admins may add and remove members directly;
 * - external mode: the controller (any governance contract) may add and
 *   remove members, and replace the settings and fee destination.
 */
contract Group is Initializable, GroupGovernance {
    /// @notice The code of the functions this contract does not define.
    address public immutable extension;

    constructor(address extension_) EIP712("Conclave Group", "1") {
        extension = extension_;
        _disableInitializers();
        // `initialize` runs only while `_state` is 0: never on the implementation itself.
        _state = 1;
    }

    /**
     * @notice Set the group up: settings and fee destination (ABI-encoded
     * `Settings` and `FeeDestination`) and founders (at most 256), who are
     * active members from the start with their first period paid.
     * `factory_` must be the factory named in the clone's code. Runs once:
     * `_state` is 0 only before (it holds the founders' count after).
     */
    function initialize(
        address factory_,
        bytes calldata settings,
        bytes calldata destination,
        address[] calldata founders
    ) external {
        // Instead of Initializable's own slot, one more storage write at creation.
        if (_state != 0) revert InvalidInitialization();
        if (factory_ != _factoryAddress()) revert GroupInvalidAccount(factory_);
        // The extension's code on this storage, called directly rather than back through the proxy.
        // A delegatecall to the group's own immutable extension, its revert passed on as it is.
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory err) = extension.delegatecall(abi.encodeCall(IGroupExtensionInternal.applyInitial, (settings, destination)));
        if (!ok) {
            assembly {
                revert(add(err, 32), mload(err))
            }
        }
        uint256 n = founders.length;
        if (n == 0) revert GroupNoFounders();
        if (n > GroupConstants.MAX_FOUNDERS) revert GroupTooManyFounders(n, GroupConstants.MAX_FOUNDERS);
        uint32 nowT = _now();
        uint32 period = _config.period;
        uint32 e = period == 0 ? GroupConstants.LIFETIME : nowT + period;
        uint64 paidThrough = _unix(e);
        uint256 common = (uint256(nowT) << 8) | (uint256(e) << 40);
        for (uint256 i = 0; i < n; ++i) {
            address founder = founders[i];
            if (founder == address(0)) revert GroupInvalidAccount(founder);
            if (_latest[founder] != 0) revert GroupAlreadyMember(founder);
            uint256 token = i + 1;
            _tokens[token] = uint160(founder);
            _latest[founder] = common | (token << 104);
            emit Transfer(address(0), founder, token);
            emit Locked(token);
            emit MemberAdded(founder);
            emit SubscriptionUpdate(token, paidThrough);
        }
        // All founders' periods end together: one entry of n in the group's tree.
        if (e != GroupConstants.LIFETIME) ExpiryTree.add(_trees, 0, e, n);
        _state = n | (n << 32) | (uint256(nowT) << 48) | (uint256(e) << 184);
        emit Initialized(1);
    }

    /// @notice Admit `account` (admins in admin mode, the controller in external mode).
    function addMember(address account) external {
        _checkMembershipAuthority();
        _approve(account);
    }

    /// @notice Remove `account` at once (admins in admin mode, the controller in external mode).
    function removeMember(address account) external {
        _checkMembershipAuthority();
        uint32 nowT = _now();
        _state = _remove(_touch(_state, nowT), account, nowT);
    }

    function _checkMembershipAuthority() private view {
        Mode mode = _config.mode;
        if (mode == Mode.Admin && _isAdmin(msg.sender)) return;
        if (mode == Mode.External && msg.sender == _controller) return;
        revert GroupUnauthorized(msg.sender);
    }

    /**
     * @notice ERC-165: only interfaces implemented in full. (ERC-5643's
     * `expiresAt` and `SubscriptionUpdate` are offered, but not its renewal
     * and cancellation functions, so its id is not claimed.)
     */
    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return
            interfaceId == 0x01ffc9a7 || // ERC-165
            interfaceId == 0x80ac58cd || // ERC-721
            interfaceId == 0x5b5e139f || // ERC-721 metadata
            interfaceId == type(IERC5192).interfaceId ||
            interfaceId == type(IGroupMembership).interfaceId;
    }

    /// @dev Everything else runs the extension's code on this group's storage.
    fallback() external {
        address target = extension;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), target, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 {
                revert(0, returndatasize())
            }
            default {
                return(0, returndatasize())
            }
        }
    }
}
