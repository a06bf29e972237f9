// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {console} from "hardhat/console.sol";

import {Group} from "../Group.sol";
import {GroupExtension} from "../GroupExtension.sol";
import {GroupFactory} from "../GroupFactory.sol";
import {IGroupEvents} from "../interfaces/IGroupEvents.sol";
import {
    Action,
    Config,
    DestinationKind,
    FeeDestination,
    GroupConstants,
    GroupInit,
    Mode,
    ProposalState,
    Settings
} from "../interfaces/IGroupTypes.sol";

/// @dev The few cheatcodes these tests use (there is no forge-std here).
interface TallyVm {
    function warp(uint256 newTimestamp) external;
    function prank(address sender) external;
    function expectRevert(bytes calldata revertData) external;
    function toString(uint256 value) external pure returns (string memory);
}

/**
 * @dev Shared setup: a factory whose safe minimums are zero (every config is
 * safe) and helpers to make groups and read them.
 *
 * Groups made here: Vote mode, period 30 days, fee 0, grace period 0,
 * voting period 60 days, add quorum 0 (open: anyone may join by paying
 * nothing), every other quorum = the default quorum given, at most 3 open
 * proposals per member.
 */
abstract contract TallyBase {
    TallyVm internal constant vm = TallyVm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    uint32 internal constant PERIOD = 30 days;
    uint32 internal constant VOTING = 60 days;
    uint256 internal constant T0 = 1_700_000_000;

    uint8 internal constant AGAINST = 0;
    uint8 internal constant FOR = 1;
    uint8 internal constant ABSTAIN = 2;

    GroupFactory internal factory;

    function setUp() public virtual {
        vm.warp(T0);
        factory = new GroupFactory(address(this), 0, 0, address(new Group(address(new GroupExtension()))));
    }

    function _addr(uint256 i) internal pure returns (address) {
        return address(uint160(0x1000 + i));
    }

    function _config(uint16 quorumBps, Mode mode) internal pure returns (Config memory) {
        return
            Config({
                defaultQuorumBps: quorumBps,
                addQuorumBps: 0,
                removeQuorumBps: GroupConstants.QUORUM_DEFAULT,
                configQuorumBps: GroupConstants.QUORUM_DEFAULT,
                feeDestinationQuorumBps: GroupConstants.QUORUM_DEFAULT,
                customQuorumBps: GroupConstants.QUORUM_DEFAULT,
                votingPeriod: VOTING,
                period: PERIOD,
                gracePeriod: 0,
                mode: mode,
                customCallsAllowed: false,
                maxOpenProposals: 3,
                fee: 0,
                feeToken: address(0)
            });
    }

    function _createGroupWith(uint256 nFounders, Settings memory s) internal returns (address g) {
        address[] memory founders = new address[](nFounders);
        for (uint256 i = 0; i < nFounders; ++i) founders[i] = _addr(i);
        GroupInit memory init = GroupInit({
            settings: s,
            destination: FeeDestination({
                kind: DestinationKind.Locked,
                target: address(0),
                recipients: new address[](0),
                sharesBps: new uint16[](0)
            }),
            founders: founders
        });
        g = factory.createGroup(init, bytes32(0));
    }

    function _createGroup(uint256 nFounders, uint16 quorumBps) internal returns (address g) {
        return _createGroupWith(nFounders, Settings({config: _config(quorumBps, Mode.Vote), controller: address(0), linker: address(0), admins: new address[](0)}));
    }

    function _g(address g) internal pure returns (Group) {
        return Group(payable(g));
    }

    function _x(address g) internal pure returns (GroupExtension) {
        return GroupExtension(g);
    }

    /// @dev A RemoveMember proposal of `target`, made by `proposer`.
    function _propose(address g, address proposer, address target) internal returns (uint256 id) {
        vm.prank(proposer);
        (id, ) = _g(g).propose(Action.RemoveMember, abi.encode(target));
    }

    function _delegate(address g, address from, address to) internal {
        vm.prank(from);
        _g(g).delegate(to);
    }

    function _vote(address g, uint256 id, address voter, uint8 support) internal {
        vm.prank(voter);
        _g(g).castVote(id, support);
    }

    function _eq(uint256 got, uint256 expected, string memory what) internal pure {
        if (got != expected) {
            revert(string.concat(what, ": contract says ", vm.toString(got), ", model says ", vm.toString(expected)));
        }
    }

    function _tallyIs(address g, uint256 id, uint256 f, uint256 a, uint256 ab) internal view {
        GroupExtension.ProposalView memory v = _x(g).proposal(id);
        _eq(v.forVotes, f, "forVotes");
        _eq(v.againstVotes, a, "againstVotes");
        _eq(v.abstainVotes, ab, "abstainVotes");
    }
}

/**
 * @title Fuzz: the group's tally equals a literal reference model of the rule.
 *
 * The rule: 1 point per member active at the snapshot (expiresAt > snapshot
 * time, the group as it stood when the proposal was made); the point goes to
 * the member's own choice if it voted, else to its delegate (at the
 * snapshot)'s choice if that delegate voted, else nowhere.
 *
 * Each run drives one group (2..12 founders, 3 more addresses that may join;
 * the group is open) through a random sequence (from `seed`) of time warps
 * (some landing exactly on, or next to, someone's expiry, where several
 * members lapse in the same second), renewals, joins (some in bursts within
 * one second, so that their periods end together), removals of lapsed
 * members (one by one and in batches), delegations (often to one popular
 * delegate, so that some delegators are carried inline and some in the
 * delegate's tree), including reverting ones whose error is checked; then
 * up to five RemoveMember proposals, several in the same second with changes
 * between them, one proposer sometimes trying a fourth while three are open;
 * then more of the same interleaved with votes (including reverting ones)
 * and executions of passed proposals. After every step the tally and the
 * state of each proposal are compared with the model; at the end, time
 * passes the deadlines and the final state is checked (an early decision
 * must not flip) as well as the standing of everyone at each snapshot.
 *
 * To replay a counterexample step by step: in a contract deriving from this
 * one, set `trace = true` and call `_run(seed, nRaw, quorumRaw)`.
 */
contract TallyFuzzTest is TallyBase {
    uint256 internal constant EXTRA = 3; // non-founder addresses that may join later
    uint256 internal constant MAX_PROPS = 5;

    struct Mem {
        bool isMember;
        uint32 expiry; // 0 when not a member
        uint8 deleg; // 0 = none, else pool index + 1
        uint32[3] open; // deadlines (units of 256 s of the group clock, rounded up) of its open proposals
    }

    struct Prop {
        uint256 id;
        uint256 number;
        uint256 target; // pool index of the member the proposal removes
        bool executed;
        uint32 snapshot;
        uint32 deadline;
        uint16 influence;
        uint16 quorumVotes;
        bool decidedEarly;
        ProposalState early;
        bool[16] activeAt;
        uint8[16] delegAt;
        uint8[16] vote; // 0 = none, else support + 1
    }

    address internal group;
    uint256 internal epoch;
    uint256 internal rng;
    uint256 internal pool; // number of addresses in play
    uint256 internal hub; // a popular delegate
    uint16 internal quorumBps;
    Mem[16] internal mem;
    Prop[] internal props;
    uint256 internal voteMix; // 0: uniform choices, 1: mostly abstain, 2: mostly for
    bool internal trace; // log every step (for replaying a counterexample)

    // ------------------------------------------------------------ the fuzz

    function testFuzz_TallyMatchesReferenceModel(uint256 seed, uint8 nRaw, uint16 quorumRaw) public {
        _run(seed, nRaw, quorumRaw);
    }

    function _run(uint256 seed, uint8 nRaw, uint16 quorumRaw) internal {
        rng = seed;
        uint256 n = 2 + (nRaw % 11); // 2..12 founders
        pool = n + EXTRA; // <= 15: the model's arrays hold 16
        hub = _rand(pool);
        uint256 qKind = _rand(8);
        voteMix = _rand(3);
        quorumBps = qKind < 3 ? 0 : qKind == 3 ? 10_000 : uint16(quorumRaw % 10_001);
        group = _createGroup(n, quorumBps);
        epoch = _x(group).epoch();
        if (trace) console.log("founders", n, "quorumBps", quorumBps);
        for (uint256 i = 0; i < n; ++i) mem[i].isMember = true;
        for (uint256 i = 0; i < n; ++i) mem[i].expiry = uint32(block.timestamp) + PERIOD;

        // Before the first proposal: delegations, renewals, lapses...
        uint256 steps = _rand(30);
        for (uint256 s = 0; s < steps; ++s) _step(false);
        uint256 nProps = 1 + _rand(MAX_PROPS);
        for (uint256 k = 0; k < nProps; ++k) {
            // Often in the same second as the one before, with changes between.
            if (k != 0 && _rand(3) != 0) {
                steps = _rand(8);
                for (uint256 s = 0; s < steps; ++s) _step(true);
            }
            _newProposal();
            steps = _rand(4);
            for (uint256 s = 0; s < steps; ++s) _stepNoWarp();
        }
        // Voting, interleaved with further changes that must not matter.
        steps = 10 + _rand(50);
        for (uint256 s = 0; s < steps; ++s) {
            if (_rand(2) == 0) _opVote();
            else _step(true);
        }
        _finish();
    }

    // ------------------------------------------------------------ steps

    function _rand(uint256 n) internal returns (uint256) {
        rng = uint256(keccak256(abi.encode(rng)));
        return rng % n;
    }

    function _step(bool checkAfter) internal {
        uint256 r = _rand(24);
        if (r < 5) _opWarp();
        else if (r < 11) _opDelegate();
        else if (r < 14) _opRenew();
        else if (r < 16) _opJoin();
        else if (r < 17) _opJoinBurst();
        else if (r < 18) _opRemoveLapsed();
        else if (r < 19) _opRemoveLapsedBatch();
        else if (r < 20) _opProposeInactive();
        else if (r < 21) _opVote();
        else _opExecute();
        if (checkAfter) _checkAll();
    }

    function _stepNoWarp() internal {
        uint256 r = _rand(10);
        if (r < 5) _opDelegate();
        else if (r < 7) _opRenew();
        else if (r < 8) _opJoin();
        else if (r < 9) _opRemoveLapsed();
        else _opVote();
        _checkAll();
    }

    function _now() internal view returns (uint32) {
        return uint32(block.timestamp);
    }

    function _opWarp() internal {
        _opWarp(props.length == 0 ? 31 days : 5 days);
    }

    function _opWarp(uint256 maxJump) internal {
        uint256 r = _rand(10);
        uint256 t = block.timestamp;
        if (r < 4) {
            t += _rand(4);
        } else if (r < 7) {
            t += _rand(3 days);
        } else {
            // Land on (or next to) somebody's expiry, if it is ahead.
            uint256 i = _rand(pool);
            if (mem[i].isMember) {
                uint256 target = uint256(mem[i].expiry) + _rand(3) - 1;
                if (target > t && target - t <= maxJump) t = target;
            }
        }
        if (trace) console.log("warp +", t - block.timestamp, "->", t);
        vm.warp(t);
    }

    /// @dev A random pool index, most of the time a member (when there is one).
    function _pickMember() internal returns (uint256 i) {
        i = _rand(pool);
        if (_rand(8) == 0) return i;
        for (uint256 k = 0; k < pool; ++k) {
            uint256 j = (i + k) % pool;
            if (mem[j].isMember) return j;
        }
    }

    function _opDelegate() internal {
        uint256 from = _pickMember();
        uint256 r = _rand(8);
        // Half of the delegations go to the popular delegate, so that it carries more than three.
        uint8 to = r == 0 ? 0 : r < 5 ? uint8(hub + 1) : uint8(_pickMember() + 1);
        address toAddr = to == 0 ? address(0) : _addr(to - 1);
        bool ok = false;
        if (!mem[from].isMember) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotMember.selector, _addr(from)));
        } else if (to == from + 1) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupSelfDelegation.selector));
        } else if (to != 0 && !mem[to - 1].isMember) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotMember.selector, toAddr));
        } else if (mem[from].deleg == to) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupDelegateUnchanged.selector, toAddr));
        } else {
            ok = true;
        }
        if (trace) console.log(string.concat("delegate ", vm.toString(from), " -> ", to == 0 ? "none" : vm.toString(to - 1), ok ? "" : " (reverts)"));
        vm.prank(_addr(from));
        _g(group).delegate(toAddr);
        if (ok) mem[from].deleg = to;
    }

    function _opRenew() internal {
        uint256 i = _pickMember();
        if (trace) console.log(string.concat("renew ", vm.toString(i), mem[i].isMember ? "" : " (reverts)"));
        if (!mem[i].isMember) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotMember.selector, _addr(i)));
            _g(group).renew(_addr(i));
            return;
        }
        _g(group).renew(_addr(i));
        mem[i].expiry = mem[i].expiry > _now() ? mem[i].expiry + PERIOD : _now() + PERIOD;
    }

    function _opJoin() internal {
        uint256 i = _rand(pool);
        if (trace) console.log(string.concat("join ", vm.toString(i), mem[i].isMember ? " (reverts)" : ""));
        if (mem[i].isMember) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupAlreadyMember.selector, _addr(i)));
            vm.prank(_addr(i));
            _g(group).join();
            return;
        }
        vm.prank(_addr(i));
        _g(group).join();
        _joined(i);
    }

    /// @dev Every non-member joins in this second: their periods end together.
    function _opJoinBurst() internal {
        for (uint256 i = 0; i < pool; ++i) {
            if (mem[i].isMember) continue;
            if (trace) console.log(string.concat("join (burst) ", vm.toString(i)));
            vm.prank(_addr(i));
            _g(group).join();
            _joined(i);
        }
    }

    function _joined(uint256 i) internal {
        mem[i].isMember = true;
        mem[i].expiry = _now() + PERIOD;
        mem[i].deleg = 0;
    }

    function _left(uint256 i) internal {
        mem[i].isMember = false;
        mem[i].expiry = 0;
        mem[i].deleg = 0;
    }

    function _opRemoveLapsed() internal {
        uint256 i = _rand(pool);
        if (!mem[i].isMember) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotMember.selector, _addr(i)));
        } else if (mem[i].expiry > _now()) {
            vm.expectRevert(
                abi.encodeWithSelector(IGroupEvents.GroupGracePeriodNotOver.selector, _addr(i), uint256(mem[i].expiry))
            );
        }
        bool ok = mem[i].isMember && mem[i].expiry <= _now();
        if (trace) console.log(string.concat("removeLapsed ", vm.toString(i), ok ? "" : " (reverts)"));
        _g(group).removeLapsed(_addr(i));
        if (ok) _left(i);
    }

    /// @dev Everyone in the pool, lapsed or not: only the lapsed are removed.
    function _opRemoveLapsedBatch() internal {
        address[] memory all = new address[](pool);
        uint256 expected = 0;
        for (uint256 i = 0; i < pool; ++i) {
            all[i] = _addr(i);
            if (mem[i].isMember && mem[i].expiry <= _now()) ++expected;
        }
        if (trace) console.log("removeLapsedBatch, expecting", expected);
        _eq(_g(group).removeLapsedBatch(all), expected, "removed by the batch");
        for (uint256 i = 0; i < pool; ++i) {
            if (mem[i].isMember && mem[i].expiry <= _now()) _left(i);
        }
    }

    /// @dev Someone not active now cannot propose.
    function _opProposeInactive() internal {
        uint256 i = _rand(pool);
        if (mem[i].isMember && mem[i].expiry > _now()) return;
        vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotActive.selector, _addr(i)));
        vm.prank(_addr(i));
        _g(group).propose(Action.RemoveMember, abi.encode(_addr(0)));
    }

    /// @dev Execute a proposal (a passed one removes its target, maybe an active member).
    function _opExecute() internal {
        uint256 np = props.length;
        if (np == 0) return;
        uint256 pi = _rand(np);
        Prop storage p = props[pi];
        ProposalState st = _modelState(pi);
        bool ok = false;
        if (st == ProposalState.Executed) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupProposalAlreadyExecuted.selector, p.id));
        } else if (st != ProposalState.Succeeded) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupProposalNotSucceeded.selector, p.id, uint8(st)));
        } else if (!mem[p.target].isMember) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotMember.selector, _addr(p.target)));
        } else {
            ok = true;
        }
        if (trace) console.log(string.concat("execute p", vm.toString(pi), " removing ", vm.toString(p.target), ok ? "" : " (reverts)"));
        _g(group).execute(p.number, Action.RemoveMember, abi.encode(_addr(p.target)));
        if (ok) {
            p.executed = true;
            _left(p.target);
        }
    }

    /// @dev How many proposals of `i` count as open now, as the contract rounds (256 s units).
    function _openCount(uint256 i) internal view returns (uint256 open, uint256 free) {
        free = 3;
        uint256 rel = block.timestamp - epoch;
        for (uint256 k = 0; k < 3; ++k) {
            uint256 u = mem[i].open[k];
            if (u != 0 && u * 256 >= rel) ++open;
            else if (free == 3) free = k;
        }
    }

    function _newProposal() internal {
        // An active proposer with room for one more; make one if nobody is.
        uint256 start = _rand(pool);
        uint256 proposer = type(uint256).max;
        for (uint256 k = 0; k < pool; ++k) {
            uint256 i = (start + k) % pool;
            (uint256 open, ) = _openCount(i);
            if (mem[i].isMember && mem[i].expiry > _now()) {
                if (open < 3) {
                    proposer = i;
                    break;
                }
                // Three open already: a fourth is refused.
                vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupTooManyOpenProposals.selector, _addr(i), uint8(3)));
                vm.prank(_addr(i));
                _g(group).propose(Action.RemoveMember, abi.encode(_addr(i)));
            }
        }
        if (proposer == type(uint256).max) {
            proposer = start;
            (uint256 open, ) = _openCount(start);
            if (open == 3) return; // nobody may propose now
            if (mem[start].isMember) {
                _g(group).renew(_addr(start));
                mem[start].expiry = _now() + PERIOD; // it had lapsed
            } else {
                vm.prank(_addr(start));
                _g(group).join();
                _joined(start);
            }
            _checkAll();
        }
        // Any member as the target of the RemoveMember proposal.
        start = _rand(pool);
        uint256 target = proposer;
        for (uint256 k = 0; k < pool; ++k) {
            uint256 i = (start + k) % pool;
            if (mem[i].isMember) {
                target = i;
                break;
            }
        }
        if (trace) console.log(string.concat("propose by ", vm.toString(proposer), " at ", vm.toString(block.timestamp)));
        vm.prank(_addr(proposer));
        (uint256 id, uint256 number) = _g(group).propose(Action.RemoveMember, abi.encode(_addr(target)));

        Prop storage p = props.push();
        p.id = id;
        p.number = number;
        p.target = target;
        p.snapshot = _now();
        p.deadline = _now() + VOTING;
        (, uint256 free) = _openCount(proposer);
        mem[proposer].open[free] = uint32((uint256(p.deadline) - epoch + 255) / 256);
        uint256 influence = 0;
        for (uint256 i = 0; i < pool; ++i) {
            bool active = mem[i].isMember && mem[i].expiry > p.snapshot;
            p.activeAt[i] = active;
            p.delegAt[i] = mem[i].deleg;
            if (active) ++influence;
        }
        p.influence = uint16(influence);
        p.quorumVotes = uint16((influence * quorumBps + 9_999) / 10_000);

        GroupExtension.ProposalView memory v = _x(group).proposal(id);
        _eq(v.snapshot, p.snapshot, "snapshot");
        _eq(v.deadline, p.deadline, "deadline");
        _eq(v.influence, p.influence, "influence");
        _eq(v.quorumBps, quorumBps, "quorumBps");
        _eq(v.quorumVotes, p.quorumVotes, "quorumVotes");
        _eq(_x(group).activeMemberCount(), influence, "activeMemberCount");
        _checkAll();
    }

    function _opVote() internal {
        uint256 np = props.length;
        if (np == 0) return;
        uint256 pi = _rand(np);
        Prop storage p = props[pi];
        uint256 i = _rand(pool);
        if (_rand(4) != 0) {
            // Most of the time, someone who may still vote.
            for (uint256 k = 0; k < pool; ++k) {
                uint256 j = (i + k) % pool;
                if (p.activeAt[j] && p.vote[j] == 0) {
                    i = j;
                    break;
                }
            }
        }
        uint8 support;
        uint256 r = _rand(100);
        if (r < 4) support = 3; // invalid
        else if (voteMix == 0) support = uint8(r % 3);
        else if (voteMix == 1) support = r < 52 ? ABSTAIN : uint8(r % 2);
        else support = r < 75 ? FOR : uint8(r % 3);
        ProposalState st = _modelState(pi);
        // Voting on a closed proposal is checked, but not every time.
        if (st != ProposalState.Active && _rand(4) != 0) return;
        bool ok = false;
        if (st != ProposalState.Active) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupVotingClosed.selector, p.id, uint8(st)));
        } else if (support > 2) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupInvalidVoteType.selector, support));
        } else if (!p.activeAt[i]) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotActive.selector, _addr(i)));
        } else if (p.vote[i] != 0) {
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupAlreadyVoted.selector, p.id, _addr(i)));
        } else {
            ok = true;
        }
        vm.prank(_addr(i));
        _g(group).castVote(p.id, support);
        if (trace) {
            console.log(string.concat("vote p", vm.toString(pi), " by ", vm.toString(i), " support ", vm.toString(support), ok ? "" : " (reverts)"));
        }
        if (ok) p.vote[i] = support + 1;
        _checkAll();
    }

    // ------------------------------------------------------------ the model

    /// @dev The rule, literally: loop over the members active at the snapshot.
    function _modelTally(Prop storage p) internal view returns (uint256[3] memory t) {
        for (uint256 i = 0; i < pool; ++i) {
            if (!p.activeAt[i]) continue;
            if (p.vote[i] != 0) {
                t[p.vote[i] - 1] += 1;
            } else if (p.delegAt[i] != 0 && p.vote[p.delegAt[i] - 1] != 0) {
                t[p.vote[p.delegAt[i] - 1] - 1] += 1;
            }
        }
    }

    /// @dev The tally if every active member that has not voted now voted `support`.
    function _modelCompletion(Prop storage p, uint8 support) internal view returns (uint256[3] memory t) {
        for (uint256 i = 0; i < pool; ++i) {
            if (!p.activeAt[i]) continue;
            t[p.vote[i] != 0 ? p.vote[i] - 1 : support] += 1;
        }
    }

    function _passes(Prop storage p, uint256[3] memory t) internal view returns (bool) {
        return t[FOR] >= p.quorumVotes && t[FOR] > t[AGAINST];
    }

    /**
     * @dev The state the model expects now. Before the deadline a proposal is
     * decided when it no longer depends on what the members who have not
     * voted do: every completion of the vote lies between "all of them vote
     * against" and "all of them vote for", so those two settle it.
     */
    function _modelState(uint256 pi) internal view returns (ProposalState) {
        Prop storage p = props[pi];
        if (p.executed) return ProposalState.Executed;
        if (block.timestamp <= p.deadline) {
            if (_passes(p, _modelCompletion(p, AGAINST))) return ProposalState.Succeeded;
            if (!_passes(p, _modelCompletion(p, FOR))) return ProposalState.Defeated;
            return ProposalState.Active;
        }
        if (!_passes(p, _modelTally(p))) return ProposalState.Defeated;
        if (block.timestamp > uint256(p.deadline) + GroupConstants.EXECUTION_WINDOW) return ProposalState.Expired;
        return ProposalState.Succeeded;
    }

    function _checkAll() internal {
        for (uint256 pi = 0; pi < props.length; ++pi) {
            Prop storage p = props[pi];
            GroupExtension.ProposalView memory v = _x(group).proposal(p.id);
            uint256[3] memory t = _modelTally(p);
            _eq(v.forVotes, t[FOR], "forVotes");
            _eq(v.againstVotes, t[AGAINST], "againstVotes");
            _eq(v.abstainVotes, t[ABSTAIN], "abstainVotes");
            ProposalState st = _modelState(pi);
            _eq(uint8(v.state), uint8(st), "state");
            if (block.timestamp <= p.deadline && st != ProposalState.Active && !p.decidedEarly) {
                p.decidedEarly = true;
                p.early = st;
            }
        }
        uint256 active = 0;
        for (uint256 i = 0; i < pool; ++i) {
            if (mem[i].isMember && mem[i].expiry > _now()) ++active;
        }
        _eq(_x(group).activeMemberCount(), active, "activeMemberCount");
    }

    /// @dev The standing of everyone at the snapshot agrees with the model (a secondary check of the bookkeeping).
    function _checkStandings(uint256 pi) internal view {
        Prop storage p = props[pi];
        for (uint256 i = 0; i < pool; ++i) {
            (bool active, address d, uint32 delegatorsIn) = _x(group).standingAtProposal(_addr(i), p.id);
            _eq(active ? 1 : 0, p.activeAt[i] ? 1 : 0, "standing.active");
            _eq(uint160(d), p.delegAt[i] == 0 ? 0 : uint160(_addr(p.delegAt[i] - 1)), "standing.delegate");
            uint256 expectedIn = 0;
            for (uint256 j = 0; j < pool; ++j) {
                if (p.activeAt[j] && p.delegAt[j] == i + 1) ++expectedIn;
            }
            _eq(delegatorsIn, expectedIn, "standing.delegatorsIn");
        }
    }

    function _finish() internal {
        uint256 last = 0;
        for (uint256 pi = 0; pi < props.length; ++pi) {
            if (props[pi].deadline > last) last = props[pi].deadline;
        }
        if (block.timestamp <= last) vm.warp(last + 1);
        _checkAll();
        for (uint256 pi = 0; pi < props.length; ++pi) {
            Prop storage p = props[pi];
            ProposalState st = _x(group).state(p.id);
            if (p.decidedEarly) {
                // An early decision stands; a success only turns Expired after the execution window.
                ProposalState expected = p.early;
                if (p.executed) expected = ProposalState.Executed;
                else if (expected == ProposalState.Succeeded && block.timestamp > uint256(p.deadline) + GroupConstants.EXECUTION_WINDOW) {
                    expected = ProposalState.Expired;
                }
                _eq(uint8(st), uint8(expected), "state after the deadline vs early decision");
            }
            // Voting is closed now.
            vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupVotingClosed.selector, p.id, uint8(st)));
            vm.prank(_addr(0));
            _g(group).castVote(p.id, FOR);
            // The history at the snapshot has not moved.
            _checkStandings(pi);
        }
    }
}

/**
 * @title Fuzz: a proposal made before a change of mode never runs, whatever the mode becomes.
 *
 * A group starts in external mode with this contract as its controller,
 * which hands it to its members (vote mode). Members make proposals at
 * random times and pass some; then the mode changes (the controller is
 * given control again through a passed config proposal) and maybe changes
 * back. Every proposal made before the latest change must refuse to run,
 * even though it passed and the group is in vote mode again; proposals made
 * after it run.
 */
contract ModeChangeFuzzTest is TallyBase {
    uint256 internal rng;

    function _rand(uint256 n) internal returns (uint256) {
        rng = uint256(keccak256(abi.encode(rng)));
        return rng % n;
    }

    function _settings(Mode mode) internal view returns (Settings memory) {
        return Settings({config: _config(0, mode), controller: address(this), linker: address(0), admins: new address[](0)});
    }

    struct P {
        uint256 id;
        uint256 number;
        Action action;
        bytes payload;
        uint256 madeAt;
    }

    function testFuzz_ProposalsBeforeAModeChangeNeverRun(uint256 seed) public {
        rng = seed;
        address g = _createGroupWith(4, _settings(Mode.External));
        vm.warp(block.timestamp + 1 + _rand(100));
        // The controller hands the group to its members.
        _x(g).updateSettings(_settings(Mode.Vote));
        uint256 changedAt = block.timestamp;
        // Nobody proposes in the second of a change of mode.
        vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupModeJustChanged.selector));
        vm.prank(_addr(0));
        _g(g).propose(Action.AddMember, abi.encode(_addr(50)));
        vm.warp(block.timestamp + 1);
        P[] memory ps = new P[](6);
        uint256 n = 0;
        uint256 rounds = 1 + _rand(3);
        for (uint256 r = 0; r < rounds; ++r) {
            // Some proposals, each passed by the founders' votes (quorum 0: decided early).
            uint256 k = 1 + _rand(2);
            for (uint256 j = 0; j < k && n < 5; ++j) {
                if (_rand(2) == 0) vm.warp(block.timestamp + _rand(3));
                ps[n] = _passAdd(g, _addr(20 + n));
                ++n;
            }
            // Then the mode changes: a passed config proposal returns control to this contract...
            vm.warp(block.timestamp + 1 + _rand(2));
            P memory cfg = _pass(g, Action.Config, abi.encode(_settings(Mode.External)));
            if (_rand(2) == 0) vm.warp(block.timestamp + _rand(2));
            _g(g).execute(cfg.number, cfg.action, cfg.payload);
            changedAt = block.timestamp;
            // ...which may hand it back to the members at once, or later.
            if (_rand(3) != 0) {
                vm.warp(block.timestamp + _rand(2));
                _x(g).updateSettings(_settings(Mode.Vote));
                changedAt = block.timestamp;
            } else {
                vm.warp(block.timestamp + 1);
                _x(g).updateSettings(_settings(Mode.Vote));
                changedAt = block.timestamp;
            }
            vm.warp(block.timestamp + 1);
        }
        // Everything made before the latest change is refused, though it passed.
        for (uint256 i = 0; i < n; ++i) {
            _eq(uint8(_x(g).state(ps[i].id)), uint8(ProposalState.Succeeded), "state of an old proposal");
            if (ps[i].madeAt <= changedAt) {
                vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupProposalPredatesModeChange.selector, ps[i].id));
            }
            _g(g).execute(ps[i].number, ps[i].action, ps[i].payload);
        }
        // A proposal made after it runs.
        P memory fresh = _passAdd(g, _addr(99));
        _g(g).execute(fresh.number, fresh.action, fresh.payload);
        _eq(uint8(_x(g).state(fresh.id)), uint8(ProposalState.Executed), "state of a new proposal");
    }

    function _passAdd(address g, address who) internal returns (P memory) {
        return _pass(g, Action.AddMember, abi.encode(who));
    }

    /// @dev A proposal by a founder with room for it, passed by three of the four founders' votes.
    function _pass(address g, Action action, bytes memory payload) internal returns (P memory p) {
        for (uint256 f = 0; f < 4; ++f) {
            vm.prank(_addr(f));
            try _g(g).propose(action, payload) returns (uint256 id, uint256 number) {
                p = P({id: id, number: number, action: action, payload: payload, madeAt: block.timestamp});
                break;
            } catch {}
        }
        if (p.id == 0) revert("no founder could propose");
        for (uint256 f = 0; f < 3; ++f) _vote(g, p.id, _addr(f), FOR);
    }
}

/**
 * @title Explicit cases of the rule.
 */
contract TallyCasesTest is TallyBase {
    address internal g;
    address internal A = _addr(0);
    address internal B = _addr(1);
    address internal C = _addr(2);
    address internal D = _addr(3);
    address internal E = _addr(4);

    function setUp() public override {
        super.setUp();
        // Five founders, quorum 0: no vote decides early in these cases.
        g = _createGroup(5, 0);
    }

    /// A→B, B→A, only A votes: A's choice carries 2 points.
    function test_CircularOnlyOneVotes() public {
        _delegate(g, A, B);
        _delegate(g, B, A);
        uint256 id = _propose(g, C, D);
        _vote(g, id, A, FOR);
        _tallyIs(g, id, 2, 0, 0);
        _vote(g, id, C, AGAINST);
        _tallyIs(g, id, 2, 1, 0);
    }

    /// A→B, B→A, both vote: each carries its own point (both orders).
    function test_CircularBothVote() public {
        _delegate(g, A, B);
        _delegate(g, B, A);
        uint256 id = _propose(g, C, D);
        _vote(g, id, A, FOR);
        _vote(g, id, B, AGAINST);
        _tallyIs(g, id, 1, 1, 0);

        uint256 id2 = _propose(g, C, E);
        _vote(g, id2, B, ABSTAIN);
        _tallyIs(g, id2, 0, 0, 2);
        _vote(g, id2, A, FOR);
        _tallyIs(g, id2, 1, 0, 1);
    }

    /// A→B: B votes first (carries 2), then A votes and takes its point back.
    function test_DelegatorVotesAfterDelegate() public {
        _delegate(g, A, B);
        uint256 id = _propose(g, C, D);
        _vote(g, id, B, FOR);
        _tallyIs(g, id, 2, 0, 0);
        _vote(g, id, A, AGAINST);
        _tallyIs(g, id, 1, 1, 0);
        // Same choice: still one each, both on FOR.
        uint256 id2 = _propose(g, C, E);
        _vote(g, id2, B, FOR);
        _vote(g, id2, A, FOR);
        _tallyIs(g, id2, 2, 0, 0);
    }

    /// A→B: A votes first, then B carries only its own point.
    function test_DelegatorVotesBeforeDelegate() public {
        _delegate(g, A, B);
        uint256 id = _propose(g, C, D);
        _vote(g, id, A, AGAINST);
        _tallyIs(g, id, 0, 1, 0);
        _vote(g, id, B, FOR);
        _tallyIs(g, id, 1, 1, 0);
    }

    /// A→B, A lapses before the proposal: A's point counts for nobody and A cannot vote.
    function test_LapsedDelegatorCountsForNobody() public {
        _delegate(g, A, B);
        // Everybody but A pays another period; A lapses.
        for (uint256 i = 1; i < 5; ++i) _g(g).renew(_addr(i));
        vm.warp(T0 + PERIOD);
        uint256 id = _propose(g, C, D);
        _eq(_x(g).proposal(id).influence, 4, "influence");
        _vote(g, id, B, FOR);
        _tallyIs(g, id, 1, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotActive.selector, A));
        vm.prank(A);
        _g(g).castVote(id, AGAINST);
        // A renewing after the snapshot changes nothing for this proposal.
        _g(g).renew(A);
        vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotActive.selector, A));
        vm.prank(A);
        _g(g).castVote(id, AGAINST);
        _tallyIs(g, id, 1, 0, 0);
    }

    /// A→B, A lapses after the proposal: its point still follows B (snapshot). Nothing needs sweeping.
    function test_DelegatorLapsingAfterSnapshotStillCounts() public {
        _delegate(g, A, B);
        for (uint256 i = 1; i < 5; ++i) _g(g).renew(_addr(i));
        uint256 id = _propose(g, C, D);
        vm.warp(T0 + PERIOD + 1); // A lapses now
        _vote(g, id, B, FOR);
        _tallyIs(g, id, 2, 0, 0);
    }

    /// A→B→C, only C votes: C carries its own and B's point, not A's (one hop).
    function test_DelegationIsOneHop() public {
        _delegate(g, A, B);
        _delegate(g, B, C);
        uint256 id = _propose(g, D, E);
        _vote(g, id, C, FOR);
        _tallyIs(g, id, 2, 0, 0);
        // B now votes: it takes its point back; A's point follows B.
        _vote(g, id, B, AGAINST);
        _tallyIs(g, id, 1, 2, 0);
    }

    /// Re-delegation and joining after the creation change nothing for that proposal.
    function test_ChangesAfterSnapshotIgnored() public {
        _delegate(g, A, B);
        uint256 id = _propose(g, C, D);
        _delegate(g, A, C); // same second as the creation
        vm.warp(block.timestamp + 1);
        _delegate(g, B, C);
        vm.prank(_addr(9));
        _g(g).join();
        _vote(g, id, C, AGAINST);
        _tallyIs(g, id, 0, 1, 0);
        _vote(g, id, B, FOR);
        _tallyIs(g, id, 2, 1, 0);
        _eq(_x(g).proposal(id).influence, 5, "influence");
        vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotActive.selector, _addr(9)));
        vm.prank(_addr(9));
        _g(g).castVote(id, FOR);
    }

    /// A delegate inactive at the snapshot cannot vote: its delegators' points go nowhere.
    function test_LapsedDelegateCannotCarry() public {
        _delegate(g, A, B);
        _delegate(g, C, B);
        // Everybody but B pays another period; B lapses.
        _g(g).renew(A);
        _g(g).renew(C);
        _g(g).renew(D);
        _g(g).renew(E);
        vm.warp(T0 + PERIOD);
        uint256 id = _propose(g, D, E);
        vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotActive.selector, B));
        vm.prank(B);
        _g(g).castVote(id, FOR);
        _vote(g, id, D, FOR);
        _tallyIs(g, id, 1, 0, 0);
        _vote(g, id, A, AGAINST);
        _tallyIs(g, id, 1, 1, 0);
    }

    // ----------------------------------------- several proposals in one second

    /**
     * Two proposals in one second each see the group as it stood when it was
     * made: what happens between them counts for the second only.
     */
    function test_SameSecondProposals_EachSeeItsOwnSnapshot() public {
        address g2 = _createGroup(2, 10_000);
        uint256 p1 = _propose(g2, A, B);
        vm.prank(C);
        _g(g2).join();
        _delegate(g2, A, C);
        uint256 p2 = _propose(g2, B, A);
        vm.prank(D);
        _g(g2).join();
        _eq(_x(g2).proposal(p1).influence, 2, "influence of P1");
        _eq(_x(g2).proposal(p2).influence, 3, "influence of P2");
        vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotActive.selector, C));
        vm.prank(C);
        _g(g2).castVote(p1, FOR);
        // On P2, C carries A's point (delegated before P2); on P1, A's point is A's alone.
        _vote(g2, p2, C, FOR);
        _tallyIs(g2, p2, 2, 0, 0);
        _vote(g2, p1, B, FOR);
        _tallyIs(g2, p1, 1, 0, 0);
        vm.expectRevert(abi.encodeWithSelector(IGroupEvents.GroupNotActive.selector, D));
        vm.prank(D);
        _g(g2).castVote(p2, FOR);
    }

    /// Many delegators: three ride inline with the delegate, the rest in its tree; lapses at one second.
    function test_ManyDelegatorsLapsingTogether() public {
        address g2 = _createGroup(12, 0);
        for (uint256 i = 1; i < 12; ++i) _delegate(g2, _addr(i), A);
        // Half of them renew; the other half lapse together at T0 + PERIOD.
        for (uint256 i = 0; i < 12; i += 2) _g(g2).renew(_addr(i));
        vm.warp(T0 + PERIOD);
        uint256 id = _propose(g2, A, B);
        _eq(_x(g2).proposal(id).influence, 6, "influence");
        _vote(g2, id, A, FOR);
        // A itself and the five delegators who renewed (2, 4, 6, 8, 10).
        _tallyIs(g2, id, 6, 0, 0);
    }
}
