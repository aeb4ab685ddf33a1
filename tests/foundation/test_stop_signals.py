"""`lienthong dev` owns SIGINT/SIGTERM: uvicorn must not take them over while it serves, or the
web server stops on its own while the worker runs on until uvicorn re-raises the signal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import asyncio, os, signal, socket, sys
import uvicorn
import web.app
from web.runtime import install_stop_signals, run_web

async def app(scope, receive, send):
    assert scope["type"] == "lifespan"
    raise RuntimeError("no lifespan")  # uvicorn's "auto" lifespan carries on without one

web.app.create_app = lambda settings: app
handle_exit = uvicorn.Server.handle_exit

def uvicorn_took_it(self, sig, frame):
    print("uvicorn took the signal", flush=True)
    handle_exit(self, sig, frame)

uvicorn.Server.handle_exit = uvicorn_took_it
port = int(sys.argv[1])

async def main():
    stop = asyncio.Event()
    install_stop_signals(stop)
    web = asyncio.create_task(run_web(None, host="127.0.0.1", port=port, stop=stop))
    while True:  # wait until the server listens (it captures signals from then on)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(web, 30)
    print("stopped", flush=True)

asyncio.run(main())
"""


def test_sigterm_reaches_our_stop_event_not_uvicorn() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "stopped" in done.stdout, done.stdout + done.stderr[-3000:]
    assert "uvicorn took the signal" not in done.stdout
