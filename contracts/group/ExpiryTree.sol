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
 * levels of 16 lanes; a lane at level `l` covers 16^l seconds, and one
 * storage word holds the 16 lanes of 16 bits that share a parent. Adding or
 * removing an end touches at most 8 words; counting an interval reads at
 * most 15.
 *
 * Lanes at levels 4..7 count modulo 2^16. A count the group asks for is
 * always below 2^16 (it never exceeds the number of active members), so the
 * modular sum is the true count, and nothing ever needs clearing: ends in
 * the past simply stay where they fell.
 *
 * Lanes at levels 1..3 (16 s, 256 s, 4096 s) are either a count, or, when
 * the lane holds exactly one end, that end's offset with the top bit set; the
 * levels below such a lane are then left empty. An end with no neighbour
 * nearby thus costs no storage below the first empty lane, which is most of
 * what a sparse group would otherwise pay. This needs every count at these
 * levels to stay below 2^15: a lane there spans at most 4096 seconds, each
 * member's periods are at least a day, so a lane holds at most one end per
 * member active then, and groups have at most 32,767 active members.
 *
 * Several trees share one mapping: `tree` selects one (0 is the group's,
 * a member's token id selects the tree of the ends of those who delegate to it).
 */
library ExpiryTree {
    uint256 private constant LEVELS = 8;
    uint256 private constant MINUS_ONE = 0xffff;
    uint256 private constant SINGLE = 0x8000;
    // The low 16 bits of every 32-bit field.
    uint256 private constant EVEN = 0x0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff;
    // The top bit of every 16-bit lane.
    uint256 private constant TOPS = 0x8000800080008000800080008000800080008000800080008000800080008000;

    function _key(uint256 tree, uint256 level, uint256 pos) private pure returns (uint256) {
        return (tree << 64) | (level << 32) | (pos >> ((level << 2) + 4));
    }

    function _shift(uint256 level, uint256 pos) private pure returns (uint256) {
        return ((pos >> (level << 2)) & 15) << 4;
    }

    function _lane(uint256 word, uint256 shift) private pure returns (uint256) {
        return (word >> shift) & 0xffff;
    }

    function _set(uint256 word, uint256 shift, uint256 v) private pure returns (uint256) {
        return (word & ~(uint256(0xffff) << shift)) | (v << shift);
    }

    /// @dev Levels whose lanes may hold a single end's offset instead of a count.
    function _compact(uint256 level) private pure returns (bool) {
        return level != 0 && level < 4;
    }

    /// @dev The offset of `pos` within its lane at `level`.
    function _offset(uint256 level, uint256 pos) private pure returns (uint256) {
        return pos & ((uint256(1) << (level << 2)) - 1);
    }

    /// @notice Records `n` more ends at `pos` (1 <= n < 2^15).
    function add(mapping(uint256 => uint256) storage t, uint256 tree, uint32 pos, uint256 n) internal {
        for (uint256 lvl = LEVELS; lvl > 0; ) {
            --lvl;
            uint256 k = _key(tree, lvl, pos);
            uint256 w = t[k];
            uint256 sh = _shift(lvl, pos);
            uint256 v = _lane(w, sh);
            if (!_compact(lvl)) {
                t[k] = _set(w, sh, (v + n) & 0xffff);
                continue;
            }
            if (v == 0) {
                if (n == 1) {
                    // Alone in this lane: keep its offset here and nothing below.
                    t[k] = _set(w, sh, SINGLE | _offset(lvl, pos));
                    return;
                }
                t[k] = _set(w, sh, n);
            } else if (v & SINGLE != 0) {
                // A second end in a lane that held one: the first moves one level down.
                t[k] = _set(w, sh, 1 + n);
                uint256 other = (uint256(pos) & ~((uint256(1) << (lvl << 2)) - 1)) | (v & 0xfff);
                _place(t, tree, lvl - 1, other);
            } else {
                t[k] = _set(w, sh, v + n);
            }
        }
    }

    /// @dev Puts one end at `pos` in its lane at `level`, which is empty (its parent held it alone).
    function _place(mapping(uint256 => uint256) storage t, uint256 tree, uint256 level, uint256 pos) private {
        uint256 k = _key(tree, level, pos);
        uint256 sh = _shift(level, pos);
        t[k] = _set(t[k], sh, level == 0 ? 1 : SINGLE | _offset(level, pos));
    }

    /// @notice Withdraws one end recorded at `pos` (it will not happen: renewed, removed or moved).
    function remove(mapping(uint256 => uint256) storage t, uint256 tree, uint32 pos) internal {
        for (uint256 lvl = LEVELS; lvl > 0; ) {
            --lvl;
            uint256 k = _key(tree, lvl, pos);
            uint256 w = t[k];
            uint256 sh = _shift(lvl, pos);
            uint256 v = _lane(w, sh);
            if (!_compact(lvl)) {
                t[k] = _set(w, sh, (v + MINUS_ONE) & 0xffff);
            } else if (v & SINGLE != 0) {
                // The end was alone in this lane: nothing below.
                t[k] = _set(w, sh, 0);
                return;
            } else {
                t[k] = _set(w, sh, v - 1);
            }
        }
    }

    /// @notice Moves one end from `from` to `to`.
    function move(mapping(uint256 => uint256) storage t, uint256 tree, uint32 from, uint32 to) internal {
        // Words the two share are written twice in one transaction; the second write is a warm one.
        remove(t, tree, from);
        add(t, tree, to, 1);
    }

    /// @notice How many ends lie in `(a, b]`, given that the true number is below 2^16.
    function countIn(mapping(uint256 => uint256) storage t, uint256 tree, uint32 a, uint32 b) internal view returns (uint256 n) {
        if (a >= b) return 0;
        // The highest level at which a and b are in different lanes; above it both share every lane.
        uint256 top = 0;
        for (uint256 lvl = LEVELS - 1; lvl > 0; --lvl) {
            if ((uint256(a) >> (lvl << 2)) != (uint256(b) >> (lvl << 2))) {
                top = lvl;
                break;
            }
        }
        uint256 w = t[_key(tree, top, b)];
        if (w == 0) return _lone(t, tree, top, a, b);
        uint256 sa = _shift(top, a);
        uint256 sb = _shift(top, b);
        if (top == 0) return _sum(w, (sa >> 4) + 1, (sb >> 4) + 1, false);
        // prefix(x) = the ends at or before x. Both prefixes count the lanes left of a's lane;
        // prefix(b) adds lanes [a's, b's) and the part of b's lane up to b, and prefix(a) the
        // part of a's lane up to a.
        n = _sum(w, sa >> 4, sb >> 4, _compact(top));
        n += _within(t, tree, top, _lane(w, sb), b);
        n += 0x10000 - _within(t, tree, top, _lane(w, sa), a);
        n &= 0xffff;
    }

    /**
     * @dev The word at `level` holding both a and b is empty: nothing is there,
     * or one end sits alone in a lane above, whose levels below stay empty.
     */
    function _lone(mapping(uint256 => uint256) storage t, uint256 tree, uint256 level, uint32 a, uint32 b) private view returns (uint256) {
        for (uint256 lvl = level + 1; lvl < 4; ++lvl) {
            uint256 w = t[_key(tree, lvl, b)];
            if (w == 0) continue;
            uint256 v = _lane(w, _shift(lvl, b));
            if (v & SINGLE == 0) return 0;
            uint256 p = (uint256(b) & ~((uint256(1) << (lvl << 2)) - 1)) | (v & 0xfff);
            return p > a && p <= b ? 1 : 0;
        }
        return 0;
    }

    /// @dev The ends at or before `x` within x's lane at `level`, whose value is `v`.
    function _within(mapping(uint256 => uint256) storage t, uint256 tree, uint256 level, uint256 v, uint256 x) private view returns (uint256 n) {
        while (true) {
            if (_compact(level) && v & SINGLE != 0) {
                return n + ((v & 0xfff) <= _offset(level, x) ? 1 : 0);
            }
            // Below level 5 a zero lane is empty (counts there never wrap): nothing below it.
            if (v == 0 && level < 5) return n;
            --level;
            uint256 w = t[_key(tree, level, x)];
            uint256 sh = _shift(level, x);
            if (level == 0) return n + _sum(w, 0, (sh >> 4) + 1, false);
            n += _sum(w, 0, sh >> 4, _compact(level));
            v = _lane(w, sh);
        }
    }

    /// @dev The sum modulo 2^16 of lanes [from, to) of `w`; on compact levels a single end counts 1.
    function _sum(uint256 w, uint256 from, uint256 to, bool compact) private pure returns (uint256 s) {
        if (from >= to) return 0;
        // Keep lanes [from, to).
        uint256 hi = to == 16 ? type(uint256).max : (uint256(1) << (to << 4)) - 1;
        uint256 lo = (uint256(1) << (from << 4)) - 1;
        w &= hi & ~lo;
        uint256 singles = 0;
        if (compact) {
            // A lane with its top bit set holds one end: count it as 1.
            singles = (w & TOPS) >> 15;
            w &= ~(singles * 0xffff);
        }
        // Add lanes pairwise into 32-bit fields (each below 2^17), then fold the fields.
        // Carries stay inside the fields, so only the low 16 bits of the total matter.
        unchecked {
            w += singles;
            s = (w & EVEN) + ((w >> 16) & EVEN);
            s += s >> 128;
            s += s >> 64;
            s += s >> 32;
        }
        s &= 0xffff;
    }
}
