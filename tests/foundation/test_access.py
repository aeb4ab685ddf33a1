"""Every route declares who may use it; another organisation's data answers 404."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from sqlalchemy import select

from services.directory.models import Organization, Unit, User
from tests.helpers import csrf_of, post_form, sign_in
from web.app import routers
from web.deps import Access


def _access_of(route: APIRoute) -> list[Access]:
    found = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Access):
            found.append(dep.call)
        stack.extend(dep.dependencies)
    return found


def _routes(settings=None):  # type: ignore[no-untyped-def]
    return [r for router in routers() for r in router.routes if isinstance(r, APIRoute)]


def test_every_route_declares_its_access(settings) -> None:
    missing = [f"{sorted(r.methods)} {r.path}" for r in _routes(settings) if not _access_of(r)]
    assert not missing, f"routes without an Access rule: {missing}"


def _sample_path(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "1"), path)


async def test_signed_out_visitors_reach_only_public_routes(demo_db_sqlite, client_for, settings) -> None:
    client = await client_for(demo_db_sqlite)
    for route in _routes(settings):
        if any(a.public for a in _access_of(route)):
            continue
        for method in route.methods:
            response = await client.request(method, _sample_path(route.path, {}))
            assert response.status_code in (303, 401, 403), f"{method} {route.path} answered {response.status_code}"
            if method == "GET" and not route.path.startswith("/api/"):
                assert response.headers.get("location", "").startswith("/login")


async def _ids(database):  # type: ignore[no-untyped-def]
    async with database.session() as session:
        orgs = {o.code: o.id for o in (await session.scalars(select(Organization))).all()}
        users = {u.username: u.id for u in (await session.scalars(select(User))).all()}
        units = {org_id: unit_id for unit_id, org_id in (await session.execute(select(Unit.id, Unit.organization_id))).all()}
    return orgs, users, units


async def test_admin_of_a_district_cannot_see_another_district(demo_db_sqlite, client_for, settings) -> None:
    """A district admin manages its own subtree; siblings and the province answer 404."""
    orgs, users, units = await _ids(demo_db_sqlite)
    root = await client_for(demo_db_sqlite)
    await sign_in(root, "quantri")
    # The province admin makes a district admin at Châu Thành.
    response = await post_form(
        root,
        f"/admin/users/{users['chauthanh.vanthu']}/roles",
        {"role": "admin", "organization_id": str(orgs["hlhpn-chauthanh"])},
        page="/admin",
    )
    assert response.status_code == 303
    district = await client_for(demo_db_sqlite)
    await sign_in(district, "chauthanh.vanthu")
    token = await csrf_of(district, "/admin")

    def ids(org: str, user: str) -> dict[str, str]:
        return {"org_id": str(orgs[org]), "user_id": str(users[user]), "unit_id": str(units[orgs[org]])}

    own = ids("hlhpn-tanthach", "tanthach.chutich")
    foreign = ids("hlhpn-mocaynam", "mocaynam.chutich")
    province = ids("hlhpn-bentre", "lan.nguyen")
    admin_routes = [r for r in _routes(settings) if r.path.startswith("/admin/") and ("{org_id}" in r.path or "{user_id}" in r.path)]
    assert admin_routes
    for route in admin_routes:
        for method in route.methods:
            if "{assignment_id}" in route.path:
                continue
            ok = await district.request(method, _sample_path(route.path, own), data={"csrf_token": token})
            assert ok.status_code != 404, f"{method} {route.path} should be allowed in the own subtree"
            for other in (foreign, province):
                response = await district.request(method, _sample_path(route.path, other), data={"csrf_token": token})
                assert response.status_code == 404, f"{method} {route.path} leaked: {response.status_code}"
                assert "Mỏ Cày" not in response.text and "Nguyễn Thị Lan" not in response.text


async def test_commune_leader_has_no_admin_or_audit_pages(demo_db_sqlite, client_for) -> None:
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "tanthach.chutich")
    for path in ("/admin", "/audit", "/audit/export.jsonl"):
        assert (await client.get(path)).status_code == 403
    orgs, _, _ = await _ids(demo_db_sqlite)
    assert (await client.get(f"/admin/orgs/{orgs['hlhpn-tanthach']}")).status_code in (403, 404)
    visible = {o["code"] for o in (await client.get("/api/orgs")).json()}
    assert visible == {"hlhpn-tanthach"}


async def test_district_auditor_sees_only_its_subtree_in_the_trail(demo_db_sqlite, client_for) -> None:
    orgs, users, _ = await _ids(demo_db_sqlite)
    root = await client_for(demo_db_sqlite)
    await sign_in(root, "quantri")
    await post_form(
        root,
        f"/admin/users/{users['mocaynam.chuyenvien']}/roles",
        {"role": "auditor", "organization_id": str(orgs["hlhpn-mocaynam"])},
        page="/admin",
    )
    auditor = await client_for(demo_db_sqlite)
    await sign_in(auditor, "mocaynam.chuyenvien")
    page = await auditor.get("/audit")
    assert page.status_code == 200
    assert "Hội LHPN xã An Định" in page.text and "Châu Thành" not in page.text
    # The whole chain would disclose other organisations: only a top-level auditor exports it.
    assert (await auditor.get("/audit/export.jsonl")).status_code == 403
    foreign = await auditor.get(f"/audit?org={orgs['hlhpn-chauthanh']}")
    assert foreign.status_code == 422


async def test_numbers_beyond_the_database_range_answer_4xx_not_500(demo_db, client_for) -> None:
    """schemathesis found these 500s: an ID of 2**63 in a path or a form (SQLite raises
    OverflowError, asyncpg refuses more than 32 bits). A path ID that large names nothing: 404."""
    client = await client_for(demo_db)
    await sign_in(client, "quantri")
    token = await csrf_of(client, "/admin")
    for route in _routes():
        if "{" not in route.path:
            continue
        for method in route.methods - {"HEAD"}:
            for huge in (str(2**31), str(2**63)):
                response = await client.request(method, re.sub(r"\{\w+\}", huge, route.path), data={"csrf_token": token})
                assert response.status_code == 404, f"{method} {route.path} answered {response.status_code}"
            superscript = await client.request(method, re.sub(r"\{\w+\}", "²", route.path), data={"csrf_token": token})
            assert superscript.status_code < 500, f"{method} {route.path} answered {superscript.status_code} to ²"
    client = await client_for(demo_db)  # the province's clerk organises a meeting, then adds a participant
    await sign_in(client, "mai.tran")
    token = await csrf_of(client, "/meetings/new")
    async with demo_db.session() as session:
        lan = await session.scalar(select(User.id).where(User.username == "lan.nguyen"))
        province = await session.scalar(select(Organization.id).where(Organization.code == "hlhpn-bentre"))
    meeting_form = {
        "csrf_token": token,
        "organization_id": str(province),
        "title": "Họp thử",
        "chair_id": str(lan),
        "starts_at": "2030-01-02T09:00",
        "ends_at": "2030-01-02T11:00",
    }
    made = await client.post("/meetings", data=meeting_form)
    assert made.status_code == 303, made.text[:500]
    meeting = re.search(r"/meetings/(\d+)", made.headers["location"]).group(1)
    added = await client.post(f"/meetings/{meeting}/participants", data={"csrf_token": token, "user_ids": [str(2**63)]})
    assert added.status_code == 422, added.text[:300]
    # An id field holding "²" (str.isdigit() says yes, int() says no) is the clerk's 422, not a 500.
    for field in ("chair_id", "organization_id"):
        odd = await client.post("/meetings", data=meeting_form | {field: "²"})
        assert odd.status_code == 422, (field, odd.status_code, odd.text[:300])
    drafted = await client.post(
        "/outgoing", data={"csrf_token": token, "doc_type": "CV", "subject": "Thử", "signer_id": "²", "unit_id": "¹"}
    )
    assert drafted.status_code == 422, (drafted.status_code, drafted.text[:300])


async def test_a_download_key_with_non_ascii_characters_answers_404(demo_db_sqlite, client_for) -> None:
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "mai.tran")
    response = await client.get("/signing/download/" + "0" * 64, params={"t": "ßô²"})  # a 500 before (schemathesis)
    assert response.status_code == 404


async def test_a_holiday_year_out_of_range_answers_422(demo_db_sqlite, client_for) -> None:
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "quantri")
    assert (await client.get("/admin/holidays", params={"year": "-3"})).status_code == 422  # a 500 before (schemathesis)
    assert (await client.get("/admin/holidays", params={"year": "2027"})).status_code == 200
