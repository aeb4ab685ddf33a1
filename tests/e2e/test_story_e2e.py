"""`lienthong demo` on the embedded stack (`lienthong dev`, as `make run` starts it): the whole
story through the public API, as the demo users, ends with every step done (issue 18)."""

from __future__ import annotations

import subprocess
import sys

STEPS = ("1. ", "2. ", "3. ", "4. ", "5. ", "6. ")


def test_the_whole_story_runs_through_the_public_api(live_dev) -> None:
    live_dev.wait_for_demo()
    run = subprocess.run(
        [sys.executable, "-m", "web.cli", "demo", "--base-url", live_dev.url, "--wait", "300"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    lines = run.stdout.splitlines()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert [line[2:5] for line in lines if line.startswith("✓ ")] == list(STEPS), run.stdout
    assert "trạng thái huyện thấy: 01 → 03 → 04 → 05 → 06" in run.stdout
    assert "đi bằng gói edXML; hệ thống bên đó báo lại 03" in run.stdout  # the edXML round trip
    assert "GM-HLHPN đã phát hành" in run.stdout and "nhắc lịch: Nhắc lịch họp (còn 1 giờ)" in run.stdout
    assert any(line.startswith("  cuộc họp: ") and "biên bản" in line for line in lines), run.stdout
    assert not any(line.startswith("✗") for line in lines)
