"""Webhooks over the public API, driven as an integrator's script would: subscribe, keep the
secret shown once, receive signed events on a real endpoint, read the deliveries with their
attempts, redeliver, disable, delete (issue 17)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from services.directory.models import Organization
from services.webhooks import delivery
from tests.api.test_incoming_api import _bearer, _register
from tests.webhooks.receiver import serve

PROBLEM = "application/problem+json"


async def _org(database, code: str) -> int:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        return await session.scalar(select(Organization.id).where(Organization.code == code))


async def test_an_integrator_subscribes_and_follows_its_deliveries(demo_db_sqlite, client_for, settings) -> None:
    settings.webhook_allow_http_localhost = True
    api = await client_for(demo_db_sqlite)
    admin, clerk = await _bearer(demo_db_sqlite, "quantri"), await _bearer(demo_db_sqlite, "mai.tran")
    province = await _org(demo_db_sqlite, "hlhpn-bentre")
    with serve() as receiver:
        body = {"organization_id": province, "url": receiver.url, "events": ["incoming.arrived"], "description": "Cổng thông tin"}
        key = str(uuid.uuid4())
        created = await api.post("/api/v1/webhooks", headers={**admin, "idempotency-key": key}, json=body)
        assert created.status_code == 201, created.text
        sub = created.json()
        assert created.headers["location"] == f"/api/v1/webhooks/{sub['id']}"
        assert sub["secret"].startswith("whsec_") and sub["events"] == ["incoming.arrived"] and sub["active"]
        receiver.secret = sub["secret"]
        again = await api.post("/api/v1/webhooks", headers={**admin, "idempotency-key": key}, json=body)
        assert again.json()["id"] == sub["id"] and again.headers["idempotent-replayed"] == "true"

        # The secret is never answered again.
        listed = (await api.get("/api/v1/webhooks", headers=admin)).json()["items"]
        assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0]
        assert "secret" not in (await api.get(f"/api/v1/webhooks/{sub['id']}", headers=admin)).json()

        # A document the clerk registers is an event of the province: delivered, signed.
        doc = (await _register(api, clerk, province, "41/KH-UBND")).json()
        assert await delivery.deliver_due(demo_db_sqlite, settings) == 1
        [got] = receiver.received
        assert got["valid"] and got["body"]["type"] == "incoming.arrived" and got["body"]["object"]["id"] == doc["id"]

        # A test event, then its redelivery: the same event, each attempt on record.
        test = await api.post(f"/api/v1/webhooks/{sub['id']}/test", headers=admin)
        assert test.status_code == 201 and test.json()["status"] == "pending" and test.json()["event_type"] == "ping"
        assert await delivery.deliver_due(demo_db_sqlite, settings) == 1
        redo = await api.post(f"/api/v1/webhooks/{sub['id']}/deliveries/{test.json()['id']}/redeliver", headers=admin)
        assert redo.status_code == 200 and redo.json()["status"] == "pending" and redo.json()["attempts"] == 0
        assert await delivery.deliver_due(demo_db_sqlite, settings) == 1
        assert [r["event_id"] for r in receiver.received[1:]] == [test.json()["event_id"]] * 2

        detail = (await api.get(f"/api/v1/webhooks/{sub['id']}", headers=admin)).json()
        ping = next(d for d in detail["deliveries"] if d["id"] == test.json()["id"])
        assert ping["status"] == "delivered" and ping["next_attempt_at"] is None
        assert [a["status_code"] for a in ping["attempt_log"]] == [204, 204]
        assert [d["event_type"] for d in detail["deliveries"]] == ["ping", "incoming.arrived"]

        # Disabled, nothing is sent; enabled again, what waited goes.
        disabled = await api.post(f"/api/v1/webhooks/{sub['id']}/disable", headers=admin)
        assert disabled.status_code == 200 and disabled.json()["active"] is False
        await api.post(f"/api/v1/webhooks/{sub['id']}/test", headers=admin)
        assert await delivery.deliver_due(demo_db_sqlite, settings) == 0
        assert (await api.post(f"/api/v1/webhooks/{sub['id']}/enable", headers=admin)).json()["active"] is True
        assert await delivery.deliver_due(demo_db_sqlite, settings) == 1

    deleted = await api.delete(f"/api/v1/webhooks/{sub['id']}", headers=admin)
    assert deleted.status_code == 204
    gone = await api.get(f"/api/v1/webhooks/{sub['id']}", headers=admin)
    assert gone.status_code == 404 and gone.headers["content-type"] == PROBLEM


async def test_only_administrators_subscribe_and_only_https(demo_db_sqlite, client_for) -> None:
    api = await client_for(demo_db_sqlite)
    admin, clerk = await _bearer(demo_db_sqlite, "quantri"), await _bearer(demo_db_sqlite, "mai.tran")
    province = await _org(demo_db_sqlite, "hlhpn-bentre")
    body = {"organization_id": province, "url": "https://hooks.example.vn/lt", "events": ["minutes.signed"]}

    refused = await api.post("/api/v1/webhooks", headers=clerk, json=body)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert (await api.get("/api/v1/webhooks", headers=clerk)).status_code == 403

    plain = await api.post("/api/v1/webhooks", headers=admin, json={**body, "url": "http://hooks.example.vn/lt"})
    assert plain.status_code == 422 and "HTTPS" in plain.json()["detail_vi"] and "HTTPS" in plain.json()["detail_en"]
    local = await api.post("/api/v1/webhooks", headers=admin, json={**body, "url": "http://127.0.0.1:9/lt"})
    assert local.status_code == 422  # only when the setting allows it (tests)
    unknown = await api.post("/api/v1/webhooks", headers=admin, json={**body, "events": ["ping"]})
    assert unknown.status_code == 422
    elsewhere = await api.post("/api/v1/webhooks", headers=admin, json={**body, "organization_id": 10**6})
    assert elsewhere.status_code == 404
