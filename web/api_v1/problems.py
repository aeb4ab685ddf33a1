"""RFC 9457 problem details: how the public API (/api/v1) answers an error.

`detail` is in the request's language (Accept-Language / the user's choice); `detail_vi` and
`detail_en` carry both, so an integrator can show either without asking again.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

API_V1 = "/api/v1/"
PROBLEM_TYPE = "application/problem+json"


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    detail_vi: str
    detail_en: str
    details: Any = None


def problem(status: int, *, detail: str, vi: str, en: str, details: Any = None) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, detail_vi=vi, detail_en=en, details=details)
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM_TYPE)
