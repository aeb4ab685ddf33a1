"""HSTS over HTTPS and a Content-Security-Policy without 'unsafe-inline', which the templates
can live with because they hold no inline script, style or event handler (issue 13)."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> block"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on…= handler"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def _directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


async def test_pages_carry_a_strict_policy_and_no_hsts_over_plain_http(demo_db_sqlite, client_for) -> None:
    client = await client_for(demo_db_sqlite)
    page = await client.get("/login")
    policy = page.headers["content-security-policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    directives = _directives(policy)
    for name in ("default-src", "script-src", "style-src", "connect-src", "base-uri", "form-action"):
        assert directives[name] == f"{name} 'self'"
    assert directives["object-src"] == "object-src 'none'"
    assert "strict-transport-security" not in page.headers


async def test_hsts_when_the_request_or_the_configured_site_is_https(demo_db_sqlite, client_for, settings) -> None:
    client = await client_for(demo_db_sqlite)
    secure = await client.get("https://testserver/login")
    assert secure.headers["strict-transport-security"].startswith("max-age=31536000")
    settings.base_url = "https://vanban.hoilhpn-bentre.vn"  # TLS ends at a proxy; the app sees http
    behind_proxy = await client.get("/healthz")
    assert behind_proxy.headers["strict-transport-security"].startswith("max-age=31536000")


def test_templates_hold_no_inline_script_style_or_handler() -> None:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(TEMPLATES)}:{line}: {what}")
    assert found == [], "move these to web/static (the CSP blocks them):\n" + "\n".join(found)
