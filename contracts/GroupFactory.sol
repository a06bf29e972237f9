// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Clones} from "@openzeppelin/contracts/proxy/Clones.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {Group} from "./Group.sol";
import {IGroupFactory} from "./interfaces/IGroupFactory.sol";
import {Config, GroupConstants, GroupInit} from "./interfaces/IGroupTypes.sol";

/**
 * @title GroupFactory
 * @notice Creates groups as minimal-proxy clones of one `Group`
 * implementation, and holds the deployment's safe minimums.
 *
 * Safety rule against takeover: a group where joining is cheap in both ways
 * (add quorum below `minAddQuorumBps` AND fee below the safe minimum for its
 * fee token) is refused, at creation and at every config change. A fee token
 * without a configured minimum counts as cheap.
 */
contract GroupFactory is IGroupFactory, Ownable {
    /// @notice The implementation every group clones.
    address public immutable implementation;
    /// @notice Safe minimum add quorum, in basis points.
    uint16 public minAddQuorumBps;

    struct FeeMinimum {
        bool known;
        uint96 amount;
    }

    mapping(address token => FeeMinimum) private _minFee;

    /// @notice A group was created; the bot follows this event.
    event GroupCreated(address indexed group, address indexed creator, bytes32 indexed ref);
    event MinAddQuorumChanged(uint16 minAddQuorumBps);
    event MinFeeChanged(address indexed token, bool known, uint96 amount);

    /// @notice Add quorum and fee are both below the safe minimums.
    error UnsafeGroupConfig(uint16 addQuorumBps, uint16 minAddQuorumBps, uint96 fee, uint96 minFee);
    /// @notice The add quorum is below the safe minimum and the fee token has no safe minimum fee.
    error UnsafeGroupConfigUnknownFeeToken(uint16 addQuorumBps, uint16 minAddQuorumBps, address feeToken);
    error FactoryInvalidMinimum();
    /// @notice The implementation given is not a deployed contract.
    error FactoryInvalidImplementation(address implementation);

    /**
     * @param owner_ who may change the safe minimums
     * @param minAddQuorumBps_ safe minimum add quorum (basis points)
     * @param minNativeFee safe minimum fee in the native coin
     * @param implementation_ a deployed `Group` (itself pointing at a deployed
     * `GroupExtension`): together they are larger than one creation may carry
     * (EIP-3860), so they are deployed first, on their own.
     */
    constructor(address owner_, uint16 minAddQuorumBps_, uint96 minNativeFee, address implementation_) Ownable(owner_) {
        if (implementation_.code.length == 0) revert FactoryInvalidImplementation(implementation_);
        implementation = implementation_;
        _setMinAddQuorum(minAddQuorumBps_);
        _setMinFee(address(0), true, minNativeFee);
    }

    /**
     * @notice Create a group. `ref` is an opaque reference echoed in the
     * event (the bot passes a hash naming the Matrix room).
     */
    function createGroup(GroupInit calldata init, bytes32 ref) external returns (address group) {
        // The group's clock counts from one second before its creation (5 bytes in the clone's code),
        // followed by this factory's address (code is cheaper than a storage slot).
        group = Clones.cloneWithImmutableArgs(implementation, abi.encodePacked(uint40(block.timestamp - 1), address(this)));
        Group(payable(group)).initialize(address(this), abi.encode(init.settings), abi.encode(init.destination), init.founders);
        emit GroupCreated(group, msg.sender, ref);
    }

    /// @inheritdoc IGroupFactory
    function checkSafety(Config calldata config) external view {
        uint16 q = config.addQuorumBps == GroupConstants.QUORUM_DEFAULT ? config.defaultQuorumBps : config.addQuorumBps;
        uint16 minQ = minAddQuorumBps;
        if (q >= minQ) return;
        FeeMinimum memory m = _minFee[config.feeToken];
        if (!m.known) revert UnsafeGroupConfigUnknownFeeToken(q, minQ, config.feeToken);
        if (config.fee < m.amount) revert UnsafeGroupConfig(q, minQ, config.fee, m.amount);
    }

    /// @notice The safe minimum fee for `token` (address(0) = native coin).
    function minFee(address token) external view returns (bool known, uint96 amount) {
        FeeMinimum memory m = _minFee[token];
        return (m.known, m.amount);
    }

    function setMinAddQuorum(uint16 bps) external onlyOwner {
        _setMinAddQuorum(bps);
    }

    function setMinFee(address token, bool known, uint96 amount) external onlyOwner {
        _setMinFee(token, known, amount);
    }

    function _setMinAddQuorum(uint16 bps) private {
        if (bps > GroupConstants.BPS) revert FactoryInvalidMinimum();
        minAddQuorumBps = bps;
        emit MinAddQuorumChanged(bps);
    }

    function _setMinFee(address token, bool known, uint96 amount) private {
        _minFee[token] = FeeMinimum(known, amount);
        emit MinFeeChanged(token, known, amount);
    }
}
