// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/**
 * @title IGroupMembership
 * @notice The small published interface through which any governance system
 * (a Governor with a timelock, a Safe, an Aragon DAO...) controls who belongs
 * to a Conclave group, and which the Conclave bot follows to enforce
 * membership in the group's Matrix room.
 *
 * ERC-165 interface id: `type(IGroupMembership).interfaceId`, the XOR of the
 * three selectors below (see `GROUP_MEMBERSHIP_INTERFACE_ID` in the docs).
 *
 * Semantics an implementation must keep:
 * - `addMember` admits an account. An implementation with subscriptions may
 *   make the account a member only once it accepts (pays); `MemberAdded` is
 *   emitted when membership actually starts.
 * - `removeMember` ends a membership at once and emits `MemberRemoved`.
 * - `isMember` is true between those two events.
 */
interface IGroupMembership {
    /// @notice `account` became a member.
    event MemberAdded(address indexed account);

    /// @notice `account` stopped being a member.
    event MemberRemoved(address indexed account);

    /// @notice Admits `account` to the group.
    function addMember(address account) external;

    /// @notice Ends the membership of `account`.
    function removeMember(address account) external;

    /// @notice Whether `account` is a member now.
    function isMember(address account) external view returns (bool);
}
