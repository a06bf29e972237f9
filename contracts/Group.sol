// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Initializable} from "@openzeppelin/contracts/proxy/utils/Initializable.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

import {GroupGovernance} from "./group/GroupGovernance.sol";
import {IGroupExtensionInternal} from "./interfaces/IGroupExtensionInternal.sol";
import {IGroupMembership} from "./interfaces/IGroupMembership.sol";
import {IERC5192} from "./interfaces/IERC5192.sol";
import {IERC5643} from "./interfaces/IERC5643.sol";
import {Mode} from "./interfaces/IGroupTypes.sol";

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
    }

    /**
     * @notice Set the group up: settings and fee destination (ABI-encoded
     * `Settings` and `FeeDestination`) and founders, who are active members
     * from the start with their first period paid.
     */
    function initialize(
        address factory_,
        bytes calldata settings,
        bytes calldata destination,
        address[] calldata founders
    ) external initializer {
        _factory = factory_;
        IGroupExtensionInternal(address(this)).applyInitial(settings, destination);
        if (founders.length == 0) revert GroupNoFounders();
        GroupState memory s = _loadState();
        for (uint256 i = 0; i < founders.length; ++i) {
            address founder = founders[i];
            if (founder == address(0)) revert GroupInvalidAccount(founder);
            Account storage acc = _accounts[founder];
            Checkpoint memory c = _latest(founder, acc.nCheckpoints);
            if (c.expiresAt != 0) revert GroupAlreadyMember(founder);
            _mint(s, founder, acc, c);
        }
        _storeState(s);
    }

    /// @notice Admit `account` (admins in admin mode, the controller in external mode).
    function addMember(address account) external {
        _checkMembershipAuthority();
        _approve(account);
    }

    /// @notice Remove `account` at once (admins in admin mode, the controller in external mode).
    function removeMember(address account) external {
        _checkMembershipAuthority();
        GroupState memory s = _loadSwept();
        _remove(s, account);
        _storeState(s);
    }

    function _checkMembershipAuthority() private view {
        Mode mode = _config.mode;
        if (mode == Mode.Admin && _isAdmin(msg.sender)) return;
        if (mode == Mode.External && msg.sender == _controller) return;
        revert GroupUnauthorized(msg.sender);
    }

    /// @notice ERC-165.
    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return
            interfaceId == 0x01ffc9a7 || // ERC-165
            interfaceId == 0x80ac58cd || // ERC-721
            interfaceId == 0x5b5e139f || // ERC-721 metadata
            interfaceId == type(IERC5192).interfaceId ||
            interfaceId == type(IERC5643).interfaceId ||
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
