// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/**
 * @title ExpiryTree
 * @notice Counts of subscription ends by time, able to say in a fixed number
 * of storage reads how many ends fall in any interval `(a, b]`: what lets a
 * group know exactly how many members lapsed between two moments without
 * ever looping over members or over elapsed time.
 *
 * Positions are seconds of the group's clock (32 bits). The tree has 8
 * levels of 16 lanes; a lane at level `l` counts the ends in a span of
 * 16^l seconds, and one storage word holds the 16 lanes of 16 bits that
 * share a parent. Adding or removing an end touches at most 8 words; counting
 * an interval reads at most 15.
 *
 * Lanes count modulo 2^16. A count the group asks for is always below 2^16
 * (it never exceeds the number of active members, at most 65,535), so the
 * modular sum is the true count, and nothing ever needs clearing: ends in
 * the past simply stay where they fell.
 *
 * Several trees share one mapping: `tree` selects one (0 is the group's,
 * a member's token id selects the tree of the ends of those who delegate to it).
 */
library ExpiryTree {
    uint256 private constant LEVELS = 8;
    uint256 private constant MINUS_ONE = 0xffff;
    // The low 16 bits of every 32-bit field.
    uint256 private constant EVEN = 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff;

    function _key(uint256 tree, uint256 level, uint256 pos) private pure returns (uint256) {
        return (tree << 64) | (level << 32) | (pos >> ((level << 2) + 4));
    }

    function _shift(uint256 level, uint256 pos) private pure returns (uint256) {
        return ((pos >> (level << 2)) & 15) << 4;
    }

    /// @dev Adds `delta` (1, or 0xffff for minus one) to the lane of `pos` in `word`.
    function _bump(uint256 word, uint256 shift, uint256 delta) private pure returns (uint256) {
        uint256 lane = (word >> shift) & 0xffff;
        uint256 next = (lane + delta) & 0xffff;
        return word ^ ((lane ^ next) << shift);
    }

    /// @notice Records `n` more ends at `pos` (n < 2^16).
    function add(mapping(uint256 => uint256) storage t, uint256 tree, uint32 pos, uint256 n) internal {
        for (uint256 l = 0; l < LEVELS; ++l) {
            uint256 k = _key(tree, l, pos);
            t[k] = _bump(t[k], _shift(l, pos), n);
        }
    }

    /// @notice Withdraws one end recorded at `pos` (it will not happen: renewed, removed or moved).
    function remove(mapping(uint256 => uint256) storage t, uint256 tree, uint32 pos) internal {
        add(t, tree, pos, MINUS_ONE);
    }

    /// @notice Moves one end from `from` to `to`, touching shared words once.
    function move(mapping(uint256 => uint256) storage t, uint256 tree, uint32 from, uint32 to) internal {
        for (uint256 l = 0; l < LEVELS; ++l) {
            uint256 sf = _shift(l, from);
            uint256 st = _shift(l, to);
            uint256 kf = _key(tree, l, from);
            uint256 kt = _key(tree, l, to);
            if (kf == kt) {
                // Same lane here means the same lane at every level above: nothing changes there.
                if (sf == st) return;
                t[kf] = _bump(_bump(t[kf], sf, MINUS_ONE), st, 1);
            } else {
                t[kf] = _bump(t[kf], sf, MINUS_ONE);
                t[kt] = _bump(t[kt], st, 1);
            }
        }
    }

    /// @notice How many ends lie in `(a, b]`, given that the true number is below 2^16. Needs a <= b.
    function countIn(mapping(uint256 => uint256) storage t, uint256 tree, uint32 a, uint32 b) internal view returns (uint256 n) {
        if (a >= b) return 0;
        // The highest level at which a and b are in different lanes.
        uint256 top = 0;
        for (uint256 l = LEVELS - 1; l > 0; --l) {
            if ((uint256(a) >> (l << 2)) != (uint256(b) >> (l << 2))) {
                top = l;
                break;
            }
        }
        // prefix(x) = sum over levels l >= 1 of the lanes left of x's lane in x's word at l,
        // plus the lanes up to and including x's lane at level 0; n = prefix(b) - prefix(a).
        // Above `top` both prefixes read the same lanes; at `top` they share a word.
        {
            uint256 w = t[_key(tree, top, b)];
            uint256 la = (uint256(a) >> (top << 2)) & 15;
            uint256 lb = (uint256(b) >> (top << 2)) & 15;
            // Lanes [la, lb) at levels >= 1, lanes (la, lb] at level 0.
            n = top == 0 ? _sum(w, la + 1, lb + 1) : _sum(w, la, lb);
        }
        for (uint256 l = 0; l < top; ++l) {
            uint256 lb = ((uint256(b) >> (l << 2)) & 15) + (l == 0 ? 1 : 0);
            uint256 la = ((uint256(a) >> (l << 2)) & 15) + (l == 0 ? 1 : 0);
            n += _sum(t[_key(tree, l, b)], 0, lb);
            n += 0x10000 - _sum(t[_key(tree, l, a)], 0, la);
        }
        n &= 0xffff;
    }

    /// @dev The sum modulo 2^16 of lanes [from, to) of `w`.
    function _sum(uint256 w, uint256 from, uint256 to) private pure returns (uint256 s) {
        if (from >= to) return 0;
        // Keep lanes [from, to).
        uint256 hi = to == 16 ? type(uint256).max : (uint256(1) << (to << 4)) - 1;
        uint256 lo = (uint256(1) << (from << 4)) - 1;
        w &= hi & ~lo;
        // Add lanes pairwise into 32-bit fields (each below 2^17), then fold the fields.
        // Carries stay inside the fields, so only the low 16 bits of the total matter.
        unchecked {
            s = (w & EVEN) + ((w >> 16) & EVEN);
            s += s >> 128;
            s += s >> 64;
            s += s >> 32;
        }
        s &= 0xffff;
    }
}
