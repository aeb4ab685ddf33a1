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


def pytest_xdist_make_scheduler(config, log):  # type: ignore[no-untyped-def]
    return GroupScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None
