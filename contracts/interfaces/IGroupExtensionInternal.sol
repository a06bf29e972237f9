// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Action} from "./IGroupTypes.sol";

/**
 * @dev What `Group` asks of its extension through calls to itself. Each
 * function refuses any caller but the group itself.
 */
interface IGroupExtensionInternal {
    /// @dev Reverts with a custom error when a Config, FeeDestination or Custom payload is malformed or invalid.
    function checkPayload(Action action, bytes calldata payload) external view;

    /// @dev Carries out a passed Config, FeeDestination or Custom proposal.
    function applyPayload(Action action, bytes calldata payload) external;

    /// @dev Stores the initial settings and fee destination of a new group (ABI-encoded).
    function applyInitial(bytes calldata settings, bytes calldata destination) external;
}
