"""Fault harness: real processes killed with SIGKILL while real flows run over HTTP.

    PYTHONPATH=. python -m bench.faults --kills 50 [--seed 7] [--incoming 6] [--outgoing 3] [--keep DIR]
    PYTHONPATH=. python -m bench.faults --kills 50 --postgres [--pg-restarts 5]

It starts a Temporal dev server (own port, own SQLite file), migrates and seeds a fresh SQLite
database (with `--postgres`: a PostgreSQL cluster of the run's own, initdb'd in a temporary
directory on a free port), creates the dev PKI and serves its CRL/OCSP/TSA (or, with `--pki-from`, copies a
PKI whose trust services already run, as the tests do), starts `lienthong worker` and
`lienthong web` as subprocesses (each in its own process group), then drives flows over HTTP:
incoming (register, direct, handle, close), outgoing (draft, review, sign with the PIN, issue,
dispatch to in-system recipients), meetings (schedule, open, close) and report requests (fan-out
to the districts, their submissions). Meanwhile a seeded chaos loop SIGKILLs the worker's process
group at random moments and restarts it, and SIGKILLs the Temporal dev server once and restarts
it on the same database file and port; with `--postgres` it also SIGKILLs the postmaster at
seeded moments and starts it again on the same data directory (crash recovery), while the web
process and the worker stay up and must reconnect (live sockets opened right before and right after
each restart must each get their hello at the first attempt). Then it waits (conditions, generous deadlines) for every
flow to end and checks the invariants: every flow final, no effect twice (one incoming copy per
recipient, contiguous register numbers, each notification once), `lienthong audit verify` exit 0,
no process left behind.

The outbox relay inside `lienthong worker` delivers every command to Temporal and is exercised as
it is: nothing here signals a workflow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import drive
from bench.stack import Stack, _marked_pids


@dataclass
class Outcome:
    kills: list[dict[str, Any]] = field(default_factory=list)
    backend: str = "sqlite"
    retried_503: int = 0  # user actions answered 503 (busy / database unreachable) and sent again
    lost_in_flight: int = 0  # actions whose web process died holding them (502/504): looked up, sent again
    flows: dict[str, str] = field(default_factory=dict)  # flow name -> "final" or why not
    failures: list[str] = field(default_factory=list)  # invariants that failed
    held: list[str] = field(default_factory=list)  # invariants that held
    orphans_killed: int = 0
    escaped: list[str] = field(default_factory=list)
    leftover_processes: int = 0
    seconds: float = 0.0
    server_errors: list[str] = field(default_factory=list)  # tracebacks in the web and worker logs

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        worker_kills = sum(1 for k in self.kills if k["what"] == "worker")
        temporal_kills = sum(1 for k in self.kills if k["what"] == "temporal")
        pg_kills = sum(1 for k in self.kills if k["what"] == "postgres")
        lines = [
            f"database: {self.backend}",
            (
                f"kills: {worker_kills} worker (SIGKILL to its process group), {temporal_kills} Temporal dev server,"
                f" {pg_kills} PostgreSQL postmaster; {self.orphans_killed} escaped children killed after the group"
                f" kill; {self.seconds:.0f} s"
            ),
            f"user actions answered 503 and sent again: {self.retried_503}",
            f"user actions lost in flight (502/504), looked up and settled: {self.lost_in_flight}",
            f"escaped children (not in the killed group): {dict(Counter(self.escaped))}",
            "flows:",
        ]
        lines += [f"  {name}: {state}" for name, state in sorted(self.flows.items())]
        lines.append("invariants held:")
        lines += [f"  + {h}" for h in self.held]
        if self.failures:
            lines.append("INVARIANTS FAILED:")
            lines += [f"  - {f}" for f in self.failures]
            if self.server_errors:
                lines.append("last server tracebacks (web and worker logs):")
                lines += self.server_errors
        return "\n".join(lines)


class Chaos:
    """Seeded SIGKILLs of the worker group (once of Temporal, `pg_restarts` times of PostgreSQL's
    postmaster), each followed by a restart."""

    def __init__(
        self,
        stack: Stack,
        *,
        kills: int,
        seed: int,
        gap: tuple[float, float],
        outcome: Outcome,
        kill_temporal: bool = True,
        pg_restarts: int = 0,
        live: drive.Browser | None = None,
    ) -> None:
        self.stack, self.kills, self.outcome, self.live = stack, kills, outcome, live
        self.rng = random.Random(seed)
        self.gap = gap
        self.temporal_at = self.rng.randrange(max(kills, 1)) if kill_temporal else -1
        self.pg_at = set(self.rng.sample(range(kills), min(pg_restarts, kills))) if pg_restarts else set()
        self.started = time.monotonic()
        self.done = asyncio.Event()

    def _log(self, what: str, escaped: int, down: float) -> None:
        self.outcome.kills.append(
            {"what": what, "at_s": round(time.monotonic() - self.started, 1), "down_s": round(down, 2), "escaped_children": escaped}
        )
        print(
            f"[chaos {time.monotonic() - self.started:6.1f}s] SIGKILL {what} (escaped children killed: {escaped}), restart in {down:.1f} s",
            flush=True,
        )

    async def _live_connects(self, when: str) -> None:
        """Live sockets opened at once, as many as the web process's lookup connections, each
        answered with its hello at the first attempt — right after a restart too, when every one of
        those connections (kept, never pinged: web/live.py) is dead."""
        if self.live is None:
            return
        from services.db import LOOKUP_CONNECTIONS

        answers = await self.live.live_hellos(LOOKUP_CONNECTIONS)
        refused = [a for a in answers if '"kind":"hello"' not in a]
        text = f"{LOOKUP_CONNECTIONS} live connects {when} a PostgreSQL restart: each got its hello at the first attempt"
        (self.outcome.failures if refused else self.outcome.held).append(text + (f" — {refused}" if refused else ""))

    async def run(self) -> None:
        try:
            for index in range(self.kills):
                await asyncio.sleep(self.rng.uniform(*self.gap))
                if index in self.pg_at:
                    # The database crashes under a running web process and worker, which must
                    # reconnect once it is back (crash recovery on the same data directory).
                    pg_down = self.rng.uniform(1.0, 4.0)
                    await self._live_connects("before")
                    escaped_pg = await asyncio.to_thread(self.stack.kill, "postgres")
                    self._log("postgres", escaped_pg, pg_down)
                    await asyncio.sleep(pg_down)
                    await asyncio.to_thread(self.stack.start_postgres)
                    await self._live_connects("right after")
                    await asyncio.sleep(self.rng.uniform(*self.gap))
                down = self.rng.uniform(0.0, 2.0)
                escaped = await asyncio.to_thread(self.stack.kill, "worker")
                self._log("worker", escaped, down)
                if index == self.temporal_at:
                    t_down = self.rng.uniform(1.0, 4.0)
                    escaped_t = await asyncio.to_thread(self.stack.kill, "temporal")
                    self._log("temporal", escaped_t, t_down)
                    await asyncio.sleep(t_down)
                    await asyncio.to_thread(self.stack.start_temporal)
                await asyncio.sleep(down)
                await asyncio.to_thread(self.stack.start_worker)
        finally:
            self.done.set()


# --- flows --------------------------------------------------------------------------------------------


@dataclass
class Flows:
    incoming: list[int] = field(default_factory=list)
    outgoing: list[int] = field(default_factory=list)
    meetings: list[int] = field(default_factory=list)
    reports: list[int] = field(default_factory=list)


async def _pause(rng: random.Random, upto: float) -> None:
    await asyncio.sleep(rng.uniform(0, upto))


async def incoming_flow(b: dict[str, drive.Browser], d: drive.Directory, flows: Flows, tag: str, rng: random.Random) -> None:
    doc = await drive.incoming_register(b["mai.tran"], d, tag)
    flows.incoming.append(doc)
    await _pause(rng, 3)
    await drive.incoming_direct(b["lan.nguyen"], d, doc)
    await _pause(rng, 3)
    await drive.incoming_handle(b["thu.le"], doc)
    await _pause(rng, 3)
    await drive.incoming_close(b["thu.le"], doc)


async def outgoing_flow(b: dict[str, drive.Browser], d: drive.Directory, flows: Flows, tag: str, rng: random.Random, wait: float) -> None:
    doc = await drive.outgoing_draft(b["thu.le"], d, tag)
    flows.outgoing.append(doc)
    await _pause(rng, 2)
    await drive.outgoing_submit(b["thu.le"], d, doc)
    await _pause(rng, 2)
    await drive.outgoing_review(b["hanh.pham"], doc)

    await sign_and_issue(b, doc, rng, wait)


async def sign_and_issue(b: dict[str, drive.Browser], doc: int, rng: random.Random, wait: float) -> None:
    async def prepared() -> bool:  # the worker renders the PDF to sign
        status = await drive.outgoing_status(b["lan.nguyen"], doc)
        return bool(status["prepared"]) and status["status"] == "awaiting_signature"

    await drive.until(prepared, timeout=wait, every=0.5, what=f"outgoing {doc} ready to sign")
    await drive.outgoing_sign(b["lan.nguyen"], doc)
    await _pause(rng, 2)
    await drive.outgoing_issue(b["mai.tran"], doc)


async def meeting_flow(b: dict[str, drive.Browser], d: drive.Directory, flows: Flows, tag: str, rng: random.Random) -> None:
    meeting = await drive.meeting_create(b["mai.tran"], d, tag)
    flows.meetings.append(meeting)
    await drive.meeting_schedule(b["mai.tran"], meeting)
    await _pause(rng, 4)
    await drive.meeting_open(b["lan.nguyen"], meeting)
    await _pause(rng, 4)
    await drive.meeting_close(b["lan.nguyen"], meeting)


REPORT_TARGETS = {"hlhpn-tpbentre": "tpbentre.chutich", "hlhpn-chauthanh": "chauthanh.chutich", "hlhpn-mocaynam": "mocaynam.chutich"}


async def report_flow(
    b: dict[str, drive.Browser], d: drive.Directory, flows: Flows, tag: str, rng: random.Random, checker: Checker, wait: float
) -> None:
    req = await drive.report_create(b["lan.nguyen"], d, tag)
    flows.reports.append(req)
    # Its letter is an outgoing document: the leader signs it, the clerk issues it, then it goes out.
    await sign_and_issue(b, await checker.scalar("SELECT letter_outgoing_id FROM report_requests WHERE id = :r", r=req), rng, wait)
    for code, username in REPORT_TARGETS.items():
        org = d.orgs[code]

        async def delivered(org: int = org) -> bool:  # the request reached the target's register
            return await checker.target_delivered(req, org)

        await drive.until(delivered, timeout=wait, every=0.5, what=f"report request {req} delivered to {code}")
        await _pause(rng, 2)
        await drive.report_submit(b[username], req, org)


# --- checks (read the database and Temporal; never change them) ------------------------------------------


class Checker:
    def __init__(self, stack: Stack) -> None:
        from services.db import Database

        self.stack = stack
        self.database = Database(str(stack.database_url))
        self._client = None
        self._prefix: str | None = None

    async def client(self):
        from temporalio.client import Client

        if self._client is None:
            self._client = await Client.connect(self.stack.temporal_address)
        return self._client

    async def workflow_closed(self, workflow_id: str) -> str | None:
        """'COMPLETED', 'FAILED'… once the workflow has closed; None while it runs or Temporal is away.
        `workflow_id` without the database's deployment prefix."""
        from temporalio.client import WorkflowExecutionStatus

        if self._prefix is None:
            self._prefix = await self.scalar("SELECT workflow_prefix FROM deployment WHERE id = 1") or ""
        prefix = self._prefix
        try:
            client = await self.client()
            desc = await asyncio.wait_for(client.get_workflow_handle(prefix + workflow_id).describe(), timeout=5)
        except Exception:  # noqa: BLE001 - not started yet, or the server is restarting
            return None
        if desc.status in (None, WorkflowExecutionStatus.RUNNING):
            return None
        return desc.status.name

    async def workflows_under(self, id_prefix: str) -> list[str] | None:
        """The status of every workflow whose ID starts with `id_prefix` (deployment prefix added);
        None while Temporal is away."""
        if self._prefix is None:
            self._prefix = await self.scalar("SELECT workflow_prefix FROM deployment WHERE id = 1") or ""
        try:
            client = await self.client()
            query = f"WorkflowId STARTS_WITH '{self._prefix}{id_prefix}'"
            return [wf.status.name if wf.status else "RUNNING" async for wf in client.list_workflows(query)]
        except Exception:  # noqa: BLE001 - the server is restarting
            return None

    async def _read(self, read: Any) -> Any:
        """Run a read, riding out a database restart (the checks wait; they never change anything)."""
        from services.db import is_unreachable_error

        deadline = time.monotonic() + 120
        while True:
            try:
                async with self.database.read() as session:
                    return await read(session)
            except Exception as exc:  # only a database that went away is waited out
                if not is_unreachable_error(exc) or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def scalar(self, sql: str, **params: Any) -> Any:
        from sqlalchemy import text

        return await self._read(lambda session: session.scalar(text(sql), params))

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        from sqlalchemy import text

        async def read(session: Any) -> list[Any]:
            return list((await session.execute(text(sql), params)).all())

        return await self._read(read)

    async def target_delivered(self, request_id: int, org_id: int) -> bool:
        status = await self.scalar(
            "SELECT status FROM report_targets WHERE request_id = :r AND organization_id = :o", r=request_id, o=org_id
        )
        return status not in (None, "pending")

    # -- final states --

    async def incoming_final(self, doc: int) -> str | None:
        status = await self.scalar("SELECT status FROM incoming_documents WHERE id = :i", i=doc)
        wf = await self.workflow_closed(f"incoming-{doc}")
        return None if status != "done" or wf != "COMPLETED" else "final"

    async def outgoing_final(self, doc: int) -> str | None:
        status = await self.scalar("SELECT status FROM outgoing_documents WHERE id = :i", i=doc)
        pending = await self.scalar(
            "SELECT count(*) FROM outgoing_recipients WHERE document_id = :i AND external = :f AND incoming_id IS NULL", i=doc, f=False
        )
        if status != "issued" or pending != 0:
            return None
        # The workflow ends once the document is delivered, validated and noticed.
        return "final" if await self.workflow_closed(f"outgoing-{doc}") == "COMPLETED" else None

    async def meeting_final(self, meeting: int) -> str | None:
        status = await self.scalar("SELECT status FROM meetings WHERE id = :i", i=meeting)
        wf = await self.workflow_closed(f"meeting-{meeting}")
        return "final" if str(status).endswith("closed") and wf == "COMPLETED" else None

    async def report_final(self, req: int) -> str | None:
        status = await self.scalar("SELECT status FROM report_requests WHERE id = :i", i=req)
        if status != "completed" or await self.workflow_closed(f"report-request-{req}") != "COMPLETED":
            return None
        # A request from before TRACK_TARGETS has a child workflow per target: each must have ended
        # (a request since then tracks its targets itself and has none).
        children = await self.workflows_under(f"report-request-{req}-")
        if children is None or any(status != "COMPLETED" for status in children):
            return None
        return "final"

    async def describe(self, kind: str, ident: int) -> str:
        """Where a flow stands, for the failure message."""
        table = {"incoming": "incoming_documents", "outgoing": "outgoing_documents", "meeting": "meetings", "report": "report_requests"}[
            kind
        ]
        status = await self.scalar(f"SELECT status FROM {table} WHERE id = :i", i=ident)  # fixed names
        wf = {
            "incoming": f"incoming-{ident}",
            "outgoing": f"outgoing-{ident}",
            "meeting": f"meeting-{ident}",
            "report": f"report-request-{ident}",
        }[kind]
        return f"db status {status!r}, workflow {wf} {await self.workflow_closed(wf) or 'running/missing'}"

    async def close(self) -> None:
        await self.database.dispose()


async def check_invariants(checker: Checker, flows: Flows, outcome: Outcome, directory: drive.Directory) -> None:
    def verdict(ok: bool, text: str) -> None:
        (outcome.held if ok else outcome.failures).append(text)

    # One incoming copy per in-system recipient of each outgoing document, and per report target.
    bad = []
    for doc in flows.outgoing:
        recipients = sorted(
            r[0]
            for r in await checker.rows(
                "SELECT organization_id FROM outgoing_recipients WHERE document_id = :i AND external = :f", i=doc, f=False
            )
        )
        copies = Counter(
            r[0]
            for r in await checker.rows("SELECT organization_id FROM incoming_documents WHERE outgoing_ref = :ref", ref=f"outgoing-{doc}")
        )
        if sorted(copies) != recipients or any(n != 1 for n in copies.values()):
            bad.append(f"outgoing {doc}: recipients {recipients}, copies {dict(copies)}")
    verdict(not bad, "exactly one incoming copy per recipient of each outgoing document" + (f": {bad}" if bad else ""))
    bad = []
    for req in flows.reports:
        targets = sorted(r[0] for r in await checker.rows("SELECT organization_id FROM report_targets WHERE request_id = :r", r=req))
        copies = Counter(
            r[0]
            for r in await checker.rows(
                "SELECT i.organization_id FROM incoming_documents i JOIN report_requests r ON i.outgoing_ref = 'outgoing-' || r.letter_outgoing_id "
                "WHERE r.id = :r",
                r=req,
            )
        )
        if sorted(copies) != targets or any(n != 1 for n in copies.values()):
            bad.append(f"report request {req}: targets {targets}, copies {dict(copies)}")
    verdict(not bad, "exactly one incoming copy per report target" + (f": {bad}" if bad else ""))

    # Register numbers: 1..n per register, no gap, no duplicate, counter = n.
    bad = []
    books: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for org, year, series, number in await checker.rows(
        "SELECT organization_id, arrival_year, arrival_series, arrival_number FROM incoming_documents WHERE arrival_number IS NOT NULL"
    ):
        books[("incoming", org, series, year)].append(number)
    for org, year, series, number in await checker.rows(
        "SELECT organization_id, year, series, number FROM outgoing_documents WHERE number IS NOT NULL"
    ):
        books[("outgoing", org, series, year)].append(number)
    counters = {
        (kind, org, series, year): last
        for kind, org, series, year, last in await checker.rows(
            "SELECT kind, organization_id, series, year, last_number FROM register_counters"
        )
    }
    for key, numbers in sorted(books.items(), key=str):
        if sorted(numbers) != list(range(1, len(numbers) + 1)):
            bad.append(f"{key}: numbers {sorted(numbers)}")
        elif counters.get(key, len(numbers)) != len(numbers):
            bad.append(f"{key}: counter {counters.get(key)} but {len(numbers)} numbered")
    issued = sum(len(v) for k, v in books.items() if k[0] == "outgoing")
    verdict(
        not bad,
        f"register numbers contiguous, no gaps or duplicates ({len(books)} registers,"
        f" {sum(map(len, books.values()))} numbers, {issued} outgoing)" + (f": {bad}" if bad else ""),
    )

    # Each notification once: no two rows for the same person, kind and link.
    dupes = await checker.rows("SELECT user_id, kind, link, count(*) FROM notifications GROUP BY user_id, kind, link HAVING count(*) > 1")
    total = await checker.scalar("SELECT count(*) FROM notifications")
    verdict(
        not dupes,
        f"each notification once ({total} notifications; none twice for the same person, kind and object)"
        + (f": duplicates {[tuple(r) for r in dupes][:20]}" if dupes else ""),
    )
    notices = await checker.rows(
        "SELECT kind, count(*) FROM notifications WHERE kind LIKE '%remind%' OR kind LIKE '%overdue%'"
        " OR kind LIKE '%escalat%' GROUP BY kind"
    )
    verdict(True, f"deadline notices (none due in this run): {[tuple(r) for r in notices]}")

    # Each user action recorded once in the audit trail (a retried activity must not add one).
    dupes = await checker.rows(
        "SELECT action, object_type, object_id, count(*) FROM audit_entries WHERE action IN"
        " ('incoming.register', 'incoming.direct', 'incoming.complete', 'outgoing.issue', 'outgoing.sign',"
        "  'meeting.opened', 'meeting.closed', 'meeting.invitations_sent', 'meeting.invitation_prepared',"
        "  'outgoing.validate')"
        " GROUP BY action, object_type, object_id HAVING count(*) > 1"
    )
    verdict(
        not dupes, "each user action and invitation recorded once in the audit trail" + (f": {[tuple(r) for r in dupes]}" if dupes else "")
    )


async def await_finals(checker: Checker, flows: Flows, outcome: Outcome, wait: float) -> None:
    """Wait (up to `wait` seconds) for every flow to reach its final state; say which did not."""
    pending = (
        {("incoming", i) for i in flows.incoming}
        | {("outgoing", i) for i in flows.outgoing}
        | {("meeting", i) for i in flows.meetings}
        | {("report", i) for i in flows.reports}
    )
    finals = {
        "incoming": checker.incoming_final,
        "outgoing": checker.outgoing_final,
        "meeting": checker.meeting_final,
        "report": checker.report_final,
    }
    deadline = time.monotonic() + wait
    while pending and time.monotonic() < deadline:
        for kind, ident in sorted(pending):
            if await finals[kind](ident):
                pending.discard((kind, ident))
                outcome.flows[f"{kind} {ident}"] = "final"
        if pending:
            await asyncio.sleep(0.5)
    for kind, ident in sorted(pending):
        state = await checker.describe(kind, ident)
        outcome.flows[f"{kind} {ident}"] = f"NOT FINAL after {wait:.0f} s ({state})"
        outcome.failures.append(f"{kind} {ident} did not reach its final state: {state}")
    if not pending:
        outcome.held.append(f"every flow reached its final state ({len(outcome.flows)} flows)")


async def _drive(stack: Stack, args: argparse.Namespace, outcome: Outcome) -> None:
    directory = await drive.load_directory(str(stack.database_url))
    names = ["mai.tran", "lan.nguyen", "thu.le", "hanh.pham", *REPORT_TARGETS.values()]
    browsers = {n: drive.Browser(stack.base_url, n) for n in names}
    for browser in browsers.values():
        await browser.sign_in()
    checker = Checker(stack)
    flows = Flows()
    rng = random.Random(args.seed + 1)
    chaos = Chaos(
        stack,
        kills=args.kills,
        seed=args.seed,
        gap=(args.min_gap, args.max_gap),
        outcome=outcome,
        kill_temporal=not args.no_temporal_kill,
        pg_restarts=args.pg_restarts if args.postgres else 0,
        live=browsers["mai.tran"],
    )
    chaos_task = asyncio.create_task(chaos.run())
    run = f"r{args.seed}"
    jobs: list[tuple[str, Any]] = []
    for i in range(args.incoming):
        jobs.append((f"incoming#{i}", incoming_flow(browsers, directory, flows, f"{run}i{i}", random.Random(rng.random()))))
    for i in range(args.outgoing):
        jobs.append((f"outgoing#{i}", outgoing_flow(browsers, directory, flows, f"{run}o{i}", random.Random(rng.random()), args.deadline)))
    for i in range(args.meetings):
        jobs.append((f"meeting#{i}", meeting_flow(browsers, directory, flows, f"{run}m{i}", random.Random(rng.random()))))
    for i in range(args.reports):
        jobs.append(
            (f"report#{i}", report_flow(browsers, directory, flows, f"{run}r{i}", random.Random(rng.random()), checker, args.deadline))
        )

    async def staggered(delay: float, job: Any) -> None:
        await asyncio.sleep(delay)
        await job

    results = await asyncio.gather(*(staggered(rng.uniform(0, args.spread), job) for _, job in jobs), return_exceptions=True)
    for (name, _), result in zip(jobs, results):
        if isinstance(result, BaseException):
            outcome.failures.append(f"{name}: a user action failed: {result!r}")
    try:
        await asyncio.wait_for(chaos_task, timeout=args.deadline)
    except TimeoutError:
        outcome.failures.append("the chaos loop did not finish")
    if not stack.procs["worker"].alive():
        stack.start_worker()

    await await_finals(checker, flows, outcome, args.deadline)

    await check_invariants(checker, flows, outcome, directory)
    for browser in browsers.values():
        outcome.retried_503 += browser.retries
        outcome.lost_in_flight += browser.uncertain
        await browser.close()
    await checker.close()


def run(args: argparse.Namespace) -> Outcome:
    outcome = Outcome()
    started = time.monotonic()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="lienthong-faults-"))
    outcome.backend = "postgresql (own cluster)" if args.postgres else "sqlite"
    print(f"fault run in {root} (seed {args.seed}, {args.kills} worker kills, {outcome.backend})", flush=True)
    stack = Stack(root, task_queue="faults", postgres=args.postgres, **borrowed_pki(args))
    try:
        if args.postgres:
            stack.init_postgres()
        stack.start_temporal()
        stack.prepare(pki=True)
        if not args.pki_from:  # a borrowed PKI's trust services already answer
            stack.start_trust_services()
        stack.start_worker()
        stack.start_web()
        asyncio.run(_drive(stack, args, outcome))
        # Let the last worker stop as it would be killed, then verify the trail offline of it.
        verify = stack.cli("audit", "verify", check=False)
        ok = verify.returncode == 0
        (outcome.held if ok else outcome.failures).append(
            f"`lienthong audit verify` exit {verify.returncode}: {(verify.stdout + verify.stderr).strip()[:400]}"
        )
    except Exception:  # noqa: BLE001 - reported as a failure with its traceback
        outcome.failures.append(f"harness error: {traceback.format_exc()}")
    finally:
        for proc in stack.procs.values():
            outcome.orphans_killed += proc.orphans_killed
            outcome.escaped.extend(f"{proc.name}:{n}" for n in proc.escaped_names)
        stack.close()
        leftovers = [pid for proc in stack.procs.values() if proc.marker for pid in _marked_pids(proc.marker)]
        outcome.leftover_processes = len(leftovers)
        if leftovers:
            outcome.failures.append(f"processes left behind: {leftovers}")
        else:
            outcome.held.append("no process of the run left behind")
        outcome.seconds = time.monotonic() - started
        outcome.server_errors = _tracebacks(stack.logs / "web.log") + _tracebacks(stack.logs / "worker.log")
        print(f"logs: {stack.logs}", flush=True)
    return outcome


def _tracebacks(log: Path, last: int = 5) -> list[str]:
    """The last few exceptions of a process log, each with the project's own frame that raised
    it: a failed run says why at once, even when its temporary directory is gone."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found: list[str] = []
    frame = ""
    for line in lines:
        stripped = line.strip()
        if stripped.startswith('File "') and "/site-packages/" not in stripped and "<frozen" not in stripped:
            frame = stripped
        elif re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Timeout)\b[\w.]*: ", line):
            found.append(f"  [{log.name}] {line.strip()}" + (f" — at {frame}" if frame else ""))
            frame = ""
    return list(dict.fromkeys(found))[-last:]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=50, help="worker SIGKILLs (the Temporal server is killed once among them)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--incoming", type=int, default=8)
    p.add_argument("--outgoing", type=int, default=3)
    p.add_argument("--meetings", type=int, default=2)
    p.add_argument("--reports", type=int, default=2)
    p.add_argument("--min-gap", type=float, default=2.0, help="seconds between kills, at least")
    p.add_argument("--max-gap", type=float, default=8.0, help="seconds between kills, at most")
    p.add_argument("--spread", type=float, default=20.0, help="flows start within this many seconds")
    p.add_argument("--deadline", type=float, default=600.0, help="generous limit for each wait")
    p.add_argument("--no-temporal-kill", action="store_true")
    p.add_argument(
        "--postgres", action="store_true", help="run on a PostgreSQL cluster of the run's own (initdb in a temporary directory, free port)"
    )
    p.add_argument(
        "--pg-restarts",
        type=int,
        default=5,
        help="with --postgres: SIGKILLs of the postmaster (each followed by a restart) among the kills",
    )
    p.add_argument("--keep", help="run in this directory and keep it (default: a new temporary directory)")
    p.add_argument("--json", help="also write the outcome as JSON to this file")
    add_pki_arguments(p)
    return p


def add_pki_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pki-from", type=Path, help="copy this dev PKI (a `pki` directory) instead of creating one; its trust services must be running"
    )
    p.add_argument("--trust-port", type=int, help="with --pki-from: the port its trust services answer on")


def borrowed_pki(args: argparse.Namespace) -> dict[str, Any]:
    """The Stack's arguments for --pki-from and --trust-port (none: the stack makes its own PKI)."""
    if not args.pki_from:
        return {}
    if args.trust_port is None:
        raise SystemExit("--pki-from needs --trust-port: where its trust services answer")
    return {"pki_from": args.pki_from, "trust_port": args.trust_port}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    outcome = run(args)
    print(outcome.summary(), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(outcome.__dict__, indent=2, ensure_ascii=False, default=str))
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
