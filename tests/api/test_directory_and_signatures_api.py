"""The directory and the signature check over /api/v1: what an app needs to address documents and
to check a signed PDF it received (issue 17)."""

from __future__ import annotations

from tests.api.test_incoming_api import PROBLEM, _bearer
from tests.signing.conftest import make_tiny_pdf


async def test_every_active_organisation_is_listed_parents_first(demo_db_sqlite, client_for) -> None:
    api = await client_for(demo_db_sqlite)
    orgs = (await api.get("/api/v1/organizations", headers=await _bearer(demo_db_sqlite, "chauthanh.chuyenvien"))).json()
    levels = [o["level"] for o in orgs]
    assert levels.count("province") == 1 and levels.count("district") == 3 and levels.count("commune") == 6
    seen: set[int] = set()
    for org in orgs:  # parents before children, as the recipient picker shows them
        assert org["parent_id"] is None or org["parent_id"] in seen, org
        seen.add(org["id"])
    assert (await api.get("/api/v1/organizations", headers={"accept": "application/json"})).status_code == 401


async def test_a_pdf_without_signatures_is_reported_not_valid_and_a_fake_is_refused(demo_db_sqlite, client_for) -> None:
    api = await client_for(demo_db_sqlite)
    officer = await _bearer(demo_db_sqlite, "thu.le")
    report = await api.post(
        "/api/v1/signatures/verify", headers=officer, files={"file": ("cv.pdf", make_tiny_pdf("Cong van"), "application/pdf")}
    )
    assert report.status_code == 200, report.text
    assert report.json()["all_valid"] is False and report.json()["signatures"] == [] and report.json()["summary_vi"]
    fake = await api.post("/api/v1/signatures/verify", headers=officer, files={"file": ("cv.pdf", b"MZ not a pdf", "application/pdf")})
    assert fake.status_code == 422 and fake.headers["content-type"] == PROBLEM
