"""Real processes killed with SIGKILL (never a graceful stop) while real flows run over HTTP.

A reduced run of `python -m bench.faults` (see there): a Temporal dev server, `lienthong worker`
and `lienthong web` as subprocesses in their own process groups, with a copy of the session's demo
PKI (its trust services answer from the test process: making keys costs seconds of CPU); an
incoming, an outgoing (review, PIN signature, issue, dispatch to three districts), a meeting and a
report request (fan-out to three districts, their submissions) driven over HTTP while the worker
group is SIGKILLed 5 times at seeded random moments and the Temporal server once. Every flow must
end, no effect may happen twice, `lienthong audit verify` must pass, and no process may be left.

The second test does the same on a PostgreSQL cluster of its own and also SIGKILLs the postmaster.

The full runs: `PYTHONPATH=. python -m bench.faults --kills 50 [--postgres]`.
"""

from __future__ import annotations

import pytest

from bench.faults import parser, run


@pytest.mark.faults
def test_flows_survive_sigkills_of_the_worker_and_of_temporal(tmp_path, borrowed_pki) -> None:
    args = parser().parse_args(
        [
            *borrowed_pki,
            "--kills",
            "5",
            "--seed",
            "11",
            "--incoming",
            "2",
            "--outgoing",
            "1",
            "--meetings",
            "1",
            "--reports",
            "1",
            "--min-gap",
            "2",
            "--max-gap",
            "6",
            "--spread",
            "4",
            "--deadline",
            "240",
            "--keep",
            str(tmp_path / "run"),
        ]
    )
    outcome = run(args)
    print(outcome.summary())
    assert sum(1 for k in outcome.kills if k["what"] == "worker") == 5
    assert sum(1 for k in outcome.kills if k["what"] == "temporal") == 1
    assert outcome.leftover_processes == 0
    assert outcome.ok, outcome.summary()


@pytest.mark.faults
def test_flows_survive_postgresql_restarts_and_sigkills_of_the_worker(tmp_path, borrowed_pki) -> None:
    """The same on a PostgreSQL cluster of the run's own (initdb in a temporary directory, its own
    port): the worker is SIGKILLed 3 times, the Temporal server once and the postmaster once, then
    started again on its data directory while the web process and the worker keep running."""
    args = parser().parse_args(
        [
            *borrowed_pki,
            "--postgres",
            "--kills",
            "3",
            "--pg-restarts",
            "1",
            "--seed",
            "11",
            "--incoming",
            "2",
            "--outgoing",
            "1",
            "--meetings",
            "1",
            "--reports",
            "1",
            "--min-gap",
            "2",
            "--max-gap",
            "6",
            "--spread",
            "4",
            "--deadline",
            "240",
            "--keep",
            str(tmp_path / "run"),
        ]
    )
    outcome = run(args)
    print(outcome.summary())
    assert sum(1 for k in outcome.kills if k["what"] == "worker") == 3
    assert sum(1 for k in outcome.kills if k["what"] == "postgres") == 1
    assert outcome.leftover_processes == 0
    assert outcome.ok, outcome.summary()
    # Live sockets opened right after the restart, on the web process's kept lookup connections
    # that the crash ended, were answered at once (services/db.py: Database.lookup).
    assert any(held.startswith("4 live connects right after a PostgreSQL restart") for held in outcome.held), outcome.held
