"""Video links (Jitsi rooms, signed JWT joins, BigBlueButton checksums) and the GM invitation."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from docx import Document

from meetings import video
from meetings.invitations import build_spec, vn_time_line
from meetings.models import Meeting
from services.config import Settings
from services.documents.layout import build_document_docx
from tests.meetings.factory import build_meeting

NOW = datetime(2026, 6, 20, 1, 0, tzinfo=UTC)


def _meeting(**kw) -> Meeting:  # type: ignore[no-untyped-def]
    return SimpleNamespace(id=7, title="Hội nghị sơ kết", video_url=None, ends_at=NOW + timedelta(hours=3), **kw)  # type: ignore[return-value]


def test_jitsi_room_is_stable_unguessable_and_joins_carry_a_valid_hs256_token(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="k1", meeting_video_provider="jitsi", meeting_jitsi_base="https://hop.hoilhpn.vn")
    meeting = _meeting()
    room = video.room_name(settings, meeting)
    assert room.startswith("lienthong-7-") and room == video.room_name(settings, meeting)
    assert room != video.room_name(Settings(data_dir=tmp_path, secret_key="k2"), meeting)
    plain = video.join_url(settings, meeting, video.JoinPerson(1, "Nguyễn Thị Lan", None, True), now=NOW)
    assert plain == f"https://hop.hoilhpn.vn/{room}"
    signed_settings = Settings(
        data_dir=tmp_path,
        secret_key="k1",
        meeting_video_provider="jitsi",
        meeting_jitsi_base="https://hop.hoilhpn.vn",
        meeting_jitsi_secret="s3cret",
        meeting_jitsi_app_id="lienthong",
    )
    url = video.join_url(signed_settings, meeting, video.JoinPerson(1, "Nguyễn Thị Lan", "lan@example.vn", True), now=NOW)
    token = parse_qs(urlparse(url).query)["jwt"][0]
    # Checked the way Jitsi's prosody token module checks it: HS256 under the shared secret, audience "jitsi".
    claims = jwt.decode(token, "s3cret", algorithms=["HS256"], audience="jitsi", options={"verify_nbf": False, "verify_exp": False})
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "other", algorithms=["HS256"], audience="jitsi")
    assert claims["room"] == room and claims["iss"] == "lienthong" and claims["aud"] == "jitsi"
    assert claims["sub"] == "hop.hoilhpn.vn" and claims["moderator"] is True
    assert claims["context"]["user"]["name"] == "Nguyễn Thị Lan" and claims["exp"] > NOW.timestamp()


def test_bigbluebutton_join_urls_carry_the_api_checksum(tmp_path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        secret_key="k1",
        meeting_video_provider="bbb",
        meeting_bbb_url="https://bbb.hoilhpn.vn/bigbluebutton/",
        meeting_bbb_secret="bbbsecret",
    )
    url = video.join_url(settings, _meeting(), video.JoinPerson(5, "Lê Thị Thu", None, False), now=NOW)
    parsed = urlparse(url)
    assert parsed.path == "/bigbluebutton/api/join"
    query, checksum = parsed.query.rsplit("&checksum=", 1)
    assert checksum == hashlib.sha1(("join" + query + "bbbsecret").encode()).hexdigest()
    params = parse_qs(query)
    assert params["role"] == ["VIEWER"] and params["fullName"] == ["Lê Thị Thu"]
    create = urlparse(video.bbb_create_url(settings, _meeting()))
    assert create.path.endswith("/api/create") and parse_qs(create.query)["meetingID"] == params["meetingID"]
    # Without a BBB server configured there is no room rather than a broken link.
    assert video.room_url(Settings(data_dir=tmp_path, secret_key="k", meeting_video_provider="bbb"), _meeting()) is None


def test_no_video_bridge_until_one_is_configured(tmp_path) -> None:
    default = Settings(data_dir=tmp_path, secret_key="k")
    assert video.provider(default) == "none" and video.bridge_host(default) is None
    assert video.room_url(default, _meeting()) is None
    assert video.join_url(default, _meeting(), video.JoinPerson(1, "Lan", None, True), now=NOW) is None
    # Naming Jitsi without its server is no bridge either: never a public server by default.
    assert video.provider(Settings(data_dir=tmp_path, secret_key="k", meeting_video_provider="jitsi")) == "none"
    own = Settings(data_dir=tmp_path, secret_key="k", meeting_video_provider="jitsi", meeting_jitsi_base="https://hop.hoilhpn.vn")
    assert video.provider(own) == "jitsi" and video.bridge_host(own) == "hop.hoilhpn.vn"


def test_time_line_reads_like_an_invitation() -> None:
    start = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam, a Monday
    assert vn_time_line(start, start + timedelta(hours=3, minutes=30)) == (
        "08 giờ 00, thứ Hai, ngày 05 tháng 01 năm 2026 (dự kiến kết thúc 11 giờ 30)"
    )


async def test_the_invitation_is_a_gm_with_the_agenda_the_link_and_the_units(demo_db_sqlite, settings) -> None:
    built = await build_meeting(demo_db_sqlite, settings, units=("hlhpn-chauthanh", "hlhpn-mocaynam"))
    async with demo_db_sqlite.session() as session:
        spec = await build_spec(session, settings=settings, meeting=await session.get(Meeting, built.meeting_id))
    assert spec.doc_type == "GM" and spec.title == "GIẤY MỜI" and spec.notation_suffix == "/GM-HLHPN"
    text = "\n".join(p.text for p in Document(io.BytesIO(build_document_docx(spec))).paragraphs)
    for expected in (
        "trân trọng kính mời",
        "Hội nghị sơ kết công tác Hội 6 tháng đầu năm 2026",
        "Báo cáo sơ kết 6 tháng đầu năm",
        "Hội LHPN huyện Châu Thành",
    ):
        assert expected in text, expected
    assert "Đường dẫn phòng họp trực tuyến" not in text and "meet.jit.si" not in text  # no bridge configured
    assert "Hội LHPN huyện Mỏ Cày Nam" in spec.recipients
