"""Jinja2 environment shared by every page: translations, formats, navigation, CSRF token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.responses import HTMLResponse

from services.directory.models import Role
from web import i18n
from web.audit_view import actor_label
from web.deps import anonymous_csrf
from web.nav import navigation

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(default=True),
    extensions=["jinja2.ext.i18n"],
)
templates = Jinja2Templates(env=env)
env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
env.filters["dt"] = i18n.fmt_datetime
env.filters["d"] = i18n.fmt_date
env.filters["iso"] = i18n.iso_vn
env.filters["num"] = i18n.fmt_number
env.filters["pct"] = i18n.fmt_percent  # a share 0…1
env.filters["pct100"] = lambda value: i18n.fmt_percent(None if value is None or value == "" else value / 100)
env.globals["pick"] = i18n.pick
env.globals["actor"] = actor_label  # who made an audit entry, in people's words


def trail_link(principal: Any, object_type: str, object_id: int, organization_id: int) -> Markup:
    """A document page's "Lịch sử" link to its audit trail, for the auditors whose scope holds it."""
    if principal is None or organization_id not in principal.orgs_with(Role.auditor):
        return Markup("")
    return Markup('<a class="trail-link" href="/audit/object/{}/{}">{}</a>').format(object_type, object_id, i18n.gettext("Audit history"))


env.globals["trail_link"] = trail_link


def render(request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200) -> HTMLResponse:
    """Render a page with the common context (principal, locale, navigation, CSRF token)."""
    principal = getattr(request.state, "principal", None)
    ctx: dict[str, Any] = {
        "principal": principal,
        "locale": i18n.current_locale.get(),
        "csrf_token": principal.csrf_token if principal and principal.csrf_token else anonymous_csrf(request),
        "nav": navigation(principal, request.url.path, getattr(request.state, "nav_counts", None)) if principal else [],
        "flash": request.query_params.get("ok"),
        "live_seq": getattr(request.state, "live_seq", None),
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
