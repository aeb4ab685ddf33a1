"""The dashboard (Thống kê): the digital-transformation goals of an organisation and its subtree
over a period — charts (server-rendered SVG), their numbers beneath, CSV export of each."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dashboard import queries
from dashboard.charts import Series, bar_chart, column_chart
from services.authz import Principal
from services.calendar import vn_today
from services.directory.models import Organization
from services.errors import InvalidInput, NotFound
from services.i18n import _l
from services.incoming.handling import Tally
from web.deps import SessionDep, SignedIn
from web.i18n import current_locale
from web.i18n import gettext as _
from web.templating import render

router = APIRouter(tags=["dashboard"])
CHARTS = ("documents", "electronic", "handling", "handling_time", "meetings", "reports")


@dataclass
class Chart:
    key: str
    title: str
    svg: Markup
    header: list[str]
    rows: list[list[Any]]  # a table's cells: labels, counts and percentages
    empty: bool
    empty_hint: str
    note: str = ""
    percent_columns: frozenset[int] = frozenset()  # columns holding percentages 0…100 (the rest: counts, days)


def _month_label(month: str) -> str:
    year, mon = month.split("-")
    return f"{int(mon):02d}/{year}"


def _period(start: str | None, end: str | None) -> queries.Period:
    today = vn_today()
    try:
        first = dt.date.fromisoformat(start) if start else dt.date(today.year, 1, 1)
        last = dt.date.fromisoformat(end) if end else today
    except ValueError:
        raise InvalidInput(_l("Invalid date. Choose the period again.")) from None
    if last < first:
        raise InvalidInput(_l("The end date must follow the start date."))
    if (last - first).days > 3 * 366:
        raise InvalidInput(_l("Choose at most three years."))
    return queries.Period(first, last)


async def _scope(session: AsyncSession, principal: Principal, org: int | None) -> tuple[Organization, list[Organization], set[int]]:
    visible = principal.visible_orgs()
    orgs = (
        list((await session.scalars(select(Organization).where(Organization.id.in_(visible)).order_by(Organization.id))).all())
        if visible
        else []
    )
    if not orgs:
        raise NotFound(_l("no organisation"))
    chosen = next((o for o in orgs if o.id == org), None) if org else None
    if org and chosen is None:
        raise NotFound(_l("Organisation not found or not visible to you."))
    chosen = chosen or next((o for o in orgs if o.id == principal.me.organization_id), orgs[0])
    return chosen, orgs, principal.tree.subtree(chosen.id)


async def build(session: AsyncSession, *, org_ids: set[int], period: queries.Period) -> list[Chart]:
    """Every chart with its table, in the order of the page (numbers raw: the page formats them
    for its language, the CSV keeps them as data)."""
    charts: list[Chart] = []
    locale = current_locale.get()
    months = period.months()
    labels = [_month_label(m) for m in months]

    docs = await queries.documents_per_month(session, org_ids=org_ids, period=period)
    charts.append(
        Chart(
            "documents",
            _("Documents in and out per month"),
            Markup(
                column_chart(
                    title=_("Documents in and out per month"),
                    categories=labels,
                    y_label=_("documents"),
                    locale=locale,
                    series=[
                        Series(_("Incoming"), [r.incoming for r in docs], "blue"),
                        Series(_("Outgoing"), [r.outgoing for r in docs], "teal"),
                    ],
                )
            ),
            [_("Month"), _("Incoming"), _("Outgoing")],
            [[_month_label(r.month), r.incoming, r.outgoing] for r in docs]
            + [[_("Total"), sum(r.incoming for r in docs), sum(r.outgoing for r in docs)]],
            not any(r.incoming or r.outgoing for r in docs),
            _(
                "No document was registered or issued in this period. Documents appear here once clerks register incoming documents and issue outgoing ones."
            ),
        )
    )

    shares = await queries.electronic_share(session, org_ids=org_ids, period=period)
    names = {"incoming": _("Incoming"), "outgoing": _("Outgoing")}
    charts.append(
        Chart(
            "electronic",
            _("Share of documents that are electronic and digitally signed"),
            Markup(
                bar_chart(
                    title=_("Share of documents that are electronic and digitally signed"),
                    percent=True,
                    goal=100,
                    goal_label=_("Goal: near 100%"),
                    label_width=200,
                    locale=locale,
                    labels=[f"{names[s.kind]} — {_('electronic')}" for s in shares]
                    + [f"{names[s.kind]} — {_('digitally signed')}" for s in shares],
                    series=[Series(_("Share"), [s.electronic_pct for s in shares] + [s.signed_pct for s in shares], "green")],
                )
            ),
            [_("Documents"), _("Total"), _("Electronic"), _("% electronic"), _("Digitally signed"), _("% signed")],
            [[names[s.kind], s.total, s.electronic, s.electronic_pct, s.signed, s.signed_pct] for s in shares],
            not any(s.total for s in shares),
            _("No document in this period yet, so there is no share to show."),
            _(
                "Incoming: received through the system or carrying a valid digital signature. Outgoing: issued as a PDF signed by the leader and sealed."
            ),
            frozenset({3, 5}),
        )
    )

    units = await queries.incoming_handling_by_unit(session, org_ids=org_ids, period=period)
    unit_labels = [f"{u.label} — {u.organization}" if len(org_ids) > 1 else u.label for u in units]
    charts.append(
        Chart(
            "handling",
            _("On-time handling of incoming documents per unit"),
            Markup(
                bar_chart(
                    title=_("On-time handling of incoming documents per unit"),
                    labels=unit_labels,
                    locale=locale,
                    series=[
                        Series(_("On time"), [u.on_time for u in units], "green"),
                        Series(_("Late"), [u.late for u in units], "amber"),
                        Series(_("Open and overdue"), [u.overdue_open for u in units], "red"),
                        Series(_("Open, on time"), [u.open for u in units], "grey"),
                    ],
                )
            ),
            [
                _("Unit"),
                _("Organisation"),
                _("On time"),
                _("Late"),
                _("Open and overdue"),
                _("Open, on time"),
                _("On-time rate %"),
                _("Average days"),
            ],
            [
                [
                    u.label,
                    u.organization,
                    u.on_time,
                    u.late,
                    u.overdue_open,
                    u.open,
                    round(100 * u.rate, 1) if u.rate is not None else "",
                    round(u.avg_days, 1) if u.avg_days is not None else "",
                ]
                for u in units
            ],
            not units,
            _("No incoming document that arrived in this period has gone to handling yet."),
            _(
                "Documents that arrived in the period and were directed. On time: done by the due date, or without one; overdue: still open past it. The rate is on time out of on time, late and overdue, as on the incoming statistics page."
            ),
            frozenset({6}),
        )
    )

    times = await queries.handling_time_per_month(session, org_ids=org_ids, period=period)
    charts.append(
        Chart(
            "handling_time",
            _("Average handling time of incoming documents (days)"),
            Markup(
                column_chart(
                    title=_("Average handling time of incoming documents (days)"),
                    categories=labels,
                    y_label=_("days"),
                    integer=False,
                    locale=locale,
                    series=[Series(_("Average days"), [t.avg_days or 0 for t in times], "purple")],
                )
            ),
            [_("Month"), _("Documents done"), _("Average days")],
            [[_month_label(t.month), t.done, t.avg_days if t.avg_days is not None else ""] for t in times],
            not any(t.done for t in times),
            _("No incoming document was completed in this period."),
        )
    )

    meets = await queries.meetings_by_mode(session, org_ids=org_ids, period=period)
    charts.append(
        Chart(
            "meetings",
            _("Meetings online and in person"),
            Markup(
                column_chart(
                    title=_("Meetings online and in person"),
                    categories=labels,
                    stacked=True,
                    y_label=_("meetings"),
                    locale=locale,
                    series=[
                        Series(_("Online"), [m.online for m in meets], "blue"),
                        Series(_("Hybrid"), [m.hybrid for m in meets], "teal"),
                        Series(_("In person"), [m.in_person for m in meets], "grey"),
                    ],
                )
            ),
            [_("Month"), _("Online"), _("Hybrid"), _("In person"), _("Total")],
            [[_month_label(m.month), m.online, m.hybrid, m.in_person, m.total] for m in meets]
            + [
                [
                    _("Total"),
                    sum(m.online for m in meets),
                    sum(m.hybrid for m in meets),
                    sum(m.in_person for m in meets),
                    sum(m.total for m in meets),
                ]
            ],
            not any(m.total for m in meets),
            _("No meeting was scheduled in this period. Meetings appear here once they are scheduled on the Meetings page."),
        )
    )

    punct = await queries.report_punctuality(session, org_ids=org_ids, period=period)
    charts.append(
        Chart(
            "reports",
            _("Punctuality of reports per organisation"),
            Markup(
                bar_chart(
                    title=_("Punctuality of reports per organisation"),
                    labels=[p.organization for p in punct],
                    locale=locale,
                    series=[
                        Series(_("On time"), [p.on_time for p in punct], "green"),
                        Series(_("Late"), [p.late for p in punct], "amber"),
                        Series(_("Missing"), [p.missing for p in punct], "red"),
                        Series(_("Not yet due"), [p.waiting for p in punct], "grey"),
                    ],
                )
            ),
            [_("Organisation"), _("Requests"), _("On time"), _("Late"), _("Missing"), _("Not yet due"), _("On-time rate %")],
            [[p.organization, p.requests, p.on_time, p.late, p.missing, p.waiting, p.rate] for p in punct],
            not punct,
            _("No report request was sent in this period. Create one on the Report requests page."),
            _("The chart shows the 25 organisations with the lowest on-time rate; the table and CSV list all."),
            frozenset({6}),
        )
    )
    return charts


@router.get("/dashboard")
async def dashboard(
    request: Request, principal: SignedIn, session: SessionDep, org: int | None = None, start: str | None = None, end: str | None = None
) -> Response:
    chosen, orgs, ids = await _scope(session, principal, org)
    period = _period(start, end)
    charts = await build(session, org_ids=ids, period=period)
    docs, share, handling = charts[0], charts[1], charts[2]
    kpis = {
        "incoming": docs.rows[-1][1],
        "outgoing": docs.rows[-1][2],
        "electronic": share.rows[1][3] / 100 if share.rows and share.rows[1][1] else None,
        "signed_in": share.rows[0][5] / 100 if share.rows and share.rows[0][1] else None,
        "on_time": _overall_rate(handling.rows),
        "meetings_online": _online_share(charts[4].rows),
    }
    return render(
        request,
        "dashboard/index.html",
        {
            "charts": charts,
            "org": chosen,
            "orgs": orgs,
            "period": period,
            "kpis": kpis,
            "subtree": len(ids),
            "query": f"org={chosen.id}&start={period.start.isoformat()}&end={period.end.isoformat()}",
        },
    )


def _overall_rate(rows: list[list[Any]]) -> float | None:
    """On time out of on time, late and overdue, over every unit (a share 0…1)."""
    total = Tally(
        on_time=sum(int(r[2]) for r in rows),
        late=sum(int(r[3]) for r in rows),
        overdue_open=sum(int(r[4]) for r in rows),
    )
    return total.rate


def _online_share(rows: list[list[Any]]) -> float | None:
    total_row = rows[-1]
    total = int(total_row[4])
    return (int(total_row[1]) + int(total_row[2])) / total if total else None


@router.get("/dashboard/export/{key}.csv")
async def export_csv(
    principal: SignedIn, session: SessionDep, key: str, org: int | None = None, start: str | None = None, end: str | None = None
) -> Response:
    if key not in CHARTS:
        raise NotFound(_l("unknown chart"))
    chosen, _orgs, ids = await _scope(session, principal, org)
    period = _period(start, end)
    chart = next(c for c in await build(session, org_ids=ids, period=period) if c.key == key)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([chart.title, chosen.name, f"{period.start:%d/%m/%Y} - {period.end:%d/%m/%Y}"])
    writer.writerow(chart.header)
    writer.writerows(chart.rows)
    name = f"thong-ke-{key}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(
        ("\ufeff" + buffer.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
