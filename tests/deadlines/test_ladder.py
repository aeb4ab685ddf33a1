"""The deadline ladder: where each rung falls and which one comes next."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.calendar import vn_instant
from services.deadlines.ladder import (
    Tracked,
    due_instant,
    hour_ladder,
    minute_ladder,
    next_for,
    pending,
    working_day_ladder,
)

LADDER = working_day_ladder(reminder_before=2, escalate_after=1)


def _snap(due: date | datetime, sent: set[str], holidays: set[date] = set(), ladder=LADDER) -> Tracked:  # type: ignore[no-untyped-def]
    return Tracked(
        kind="task",
        object_id=1,
        status="waiting",
        revision=1,
        closed=False,
        due_at=due_instant(due),
        rungs=pending(ladder, due, sent, holidays),
    )


def test_rungs_count_working_days_across_a_weekend_and_a_holiday() -> None:
    # Due Monday 4 May 2026, after a weekend and two holidays (Thursday 30 April, Friday 1 May): two
    # working days before is Tuesday 28 April; overdue the next morning; escalation one working day later.
    holidays = {date(2026, 4, 30), date(2026, 5, 1)}
    placed = {rung.step: at for rung, at in LADDER.instants(date(2026, 5, 4), holidays)}
    assert placed["reminder"] == vn_instant(date(2026, 4, 28), 8)
    assert placed["overdue"] == vn_instant(date(2026, 5, 5), 8)
    assert placed["escalation"] == vn_instant(date(2026, 5, 6), 8)
    # Without the holidays the reminder falls on Thursday.
    assert {r.step: a for r, a in LADDER.instants(date(2026, 5, 4))}["reminder"] == vn_instant(date(2026, 4, 30), 8)


def test_next_rung_follows_the_ladder_and_ends_after_escalation() -> None:
    due = date(2026, 6, 10)  # a Wednesday
    now = vn_instant(date(2026, 6, 1), 9)
    assert next_for(_snap(due, set()), now).step == "reminder"
    assert next_for(_snap(due, {"reminder"}), now).step == "overdue"
    assert next_for(_snap(due, {"reminder", "overdue"}), now).step == "escalation"
    assert next_for(_snap(due, {"reminder", "overdue", "escalation"}), now) is None
    # A later rung settles the earlier ones: no reminder after the overdue notice.
    assert next_for(_snap(due, {"overdue"}), now).step == "escalation"


def test_a_moved_due_date_arms_every_rung_again() -> None:
    old, new = date(2026, 6, 10), date(2026, 6, 24)
    assert due_instant(old) != due_instant(new)
    # The notices sent are keyed by the old due instant; for the new one nothing was sent.
    sent_for = {due_instant(old): {"reminder", "overdue"}}
    snap = _snap(new, sent_for.get(due_instant(new), set()))
    rung = next_for(snap, vn_instant(date(2026, 6, 12), 9))
    assert rung is not None and rung.step == "reminder" and rung.at == vn_instant(date(2026, 6, 22), 8)


def test_an_hour_ladder_skips_a_late_reminder() -> None:
    ladder = hour_ladder(reminder_before=48, escalate_after=24)
    deadline = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    snap = _snap(deadline, set(), ladder=ladder)
    early = next_for(snap, deadline - timedelta(days=3))
    assert early.step == "reminder" and early.at == deadline - timedelta(hours=48)
    late = next_for(snap, deadline + timedelta(minutes=1))
    assert late.step == "overdue" and late.at == deadline
    assert next_for(_snap(deadline, {"overdue"}, ladder=ladder), deadline).at == deadline + timedelta(hours=24)


def test_a_closed_object_or_one_without_due_date_has_no_rung() -> None:
    assert next_for(Tracked(kind="task", object_id=1, status="done", revision=3, closed=True), datetime.now(UTC)) is None
    assert next_for(Tracked(kind="incoming", object_id=1, status="awaiting_direction", revision=1, closed=False), datetime.now(UTC)) is None


def test_a_due_date_is_keyed_by_the_end_of_that_day_in_vietnam() -> None:
    assert due_instant(date(2026, 6, 10)) == datetime(2026, 6, 10, 17, 0, tzinfo=UTC)


def test_meeting_reminders_count_minutes_and_skip_one_that_can_no_longer_go_out_in_time() -> None:
    start = datetime(2027, 3, 8, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
    ladder = minute_ladder([60, 24 * 60, 60])  # any order, repeats ignored: earliest first
    assert ladder.steps == ("reminder-1440", "reminder-60")
    assert [at for _, at in ladder.instants(start)] == [start - timedelta(days=1), start - timedelta(hours=1)]
    snap = _snap(start, set(), ladder=ladder)
    # Scheduled two days ahead: the day-before reminder is next, at its instant.
    assert next_for(snap, start - timedelta(days=2)).step == "reminder-1440"  # type: ignore[union-attr]
    # Woken a little late (a signal beside the timer): still sent.
    assert next_for(snap, start - timedelta(hours=20)).step == "reminder-1440"  # type: ignore[union-attr]
    # Scheduled (or moved) three hours ahead: "1 day left" would be wrong; the hour-before one is next.
    assert next_for(snap, start - timedelta(hours=3)).step == "reminder-60"  # type: ignore[union-attr]
    assert next_for(snap, start - timedelta(minutes=20)) is None
    # Once the day-before one went out, only the hour-before one is left.
    assert [r.step for r in _snap(start, {"reminder-1440"}, ladder=ladder).rungs] == ["reminder-60"]
