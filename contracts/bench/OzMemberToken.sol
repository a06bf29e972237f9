// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Votes} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Votes.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Votes} from "@openzeppelin/contracts/governance/utils/Votes.sol";
import {VotesExtended} from "@openzeppelin/contracts/governance/utils/VotesExtended.sol";

/// @notice OpenZeppelin reference membership token for the gas benchmark.
/// @dev OZ 5.7's ERC721Votes extends Votes, not VotesExtended, so VotesExtended is mixed in
///      here (GovernorCountingOverridable needs getPastDelegate / getPastBalanceOf).
///      ERC721Votes calls _transferVotingUnits after ERC721._update has moved the balance,
///      which is the ordering VotesExtended requires. Clock is timestamp-based.
contract OzMemberToken is ERC721, EIP712, ERC721Votes, VotesExtended, Ownable {
    uint256 private _nextTokenId = 1;

    constructor(address initialOwner)
        ERC721("OZ Member", "OZM")
        EIP712("OZ Member", "1")
        Ownable(initialOwner)
    {}

    function safeMint(address to) external onlyOwner returns (uint256 tokenId) {
        tokenId = _nextTokenId++;
        _safeMint(to, tokenId);
    }

    function mint(address to) external onlyOwner returns (uint256 tokenId) {
        tokenId = _nextTokenId++;
        _mint(to, tokenId);
    }

    function burn(uint256 tokenId) external onlyOwner {
        _burn(tokenId);
    }

    // --- timestamp clock (EIP-6372) ---

    function clock() public view override returns (uint48) {
        return uint48(block.timestamp);
    }

    // solhint-disable-next-line func-name-mixedcase
    function CLOCK_MODE() public pure override returns (string memory) {
        return "mode=timestamp";
    }

    // --- required overrides ---

    function _update(address to, uint256 tokenId, address auth)
        internal
        override(ERC721, ERC721Votes)
        returns (address)
    {
        return super._update(to, tokenId, auth);
    }

    function _increaseBalance(address account, uint128 amount) internal override(ERC721, ERC721Votes) {
        super._increaseBalance(account, amount);
    }

    function _delegate(address account, address delegatee) internal override(Votes, VotesExtended) {
        super._delegate(account, delegatee);
    }

    function _transferVotingUnits(address from, address to, uint256 amount)
        internal
        override(Votes, VotesExtended)
    {
        super._transferVotingUnits(from, to, amount);
    }

    function _getVotingUnits(address account) internal view override(Votes, ERC721Votes) returns (uint256) {
        return super._getVotingUnits(account);
    }
}
