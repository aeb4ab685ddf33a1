"""The public API (/api/v1) for incoming documents, driven as an integrator's script would:
Bearer tokens, JSON, problem details, idempotency keys, ETags, cursors (issue 17)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from services.audit.service import Actor
from services.auth import service as auth
from services.calendar import vn_today
from services.directory.models import Organization, User
from services.incoming.models import IncomingDocument
from tests.signing.conftest import make_tiny_pdf

PROBLEM = "application/problem+json"


async def _bearer(database, username: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        _, clear = await auth.create_api_token(
            session, actor=Actor(user_id=user.id, name=user.username), user=user, name="tich hop", scope="full"
        )
    return {"authorization": f"Bearer {clear}", "accept": "application/json"}


async def _ids(database) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        org = await session.scalar(select(Organization.id).where(Organization.code == "hlhpn-bentre"))
        lead = await session.scalar(select(User.id).where(User.username == "thu.le"))
    return org, lead


def _metadata(notation: str, **changes: str) -> dict[str, str]:
    return {
        "issuer_name": "Ủy ban nhân dân tỉnh Bến Tre",
        "number_notation": notation,
        "document_date": str(vn_today() - timedelta(days=2)),
        "doc_type": "KH",
        "subject": "Kế hoạch chuyển đổi số năm 2027",
        **changes,
    }


async def _register(api: httpx.AsyncClient, clerk: dict[str, str], org: int, notation: str, key: str | None = None) -> httpx.Response:
    headers = {**clerk, **({"idempotency-key": key} if key else {})}
    return await api.post(
        "/api/v1/incoming",
        headers=headers,
        data={"organization_id": str(org), **_metadata(notation)},
        files=[("files", ("ke-hoach.pdf", make_tiny_pdf(notation), "application/pdf"))],
    )


async def _count(database) -> int:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(IncomingDocument))


async def test_a_script_takes_a_document_from_registration_to_done(demo_db_sqlite, client_for) -> None:
    api = await client_for(demo_db_sqlite)
    clerk, leader, lead = [await _bearer(demo_db_sqlite, u) for u in ("mai.tran", "lan.nguyen", "thu.le")]
    org, lead_id = await _ids(demo_db_sqlite)

    created = await _register(api, clerk, org, "31/KH-UBND")
    assert created.status_code == 201, created.text
    doc = created.json()
    assert created.headers["location"] == f"/api/v1/incoming/{doc['id']}"
    assert created.headers["etag"] == doc["etag"]
    assert doc["status"] == "awaiting_direction" and doc["arrival_number"] and doc["files"][0]["filename"] == "ke-hoach.pdf"
    # The file is served to the token as to the page.
    assert (await api.get(doc["files"][0]["download_url"], headers=clerk)).content.startswith(b"%PDF")

    waiting = (await api.get("/api/v1/incoming/queues/to-direct", headers=leader)).json()
    assert doc["id"] in [d["id"] for d in waiting["items"]] and waiting["total"] >= 1

    direction = {"instruction": "Ban Tuyên giáo chủ trì.", "lead_user_id": lead_id, "due_working_days": 5}
    directed = await api.post(f"/api/v1/incoming/{doc['id']}/direct", headers={**leader, "if-match": doc["etag"]}, json=direction)
    assert directed.status_code == 200, directed.text
    assert directed.json()["status"] == "directed" and directed.json()["lead_user_id"] == lead_id
    assert directed.headers["etag"] != doc["etag"]

    # A second direction based on the old read would overwrite the first: refused, nothing changed.
    stale = await api.post(f"/api/v1/incoming/{doc['id']}/direct", headers={**leader, "if-match": doc["etag"]}, json=direction)
    assert stale.status_code == 409 and stale.headers["content-type"] == PROBLEM
    assert "thay đổi" in stale.json()["detail_vi"] and "changed" in stale.json()["detail_en"]
    assert (await api.get(f"/api/v1/incoming/{doc['id']}", headers=leader)).json()["revision"] == directed.json()["revision"]

    assert (await api.post(f"/api/v1/incoming/{doc['id']}/progress", headers=lead, json={"body": "Đang dự thảo."})).status_code == 200
    done = await api.post(f"/api/v1/incoming/{doc['id']}/complete", headers=lead, json={"result": "Đã triển khai."})
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["result"] == "Đã triển khai."
    assert [n["kind"] for n in done.json()["notes"]][-1] == "result"
    assert doc["id"] in [d["id"] for d in (await api.get("/api/v1/incoming/queues/done", headers=lead)).json()["items"]]
    # The officer may not direct: the same rule as the page.
    refused = await api.post(f"/api/v1/incoming/{doc['id']}/direct", headers=lead, json=direction)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
async def test_a_retried_post_with_the_same_idempotency_key_is_done_once(demo_db, client_for) -> None:
    api = await client_for(demo_db)
    clerk, leader = await _bearer(demo_db, "mai.tran"), await _bearer(demo_db, "lan.nguyen")
    org, lead_id = await _ids(demo_db)
    before = await _count(demo_db)
    key = str(uuid.uuid4())

    first = await _register(api, clerk, org, "32/KH-UBND", key)
    again = await _register(api, clerk, org, "32/KH-UBND", key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    assert await _count(demo_db) == before + 1

    # Two copies of one request at once (a phone that resent): one action, both learn its outcome.
    doc_id = first.json()["id"]
    direction = {"instruction": "Chủ trì.", "lead_user_id": lead_id}
    twin = {**leader, "idempotency-key": str(uuid.uuid4())}
    answers = await asyncio.gather(*(api.post(f"/api/v1/incoming/{doc_id}/direct", headers=twin, json=direction) for _ in range(2)))
    codes = sorted(a.status_code for a in answers)
    assert codes in ([200, 200], [200, 409]), [a.text for a in answers]
    replay = await api.post(f"/api/v1/incoming/{doc_id}/direct", headers=twin, json=direction)
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["revision"] == first.json()["revision"] + 1  # directed once

    # A key names one request: reused elsewhere it is refused, in the clerk's language.
    reused = await api.post(
        f"/api/v1/incoming/{doc_id}/progress", headers={**leader, "idempotency-key": twin["idempotency-key"]}, json={"body": "x"}
    )
    assert reused.status_code == 422 and reused.headers["content-type"] == PROBLEM
    assert "Idempotency-Key" in reused.json()["detail_vi"]
    # A failed request keeps no key: corrected, the same key goes through.
    key = str(uuid.uuid4())
    bad = await api.post(
        f"/api/v1/incoming/{doc_id}/extend", headers={**leader, "idempotency-key": key}, json={"new_due": "2020-01-01", "reason": ""}
    )
    assert bad.status_code in (409, 422)
    fixed = {"new_due": str(vn_today() + timedelta(days=30)), "reason": "Chờ số liệu của các huyện."}
    assert (await api.post(f"/api/v1/incoming/{doc_id}/extend", headers={**leader, "idempotency-key": key}, json=fixed)).status_code == 200


async def test_errors_are_problem_details_in_both_languages(demo_db_sqlite, client_for) -> None:
    api = await client_for(demo_db_sqlite)
    clerk = await _bearer(demo_db_sqlite, "mai.tran")
    org, _ = await _ids(demo_db_sqlite)
    missing = await api.get("/api/v1/incoming/999999", headers=clerk)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    body = missing.json()
    assert body["status"] == 404 and body["title"] == "Not Found" and body["detail_vi"] != body["detail_en"]
    assert body["detail"] == body["detail_vi"]  # Vietnamese unless the caller asks for English
    english = await api.get("/api/v1/incoming/999999", headers={**clerk, "accept-language": "en"})
    assert english.json()["detail"] == body["detail_en"]

    anonymous = await api.get("/api/v1/incoming")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM

    invalid = await api.post("/api/v1/incoming", headers=clerk, data={"organization_id": str(org), **_metadata("33/KH", urgency="rất gấp")})
    assert invalid.status_code == 422 and invalid.headers["content-type"] == PROBLEM and "urgency" in invalid.json()["detail"]
    before = await _count(demo_db_sqlite)
    no_subject = await api.post("/api/v1/incoming", headers=clerk, data={"organization_id": str(org), **_metadata("33/KH", subject="")})
    assert no_subject.status_code == 422 and no_subject.json()["detail_vi"]
    assert await _count(demo_db_sqlite) == before  # nothing left behind


async def test_search_pages_with_a_cursor_each_document_once(demo_db_sqlite, client_for) -> None:
    api = await client_for(demo_db_sqlite)
    clerk = await _bearer(demo_db_sqlite, "mai.tran")
    org, _ = await _ids(demo_db_sqlite)
    mine = {(await _register(api, clerk, org, f"{40 + i}/KH-SOCT")).json()["id"] for i in range(5)}
    seen: list[int] = []
    cursor = None
    while True:
        page = (
            await api.get("/api/v1/incoming", headers=clerk, params={"q": "SOCT", "limit": 2, **({"cursor": cursor} if cursor else {})})
        ).json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(mine) and len(seen) == len(set(seen))
    wrong = await api.get("/api/v1/incoming", headers=clerk, params={"cursor": "khong-hop-le"})  # not of the pattern
    assert wrong.status_code == 422 and wrong.headers["content-type"] == PROBLEM
