"""The authorisation matrix: every route and live channel × every role × the organisation that
owns the object (the principal's own, its parent, a child, an unrelated one) → the answer.

Each row names the object family a route's path parameters come from (tests/foundation/authz_data.py
makes one of each, per organisation) and lists where the answer differs from the route's declared
access rule (web/deps.py). The rule gives: signed-out visitors are sent to sign in (401 for the
API and forms); a role outside `Access(roles...)` gets 403; a role inside gets through ("ok": any
answer but 401/403/404, e.g. a page, a redirect, 409 or 422) for its own organisation's objects
and 404 for any other organisation's. Exceptions are `who@relation=answer`: who is a role, a
comma list of roles, `anon` or `*` (every role the declared rule lets through); relation is own,
parent, child, other or `*`; answer is ok, 403, 404, login, 503 or 422 (refused on the form's fields
before the object is read, which tells nothing about the object). Later entries win.

Every request's transaction is rolled back (commit included), so each cell sees the same data.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import UnionType
from typing import Literal, Union, get_args, get_origin

import httpx
import pytest
from fastapi.params import Form
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import WebSocketRoute

from demo.incoming import demo_pdf
from services.config import Settings
from services.db import Database
from services.directory.models import Role
from tests.foundation.authz_data import OWN, RELATIONS, MatrixData, build, params_of
from web.deps import Access

ALLOWED, LOGIN = "ok", "login"
ANON = "anon"
ROLES = tuple(Role)

# --- the table: one row per route ("METHOD /path": "family | exceptions") -------------------------
# Families: "-" (no object: the row is checked for the own organisation only), incoming, outgoing,
# meeting, minutes, task, report, print (the incoming register's print), admin (an organisation, its
# unit, its leader and role), audit,
# person (a notification and an API token: the principal's own, or another organisation's leader's),
# holiday (global). Admins and auditors act on the organisations below theirs (services/authz.py):
# hence their `@child=ok`. Routes reached through a person's part in the object (the handler of a
# document, a meeting's chair, a task's owner) answer 403 or 404 to the others of the organisation.
ROWS: dict[str, str] = {
    "GET /healthz": "- | *@own=503",  # Temporal is away here
    "GET /metrics": "- | *,anon@own=403",  # neither loopback nor a scraper token
    "GET /login": "-",
    "POST /login": "- | *@own=login anon@own=403",  # a wrong password; no CSRF cookie
    "POST /logout": "- | *@own=login",
    "GET /lang/{code}": "-",
    "GET /account": "-",
    "POST /account/password": "-",
    "POST /account/tokens": "-",
    "POST /account/tokens/{token_id}/revoke": "person",
    "GET /": "-",
    "GET /notifications": "-",
    "POST /notifications/read": "-",
    "GET /notifications/{notification_id}/open": "person",
    "GET /api/v1/notifications": "-",
    "POST /api/v1/notifications/read-all": "-",
    "POST /api/v1/notifications/{notification_id}/read": "person",
    "GET /incoming": "-",
    "GET /incoming/to-register": "-",
    "GET /incoming/to-direct": "-",
    "GET /incoming/tasks": "-",
    "GET /incoming/done": "-",
    "GET /incoming/search": "-",
    "GET /incoming/new": "-",
    "GET /incoming/check-duplicate": "-",
    "POST /incoming": "- | clerk@own=404",
    "POST /incoming/{document_id}/register": "incoming",
    "POST /incoming/{document_id}/accept": "incoming",
    "POST /incoming/{document_id}/return-sender": "incoming",
    "POST /incoming/{document_id}/recall-answer": "incoming",
    "POST /incoming/{document_id}/return-clerk": "incoming | clerk@own=403 auditor@own,child=403 admin,officer,secretary@own=404",
    "POST /incoming/{document_id}/direct": "incoming",
    "POST /incoming/{document_id}/no-direction": "incoming",
    "POST /incoming/{document_id}/extend": "incoming",
    "POST /incoming/{document_id}/delegate": "incoming | clerk,leader,deputy_leader@own=403 auditor@own,child=403 admin,officer,secretary@own=404",
    "POST /incoming/{document_id}/progress": "incoming | clerk,leader,deputy_leader@own=403 auditor@own,child=403 admin,officer,secretary@own=404",
    "POST /incoming/{document_id}/opinion": "incoming | clerk@own=403 auditor@own,child=403 admin,officer,secretary@own=404",
    "POST /incoming/{document_id}/complete": "incoming | clerk,leader,deputy_leader@own=403 auditor@own,child=403 admin,officer,secretary@own=404",
    "POST /incoming/{document_id}/reply": "incoming | clerk@own=403 auditor@own,child=403 admin,officer,secretary@own=404",
    "GET /incoming/book": "-",
    "POST /incoming/book/archive": "-",
    "GET /incoming/book/archive.pdf": "-",
    "POST /incoming/book/print": "-",
    "GET /incoming/stats": "-",
    "GET /api/v1/incoming": "-",
    "GET /api/v1/incoming/queues/{queue}": "-",
    "GET /api/v1/incoming/{document_id}": "incoming | admin,officer,secretary@own=404 auditor@child=ok",
    "POST /api/v1/incoming": "-",
    "POST /api/v1/incoming/{document_id}/register": "incoming",
    "POST /api/v1/incoming/{document_id}/accept": "incoming",
    "POST /api/v1/incoming/{document_id}/return-sender": "incoming",
    "POST /api/v1/incoming/{document_id}/recall-answer": "incoming",
    "POST /api/v1/incoming/{document_id}/return-clerk": "incoming | clerk@own=403 auditor@own,child=403 admin,officer,secretary@own=404",
    "POST /api/v1/incoming/{document_id}/direct": "incoming",
    "POST /api/v1/incoming/{document_id}/no-direction": "incoming",
    "POST /api/v1/incoming/{document_id}/extend": "incoming",
    "POST /api/v1/incoming/{document_id}/delegate": "incoming | clerk,leader,deputy_leader@own=403 auditor@own,child=403 admin,officer,secretary@own=404",
    "POST /api/v1/incoming/{document_id}/progress": "incoming | clerk,leader,deputy_leader@own=403 auditor@own,child=403 admin,officer,secretary@own=404",
    "POST /api/v1/incoming/{document_id}/opinion": "incoming | clerk@own=403 auditor@own,child=403 admin,officer,secretary@own=404",
    "POST /api/v1/incoming/{document_id}/complete": "incoming | clerk,leader,deputy_leader@own=403 auditor@own,child=403 admin,officer,secretary@own=404",
    "POST /api/v1/incoming/{document_id}/reply": "incoming | clerk@own=403 auditor@own,child=403 admin,officer,secretary@own=404",
    "POST /api/v1/tokens": "- | *,anon@own=login",  # the sample name and password are wrong: 401
    "GET /api/v1/organizations": "-",
    "POST /api/v1/signatures/verify": "-",
    "GET /api/v1/outgoing": "-",
    "POST /api/v1/outgoing": "-",
    "GET /api/v1/outgoing/{document_id}": "outgoing | admin,auditor@child=ok",
    "POST /api/v1/outgoing/edxml/import": "-",
    "POST /api/v1/outgoing/{document_id}/edit": "outgoing | clerk,leader,deputy_leader,secretary@own=403 admin,auditor@own,child=403",
    "POST /api/v1/outgoing/{document_id}/attachments": "outgoing | admin,auditor@child=ok",
    "POST /api/v1/outgoing/{document_id}/attachments/{attachment_id}/remove": "outgoing | clerk,leader,deputy_leader,secretary@own=403 admin,auditor@own,child=403",
    "POST /api/v1/outgoing/{document_id}/submit": "outgoing | clerk,leader,deputy_leader,secretary@own=403 admin,auditor@own,child=403",
    "POST /api/v1/outgoing/{document_id}/review": "outgoing | admin,auditor@child=ok",
    "POST /api/v1/outgoing/{document_id}/return": "outgoing",
    "POST /api/v1/outgoing/{document_id}/sign": "outgoing | deputy_leader@own=403",
    "POST /api/v1/outgoing/{document_id}/issue": "outgoing",
    "POST /api/v1/outgoing/{document_id}/cancel": "outgoing | clerk,secretary@own=403 admin,auditor@own,child=403",
    "POST /api/v1/outgoing/{document_id}/recall": "outgoing | admin,auditor@child=ok admin@own=403 admin@child=403 officer@own=403 secretary@own=403 auditor@own=403 auditor@child=403",
    "POST /api/v1/outgoing/{document_id}/replace": "outgoing | admin,auditor@child=ok admin@own=403 admin@child=403 officer@own=403 secretary@own=403 auditor@own=403 auditor@child=403",
    "GET /incoming/{document_id}": "incoming | admin,officer,secretary@own=404 auditor@child=ok",
    "GET /incoming/{document_id}/files/{file_id}": "incoming | admin,officer,secretary@own=404 auditor@child=ok",
    "GET /incoming/{document_id}/files/{file_id}/pages/{page}.png": "incoming | admin,officer,secretary@own=404 auditor@child=ok",
    "GET /admin/holidays": "-",
    "POST /admin/holidays": "-",
    "POST /admin/holidays/remove": "-",
    "GET /outgoing": "-",
    "GET /outgoing/edxml/import": "-",
    "POST /outgoing/edxml/import": "-",
    "GET /outgoing/register/{year}": "- | officer,secretary@own=404",
    "POST /outgoing/register/{year}/archive": "-",
    "GET /outgoing/register/{year}/archive.pdf": "- | *@own=404",  # no register of that year is closed here
    "POST /outgoing/register/{year}/print": "- | officer,secretary@own=404",  # as the register's page
    # A print of the incoming register: its readers (an auditor's scope is the subtree); no admin.
    "GET /registers/prints/{print_id}": "print | admin@own=404 auditor@child=ok",
    "GET /registers/prints/{print_id}/book.pdf": "print | admin@own=404 auditor@child=ok",  # not printed yet: 409
    "GET /outgoing/register": "-",
    "GET /outgoing/new": "-",
    "POST /outgoing": "-",
    "GET /outgoing/{document_id}/edit": "outgoing | admin,auditor@child=ok",
    "POST /outgoing/{document_id}/edit": "outgoing | clerk,leader,deputy_leader,secretary@own=403 admin,auditor@own,child=403",
    "POST /outgoing/{document_id}/attachments": "outgoing | admin,auditor@child=ok",
    "POST /outgoing/{document_id}/attachments/{attachment_id}/remove": "outgoing | clerk,leader,deputy_leader,secretary@own=403 admin,auditor@own,child=403",
    "GET /outgoing/{document_id}": "outgoing | admin,auditor@child=ok",
    "GET /outgoing/{document_id}/versions/{number}/docx": "outgoing | admin,auditor@child=ok",
    "GET /outgoing/{document_id}/diff": "outgoing | admin,auditor@child=ok",
    "GET /outgoing/{document_id}/pdf": "outgoing | *@own=404",
    "GET /outgoing/{document_id}/pdf/{sha}/pages/{page}.png": "outgoing | *@own=404",
    "GET /outgoing/{document_id}/attachments/{attachment_id}": "outgoing | admin,auditor@child=ok",
    "GET /outgoing/{document_id}/status": "outgoing | admin,auditor@child=ok",
    "POST /outgoing/{document_id}/submit": "outgoing | clerk,leader,deputy_leader,secretary@own=403 admin,auditor@own,child=403",
    "POST /outgoing/{document_id}/review": "outgoing | admin,auditor@child=ok",
    "POST /outgoing/{document_id}/return": "outgoing",
    "POST /outgoing/{document_id}/sign": "outgoing | deputy_leader@own=403",
    "POST /outgoing/{document_id}/issue": "outgoing",
    "POST /outgoing/{document_id}/cancel": "outgoing | clerk,secretary@own=403 admin,auditor@own,child=403",
    "POST /outgoing/{document_id}/recall": "outgoing | admin,auditor@child=ok admin@own=403 admin@child=403 officer@own=403 secretary@own=403 auditor@own=403 auditor@child=403",
    "POST /outgoing/{document_id}/replace": "outgoing | admin,auditor@child=ok admin@own=403 admin@child=403 officer@own=403 secretary@own=403 auditor@own=403 auditor@child=403",
    "GET /outgoing/{document_id}/edxml": "outgoing | admin,auditor@child=ok",
    "GET /signing": "-",
    "POST /signing/sign": "-",
    "GET /signing/download/{digest}": "- | *@own=404",
    "POST /signing/verify": "-",
    "GET /signing/image/me.png": "-",
    "POST /account/signature-image": "-",
    "GET /admin/orgs/{org_id}/seal.png": "admin | admin@child=ok",
    "POST /admin/orgs/{org_id}/signing": "admin | admin@child=ok",
    "GET /meetings": "-",
    "GET /meetings/new": "-",
    "POST /meetings": "-",
    "GET /meetings/{meeting_id}": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/details": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/participants": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/participants/{participant_id}/remove": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/units": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/units/{unit_id}/remove": "meeting | auditor@own=404",
    "POST /meetings/{meeting_id}/units/{unit_id}/attendees": "meeting | clerk,leader,deputy_leader,officer,secretary,auditor@own=404",
    "POST /meetings/{meeting_id}/units/{unit_id}/attendance": "meeting | clerk,leader,deputy_leader,officer,secretary,auditor,admin@own=404",
    "POST /meetings/{meeting_id}/units/{unit_id}/decline": "meeting | clerk,leader,deputy_leader,officer,secretary,auditor@own=404",
    "POST /meetings/{meeting_id}/reply": "meeting | deputy_leader,secretary@own=403 admin@own,child=403 auditor@own=404",
    "POST /meetings/{meeting_id}/items": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/items/{item_id}/remove": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/items/{item_id}/move": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/documents": "meeting | auditor@own=404 admin@child=ok",
    "GET /meetings/{meeting_id}/documents/{document_id}": "meeting | auditor@own=404 admin@child=ok",
    "GET /meetings/{meeting_id}/documents/{document_id}/pages.json": "meeting | auditor@own=404 admin@child=ok",
    "GET /meetings/{meeting_id}/documents/{document_id}/pdf/{sha}/pages/{page}.png": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/schedule": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/reschedule": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/cancel": "meeting | auditor@own=404 admin@child=ok",
    "GET /meetings/{meeting_id}/video": "meeting | auditor@own=404 admin@child=ok",
    "GET /meetings/{meeting_id}/room": "meeting | deputy_leader,secretary@own=403 admin@own,child=403 auditor@own=404",
    "GET /meetings/{meeting_id}/console": "meeting | clerk,deputy_leader,secretary@own=403 admin@own,child=403 auditor@own=404",
    "GET /meetings/{meeting_id}/state.json": "meeting | admin,deputy_leader,secretary,auditor@own=404",
    "GET /meetings/{meeting_id}/projector": "meeting | admin@child=ok",
    "GET /meetings/screen/{token}": "meeting",
    "GET /meetings/screen/{token}/state.json": "meeting",
    "WS /meetings/screen/{token}/ws": "meeting",
    "GET /meetings/{meeting_id}/polls/{poll_id}.csv": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/live/open": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/close": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/checkin": "meeting | admin@own=403 admin@child=403 deputy_leader@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/mark": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/substitute": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/site": "meeting | admin@child=403 clerk@own=403 deputy_leader@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/add-item": "meeting | admin@child=ok auditor@own=404",
    "POST /meetings/{meeting_id}/live/start-item": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/end-item": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/move-item": "meeting | auditor@own=404",
    "POST /meetings/{meeting_id}/live/reorder": "meeting | admin@child=ok auditor@own=404",
    "POST /meetings/{meeting_id}/live/request-floor": "meeting | admin@own=403 admin@child=403 deputy_leader@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/withdraw": "meeting | admin@own=403 admin@child=403 clerk@own=404 leader@own=404 deputy_leader@own=403 officer@own=404 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/grant": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/end-floor": "meeting | admin@own=403 admin@child=403 clerk@own=403 leader@own=404 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/open-poll": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/vote": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 secretary@own=403 auditor@own=404",
    "POST /meetings/{meeting_id}/live/close-poll": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "GET /meetings/{meeting_id}/minutes": "meeting | auditor@own=404 admin@child=ok",
    "POST /meetings/{meeting_id}/minutes/start": "meeting | auditor@own=404 admin@child=ok",
    "POST /minutes/{minutes_id}/save": "minutes | auditor@own=404 admin,clerk,deputy_leader@own=403 admin@child=403",
    "GET /minutes/{minutes_id}/state.json": "minutes | auditor@own=404 admin@child=ok",
    "GET /minutes/{minutes_id}/revisions": "minutes | auditor@own=404 admin@child=ok",
    "GET /minutes/{minutes_id}/revisions/{revision_id}": "minutes | auditor@own=404 admin@child=ok",
    "POST /minutes/{minutes_id}/close": "minutes | clerk,deputy_leader@own=403 admin@own,child=403 auditor@own=404",
    "POST /minutes/{minutes_id}/sign": "minutes | auditor@own=404 admin@child=ok",
    "POST /minutes/{minutes_id}/return": "minutes | clerk,leader,deputy_leader,officer,secretary@own=403 admin@own,child=403 auditor@own=404",
    "GET /minutes/{minutes_id}/file/{kind}": "minutes | *@own=404",
    "GET /minutes/{minutes_id}/pdf/{sha}/pages/{page}.png": "minutes | *@own=404",
    "POST /minutes/{minutes_id}/tasks": "minutes | auditor@own=404 admin,clerk,deputy_leader@own=403 admin@child=403",
    "GET /api/v1/meetings": "-",
    "POST /api/v1/meetings": "- | *@own=404",  # the sample body names organisation 1, not theirs: as for any organisation they do not organise
    "GET /api/v1/meetings/{meeting_id}": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/meetings/{meeting_id}/details": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/meetings/{meeting_id}/participants": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/meetings/{meeting_id}/participants/{participant_id}/remove": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/meetings/{meeting_id}/units": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/meetings/{meeting_id}/units/{unit_id}/remove": "meeting | auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/units/{unit_id}/attendees": "meeting | clerk,leader,deputy_leader,officer,secretary,auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/units/{unit_id}/attendance": "meeting | clerk,leader,deputy_leader,officer,secretary,auditor,admin@own=404",
    "POST /api/v1/meetings/{meeting_id}/units/{unit_id}/decline": "meeting | clerk,leader,deputy_leader,officer,secretary,auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/reply": "meeting | deputy_leader,secretary@own=403 admin@own,child=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/items": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/meetings/{meeting_id}/items/{item_id}/remove": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/meetings/{meeting_id}/items/{item_id}/move": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/meetings/{meeting_id}/documents": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/meetings/{meeting_id}/schedule": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/meetings/{meeting_id}/reschedule": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/meetings/{meeting_id}/cancel": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/meetings/{meeting_id}/live/open": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/close": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/checkin": "meeting | admin@own=403 admin@child=403 deputy_leader@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/mark": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/substitute": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/site": "meeting | admin@child=403 clerk@own=403 deputy_leader@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/add-item": "meeting | admin@child=ok auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/start-item": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/end-item": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/move-item": "meeting | auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/reorder": "meeting | admin@child=ok auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/request-floor": "meeting | admin@own=403 admin@child=403 deputy_leader@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/withdraw": "meeting | admin@own=403 admin@child=403 clerk@own=404 leader@own=404 deputy_leader@own=403 officer@own=404 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/grant": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/end-floor": "meeting | admin@own=403 admin@child=403 clerk@own=403 leader@own=404 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/open-poll": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/vote": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/live/close-poll": "meeting | admin@own=403 admin@child=403 clerk@own=403 deputy_leader@own=403 officer@own=403 secretary@own=403 auditor@own=404",
    "POST /api/v1/meetings/{meeting_id}/minutes/start": "meeting | auditor@own=404 admin@child=ok",
    "POST /api/v1/minutes/{minutes_id}/save": "minutes | auditor@own=404 admin,clerk,deputy_leader@own=403 admin@child=403",
    "POST /api/v1/minutes/{minutes_id}/close": "minutes | clerk,deputy_leader@own=403 admin@own,child=403 auditor@own=404",
    "POST /api/v1/minutes/{minutes_id}/sign": "minutes | auditor@own=404 admin@child=ok",
    "POST /api/v1/minutes/{minutes_id}/return": "minutes | clerk,leader,deputy_leader,officer,secretary@own=403 admin@own,child=403 auditor@own=404",
    "POST /api/v1/minutes/{minutes_id}/tasks": "minutes | auditor@own=404 admin,clerk,deputy_leader@own=403 admin@child=403",
    "GET /api/v1/meetings/{meeting_id}/minutes": "meeting | auditor@own=404 admin@child=ok",
    "GET /api/v1/minutes/{minutes_id}": "minutes | auditor@own=404 admin@child=ok",
    "GET /api/v1/minutes/{minutes_id}/revisions": "minutes | auditor@own=404 admin@child=ok",
    "GET /api/v1/minutes/{minutes_id}/revisions/{revision_id}": "minutes | auditor@own=404 admin@child=ok",
    "GET /tasks": "-",
    "GET /tasks/{task_id}": "task | admin,auditor@child=ok",
    "POST /tasks/{task_id}/progress": "task | clerk,leader,deputy_leader,secretary@own=403 admin,auditor@own,child=403",
    "POST /tasks/{task_id}/done": "task | clerk,leader,deputy_leader,secretary@own=403 admin,auditor@own,child=403",
    "POST /tasks/{task_id}/reopen": "task | officer@own=403 auditor@own,child=403 admin@child=ok",
    "POST /tasks/{task_id}/reassign": "task | officer,auditor@own=403 auditor@child=403 admin@child=ok",
    "POST /tasks/{task_id}/cancel": "task | officer@own=403 auditor@own,child=403 admin@child=ok",
    "GET /api/v1/tasks": "-",
    "GET /api/v1/tasks/{task_id}": "task | admin,auditor@child=ok",
    "POST /api/v1/tasks/{task_id}/progress": "task | clerk,leader,deputy_leader,secretary@own=403 admin,auditor@own,child=403",
    "POST /api/v1/tasks/{task_id}/done": "task | clerk,leader,deputy_leader,secretary@own=403 admin,auditor@own,child=403",
    "POST /api/v1/tasks/{task_id}/reopen": "task | officer@own=403 auditor@own,child=403 admin@child=ok",
    "POST /api/v1/tasks/{task_id}/reassign": "task | officer,auditor@own=403 auditor@child=403 admin@child=ok",
    "POST /api/v1/tasks/{task_id}/cancel": "task | officer@own=403 auditor@own,child=403 admin@child=ok",
    "GET /reports": "-",
    "GET /reports/new": "- | admin,secretary,auditor@own=404",
    "POST /reports": "-",
    "GET /reports/{request_id}": "report",
    "GET /reports/{request_id}/progress.json": "report",
    "POST /reports/{request_id}/extend": "report",
    "POST /reports/{request_id}/close": "report | admin,clerk,officer,secretary,auditor@own=404",
    "POST /reports/{request_id}/restart": "report | admin,clerk,officer,secretary,auditor@own=404",
    "GET /reports/{request_id}/export.{fmt}": "report",
    "GET /reports/{request_id}/files/{kind}": "report",
    "GET /reports/{request_id}/targets/{organization_id}": "report",
    "POST /reports/{request_id}/targets/{organization_id}/submit": "report | *@own=404",
    "POST /reports/{request_id}/targets/{organization_id}/decide": "report | *@own=404",
    "POST /reports/{request_id}/targets/{organization_id}/assign": "report | *@own=404",
    "GET /reports/{request_id}/targets/{organization_id}/submissions/{submission_id}/file": "report",
    "GET /api/v1/reports": "-",
    "GET /api/v1/reports/received": "-",
    "POST /api/v1/reports": "- | admin,secretary,auditor@own=404",  # their roles request no reports (as GET /reports/new)
    "GET /api/v1/reports/{request_id}": "report",
    "POST /api/v1/reports/{request_id}/extend": "report | admin,clerk,officer,secretary,auditor@own=404",  # a valid date reaches can_manage
    "POST /api/v1/reports/{request_id}/close": "report | admin,clerk,officer,secretary,auditor@own=404",
    "POST /api/v1/reports/{request_id}/restart": "report | admin,clerk,officer,secretary,auditor@own=404",
    "GET /api/v1/reports/{request_id}/targets/{organization_id}": "report",
    "POST /api/v1/reports/{request_id}/targets/{organization_id}/submit": "report | *@own=404",
    "POST /api/v1/reports/{request_id}/targets/{organization_id}/decide": "report | *@own=404",
    "POST /api/v1/reports/{request_id}/targets/{organization_id}/assign": "report | *@own=404",
    "GET /dashboard": "-",
    "GET /dashboard/export/{key}.csv": "-",
    "GET /admin": "-",
    "POST /admin/orgs": "-",
    "GET /admin/orgs/{org_id}": "admin | admin@child=ok",
    "POST /admin/orgs/{org_id}": "admin | admin@child=ok",
    "POST /admin/orgs/{org_id}/units": "admin | admin@child=ok",
    "POST /admin/orgs/{org_id}/units/{unit_id}/head": "admin | admin@child=ok",
    "POST /admin/orgs/{org_id}/users": "admin | admin@child=ok",
    "GET /admin/users/{user_id}": "admin | admin@child=ok",
    "POST /admin/users/{user_id}": "admin | admin@child=ok",
    "POST /admin/users/{user_id}/password": "admin | admin@child=ok",
    "POST /admin/users/{user_id}/roles": "admin | admin@child=ok",
    "POST /admin/users/{user_id}/roles/{assignment_id}/remove": "admin | admin@child=ok",
    "GET /audit": "-",
    # The timeline lists only entries of the auditor's organisations: another's object shows none.
    "GET /audit/object/{object_type}/{object_id}": "audit | auditor@child=ok",  # another organisation's object: 404
    "GET /audit/verify": "- | auditor@own=403",
    "GET /audit/export.jsonl": "- | auditor@own=403",
    "GET /audit/export.csv": "-",
    "GET /api/v1/audit": "-",
    "GET /api/v1/audit/object/{object_type}/{object_id}": "audit | auditor@child=ok",  # another organisation's object: 404
    "GET /api/v1/audit/verify": "- | auditor@own=403",
    "GET /admin/certificates": "-",
    "POST /admin/certificates": "-",
    "POST /admin/certificates/{cert_id}/confirm": "- | admin@own=404",  # no such certificate
    "POST /admin/certificates/{cert_id}/revoke": "- | admin@own=404",
    "POST /admin/keys/unlock": "-",
    "GET /admin/webhooks": "-",
    "POST /admin/webhooks": "-",
    "GET /admin/webhooks/{subscription_id}": "admin | admin@child=ok",
    "POST /admin/webhooks/{subscription_id}/disable": "admin | admin@child=ok",
    "POST /admin/webhooks/{subscription_id}/enable": "admin | admin@child=ok",
    "POST /admin/webhooks/{subscription_id}/delete": "admin | admin@child=ok",
    "POST /admin/webhooks/{subscription_id}/test": "admin | admin@child=ok",
    "POST /admin/webhooks/{subscription_id}/deliveries/{delivery_id}/redeliver": "admin | admin@child=ok",
    "GET /api/v1/webhooks": "-",
    "POST /api/v1/webhooks": "-",
    "GET /api/v1/webhooks/{subscription_id}": "admin | admin@child=ok",
    "DELETE /api/v1/webhooks/{subscription_id}": "admin | admin@child=ok",
    "POST /api/v1/webhooks/{subscription_id}/disable": "admin | admin@child=ok",
    "POST /api/v1/webhooks/{subscription_id}/enable": "admin | admin@child=ok",
    "POST /api/v1/webhooks/{subscription_id}/test": "admin | admin@child=ok",
    "POST /api/v1/webhooks/{subscription_id}/deliveries/{delivery_id}/redeliver": "admin | admin@child=ok",
    "POST /account/certificates": "-",
    # The histories hold every organisation's data: only an administrator of the top level decodes.
    "POST /temporal-codec/encode": "- | admin@own=403",
    "POST /temporal-codec/decode": "- | admin@own=403",
    "GET /api/me": "-",
    "GET /api/orgs": "-",
    "WS /ws": "-",
}

# Live channels (`/ws?channels=<prefix>-<id>`, signed-in users): "prefix": "family.param | exceptions".
CHANNELS: dict[str, str] = {
    "user": "person.user_id",
    "incoming": "incoming.document_id | admin,officer,secretary@own=404 auditor@child=ok",  # as its page
    "incomingsender": "admin.org_id | admin,auditor@child=ok",
    "outgoing": "outgoing.document_id | admin,auditor@child=ok",
    "meeting": "meeting.meeting_id | admin,deputy_leader,secretary,auditor@own=404",  # participants only
    "report": "report.request_id",
    "print": "print.print_id | admin,officer,secretary@own=404 auditor@child=ok",  # as its register's print
}
# The projector's socket needs no sign-in: its URL holds the meeting's secret key.
SCREEN_ACCESS = Access(public=True)


# --- the expected answer of a cell --------------------------------------------------------------


def _access(route: APIRoute) -> Access:
    found, stack = [], list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Access):
            found.append(dep.call)
        stack.extend(dep.dependencies)
    assert found, f"{sorted(route.methods)} {route.path} declares no access rule"
    return found[0]


@dataclass(frozen=True)
class Rule:
    family: str
    exceptions: tuple[tuple[frozenset[str], frozenset[str], str], ...]

    @classmethod
    def parse(cls, key: str, text: str) -> Rule:
        family, _, rest = text.partition("|")
        exceptions = []
        for token in rest.split():
            match = re.fullmatch(r"([\w,*]+)@([\w,*]+)=(ok|403|404|422|login|503)", token)
            assert match, f"{key}: cannot read {token!r} (who@relation=answer)"
            who, relation, answer = match.groups()
            unknown = set(who.split(",")) - {r.value for r in ROLES} - {ANON, "*"}
            unknown |= set(relation.split(",")) - set(RELATIONS) - {"*"}
            assert not unknown, f"{key}: unknown {sorted(unknown)} in {token!r}"
            exceptions.append((frozenset(who.split(",")), frozenset(relation.split(",")), answer))
        return cls(family.strip() or "-", tuple(exceptions))

    def expected(self, declared: Access, role: Role | None, relation: str) -> str:
        if declared.public:
            answer = ALLOWED
        elif role is None:
            answer = LOGIN
        elif declared.roles and role not in declared.roles:
            answer = "403"
        else:
            answer = ALLOWED if relation == OWN else "404"
        passes = declared.public or (role is not None and (not declared.roles or role in declared.roles))
        name = ANON if role is None else role.value
        for who, relations, outcome in self.exceptions:
            if (name in who or ("*" in who and passes)) and (relation in relations or "*" in relations):
                answer = outcome
        return answer


def _answer(response: httpx.Response) -> str:
    if response.status_code == 503:  # /healthz without Temporal; "busy" would be a failure of the test
        return "503"
    if response.status_code >= 500:
        return f"5xx ({response.status_code})"
    if response.status_code == 401 or response.headers.get("location", "").startswith("/login"):
        return LOGIN
    if response.status_code in (403, 404):
        return str(response.status_code)
    return ALLOWED


def _message(response: httpx.Response) -> str:
    """The error's message, to tell a 422 from a 409 when reading a failure."""
    if response.headers.get("content-type", "").startswith(("application/json", "application/problem+json")):
        try:
            body = response.json()
            return str(body.get("message") or body.get("detail") or "")[:80]
        except (ValueError, AttributeError):
            return ""
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', response.text, re.S)
    return found.group(1).strip()[:80] if found else response.headers.get("location", "")


# --- the app, its data and the signed-in principals (one per module) ------------------------------


class _NoCommit(AsyncSession):
    async def commit(self) -> None:
        """Roll back instead; loaded objects keep their values, as after a real commit."""
        await self.flush()
        self.expunge_all()
        await self.rollback()


class RolledBack(Database):
    """The same database, where no request leaves anything behind."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.sessionmaker = async_sessionmaker(self.engine, class_=_NoCommit, expire_on_commit=False)


class _NoCookies(httpx.Cookies):
    """Each request carries its principal's cookie itself; nothing set by an answer is kept."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


@dataclass
class World:
    data: MatrixData
    app: object
    client: httpx.AsyncClient


@pytest.fixture(scope="module")
async def world(db_templates, tmp_path_factory, demo_pki_dir) -> AsyncIterator[World]:  # type: ignore[no-untyped-def]
    from web.app import create_app
    from web.temporal import TemporalHandle

    root: Path = tmp_path_factory.mktemp("matrix")
    (root / "data").mkdir()
    settings = Settings(
        data_dir=root / "data",
        secret_key="matrix-secret",
        temporal_address=None,
        workflow_id_prefix="",
        # A configured bridge, so that the video route is reached (none answers 404 to all).
        meeting_video_provider="jitsi",
        meeting_jitsi_base="https://hop.example.vn",
    )
    pki, settings.trust_services_port = demo_pki_dir  # the demo signers' certificates, as after `lienthong dev`
    (root / "data" / "pki").symlink_to(pki / "pki", target_is_directory=True)
    url = await db_templates.copy("sqlite", True, root / "matrix.db")
    settings.database_url = url
    database = Database(url)
    data = await build(database, settings)
    await database.dispose()
    rolled_back = RolledBack(url)
    app = create_app(settings=settings, database=rolled_back, temporal=TemporalHandle(settings))
    await app.state.hub.start()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("10.1.2.3", 5000), raise_app_exceptions=False),
        base_url="http://testserver",
        headers={"accept": "text/html"},
        cookies=_NoCookies(),
    )
    yield World(data, app, client)
    await client.aclose()
    await app.state.hub.stop()
    await rolled_back.dispose()


def _app_routes() -> tuple[list[APIRoute], list[WebSocketRoute]]:
    from web.app import routers

    routes = [r for router in routers() for r in router.routes]
    return [r for r in routes if isinstance(r, APIRoute)], [r for r in routes if isinstance(r, WebSocketRoute)]  # FastAPI's or Starlette's


def _keys(route: APIRoute) -> list[str]:
    return [f"{method} {route.path}" for method in sorted(route.methods - {"HEAD"})]


def test_every_route_has_a_row() -> None:
    http, sockets = _app_routes()
    keys = [key for route in http for key in _keys(route)] + [f"WS {route.path}" for route in sockets]
    missing = [key for key in keys if key not in ROWS]
    assert not missing, "\n".join(f"add a row for {key} to ROWS in {__file__}" for key in missing)
    stale = sorted(set(ROWS) - set(keys))
    assert not stale, f"rows for routes the app no longer has: {stale}"


def test_every_live_channel_has_a_row() -> None:
    from web.live import CHANNEL_RULES

    missing = sorted(set(CHANNEL_RULES) - set(CHANNELS))
    assert not missing, "\n".join(f'add a row for channel "{prefix}-<id>" to CHANNELS in {__file__}' for prefix in missing)
    assert not set(CHANNELS) - set(CHANNEL_RULES), "rows for channels the app no longer has"


def _cells(family: str, declared: Access) -> list[tuple[Role | None, str]]:
    """Signed-out visitors and roles the declared rule refuses are turned away before any object is
    read: the own organisation's object stands for all."""
    relations = RELATIONS if family not in ("-", "holiday") else (OWN,)
    cells: list[tuple[Role | None, str]] = [(None, OWN)]
    for role in ROLES:
        refused = not declared.public and declared.roles and role not in declared.roles
        cells += [(role, relation) for relation in ((OWN,) if refused else relations)]
    return cells


def _form(route: APIRoute, params: dict[str, str]) -> tuple[dict[str, object], dict[str, object]]:
    """Plausible values for a form's required fields, so that the request reaches the route's own
    checks instead of stopping at 422."""
    today = date.today()
    data: dict[str, object] = {}
    files: dict[str, object] = {}
    for param in route.dependant.body_params:
        name = param.alias
        if not param.field_info.is_required():
            if name in params:
                data[name] = params[name]
            continue
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):  # a form model (the API's multipart forms)
            sample: dict[str, object] = _sample(model)  # type: ignore[assignment]  # a model's sample is a dict
            data.update({name: params.get(name, value) for name, value in sample.items()})
        elif "UploadFile" in str(param.field_info.annotation):
            files[name] = ("tep.pdf", demo_pdf("tep"), "application/pdf")
        elif name in params:
            data[name] = params[name]
        elif name.endswith("_at"):
            data[name] = f"{today + timedelta(days=7)}T{'11' if name.startswith('end') else '09'}:00"
        elif "date" in name:
            data[name] = str(today + timedelta(days=7))
        elif name.endswith("_ids"):
            data[name] = ["1"]
        else:
            data[name] = {"answer": "accept", "revision": "1"}.get(name, "1")
    return data, files


def _json_body(route: APIRoute) -> dict[str, object] | None:
    """A JSON body for a route whose body is a pydantic model (the live room's actions): its
    required fields with plausible values, so the route reads the object before anything else."""
    for param in route.dependant.body_params:
        model = param.field_info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel) and not isinstance(param.field_info, Form):
            return _sample(model)  # type: ignore[return-value]  # a model's sample is a dict
    return None


def _sample(annotation: object) -> object:
    if annotation is int:
        return 1
    if annotation is date:
        return str(date.today() + timedelta(days=7))
    if annotation is datetime:  # the API's times (ISO 8601)
        return f"{date.today() + timedelta(days=7)}T09:00:00"
    if get_origin(annotation) is dict:  # a JSON object (the minutes' text)
        return {}
    if get_origin(annotation) is list:
        return [1]
    if get_origin(annotation) is Literal:
        return get_args(annotation)[0]
    if get_origin(annotation) in (Union, UnionType):  # an optional value: the value
        return _sample(next(a for a in get_args(annotation) if a is not type(None)))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {name: _sample_field(field) for name, field in annotation.model_fields.items() if field.is_required()}
    return "Nội dung thử"


def _sample_field(field: FieldInfo) -> object:
    sample = _sample(field.annotation)
    longest = min((m.max_length for m in field.metadata if getattr(m, "max_length", None)), default=None)
    return sample[:longest] if isinstance(sample, str) and longest else sample


async def _send(
    world: World, method: str, path: str, role: Role | None, form: tuple[dict, dict], body: dict[str, object] | None = None
) -> httpx.Response:
    headers = {}
    if role is not None:
        token, csrf = world.data.sessions[role]
        headers = {"cookie": f"lt_session={token}", "x-csrf-token": csrf}
    if method == "POST" and body is not None:
        return await world.client.request(method, path, headers={**headers, "accept": "application/json"}, json=body)
    data, files = form if method == "POST" else ({}, {})
    return await world.client.request(method, path, headers=headers, data=data or None, files=files or None)


async def test_every_route_answers_each_role_and_organisation_as_the_table_says(world: World) -> None:
    http, _ = _app_routes()
    cells = []
    for route in http:
        declared = _access(route)
        for key in _keys(route):
            if key not in ROWS or not re.search(os.environ.get("MATRIX_ONLY", ""), key):
                continue  # missing rows are reported by test_every_route_has_a_row; MATRIX_ONLY=regex while fixing rows
            method = key.split(" ", 1)[0]
            rule = Rule.parse(key, ROWS[key])
            for role, relation in _cells(rule.family, declared):
                params = params_of(world.data, rule.family, relation, role)
                if params is None:
                    continue  # no such object in that organisation (a commune asks nobody for reports)
                names = set(re.findall(r"\{(\w+)\}", route.path))
                if not names <= set(params):
                    # A commune's meeting invites no organisation below it: nothing to ask for there.
                    assert relation != OWN, f"{key}: family {rule.family!r} has no sample for {names - set(params)}"
                    continue
                path = re.sub(r"\{(\w+)\}", lambda m: params[m.group(1)], route.path)
                writes = method != "GET" or getattr(route.endpoint, "__lienthong_writes__", False)
                cells.append(
                    (
                        key,
                        method,
                        path,
                        role,
                        relation,
                        rule.expected(declared, role, relation),
                        (_form(route, params), _json_body(route)),
                        writes,
                    )
                )
    # Readers run side by side (SQLite snapshots); writers one at a time, as the write lock has them.
    readers, writer = asyncio.Semaphore(6), asyncio.Lock()

    async def run(cell) -> str | None:  # type: ignore[no-untyped-def]
        key, method, path, role, relation, want, form, writes = cell
        async with writer if writes else readers:
            response = await _send(world, method, path, role, form[0], form[1])
        got = _answer(response)
        if got == want or (want == "422" and response.status_code == 422):
            return None
        return (
            f"{key:60} {ANON if role is None else role.value:>13}@{relation:<6} expected {want}, "
            f"got {got} ({response.status_code}: {_message(response)})"
        )

    wrong = [line for line in await asyncio.gather(*(run(cell) for cell in cells)) if line]
    assert not wrong, f"{len(wrong)} of {len(cells)} cells differ:\n" + "\n".join(wrong)


# --- live sockets ---------------------------------------------------------------------------------


async def _socket(world: World, path: str, query: str, role: Role | None) -> str:
    """Open a WebSocket on the app itself; the answer is accepted ("ok") or the close code's meaning."""
    headers = [(b"host", b"testserver")]
    if role is not None:
        headers.append((b"cookie", f"lt_session={world.data.sessions[role][0]}".encode()))
    scope = {
        "type": "websocket",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers,
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("10.1.2.3", 5000),
        "root_path": "",
        "subprotocols": [],
        "asgi": {"version": "3.0"},
    }
    answer: list[str] = []
    decided = asyncio.Event()
    connected = False

    async def receive() -> dict:
        nonlocal connected
        if not connected:
            connected = True
            return {"type": "websocket.connect"}
        await decided.wait()
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict) -> None:
        if not answer and message["type"] in ("websocket.accept", "websocket.close"):
            code = message.get("code")
            answer.append(
                ALLOWED if message["type"] == "websocket.accept" else {4401: LOGIN, 4403: "403", 4404: "404"}.get(code, f"closed {code}")
            )
            decided.set()

    await asyncio.wait_for(world.app(scope, receive, send), 10)  # type: ignore[operator]
    return answer[0] if answer else "no answer"


async def test_every_live_channel_and_socket_answers_as_the_table_says(world: World) -> None:
    from web.live import LIVE_ACCESS

    cells = []
    for prefix, text in CHANNELS.items():
        source, _, rest = text.partition("|")
        family, _, param = source.strip().partition(".")
        rule = Rule.parse(prefix, f"{family} | {rest}")
        for role, relation in _cells(family, LIVE_ACCESS):
            params = params_of(world.data, family, relation, role)
            if params is not None:
                cells.append(
                    ("/ws", f"channels={prefix}-{params[param]}", prefix, role, relation, rule.expected(LIVE_ACCESS, role, relation))
                )
    screen = Rule.parse("screen", ROWS["WS /meetings/screen/{token}/ws"])
    for role, relation in _cells(screen.family, SCREEN_ACCESS):
        token = world.data.samples["meeting"][relation]["token"]
        cells.append((f"/meetings/screen/{token}/ws", "", "screen", role, relation, screen.expected(SCREEN_ACCESS, role, relation)))
    cells.append(("/meetings/screen/" + "x" * 32 + "/ws", "", "screen (unknown key)", None, OWN, "404"))
    wrong = []
    for path, query, what, role, relation, want in cells:
        got = await _socket(world, path, query, role)
        if got != want:
            wrong.append(f"{what:22} {ANON if role is None else role.value:>13}@{relation:<6} expected {want}, got {got}")
    assert not wrong, f"{len(wrong)} of {len(cells)} sockets differ:\n" + "\n".join(wrong)
