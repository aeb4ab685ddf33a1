"""Issue 11 benchmark: incoming documents routed through the whole system vs bare Temporal.

    PYTHONPATH=. python bench/bench_routing.py [--docs 200] [--concurrency 25] [--postgres]

Starts a Temporal dev server, a fresh database (SQLite by default; `--postgres` makes a fresh
database on 127.0.0.1:5432), `lienthong worker` and `lienthong web` (uvicorn) as subprocesses.
Then, in the same run and on the same Temporal server:

1. bare: `bench.bare_routing.BareRouting`, one workflow per document with the same number of
   activities and updates as an incoming document's route, each activity a small DB write/read,
   worker in this process;
2. system: the documents go register → direct → handle → close over real HTTP (clerk, leader,
   lead officer signed in), and each counts once its `incoming-<id>` workflow has completed.

`/healthz` is polled every 100 ms during both phases. It prints the figures side by side and
appends them to bench/RESULTS.md under `## bench_routing`. A benchmark prints, never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench import drive
from bench.stack import Stack

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass
class Phase:
    name: str
    docs: int = 0
    seconds: float = 0.0
    actions: list[float] = field(default_factory=list)
    health: list[float] = field(default_factory=list)
    health_failures: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.docs / self.seconds if self.seconds else 0.0


class HealthPoller:
    def __init__(self, base_url: str, phase: Phase) -> None:
        self.base_url, self.phase = base_url, phase
        self.stop = asyncio.Event()

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    answer = await client.get("/healthz")
                    ok = answer.status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.phase.health.append(time.perf_counter() - started)
                self.phase.health_failures += 0 if ok else 1
                try:
                    await asyncio.wait_for(self.stop.wait(), timeout=0.1)
                except TimeoutError:
                    pass


async def bare_phase(stack: Stack, docs: int, concurrency: int) -> Phase:
    from temporalio.client import Client
    from temporalio.worker import Worker

    from bench.bare_routing import STEPS, BareActivities, BareRouting, create_tables
    from services.db import Database

    phase = Phase("bare Temporal")
    database = Database(str(stack.database_url))
    await create_tables(database)
    client = await Client.connect(stack.temporal_address)
    acts = BareActivities(database)
    queue = f"bare-{uuid.uuid4().hex[:6]}"
    poller = HealthPoller(stack.base_url, phase)
    poll = asyncio.create_task(poller.run())
    gate = asyncio.Semaphore(concurrency)

    async def one(doc: int) -> None:
        async with gate:
            handle = await client.start_workflow(BareRouting.run, doc, id=f"bare-{queue}-{doc}", task_queue=queue)
            for step in STEPS:
                started = time.perf_counter()
                await handle.execute_update(BareRouting.act, step)
                phase.actions.append(time.perf_counter() - started)
            await handle.result()

    async with Worker(
        client, task_queue=queue, workflows=[BareRouting], activities=[acts.validate, acts.action, acts.snapshot, acts.notify]
    ):
        started = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(1, docs + 1)), return_exceptions=True)
        phase.seconds = time.perf_counter() - started
    poller.stop.set()
    await poll
    phase.errors = [repr(r) for r in results if isinstance(r, BaseException)]
    phase.docs = docs - len(phase.errors)
    await database.dispose()
    return phase


async def system_phase(stack: Stack, docs: int, concurrency: int) -> Phase:
    from temporalio.client import Client

    phase = Phase("Liên Thông (HTTP + worker)")
    directory = await drive.load_directory(str(stack.database_url))
    clerk, leader, lead = (drive.Browser(stack.base_url, n, timings=phase.actions) for n in ("mai.tran", "lan.nguyen", "thu.le"))
    for browser in (clerk, leader, lead):
        await browser.sign_in()
    client = await Client.connect(stack.temporal_address)
    poller = HealthPoller(stack.base_url, phase)
    poll = asyncio.create_task(poller.run())
    gate = asyncio.Semaphore(concurrency)
    run = uuid.uuid4().hex[:6]

    async def one(i: int) -> None:
        async with gate:
            doc = await drive.incoming_register(clerk, directory, f"{run}-{i}")
            await drive.incoming_direct(leader, directory, doc)
            await drive.incoming_handle(lead, doc)
            await drive.incoming_close(lead, doc)
            result = await finished(client, f"{directory.workflow_prefix}incoming-{doc}")
            if result != "done":
                raise RuntimeError(f"incoming-{doc} ended {result!r}")

    started = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(docs)), return_exceptions=True)
    phase.seconds = time.perf_counter() - started
    poller.stop.set()
    await poll
    phase.errors = [repr(r) for r in results if isinstance(r, BaseException)]
    phase.docs = docs - len(phase.errors)
    for browser in (clerk, leader, lead):
        await browser.close()
    return phase


async def finished(client, workflow_id: str, timeout: float = 900) -> str:
    """The workflow's result, once it exists (the web process starts it after its response, or
    the outbox relay does, a little later) and has completed."""
    from temporalio.service import RPCError, RPCStatusCode

    deadline = time.monotonic() + timeout
    while True:
        try:
            return await client.get_workflow_handle(workflow_id).result()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


def _postgres_database() -> tuple[str, str]:
    name = f"bench_routing_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    return name, f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


def _drop_postgres(name: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False
    )


def report(bare: Phase, system: Phase, *, docs: int, concurrency: int, backend: str) -> str:
    ms = 1000.0

    def row(label: str, b: str, s: str, ratio: str, goal: str) -> str:
        return f"| {label} | {b} | {s} | {ratio} | {goal} |"

    b50, b95 = pct(bare.actions, 50) * ms, pct(bare.actions, 95) * ms
    s50, s95 = pct(system.actions, 50) * ms, pct(system.actions, 95) * ms
    tp_ratio = system.throughput / bare.throughput if bare.throughput else float("nan")
    lines = [
        f"### {datetime.now():%Y-%m-%d %H:%M} — {docs} documents, {concurrency} at a time, {backend}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        "| figure | bare Temporal | Liên Thông | ratio | goal |",
        "|---|---|---|---|---|",
        row("throughput (docs/s)", f"{bare.throughput:.2f}", f"{system.throughput:.2f}", f"{tp_ratio:.2f}", "≥ 0.67"),
        row("wall time (s)", f"{bare.seconds:.1f}", f"{system.seconds:.1f}", "", ""),
        row("user action p50 (ms)", f"{b50:.1f}", f"{s50:.1f}", f"{s50 / b50:.2f}×", ""),
        row("user action p95 (ms)", f"{b95:.1f}", f"{s95:.1f}", f"{s95 / b95:.2f}×", "≤ 2×"),
        row("/healthz p95 (ms)", f"{pct(bare.health, 95) * ms:.1f}", f"{pct(system.health, 95) * ms:.1f}", "", "≤ 50 ms (system)"),
        row("/healthz p50 (ms)", f"{pct(bare.health, 50) * ms:.1f}", f"{pct(system.health, 50) * ms:.1f}", "", ""),
        row(
            "/healthz samples (failed)",
            f"{len(bare.health)} ({bare.health_failures})",
            f"{len(system.health)} ({system.health_failures})",
            "",
            "",
        ),
        row("documents failed", str(len(bare.errors)), str(len(system.errors)), "", ""),
        "",
        "Bare: one workflow per document, 4 updates (each an activity writing a row) + 1 start activity + "
        "a snapshot read and a notification write per change, worker in the bench process. "
        "Liên Thông: `lienthong web` (uvicorn) + `lienthong worker` subprocesses; a user action is one POST "
        "(register with a 1-page PDF, direct, progress note, complete); a document counts when `incoming-<id>` completed.",
        "",
    ]
    return "\n".join(lines)


def append_results(text: str) -> None:
    heading = "## bench_routing"
    existing = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if heading not in existing:
        existing = existing.rstrip("\n") + f"\n\n{heading}\n\n`python bench/bench_routing.py` (issue 11). Newest last.\n\n"
        RESULTS.write_text(existing + text, encoding="utf-8")
        return
    # Insert at the end of our own section (before the next `## ` heading of someone else's).
    start = existing.index(heading)
    nxt = existing.find("\n## ", start + len(heading))
    if nxt == -1:
        RESULTS.write_text(existing.rstrip("\n") + "\n\n" + text, encoding="utf-8")
    else:
        RESULTS.write_text(existing[:nxt].rstrip("\n") + "\n\n" + text + existing[nxt:], encoding="utf-8")


def main() -> int:
    p = argparse.ArgumentParser(description="incoming routing over HTTP vs bare Temporal (issue 11)")
    p.add_argument("--docs", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=25)
    p.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database instead of SQLite")
    p.add_argument("--no-append", action="store_true", help="print only; do not append to bench/RESULTS.md")
    args = p.parse_args()
    pg_name = None
    database_url = None
    if args.postgres:
        pg_name, database_url = _postgres_database()
    root = Path(tempfile.mkdtemp(prefix="lienthong-bench-routing-"))
    stack = Stack(
        root, database_url=database_url, task_queue="bench-routing", extra_env={"LIENTHONG_LOGIN_FREE_FAILURES_PER_ADDRESS": "1000"}
    )
    try:
        stack.start_temporal()
        stack.prepare()
        stack.start_worker()
        stack.start_web()
        print(f"stack up in {root}; bare phase…", flush=True)
        bare = asyncio.run(bare_phase(stack, args.docs, args.concurrency))
        print(f"bare: {bare.docs} docs in {bare.seconds:.1f} s; system phase…", flush=True)
        system = asyncio.run(system_phase(stack, args.docs, args.concurrency))
        print(f"system: {system.docs} docs in {system.seconds:.1f} s", flush=True)
    finally:
        stack.close()
        if pg_name:
            _drop_postgres(pg_name)
    text = report(bare, system, docs=args.docs, concurrency=args.concurrency, backend="PostgreSQL" if args.postgres else "SQLite")
    print(text)
    for phase in (bare, system):
        for error in phase.errors[:5]:
            print(f"{phase.name} error: {error}")
    if not args.no_append:
        append_results(text)
        print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
