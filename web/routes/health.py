"""Liveness for operators and load balancers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from web.deps import Access

router = APIRouter()


@router.get("/healthz", dependencies=[Depends(Access(public=True))], tags=["health"])
async def healthz(request: Request) -> JSONResponse:
    """200 when the database and Temporal answer, 503 otherwise (with which one failed)."""
    checks = {"database": False, "temporal": False}
    try:
        async with request.app.state.db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = True
    except Exception:  # noqa: BLE001 - reported as unhealthy
        pass
    checks["temporal"] = await request.app.state.temporal.healthy()
    ok = all(checks.values())
    return JSONResponse({"status": "ok" if ok else "degraded", "checks": checks}, status_code=200 if ok else 503)
