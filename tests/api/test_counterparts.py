"""Derived from the route table: every form action of a domain the public API covers has its
/api/v1 counterpart, so a new page action without one fails here. Domains join the list as
their API lands (issue 17: outgoing documents, meetings, minutes, tasks and reports are next)."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

from web.app import routers

API_DOMAINS = ("/incoming", "/notifications", "/outgoing", "/meetings", "/minutes", "/tasks", "/reports")
# Printing and archiving the register books is a page's job.
PAGES_ONLY = re.compile(r"^/(incoming/book|outgoing/register)/")
# Page actions whose API twins are named differently (a form field became a path or a route).
NAMED = {
    "POST /notifications/read": ("POST /api/v1/notifications/{notification_id}/read", "POST /api/v1/notifications/read-all"),
}


def test_every_page_action_of_a_covered_domain_has_an_api_counterpart() -> None:
    routes = [r for router in routers() for r in router.routes if isinstance(r, APIRoute)]
    api = {f"{m} {r.path}" for r in routes for m in r.methods if r.path.startswith("/api/v1/")}
    actions = [f"POST {r.path}" for r in routes if "POST" in r.methods and r.path.startswith(API_DOMAINS) and not PAGES_ONLY.match(r.path)]
    assert len(actions) > 10, actions
    missing = [a for a in actions if not set(NAMED.get(a, (a.replace("POST ", "POST /api/v1", 1),))) <= api]
    assert not missing, f"page actions without an /api/v1 counterpart: {missing}"
