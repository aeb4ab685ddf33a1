"""The minutes' content as the browser sends it: keys and speech IDs that are digits to
`str.isdigit` but not numbers to `int` (superscripts) are dropped, not a server error."""

from __future__ import annotations

from meetings.minutes.service import normalise


def test_superscript_digits_are_not_ids() -> None:
    speeches = {2: {"id": 2, "user_id": 7, "label": "Nguyễn Thị Lan, Chủ tịch"}}
    raw = {
        "items": {
            "²": {"discussion": "lost"},
            "1": {
                "discussion": "Thảo luận",
                "opinions": [
                    {"speech_id": "²", "name": "Lê Thu", "text": "Đồng ý"},
                    {"speech_id": 2, "text": "Bổ sung"},
                ],
            },
        }
    }
    items = normalise(raw, item_ids={1, 2}, speeches=speeches)["items"]
    assert list(items) == ["1"]
    first, second = items["1"]["opinions"]
    assert (first["speech_id"], first["name"]) == (None, "Lê Thu")
    assert (second["speech_id"], second["speaker_user_id"], second["name"]) == (2, 7, "Nguyễn Thị Lan, Chủ tịch")
