"""Two web processes behind nginx and two workers on PostgreSQL, one of each SIGKILLed: live
clients on both web processes get the same meeting events in the same order, the killed one's
clients reconnect through the proxy and miss nothing, every flow finishes once (`bench/cluster.py`)."""

from __future__ import annotations

import pytest

from bench.cluster import parser, run


@pytest.mark.faults
def test_two_web_processes_behind_a_proxy_and_two_workers_survive_a_sigkill_of_each(tmp_path, borrowed_pki) -> None:
    outcome = run(parser().parse_args(["--items", "20", "--keep", str(tmp_path / "run"), *borrowed_pki]))
    print(outcome.summary())
    assert outcome.ok, outcome.summary()
    assert {k["name"] for k in outcome.kills} == {"web-1", "worker-1"}
    assert sum("events in order" in line for line in outcome.held) == 4
