// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ExpiryTree} from "../group/ExpiryTree.sol";
import {console} from "hardhat/console.sol";

interface TreeVm {
    function toString(uint256 value) external pure returns (string memory);
}

/**
 * @title Fuzz: the expiry tree counts exactly what a plain list counts.
 *
 * Random sequences of adds (single ends and cohorts), removals and moves at
 * positions chosen to collide at every level (the same second, the same 16 s,
 * 256 s, 4096 s lanes, and far apart), each followed by interval counts
 * compared with a list of the ends. Positions only grow past a moving "now",
 * as in a group: ends are scheduled after now, withdrawn while still ahead,
 * and past ones stay.
 */
contract ExpiryTreeFuzzTest {
    TreeVm internal constant vm = TreeVm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    mapping(uint256 => uint256) internal t;
    uint32[] internal ends; // the model: one entry per end (live or past)
    bool[] internal live;
    uint256 internal rng;
    uint32 internal nowT;

    function _rand(uint256 n) internal returns (uint256) {
        rng = uint256(keccak256(abi.encode(rng)));
        return rng % n;
    }

    /// @dev A future position near an existing end (sharing lanes at some level), or anywhere ahead.
    function _pos() internal returns (uint32) {
        uint256 r = _rand(10);
        if (ends.length != 0 && r < 7) {
            uint32 base = ends[_rand(ends.length)];
            uint256 spread = [uint256(0), 3, 40, 700, 9000, 70_000, 3_000_000][_rand(7)];
            uint256 p = uint256(base) + _rand(spread + 1);
            if (p > nowT) return uint32(p);
        }
        return nowT + 1 + uint32(_rand([uint256(5), 100, 5000, 100_000, 40_000_000][_rand(5)]));
    }

    function testFuzz_CountsMatchAList(uint256 seed, uint8 treeId) public {
        rng = seed;
        nowT = uint32(1000 + _rand(1e9));
        uint256 tree = treeId % 3;
        lastTree = tree;
        uint256 steps = 20 + _rand(60);
        for (uint256 s = 0; s < steps; ++s) {
            uint256 r = _rand(10);
            if (r < 4) {
                uint32 p = _pos();
                uint256 n = _rand(6) == 0 ? 1 + _rand(5) : 1;
                if (trace) console.log("add", p, n);
                ExpiryTree.add(t, tree, p, n);
                for (uint256 i = 0; i < n; ++i) {
                    ends.push(p);
                    live.push(true);
                }
            } else if (r < 6) {
                (bool found, uint256 i) = _liveAhead();
                if (found) {
                    if (trace) console.log("remove", ends[i]);
                    ExpiryTree.remove(t, tree, ends[i]);
                    live[i] = false;
                    ends[i] = 0;
                }
            } else if (r < 8) {
                (bool found, uint256 i) = _liveAhead();
                if (found) {
                    uint32 p = _pos();
                    if (trace) console.log("move", ends[i], p);
                    ExpiryTree.move(t, tree, ends[i], p);
                    ends[i] = p;
                }
            } else {
                nowT += uint32(_rand([uint256(2), 50, 3000, 200_000][_rand(4)]));
            }
            _check();
        }
    }

    function _liveAhead() internal returns (bool, uint256) {
        if (ends.length == 0) return (false, 0);
        uint256 start = _rand(ends.length);
        for (uint256 k = 0; k < ends.length; ++k) {
            uint256 i = (start + k) % ends.length;
            if (live[i] && ends[i] > nowT) return (true, i);
        }
        return (false, 0);
    }

    function _check() internal {
        for (uint256 q = 0; q < 6; ++q) {
            uint32 a;
            uint32 b;
            if (ends.length != 0 && _rand(2) == 0) {
                // Intervals ending exactly on, or next to, an end.
                uint32 e = ends[_rand(ends.length)];
                b = e == 0 ? nowT : e - 1 + uint32(_rand(3));
            } else {
                b = nowT + uint32(_rand(50_000_000));
            }
            uint256 back = [uint256(1), 17, 300, 5000, 80_000, 2_000_000, 600_000_000][_rand(7)];
            a = b > back ? uint32(b - _rand(back + 1)) : 0;
            uint256 expected = 0;
            for (uint256 i = 0; i < ends.length; ++i) {
                if (ends[i] != 0 && ends[i] > a && ends[i] <= b) ++expected;
            }
            uint256 got = ExpiryTree.countIn(t, lastTree, a, b);
            if (got != expected) {
                revert(string.concat("countIn(", vm.toString(a), ", ", vm.toString(b), "): tree says ", vm.toString(got), ", list says ", vm.toString(expected)));
            }
        }
    }

    uint256 internal lastTree;
    bool internal trace;

    /// @dev The counterexample that found a lone end above the level where an interval's ends part
    /// (set `trace` to see the steps).
    function test_Regression_LoneEndAboveTheCommonLevel() public {
        testFuzz_CountsMatchAList(4974, 1);
    }
}
