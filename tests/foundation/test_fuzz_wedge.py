"""A bounded schemathesis fuzzing phase against a real `lienthong web` process on SQLite must not
wedge it: afterwards /healthz answers within a second and a writer gets the lock at once.

Before read-only snapshots and cancellation-safe clean-up, this exact run (officer's token, 5
examples per operation, 1 worker) left a pooled connection idle inside its transaction and the
instance never wrote again: the fuzzing itself hung past 4 minutes (it takes ~10 s now)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select

from services.audit.service import Actor
from services.auth import service as auth
from services.directory.models import User
from tests.helpers import free_port

FUZZ_LIMIT_SECONDS = 300  # a wedged instance makes the fuzzer wait on every request


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        assert process.poll() is None, "the web process exited"
        try:
            if httpx.get(base + "/login", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the web process did not come up")


async def test_fuzzing_the_api_leaves_the_instance_writable(demo_db_sqlite, tmp_path: Path) -> None:
    async with demo_db_sqlite.session() as session:
        officer = await session.scalar(select(User).where(User.username == "thu.le"))
        _, bearer = await auth.create_api_token(
            session, actor=Actor(user_id=officer.id, name=officer.username), user=officer, name="fuzz", scope="full"
        )
    await demo_db_sqlite.dispose()
    data = tmp_path / "instance"
    data.mkdir()
    shutil.copy(demo_db_sqlite.url.split(":///", 1)[1], data / "lienthong.db")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LIENTHONG_DATA_DIR": str(data),
        "LIENTHONG_SECRET_KEY": "fuzz-" + "x" * 32,
        "LIENTHONG_API_TOKEN_REQUESTS_PER_MINUTE": "100000",  # the fuzzing must reach the database, not the rate limit
        "LIENTHONG_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
    }  # nobody listens: Temporal is away
    web = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "web", "--port", str(port)],
        env=env,
        stdout=(data / "web.log").open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_until_up(base, web)
        fuzz = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                base + "/openapi.json",
                "--phases=fuzzing",
                "--max-examples",
                "5",
                "--workers",
                "1",
                "--request-timeout",
                "10",
                "--no-color",
                "-H",
                f"Authorization: Bearer {bearer}",
                "--seed",
                "20261202",
            ],
            capture_output=True,
            text=True,
            timeout=FUZZ_LIMIT_SECONDS,
            cwd=tmp_path,  # its cache stays out of the tree
        )
        assert "Test cases:" in fuzz.stdout, fuzz.stdout[-3000:] + fuzz.stderr[-3000:]
        health = httpx.get(base + "/healthz", timeout=1)  # within a second, whatever happened before
        assert health.json()["checks"]["database"] is True
        probe = sqlite3.connect(data / "lienthong.db", timeout=1, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")  # raises "database is locked" if a transaction was left open
            probe.execute("ROLLBACK")
        finally:
            probe.close()
        with httpx.Client(base_url=base) as browser:  # and a user can still sign in (a write)
            login = browser.get("/login")
            token = login.text.split('name="csrf_token" value="')[1].split('"')[0]
            signed_in = browser.post(
                "/login", data={"username": "mai.tran", "password": "LienThong@2026", "csrf_token": token, "next": "/"}, timeout=5
            )
            assert signed_in.status_code == 303
        assert web.poll() is None
    finally:
        os.killpg(web.pid, signal.SIGKILL)
        web.wait()
