// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title The subscription-expiry part of ERC-5643 (subscription NFTs)
interface IERC5643 {
    /// @notice Emitted when a subscription's paid-through time changes.
    event SubscriptionUpdate(uint256 indexed tokenId, uint64 expiration);

    /// @notice The time until which the subscription of `tokenId` is paid.
    function expiresAt(uint256 tokenId) external view returns (uint64);
}
