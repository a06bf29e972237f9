// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";

/// @dev The smallest "external governance system" for tests: its owner's calls, forwarded.
contract Forwarder {
    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function forward(address target, bytes calldata data) external returns (bytes memory) {
        require(msg.sender == owner, "not the owner");
        return Address.functionCall(target, data);
    }
}
