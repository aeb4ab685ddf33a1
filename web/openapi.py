"""The OpenAPI document, completed with what the routes really answer.

FastAPI documents every route as JSON with its own 422 body. Most routes here are pages and
forms: they answer HTML, files, a redirect after a form or to the sign-in page, and errors in
the app's own shape (JSON for scripts and API tokens, an HTML page for browsers, see
web.app._error_response). Checked by schemathesis (tests/foundation/test_schema_conformance.py).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from web.api_v1.problems import API_V1, PROBLEM_TYPE, Problem

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {
        "error": {"type": "integer", "description": "the HTTP status"},
        "message": {"type": "string", "description": "what went wrong, in the reader's language"},
        "details": {"description": "e.g. the invalid fields"},
    },
    "required": ["error", "message"],
}
ERRORS = {
    "400": "The request cannot be handled as sent.",
    "401": "Not signed in (pages redirect to /login instead), or an invalid API token.",
    "403": "The user's roles do not allow this, or the form's CSRF token is missing or stale.",
    "404": "No such object, or it belongs to an organisation outside the user's scope.",
    "409": "The object's state does not allow this now (e.g. already signed).",
    "413": "The request body is larger than the upload limit.",
    "422": "Missing or invalid fields.",
    "429": "Too many attempts; try again later.",
    "503": "The database is busy (Retry-After) or a dependency is away; nothing was changed.",
}
HTML = {"text/html": {"schema": {"type": "string"}}}
ANY_FILE = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
# 200 answers that are not pages, by path: the stored file in its own type, or a fixed type.
FILES = (
    (re.compile(r"\.png$"), {"image/png": {"schema": {"type": "string", "format": "binary"}}}),
    (re.compile(r"\.csv$|/export\.\{fmt\}$|/export/"), {"text/csv": {"schema": {"type": "string"}}, **ANY_FILE}),
    (re.compile(r"\.jsonl$"), {"application/x-ndjson": {"schema": {"type": "string"}}}),
    (re.compile(r"^/metrics$"), {"text/plain": {"schema": {"type": "string"}}}),  # Prometheus text format
    (re.compile(r"/files/|/file/|/pdf$|/docx$|/attachments/\{|/documents/\{|/download/|/edxml$|/submissions/"), ANY_FILE),
)


def _ok_content(path: str, method: str) -> dict[str, Any]:
    if path.startswith("/api/") or path.endswith(".json") or path == "/healthz":
        return {}
    if method == "get":
        for pattern, content in FILES:
            if pattern.search(path):
                return content
    return HTML


def complete(schema: dict[str, Any]) -> dict[str, Any]:
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas["Problem"] = Problem.model_json_schema()
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}, **HTML}
    problem = {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if path.startswith(API_V1):  # the public API: JSON, errors as problem details (web/api_v1)
                for code, description in ERRORS.items():
                    responses[code] = {"description": description, "content": problem}
                continue
            ok = responses.setdefault("200", {"description": "Successful Response"})
            ok.setdefault("content", {}).update(_ok_content(path, method))
            if path == "/healthz":  # a probe: no session, no errors of its own, 503 names the failing part
                responses["503"] = {"description": "A part (database, Temporal) does not answer.", "content": ok["content"]}
                continue
            if not path.startswith("/api/"):
                responses.setdefault(
                    "303",
                    {
                        "description": "After a form, or to /login when not signed in.",
                        "headers": {"Location": {"schema": {"type": "string"}}},
                    },
                )
            for code, description in ERRORS.items():
                responses[code] = {"description": description, "content": error}
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    openapi_version=app.openapi_version,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                    servers=app.servers,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
