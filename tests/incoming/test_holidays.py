"""Public holidays: Vietnam's statutory days (lunar Tết included) for any year from the `holidays`
package, and an administrator's edits of a year kept exactly as made."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from services import calendar
from services.audit.models import AuditEntry
from tests.helpers import post_form, sign_in


def test_statutory_holidays_cover_years_nobody_typed_in() -> None:
    tet_2028 = {h.day for h in calendar.statutory_holidays(2028)}
    # Tết Mậu Thân: the lunar new year falls on Wednesday 26 January 2028.
    assert {date(2028, 1, 25), date(2028, 1, 26), date(2028, 1, 27)} <= tet_2028
    assert date(2028, 5, 1) in tet_2028 and date(2028, 9, 1) in tet_2028
    assert all(day.weekday() < 5 for day in tet_2028)


async def test_due_dates_skip_tet_of_a_default_year_and_follow_the_admins_edits(demo_db_sqlite, client_for) -> None:
    db = demo_db_sqlite
    async with db.read() as session:
        # Friday 21 January 2028 + 3 working days: Monday 24 (29 Tết) to Friday 28 are holidays.
        assert await calendar.add_working_days_db(session, date(2028, 1, 21), 3) == date(2028, 2, 2)
        assert not await calendar.is_kept(session, 2028)

    admin = await client_for(db)
    await sign_in(admin, "quantri")
    page = await admin.get("/admin/holidays?year=2028")
    assert page.status_code == 200 and "Tết Nguyên Đán" in page.text and "theo luật" in page.text
    removed = await post_form(admin, "/admin/holidays/remove", {"day": "2028-01-24"}, page="/admin/holidays?year=2028")
    assert removed.status_code == 303

    async with db.read() as session:
        assert await calendar.is_kept(session, 2028)
        days = await calendar.holidays_between(session, date(2028, 1, 1), date(2028, 12, 31))
        assert date(2028, 1, 24) not in days and date(2028, 1, 26) in days and date(2028, 5, 1) in days
        # The removed day counts again: Monday 24 is the first working day after Friday 21.
        assert await calendar.add_working_days_db(session, date(2028, 1, 21), 1) == date(2028, 1, 24)
        actions = dict(
            (
                await session.execute(
                    select(AuditEntry.action, func.count())
                    .where(AuditEntry.action.in_(["holiday.keep_year", "holiday.remove"]))
                    .group_by(AuditEntry.action)
                )
            ).all()
        )
    assert actions == {"holiday.keep_year": 1, "holiday.remove": 1}

    again = await post_form(admin, "/admin/holidays/remove", {"day": "2028-01-24"}, page="/admin/holidays?year=2028")
    assert again.status_code == 404
