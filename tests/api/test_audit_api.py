"""The audit trail over /api/v1, read by an auditor's script: the trail filtered and paged with a
cursor, one object's timeline, the chain verified; nobody else reads it (issue 17)."""

from __future__ import annotations

from tests.api.test_incoming_api import PROBLEM, _bearer
from tests.incoming.conftest import register

AUDITOR = "dung.huynh"  # the province's auditor


async def test_an_auditor_pages_through_the_trail_and_reads_one_objects_timeline(demo_db_sqlite, client_for, settings) -> None:
    api = await client_for(demo_db_sqlite)
    auditor = await _bearer(demo_db_sqlite, AUDITOR)
    doc = await register(demo_db_sqlite, settings, notation="77/KH-UBND", subject="Kế hoạch chuyển đổi số năm 2027")
    await register(demo_db_sqlite, settings, notation="78/TB-UBND", subject="Thông báo lịch trực")

    whole = (await api.get("/api/v1/audit", headers=auditor, params={"limit": 100})).json()
    assert whole["items"] and [e["seq"] for e in whole["items"]] == sorted((e["seq"] for e in whole["items"]), reverse=True)
    # Page by page, each entry once, in the same order as one big page.
    seen: list[int] = []
    cursor = None
    while True:
        page = (await api.get("/api/v1/audit", headers=auditor, params={"limit": 3, **({"cursor": cursor} if cursor else {})})).json()
        assert len(page["items"]) <= 3
        seen += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None or len(seen) >= len(whole["items"]):
            break
    assert seen[: len(whole["items"])] == [e["seq"] for e in whole["items"]][: len(seen)]
    assert len(seen) == len(set(seen))

    found = (await api.get("/api/v1/audit", headers=auditor, params={"notation": "77/kh", "action": "incoming."})).json()
    assert found["items"] and {e["object_id"] for e in found["items"]} == {str(doc.id)}
    entry = next(e for e in found["items"] if e["action"] == "incoming.register")
    assert entry["object"]["text"].startswith("77/KH-UBND") and entry["readable"] and len(entry["entry_hash"]) == 64

    timeline = await api.get(f"/api/v1/audit/object/incoming/{doc.id}", headers=auditor)
    assert timeline.status_code == 200
    items = timeline.json()["items"]
    assert items[0]["action"] == "incoming.register" and [e["seq"] for e in items] == sorted(e["seq"] for e in items)
    assert "Kế hoạch chuyển đổi số năm 2027" in timeline.json()["object"]["text"]

    checked = await api.get("/api/v1/audit/verify", headers=auditor)
    assert checked.status_code == 200, checked.text
    assert checked.json()["ok"] and checked.json()["entries_checked"] >= len(whole["items"])


async def test_others_and_bad_filters_get_problem_details(demo_db_sqlite, client_for, settings) -> None:
    api = await client_for(demo_db_sqlite)
    auditor, clerk = await _bearer(demo_db_sqlite, AUDITOR), await _bearer(demo_db_sqlite, "mai.tran")
    doc = await register(demo_db_sqlite, settings, notation="79/KH-UBND")

    refused = await api.get("/api/v1/audit", headers=clerk)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert (await api.get(f"/api/v1/audit/object/incoming/{doc.id}", headers=clerk)).status_code == 403
    assert (await api.get("/api/v1/audit/verify", headers=clerk)).status_code == 403

    outside = await api.get("/api/v1/audit", headers=auditor, params={"org": 999999})
    assert (
        outside.status_code == 422
        and outside.headers["content-type"] == PROBLEM
        and outside.json()["detail_vi"] != outside.json()["detail_en"]
    )
    bad_day = await api.get("/api/v1/audit", headers=auditor, params={"since": "31/12/2026"})
    assert bad_day.status_code == 422 and bad_day.headers["content-type"] == PROBLEM and "since" in bad_day.json()["detail"]
    bad_cursor = await api.get("/api/v1/audit", headers=auditor, params={"cursor": "-1"})
    assert bad_cursor.status_code == 422 and bad_cursor.headers["content-type"] == PROBLEM
    missing = await api.get("/api/v1/audit/object/incoming/999999", headers=auditor)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
