// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Config} from "./IGroupTypes.sol";

/// @notice What a group asks of the factory that made it.
interface IGroupFactory {
    /**
     * @notice Reverts with `UnsafeGroupConfig` or `UnsafeGroupConfigUnknownFeeToken`
     * when joining `config`'s group would be cheap in both ways: its add quorum
     * is below the deployment's safe minimum AND its fee is below the safe
     * minimum for its fee token.
     */
    function checkSafety(Config calldata config) external view;
}
