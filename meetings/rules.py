"""Vote rules (the pure part): the base a rule counts against and the votes that carry it.

Majority means strictly more than half; two thirds means at least two thirds. Only votes in
favour count towards passing; abstentions and members who did not vote stay in the base.
"""

from __future__ import annotations

from meetings.models import Threshold


def base_of(threshold: Threshold, *, present: int, members: int) -> int:
    """The number the rule counts against: voting members present, or all voting members."""
    return present if threshold in (Threshold.majority_present, Threshold.two_thirds_present) else members


def needed(threshold: Threshold, base: int) -> int:
    """The fewest votes in favour that carry the poll: more than half, or at least two thirds."""
    if base <= 0:
        return 1
    if threshold in (Threshold.majority_present, Threshold.majority_members):
        return base // 2 + 1
    return -(-base * 2 // 3)


def decide(threshold: Threshold, votes: int, *, present: int, members: int) -> bool:
    """Does `votes` (in favour) carry the poll under `threshold`? Abstentions count in the base."""
    base = base_of(threshold, present=present, members=members)
    return base > 0 and votes >= needed(threshold, base)
