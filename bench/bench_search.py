"""Document search at scale: `incoming.search` with words over N incoming documents (1,000,000 by
default) on PostgreSQL, beside baselines measured in the same run.

Builds a fresh database (migrations, the demo directory), bulk-inserts N documents with COPY
(subjects, notations and issuers drawn from realistic Vietnamese phrases, `search_text` made by
`services.textsearch.index_text` as the models make it), VACUUM ANALYZE, then times, for each
typical query, R calls of the real service function (`services.incoming.service.search`, in a
read-only `Database.read()` session, as the /incoming/search page calls it, 31 rows) as server
time: from the call to the rows in Python. Baselines, same process, same data:

- pk: the same page's documents fetched by primary key (`id IN (...)`, 31 rows): the floor of any
  query returning these rows;
- old: the previous implementation (case/accent-folded LIKE '%phrase%' on subject or notation,
  newest first): whole-phrase only, so it misses what the word search finds, and is timed on
  fewer calls because it reads the table.

Figures only, never assertions.

    .venv/bin/python bench/bench_search.py                  # 1,000,000 documents
    .venv/bin/python bench/bench_search.py -n 100000 -r 20
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import or_, select

from services import textsearch
from services.db import Database

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"

KINDS = [
    ("Kế hoạch", "KH"),
    ("Báo cáo", "BC"),
    ("Công văn về việc", "CV"),
    ("Thông báo", "TB"),
    ("Quyết định", "QĐ"),
    ("Hướng dẫn", "HD"),
    ("Tờ trình", "TTr"),
    ("Chương trình", "CTr"),
]
TOPICS = [
    "chuyển đổi số",
    "tổ chức Đại hội Phụ nữ các cấp",
    "sơ kết 6 tháng đầu năm",
    "tổng kết công tác Hội",
    "phòng chống bạo lực gia đình",
    "tổ chức Hội thi nấu ăn ngon",
    "tuyên truyền pháp luật cho hội viên",
    "hỗ trợ phụ nữ khởi nghiệp",
    "xây dựng gia đình 5 không 3 sạch",
    "chăm sóc sức khỏe sinh sản",
    "phòng chống mua bán người",
    "kiểm tra giám sát",
    "thi đua khen thưởng",
    "công tác cán bộ",
    "bình đẳng giới",
    "giảm nghèo bền vững",
    "phòng chống dịch bệnh",
    "an toàn giao thông",
    "cải cách hành chính",
    "ứng dụng công nghệ thông tin",
    "bồi dưỡng nghiệp vụ",
    "tiếp công dân",
    "quản lý tài chính",
    "xây dựng nông thôn mới",
    "phát triển hội viên",
    "chăm sóc trẻ em",
]
SUFFIXES = ["", "", "năm 2025", "năm 2026", "giai đoạn 2025-2030", "của Hội LHPN tỉnh", "trên địa bàn tỉnh", "quý III"]
ISSUERS = [
    "UBND tỉnh Bến Tre",
    "Sở Y tế tỉnh Bến Tre",
    "Sở Thông tin và Truyền thông",
    "Tỉnh ủy Bến Tre",
    "Trung ương Hội LHPN Việt Nam",
    "Sở Giáo dục và Đào tạo",
    "Công an tỉnh",
    "Sở Tư pháp",
    "Ban Tuyên giáo Tỉnh ủy",
    "Sở Lao động - Thương binh và Xã hội",
    "Hội LHPN huyện Châu Thành",
    "Hội LHPN thành phố Bến Tre",
    "Đảng ủy Khối cơ quan",
    "Ủy ban MTTQ Việt Nam tỉnh",
]
ABBR = ["UBND", "SYT", "STTTT", "TU", "ĐCT", "SGDĐT", "CAT", "STP", "BTGTU", "SLĐTBXH", "HLHPN", "HLHPN", "ĐUK", "MTTQ"]

QUERIES = [  # what people type: Vietnamese with or without accents, notations, issuers
    "kế hoạch chuyển đổi số",
    "ke hoach",
    "báo cáo sơ kết 6 tháng",
    "dai hoi phu nu",
    "15/QĐ-HLHPN",
    "sở y tế sức khỏe sinh sản",
    "tuyên truyền phòng chống bạo lực gia đình",
    "hoi thi nau an ngon 2026",
    "Hội LHPN huyện Châu Thành",
    "bình đẳng giới quý III",
    "kế hoạch chuyển đổi số năm 2027 hải đảo",
]


def _documents(n: int, org_id: int, seed: int = 7):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    start = date(2019, 1, 1)
    stamp = datetime(2025, 1, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        kind, code = rng.choice(KINDS)
        subject = " ".join(p for p in (kind, rng.choice(TOPICS), rng.choice(SUFFIXES)) if p)
        issuer = rng.randrange(len(ISSUERS))
        day = start + timedelta(days=i * 2500 // n)
        notation = f"{rng.randint(1, 400)}/{code}-{ABBR[issuer]}"
        yield (
            org_id,
            "done",
            "manual",
            "chung",
            day.year,
            day,
            ISSUERS[issuer],
            notation,
            day,
            code[:8],
            subject,
            "normal",
            "normal",
            0,
            stamp,
            stamp,
            textsearch.index_text(notation, subject, ISSUERS[issuer]),
        )


COLUMNS = [
    "organization_id",
    "status",
    "source",
    "arrival_series",
    "arrival_year",
    "arrival_date",
    "issuer_name",
    "number_notation",
    "document_date",
    "doc_type",
    "subject",
    "urgency",
    "secrecy",
    "revision",
    "created_at",
    "updated_at",
    "search_text",
]


def _psql(sql: str) -> None:
    subprocess.run(["psql", PG_ADMIN, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True)


async def build(
    name: str, n: int, documents: Callable[[int, list[int]], Iterable[tuple]] | None = None, columns: list[str] = COLUMNS
) -> str:  # type: ignore[type-arg]
    """A fresh database `name` (migrated, the demo directory) with N documents of the province
    loaded by COPY: `documents(org_id, its user ids)` gives the rows (default: this benchmark's),
    in `columns`; the word index is built after the load."""
    import asyncpg

    from demo.directory import PROVINCE_CODE, seed_demo
    from services.directory.models import Organization, User
    from services.migrate import upgrade_async

    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    await upgrade_async(url)
    database = Database(url)
    async with database.session() as session:
        await seed_demo(session)
    async with database.read() as session:
        org_id = await session.scalar(select(Organization.id).where(Organization.code == PROVINCE_CODE))
        people = list((await session.scalars(select(User.id).where(User.organization_id == org_id))).all())
    await database.dispose()
    rows = documents(org_id, people) if documents else _documents(n, org_id)
    pg = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    # Bulk load first, the word indexes after (the words, and the adjacent word pairs of migration 0030).
    indexes = [
        await pg.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = $1", name)
        for name in ("ix_incoming_documents_search", "ix_incoming_documents_search_pairs")
    ]
    await pg.execute("DROP INDEX ix_incoming_documents_search, ix_incoming_documents_search_pairs")
    began = time.perf_counter()
    batch: list[tuple] = []  # type: ignore[type-arg]
    for row in rows:
        batch.append(row)
        if len(batch) == 50_000:
            await pg.copy_records_to_table("incoming_documents", records=batch, columns=columns)
            batch = []
    if batch:
        await pg.copy_records_to_table("incoming_documents", records=batch, columns=columns)
    copied = time.perf_counter() - began
    for index in indexes:
        await pg.execute(index)
    indexed = time.perf_counter() - began - copied
    await pg.execute("VACUUM ANALYZE")
    print(
        f"built {n:,} documents: COPY {copied:.1f} s, GIN indexes {indexed:.1f} s, "
        f"VACUUM ANALYZE {time.perf_counter() - began - copied - indexed:.1f} s",
        flush=True,
    )
    await pg.close()
    return url


def _ms(samples: list[float]) -> str:
    if not samples:
        return f"{'not run':>25}"
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    return f"p50 {statistics.median(ordered) * 1000:7.1f}  p95 {p95 * 1000:7.1f}"


async def measure(url: str, repeats: int, old_repeats: int) -> None:
    from services.authz import load_principal
    from services.directory.models import User
    from services.incoming import service as incoming
    from services.incoming.models import IncomingDocument

    database = Database(url)
    async with database.session() as session:  # as the tests load one (read() expires it on leaving)
        user = await session.scalar(select(User).where(User.username == "mai.tran"))
        clerk = await load_principal(session, user)
    all_search: list[float] = []
    print(f"{'query':48} {'found':>5}  {'word search (ms)':>24}   {'pk lookup of the page (ms)':>26}   old LIKE (ms)", flush=True)
    for q in QUERIES:
        times, pk_times, old_times, found = [], [], [], 0
        for _ in range(repeats):
            async with database.read() as session:
                began = time.perf_counter()
                docs = await incoming.search(session, principal=clerk, filters=incoming.SearchFilters(text=q), limit=31)
                times.append(time.perf_counter() - began)
                ids = [d.id for d in docs] or [0]
                began = time.perf_counter()
                (await session.scalars(select(IncomingDocument).where(IncomingDocument.id.in_(ids)))).all()
                pk_times.append(time.perf_counter() - began)
                found = len(docs)
        for _ in range(old_repeats):
            async with database.read() as session:
                began = time.perf_counter()
                (
                    await session.scalars(
                        select(IncomingDocument)
                        .where(
                            IncomingDocument.organization_id == clerk.me.organization_id,
                            or_(textsearch.contains(IncomingDocument.subject, q), textsearch.contains(IncomingDocument.number_notation, q)),
                        )
                        .order_by(IncomingDocument.id.desc())
                        .limit(31)
                    )
                ).all()
                old_times.append(time.perf_counter() - began)
        all_search += times
        print(f"{q:48} {found:5}  {_ms(times)}   {_ms(pk_times)}   {_ms(old_times)}", flush=True)
    print(f"{'all queries':48} {'':5}  {_ms(all_search)}", flush=True)
    await database.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=1_000_000, help="documents")
    parser.add_argument("-r", type=int, default=40, help="calls per query")
    parser.add_argument(
        "--old", type=int, default=1, help="calls per query of the old LIKE search (0: none; a rare word takes a minute a call at 1M)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--database", help="measure an existing database built by --keep (name)")
    args = parser.parse_args()
    if args.database:
        await measure(PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + args.database, args.r, args.old)
        return
    name = f"lt_bench_search_{uuid.uuid4().hex[:8]}"
    _psql(f"CREATE DATABASE {name}")
    try:
        url = await build(name, args.n)
        await measure(url, args.r, args.old)
    finally:
        if not args.keep:
            _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


if __name__ == "__main__":
    asyncio.run(main())
