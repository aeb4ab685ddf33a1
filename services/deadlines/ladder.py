"""The deadline ladder: pure arithmetic, no database (workflows import it).

A ladder is a sequence of rungs placed around an object's due instant: a reminder before it,
an overdue notice at or after it, an escalation later. A due *date* (incoming documents, tasks,
minutes signatures) counts in working days and fires at 08:00 Vietnam time; a due *instant*
(report targets, outgoing reviews) counts in hours, or in minutes for a meeting's start. A notice
is keyed by the due instant, so moving the due date arms every rung again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel

from services.calendar import VN_TZ, add_working_days, vn_instant

STEPS = ("reminder", "overdue", "escalation")
NOTICE_HOUR = 8  # Vietnam wall-clock hour at which a day rung fires


@dataclass(frozen=True)
class Rung:
    step: str
    offset: int | None = None  # working days (a due date) or hours (a due instant); None: the anchor itself
    after_due: bool = False  # a due date: count from the day after it (overdue, escalation)
    skip_once_due: bool = False  # not worth sending once the due instant has passed (a late reminder)
    minutes: bool = False  # a due instant's offset counts in minutes, not hours (meeting reminders)
    skip_when_late: bool = False  # not worth sending once less than half its lead time is left


@dataclass(frozen=True)
class Ladder:
    rungs: tuple[Rung, ...]

    @property
    def steps(self) -> tuple[str, ...]:
        return tuple(r.step for r in self.rungs)

    def instants(self, due: date | datetime, holidays: set[date] | frozenset[date] = frozenset()) -> list[tuple[Rung, datetime]]:
        """Every rung with the instant it fires for `due`, in ladder order."""
        return [(rung, rung_instant(rung, due, set(holidays))) for rung in self.rungs]


def working_day_ladder(*, reminder_before: int, escalate_after: int) -> Ladder:
    """Reminder `reminder_before` working days before the due date, overdue notice the day after
    it, escalation `escalate_after` working days after that (incoming documents, tasks)."""
    return Ladder(
        (Rung("reminder", -reminder_before), Rung("overdue", None, after_due=True), Rung("escalation", escalate_after, after_due=True))
    )


def hour_ladder(*, reminder_before: int, escalate_after: int) -> Ladder:
    """Reminder hours before the due instant (skipped once it passed), overdue notice at it,
    escalation hours after it (report targets)."""
    return Ladder((Rung("reminder", -reminder_before, skip_once_due=True), Rung("overdue", 0), Rung("escalation", escalate_after)))


def minute_ladder(before: Iterable[int]) -> Ladder:
    """Reminders `before` minutes ahead of an instant (a meeting's start), earliest first, each
    named by its lead ("reminder-1440"). One that can no longer go out in time (the meeting was
    scheduled or moved inside its window) is skipped: "còn 1 ngày" three hours before says
    nothing the invitation did not."""
    leads = sorted({int(m) for m in before if int(m) > 0}, reverse=True)
    return Ladder(tuple(Rung(f"reminder-{m}", -m, minutes=True, skip_when_late=True) for m in leads))


def due_instant(due: date | datetime) -> datetime:
    """The instant a due date or deadline passes: the end of a due day in Vietnam, or the deadline."""
    if isinstance(due, datetime):
        return due.astimezone(UTC)
    return datetime.combine(due + timedelta(days=1), time(0), tzinfo=VN_TZ).astimezone(UTC)


def rung_instant(rung: Rung, due: date | datetime, holidays: set[date]) -> datetime:
    if isinstance(due, datetime):
        unit = timedelta(minutes=1) if rung.minutes else timedelta(hours=1)
        return due.astimezone(UTC) + unit * (rung.offset or 0)
    anchor = due + timedelta(days=1) if rung.after_due else due
    day = anchor if rung.offset is None else add_working_days(anchor, rung.offset, holidays)
    return vn_instant(day, NOTICE_HOUR)


class RungAt(BaseModel):
    """A rung still to be sent for the current due instant."""

    step: str
    at: datetime
    skip_once_due: bool = False
    skip_when_late: bool = False


class Tracked(BaseModel):
    """What the tracked-object workflow reads: the object's state and the rungs still ahead."""

    kind: str
    object_id: int
    status: str
    revision: int
    closed: bool
    due_at: datetime | None = None  # the due instant notices are keyed by; None: no deadline now
    rungs: list[RungAt] = []  # rungs not sent yet for due_at, in ladder order


def pending(ladder: Ladder, due: date | datetime, sent: Iterable[str], holidays: set[date]) -> list[RungAt]:
    """The rungs after the last one sent for this due instant (sending a later rung settles the
    earlier ones: an overdue notice makes a reminder pointless)."""
    sent = set(sent)
    placed = ladder.instants(due, holidays)
    last = max((i for i, (rung, _) in enumerate(placed) if rung.step in sent), default=-1)
    return [
        RungAt(step=rung.step, at=at, skip_once_due=rung.skip_once_due, skip_when_late=rung.skip_when_late)
        for rung, at in placed[last + 1 :]
    ]


def next_rung(rungs: Sequence[RungAt], due_at: datetime | None, now: datetime) -> RungAt | None:
    """The next rung to wait for (it may already be due), or None when nothing is left."""
    for rung in rungs:
        if rung.skip_once_due and due_at is not None and now >= due_at:
            continue
        if rung.skip_when_late and due_at is not None and due_at - now < (due_at - rung.at) / 2:
            continue
        return rung
    return None


def next_for(snapshot: Tracked, now: datetime) -> RungAt | None:
    """The next pending rung of a snapshot at `now`."""
    if snapshot.closed or snapshot.due_at is None:
        return None
    return next_rung(snapshot.rungs, snapshot.due_at, now)
