"""Video links: a room on the configured bridge, derived from the meeting.

No bridge by default. Jitsi Meet: `<base>/<room>` on the configured server, with a signed JWT (HS256) per person when a secret is
configured (the prosody `token` auth of Jitsi). BigBlueButton: API `create` and `join` URLs
carrying the checksum the BBB API defines (SHA-1 of call name + query string + secret).
The video itself is the bridge's job.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlparse

import jwt

from meetings.models import Meeting
from services.config import Settings


def room_name(settings: Settings, meeting: Meeting) -> str:
    """Stable per meeting, unguessable from its number (an HMAC of the id under the secret key)."""
    key = settings.ensure_secret_key().encode()
    tag = hmac.new(key, f"meeting-room:{meeting.id}".encode(), hashlib.sha256).hexdigest()[:12]
    return f"{settings.meeting_room_prefix}-{meeting.id}-{tag}"


def bbb_checksum(call: str, query: str, secret: str) -> str:
    return hashlib.sha1((call + query + secret).encode()).hexdigest()


def bbb_url(settings: Settings, call: str, params: dict[str, str]) -> str:
    assert settings.meeting_bbb_url and settings.meeting_bbb_secret
    query = urlencode(params)
    base = settings.meeting_bbb_url.rstrip("/") + "/api/"
    return f"{base}{call}?{query}&checksum={bbb_checksum(call, query, settings.meeting_bbb_secret)}"


@dataclass(frozen=True)
class JoinPerson:
    user_id: int
    name: str
    email: str | None
    moderator: bool


def provider(settings: Settings) -> str:
    """The bridge in use: "none" unless a provider and its server are both configured."""
    kind = settings.meeting_video_provider
    if kind == "bbb" and not (settings.meeting_bbb_url and settings.meeting_bbb_secret):
        return "none"
    if kind == "jitsi" and not settings.meeting_jitsi_base:
        return "none"
    return kind


def bridge_host(settings: Settings) -> str | None:
    """The server of the bridge in use, for the settings page."""
    kind = provider(settings)
    url = settings.meeting_jitsi_base if kind == "jitsi" else settings.meeting_bbb_url if kind == "bbb" else None
    return urlparse(url).hostname if url else None


def room_url(settings: Settings, meeting: Meeting) -> str | None:
    """The link printed on the invitation and shown on the page (no personal token)."""
    if meeting.video_url:
        return meeting.video_url
    kind = provider(settings)
    if kind == "jitsi":
        assert settings.meeting_jitsi_base
        return f"{settings.meeting_jitsi_base.rstrip('/')}/{room_name(settings, meeting)}"
    if kind == "bbb":
        return f"{settings.base_url.rstrip('/')}/meetings/{meeting.id}/video"
    return None


def bbb_create_url(settings: Settings, meeting: Meeting) -> str:
    """BBB `create` is idempotent for the same meetingID: call it before the first join."""
    room = room_name(settings, meeting)
    return bbb_url(
        settings,
        "create",
        {
            "name": meeting.title[:200],
            "meetingID": room,
            "record": "false",
            "moderatorPW": hmac.new(settings.ensure_secret_key().encode(), f"{room}:mod".encode(), hashlib.sha256).hexdigest()[:16],
            "attendeePW": hmac.new(settings.ensure_secret_key().encode(), f"{room}:att".encode(), hashlib.sha256).hexdigest()[:16],
        },
    )


def join_url(settings: Settings, meeting: Meeting, person: JoinPerson, *, now: datetime) -> str | None:
    """The person's own join link."""
    if meeting.video_url:
        return meeting.video_url
    kind = provider(settings)
    room = room_name(settings, meeting)
    if kind == "jitsi":
        assert settings.meeting_jitsi_base
        base = settings.meeting_jitsi_base.rstrip("/")
        if not settings.meeting_jitsi_secret:
            return f"{base}/{room}"
        claims = {
            "aud": "jitsi",
            "iss": settings.meeting_jitsi_app_id or settings.meeting_room_prefix,
            "sub": urlparse(base).hostname or "*",
            "room": room,
            "nbf": int((now - timedelta(minutes=5)).timestamp()),
            "exp": int(max(now, meeting.ends_at).timestamp()) + 3 * 3600,
            "moderator": person.moderator,
            "context": {
                "user": {
                    "id": str(person.user_id),
                    "name": person.name,
                    "email": person.email or "",
                    "moderator": "true" if person.moderator else "false",
                }
            },
        }
        return f"{base}/{room}?jwt={jwt.encode(claims, settings.meeting_jitsi_secret, algorithm='HS256')}"
    if kind == "bbb":
        return bbb_url(
            settings,
            "join",
            {
                "fullName": person.name,
                "meetingID": room,
                "role": "MODERATOR" if person.moderator else "VIEWER",
                "userID": str(person.user_id),
                "redirect": "true",
            },
        )
    return None
