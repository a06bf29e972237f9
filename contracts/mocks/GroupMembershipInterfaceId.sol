// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGroupMembership} from "../interfaces/IGroupMembership.sol";

/// @dev Exposes the ERC-165 id of `IGroupMembership` as the compiler computes it, for tests.
contract GroupMembershipInterfaceId {
    function interfaceId() external pure returns (bytes4) {
        return type(IGroupMembership).interfaceId;
    }
}
