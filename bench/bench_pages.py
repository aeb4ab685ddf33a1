"""Pages at scale: every incoming queue, list, search and register page over N documents
(1,000,000 by default) on PostgreSQL, first and deep page, as server time.

Builds a fresh database (migrations, the demo directory) and bulk-loads N incoming documents of
the province with COPY, spread over seven years (arrival numbers per year, as registers give
them): almost all handled and done, the last weeks' still open (waiting for registration, for
direction, in progress with the officers). Then it signs in as the clerk, the leader and an
officer and requests each page R times through the real app in this process (httpx's ASGI
transport: routing, access, the queries, the template; no network), and prints p50/p95 beside
the floor measured the same way in the same run: a static file through the same app.

Figures only, never assertions. Targets (issue 16): p95 ≤ 50 ms server time for every page.

    .venv/bin/python bench/bench_pages.py                  # 1,000,000 documents
    .venv/bin/python bench/bench_pages.py -n 100000 -r 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import select

from bench.bench_search import ABBR, ISSUERS, KINDS, SUFFIXES, TOPICS, _psql
from bench.bench_search import build as search_build
from services import textsearch
from services.db import Database

RESULTS = Path(__file__).with_name("RESULTS.md")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
OPEN_DAYS = 30  # documents of the last month are still moving through the queues

COLUMNS = [
    "organization_id",
    "status",
    "source",
    "arrival_series",
    "arrival_year",
    "arrival_number",
    "arrival_date",
    "issuer_name",
    "number_notation",
    "document_date",
    "doc_type",
    "subject",
    "urgency",
    "secrecy",
    "revision",
    "lead_user_id",
    "directed_at",
    "due_date",
    "completed_at",
    "registered_at",
    "created_at",
    "updated_at",
    "search_text",
]


def _documents(n: int, org_id: int, officers: list[int], today: date, seed: int = 11):  # type: ignore[no-untyped-def]
    """N documents, oldest first, spread over seven years up to today; numbers restart each year."""
    rng = random.Random(seed)
    start = today - timedelta(days=7 * 365)
    span = (today - start).days
    numbers: dict[int, int] = {}
    for i in range(n):
        day = start + timedelta(days=i * span // n)
        numbers[day.year] = numbers.get(day.year, 0) + 1
        kind, code = rng.choice(KINDS)
        subject = " ".join(p for p in (kind, rng.choice(TOPICS), rng.choice(SUFFIXES)) if p)
        issuer = rng.randrange(len(ISSUERS))
        notation = f"{rng.randint(1, 400)}/{code}-{ABBR[issuer]}"
        stamp = datetime(day.year, day.month, day.day, 8, tzinfo=UTC)
        age = (today - day).days
        lead, directed, due, completed = None, None, None, None
        if age > OPEN_DAYS or rng.random() < 0.6:
            status = "done"
            lead, directed, due = rng.choice(officers), stamp, day + timedelta(days=10)
            completed = stamp + timedelta(days=rng.randint(1, 12))
        else:
            status = rng.choice(["awaiting_direction", "directed", "in_progress", "in_progress"])
            if status != "awaiting_direction":
                lead, directed, due = rng.choice(officers), stamp, day + timedelta(days=10)
        yield (
            org_id,
            status,
            "manual",
            "chung",
            day.year,
            numbers[day.year],
            day,
            ISSUERS[issuer],
            notation,
            day,
            code[:8],
            subject,
            "normal",
            "normal",
            0,
            lead,
            directed,
            due,
            completed,
            stamp,
            stamp,
            stamp,
            textsearch.index_text(notation, subject, ISSUERS[issuer]),
        )


def _psql_db(name: str, sql: str) -> None:
    import subprocess

    subprocess.run(["psql", PG_ADMIN.rsplit("/", 1)[0] + "/" + name, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True)


async def build(name: str, n: int) -> str:
    from services.calendar import vn_today
    from services.incoming.tally import rebuild

    url = await search_build(name, n, lambda org_id, people: _documents(n, org_id, people, vn_today()), COLUMNS)
    # The statistics' roll-up of the finished documents, as migration 0032 builds it.
    began = time.perf_counter()
    database = Database(url)
    async with database.session() as session:
        for statement in rebuild():
            await session.execute(statement)
    await database.dispose()
    _psql_db(name, "VACUUM ANALYZE")
    print(f"statistics roll-up {time.perf_counter() - began:.1f} s", flush=True)
    return url


async def _signed_in(app, username: str) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    from demo.directory import DEMO_PASSWORD
    from tests.helpers import sign_in

    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 5000)), base_url="http://testserver", headers={"accept": "text/html"}
    )
    answer = await sign_in(client, username, DEMO_PASSWORD)
    assert answer.status_code == 303, answer.text[:300]
    return client


async def _pages(url: str) -> list[tuple[str, str]]:
    """(who, path) of every page to time: first pages, and deep ones found from the data."""
    from services.calendar import vn_today

    database = Database(url)
    async with database.read() as session:
        from sqlalchemy import func

        from services.incoming.models import IncomingDocument

        oldest = await session.scalar(select(func.min(IncomingDocument.id)))
        year = vn_today().year - 3
        last = await session.scalar(select(func.max(IncomingDocument.arrival_number)).where(IncomingDocument.arrival_year == year))
    await database.dispose()
    deep = (oldest or 0) + 40
    return [
        ("mai.tran", "/incoming/to-register"),
        ("lan.nguyen", "/incoming/to-direct"),
        ("thu.le", "/incoming/tasks"),
        ("mai.tran", "/incoming/done"),
        ("mai.tran", "/incoming/search"),
        ("mai.tran", f"/incoming/search?before={deep}"),
        ("mai.tran", "/incoming/search?status=in_progress"),
        ("mai.tran", f"/incoming/search?date_from={year}-03-01&date_to={year}-03-31"),
        ("mai.tran", "/incoming/search?q=ke+hoach"),
        ("mai.tran", "/incoming/search?q=kế+hoạch+chuyển+đổi+số"),
        ("mai.tran", "/incoming/search?q=15%2FQĐ-HLHPN"),
        ("mai.tran", f"/incoming/book?year={year}"),
        ("mai.tran", f"/incoming/book?year={year}&start={max((last or 0) - 60, 1)}"),
        ("mai.tran", f"/incoming/stats?year={year}"),
        ("mai.tran", "/"),
        ("lan.nguyen", "/"),
        ("thu.le", "/"),
    ]


def _ms(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] * 1000 if len(samples) > 1 else samples[0] * 1000


async def measure(url: str, repeats: int) -> list[tuple[str, str, float, float, int]]:
    from services.config import Settings
    from web.app import create_app

    settings = Settings(
        data_dir=Path(f"/tmp/bench-pages-{uuid.uuid4().hex[:8]}"), database_url=url, secret_key="bench", temporal_address=None
    )
    settings.data_dir.mkdir(parents=True)
    database = Database(url)
    app = create_app(settings=settings, database=database)
    clients = {name: await _signed_in(app, name) for name in ("mai.tran", "lan.nguyen", "thu.le")}
    rows: list[tuple[str, str, float, float, int]] = []
    for who, path in [("mai.tran", "/static/app.css"), *await _pages(url)]:
        client = clients[who]
        answer = await client.get(path)  # warm: caches, the plan
        assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:300]}"
        samples = []
        for _ in range(repeats):
            began = time.perf_counter()
            answer = await client.get(path)
            samples.append(time.perf_counter() - began)
        rows.append((who, path, _ms(samples, 50), _ms(samples, 95), len(answer.content)))
        print(f"{who:10} {path:70} p50 {rows[-1][2]:7.1f} ms  p95 {rows[-1][3]:7.1f} ms  {rows[-1][4] // 1024} KB", flush=True)
    for client in clients.values():
        await client.aclose()
    await database.dispose()
    return rows


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--documents", type=int, default=1_000_000)
    parser.add_argument("-r", "--repeats", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument("--database", help="measure this kept database again (migrated to the latest first) instead of building one")
    args = parser.parse_args()
    name = args.database or f"bench_pages_{uuid.uuid4().hex[:8]}"
    if not args.database:
        _psql(f"CREATE DATABASE {name}")
    try:
        if args.database:
            from services.migrate import upgrade_async

            url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
            await upgrade_async(url)
            _psql_db(name, "VACUUM ANALYZE")
        else:
            url = await build(name, args.documents)
        rows = await measure(url, args.repeats)
    finally:
        if not args.keep and not args.database:
            _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        else:
            print(f"kept database {name}")
    floor = rows[0][3]
    lines = [
        f"\n## bench_pages — {datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        f"`python bench/bench_pages.py -n {args.documents} -r {args.repeats}`: PostgreSQL, {args.documents:,} incoming documents; "
        "server time in this process (ASGI, no network). Target: p95 ≤ 50 ms.\n",
        "| user | page | p50 | p95 | p95 / floor | size |",
        "|---|---|---|---|---|---|",
    ]
    for who, path, p50, p95, size in rows:
        lines.append(f"| {who} | `{path}` | {p50:.1f} ms | {p95:.1f} ms | {p95 / floor:.0f}× | {size // 1024} KB |")
    text = "\n".join(lines) + "\n"
    print(text)
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    asyncio.run(main())
