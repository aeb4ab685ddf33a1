"""Helper processes run on files people upload (poppler, LibreOffice) get a memory ceiling and a
time limit, so a hostile or pathological file costs a refusal, not the server's memory."""

from __future__ import annotations

import resource
import subprocess
from collections.abc import Sequence


def limit_memory(pid: int, megabytes: int) -> None:
    """Cap a running process's address space (Linux prlimit; set right after it starts, so no
    pre-exec hook runs in a multi-threaded parent)."""
    limit = megabytes * 1024 * 1024
    resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))


class LimitHit(Exception):
    """The process ran out of its time or memory."""


def run_limited(cmd: Sequence[str], *, memory_mb: int, timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Run `cmd` to its end within `timeout` seconds and `memory_mb` of address space; raise
    `LimitHit` when it is killed for time or fails for lack of memory."""
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        limit_memory(proc.pid, memory_mb)
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        proc.communicate()
        raise LimitHit("time") from exc
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if b"Out of memory" in err or b"std::bad_alloc" in err:
        raise LimitHit("memory")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
