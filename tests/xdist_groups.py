"""Work units for `make test` (pytest-xdist): which tests must run on one worker, in order.

pytest-xdist 3.8's own `--dist loadgroup` groups nothing under pytest 9.2 (it renames
`item._nodeid`, which pytest no longer reads), so the groups are decided here from the node ids:
- every browser test (tests/e2e/): they share the run's one `lienthong dev` and run in order;
- each module with a module-scoped fixture: built once, not once per worker;
- any other test alone, given to whichever worker is free.
Units are handed out largest first (xdist's default), so the browser tests start at once.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling


@cache
def _has_module_fixture(path: str) -> bool:
    try:
        return 'scope="module"' in Path(path).read_text(encoding="utf-8")
    except OSError:
        return False


def work_unit(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/e2e/"):
        return "tests/e2e"
    if _has_module_fixture(path):
        return path
    return nodeid


class GroupScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)

    def remove_node(self, node):  # type: ignore[no-untyped-def]
        """A crashed worker (a hung test ended by pytest-timeout) gives back only what it had not
        run. pytest-xdist 3.8 puts back its whole workload: its finished units come back empty and
        leave the other workers waiting forever at the end of the run (pytest-dev/pytest-xdist#1323,
        #1378), and the test it crashed on, already reported failed, would crash the next worker."""
        workload = self.assigned_work.pop(node)
        crashed = next((nodeid for unit in workload.values() for nodeid, done in unit.items() if not done), None)
        if crashed is None:
            return None
        for unit in workload.values():
            if crashed in unit:
                unit[crashed] = True
        self.workqueue.update({scope: unit for scope, unit in workload.items() if not all(unit.values())})
        for other in self.assigned_work:
            self._reschedule(other)
        return crashed

    def _reschedule(self, node):  # type: ignore[no-untyped-def]
        super()._reschedule(node)
        # Nothing left to hand out: say so now. A worker runs a test only once it knows the next
        # one (or that there is none), so one given a last unit of one test would wait (#1327).
        if not self.workqueue and not node.shutting_down:
            node.shutdown()


def pytest_xdist_make_scheduler(config, log):  # type: ignore[no-untyped-def]
    return GroupScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None
