"""Signing in from an app: name and password exchanged for an API token over /api/v1/tokens,
throttled and recorded as the sign-in page is (issue 17)."""

from __future__ import annotations

from sqlalchemy import select

from demo.directory import DEMO_PASSWORD
from services.audit.models import AuditEntry
from services.auth.models import ApiToken

PROBLEM = "application/problem+json"


async def test_a_phone_exchanges_name_and_password_for_a_token_and_uses_it(demo_db_sqlite, client_for, settings) -> None:
    settings.login_free_failures_per_account = 2
    api = await client_for(demo_db_sqlite)
    body = {"username": "lan.nguyen", "name": "Điện thoại của Lan", "scope": "full", "days": 30}

    wrong = await api.post("/api/v1/tokens", json={**body, "password": "nham-mat-khau"}, headers={"accept": "application/json"})
    assert wrong.status_code == 401 and wrong.headers["content-type"] == PROBLEM, wrong.text
    assert wrong.json()["detail_en"] == "The username or password is wrong."

    issued = await api.post("/api/v1/tokens", json={**body, "password": DEMO_PASSWORD}, headers={"accept": "application/json"})
    assert issued.status_code == 201, issued.text
    token = issued.json()
    assert token["token"].startswith("lt_") and token["scope"] == "full" and issued.headers["cache-control"] == "no-store"
    bearer = {"authorization": f"Bearer {token['token']}", "accept": "application/json"}
    assert (await api.get("/api/v1/notifications", headers=bearer)).status_code == 200
    assert (await api.post("/api/v1/notifications/read-all", headers=bearer)).status_code == 200  # full scope writes
    async with demo_db_sqlite.session() as session:
        stored = await session.get(ApiToken, token["id"])
        assert stored is not None and stored.name == "Điện thoại của Lan" and token["token"] not in stored.token_hash
        actions = set((await session.scalars(select(AuditEntry.action))).all())
    assert {"auth.login_failed", "auth.token_create"} <= actions

    # Guessing is throttled as on the sign-in page: 429 with Retry-After, no token.
    for _ in range(3):
        guessed = await api.post("/api/v1/tokens", json={**body, "password": "doan-thu"}, headers={"accept": "application/json"})
    assert guessed.status_code == 429 and int(guessed.headers["retry-after"]) > 0, guessed.text
    refused = await api.post("/api/v1/tokens", json={**body, "password": DEMO_PASSWORD}, headers={"accept": "application/json"})
    assert refused.status_code == 429


async def test_a_read_only_token_from_an_app_cannot_act(demo_db_sqlite, client_for) -> None:
    api = await client_for(demo_db_sqlite)
    issued = await api.post(
        "/api/v1/tokens",
        json={"username": "thu.le", "password": DEMO_PASSWORD, "name": "Cổng thông tin"},
        headers={"accept": "application/json"},
    )
    assert issued.status_code == 201 and issued.json()["scope"] == "read", issued.text
    bearer = {"authorization": f"Bearer {issued.json()['token']}", "accept": "application/json"}
    assert (await api.get("/api/v1/outgoing", headers=bearer)).status_code == 200
    refused = await api.post("/api/v1/notifications/read-all", headers=bearer)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
