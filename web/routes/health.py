"""Liveness for operators and load balancers: answers within a second whatever the load."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from web.deps import Probe

router = APIRouter()
CHECK_SECONDS = 0.8  # each part gets this long; they run side by side


async def _check(probe: Any) -> tuple[bool, str | None]:
    try:
        await asyncio.wait_for(probe, timeout=CHECK_SECONDS)
        return True, None
    except TimeoutError:
        return False, "timeout"
    except Exception as exc:  # noqa: BLE001 - reported as unhealthy, with its kind
        return False, type(exc).__name__


async def _temporal(request: Request) -> None:
    if not await request.app.state.temporal.healthy(timeout=CHECK_SECONDS):
        raise ConnectionError("Temporal unreachable")


@router.get("/healthz", dependencies=[Depends(Probe())], tags=["health"])
async def healthz(request: Request) -> JSONResponse:
    """200 when every part answers, 503 otherwise, naming the part and why.

    Needs no session and no lock: it never waits behind the users' transactions."""
    parts = {"database": request.app.state.db.ping(), "temporal": _temporal(request)}
    results = await asyncio.gather(*(_check(p) for p in parts.values()))
    checks = {name: ok for name, (ok, _) in zip(parts, results)}
    problems = {name: why for name, (ok, why) in zip(parts, results) if not ok}
    ok = all(checks.values())
    body: dict[str, Any] = {"status": "ok" if ok else "degraded", "checks": checks}
    if problems:
        body["problems"] = problems
    return JSONResponse(body, status_code=200 if ok else 503)
