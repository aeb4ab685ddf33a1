"""Request bodies are counted as they arrive: an oversize upload sent chunked (no Content-Length)
through a real uvicorn server is refused with 413 once the limit is passed, and nothing is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import ClassVar

import httpx
import pytest
from sqlalchemy import func, select
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.calendar import vn_today
from services.incoming.models import IncomingDocument
from tests.helpers import CSRF_RE, serving, sign_in
from tests.incoming.conftest import org_id
from web.app import FORM_OVERHEAD_BYTES, create_app
from web.temporal import TemporalHandle

LIMIT = 200_000


class Seen:
    """Records how many body bytes reach the application, per request."""

    sizes: ClassVar[list[int]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        index = len(self.sizes)
        self.sizes.append(0)

        async def counted() -> Message:
            message = await receive()
            self.sizes[index] += len(message.get("body", b""))
            return message

        await self.app(scope, counted, send)


@pytest.fixture
async def server(demo_db_sqlite, settings):  # type: ignore[no-untyped-def]
    settings.upload_max_bytes = LIMIT
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    # Innermost: counts what the application itself receives of each body.
    app.user_middleware.append(Middleware(Seen))
    Seen.sizes.clear()
    async with serving(app) as address:
        yield f"http://{address}"


async def test_chunked_oversize_upload_gets_413_before_the_body_is_read_and_nothing_is_stored(server, demo_db_sqlite, settings) -> None:
    async with httpx.AsyncClient(base_url=server, headers={"accept": "text/html"}) as client:
        assert (await sign_in(client, "mai.tran")).status_code == 303
        match = CSRF_RE.search((await client.get("/incoming/new")).text)
        assert match
        province = await org_id(demo_db_sqlite, "hlhpn-bentre")
        fields = {
            "csrf_token": match.group(1),
            "organization_id": str(province),
            "issuer_name": "Sở Tư pháp",
            "number_notation": "09/CV-STP",
            "document_date": (vn_today() - timedelta(days=1)).isoformat(),
            "doc_type": "CV",
            "subject": "Về việc phổ biến pháp luật",
            "urgency": "normal",
            "secrecy": "normal",
            "arrival_date": vn_today().isoformat(),
        }
        boundary = "lienthongboundary"
        head = (
            b"".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                for name, value in fields.items()
            )
            + (
                f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="lon.pdf"\r\n'
                "Content-Type: application/pdf\r\n\r\n%PDF-1.7\n"
            ).encode()
        )
        total = 20 * 1024 * 1024
        sent = 0

        async def body() -> AsyncIterator[bytes]:
            # A generator body makes httpx send it chunked, without Content-Length.
            nonlocal sent
            yield head
            chunk = b"0" * 64 * 1024
            while sent < total:
                sent += len(chunk)
                yield chunk
            yield f"\r\n--{boundary}--\r\n".encode()

        response = await client.post(
            "/incoming",
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
            timeout=30,
        )
    assert response.status_code == 413
    assert "Tệp quá lớn" in response.text
    # The application never saw more than the limit (plus the form overhead and one chunk).
    assert sent == total and Seen.sizes[-1] <= LIMIT + FORM_OVERHEAD_BYTES + 64 * 1024, Seen.sizes
    async with demo_db_sqlite.session() as session:
        assert await session.scalar(select(func.count()).select_from(IncomingDocument)) == 0
    blobs = settings.data_dir / "blobs"
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))


async def test_declared_oversize_body_gets_413_without_being_read(server) -> None:
    async with httpx.AsyncClient(base_url=server, headers={"accept": "application/json"}) as client:
        response = await client.post("/incoming", content=b"x" * (LIMIT + 100 * 1024), headers={"content-type": "application/json"})
    assert response.status_code == 413 and "Tệp quá lớn" in response.json()["message"]
    assert Seen.sizes == []  # refused before the application was called
