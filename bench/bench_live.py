"""Issue 16 benchmark: the live channel against a bare `websockets` broadcast in the same run.

    PYTHONPATH=. python bench/bench_live.py [--clients 1000 5000] [--events 20] [--postgres]

For each client count: the project's `lienthong web` (uvicorn, SQLite or with --postgres a
PostgreSQL cluster of its own, demo directory) with that many WebSockets following one meeting as its room page
does (one socket for the user's channel and the meeting's: each connect reads the session and whether its user takes part), and a bare `websockets` server holding as many connections,
each sent the same message (the same JSON text, the same size) once a second. Clients run in
separate processes. Measured from /proc for each server process: CPU per connect, CPU per
broadcast event (idle CPU of the same duration taken off), memory per client; the time until every
client is connected (clients open their sockets 50 at a time per process, as phones arrive); from the clients:
messages lost, duplicated or out of order, and latency from publish to receipt (the project's
includes its hub noticing the commit of another process: up to one poll interval). Prints the
figures side by side and appends them to bench/RESULTS.md. A benchmark prints, never asserts.

Overload, `--stalled K` (with `--rate`, `--payload`): K more clients complete their handshake and
never read again (a frozen tab: raw sockets with a 4 KB receive buffer). Each client count then
runs the bare server, the project without them and the project with them: whether the readers'
latency holds, whether and when each server ends the stalled connections (seen as RST or FIN on
the unread socket), and what a stalled client gets when it reconnects with its last sequence
number (web/live_transport.py has the write deadline).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import platform
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
PER_PROCESS = 500  # client connections per client process
WAVE = 50  # handshakes a client process has under way at once
PLOT = Path(__file__).resolve().parent / "live-latency.png"
TICK = os.sysconf("SC_CLK_TCK")
STALL_GRACE = 30.0  # seconds after the readers finish to see the stalled connections ended


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


# --- the clients (run as separate processes) -----------------------------------------------------


async def _clients(url: str, count: int, cookie: str, expect: int, out: Path, ready: Path) -> None:
    import websockets

    received = [0] * count
    disorder = [0] * count
    latencies: list[float] = []

    connected = [asyncio.Event() for _ in range(count)]

    async def one(i: int) -> None:
        headers = {"Cookie": cookie} if cookie else {}
        try:
            async with websockets.connect(url, additional_headers=headers, max_queue=None, open_timeout=300, ping_interval=None) as ws:
                connected[i].set()
                if i == count - 1:
                    ready.write_text("ok")
                last = -1
                while received[i] < expect:
                    message = json.loads(await ws.recv())
                    if message.get("kind") != "bench":
                        continue
                    seq = int(message["seq"])
                    disorder[i] += seq <= last
                    last = seq
                    received[i] += 1
                    if i % 10 == 0:
                        latencies.append(time.time() - float(message["data"]["t"]))
        finally:
            connected[i].set()  # a failed handshake does not hold up the next wave

    connects = []
    # In waves, as phones arrive: the next wave once this one's handshakes are through, so that
    # thousands of clients never wait in one storm past their handshake timeout.
    for start in range(0, count, WAVE):
        wave = range(start, min(count, start + WAVE))
        connects += [asyncio.create_task(one(i)) for i in wave]
        await asyncio.gather(*(connected[i].wait() for i in wave))
    try:
        await asyncio.wait_for(asyncio.gather(*connects, return_exceptions=True), timeout=expect * 3 + 300)
    except TimeoutError:
        pass
    out.write_text(json.dumps({"received": received, "disorder": sum(disorder), "latencies": latencies}))


def spawn_clients(url: str, clients: int, cookie: str, expect: int, work: Path) -> list[tuple[subprocess.Popen[bytes], Path, Path]]:
    procs = []
    for n, start in enumerate(range(0, clients, PER_PROCESS)):
        count = min(PER_PROCESS, clients - start)
        out, ready = work / f"clients-{n}.json", work / f"ready-{n}"
        for path in (out, ready):
            path.unlink(missing_ok=True)
        argv = [sys.executable, __file__, "--client", url, str(count), cookie, str(expect), str(out), str(ready)]
        procs.append((subprocess.Popen(argv), out, ready))
    return procs


def wait_ready(procs: list[tuple[subprocess.Popen[bytes], Path, Path]], timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not all(ready.exists() for _, _, ready in procs):
        if time.monotonic() > deadline or any(p.poll() is not None for p, _, _ in procs):
            raise RuntimeError("clients did not connect")
        time.sleep(0.2)
    time.sleep(1.0)  # the last connections' handshakes settle


def collect(procs: list[tuple[subprocess.Popen[bytes], Path, Path]]) -> dict[str, object]:
    received: list[int] = []
    latencies: list[float] = []
    disorder = 0
    for popen, out, _ in procs:
        popen.wait(timeout=900)
        data = json.loads(out.read_text())
        received += data["received"]
        latencies += data["latencies"]
        disorder += data["disorder"]
    return {"received": received, "latencies": latencies, "disorder": disorder}


# --- the bare server (a separate process, driven over stdin) -------------------------------------


async def _bare(port: int) -> None:
    import websockets

    connections: set[object] = set()

    async def handler(ws) -> None:  # type: ignore[no-untyped-def]
        connections.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connections.discard(ws)

    async with websockets.serve(handler, "127.0.0.1", port, max_queue=None, ping_interval=None, compression=None):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            websockets.broadcast(connections, line.decode().rstrip("\n"))  # type: ignore[arg-type]


# --- one round -------------------------------------------------------------------------------------


@dataclass
class Round:
    name: str
    clients: int
    connect_s: float = 0.0  # from the first client process started to every client connected
    connect_cpu_ms: float = 0.0
    event_cpu_ms: float = 0.0
    memory_kb: float = 0.0
    lost: int = 0
    extra: int = 0
    disorder: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    stalled: int = 0  # clients that stopped reading after their handshake
    reset: int = 0  # of those, how many the server ended within the round
    reset_after_s: float = float("nan")  # slowest of those ends, from the first event
    replayed: str = "—"  # what a stalled client got back when it reconnected with its last seq


def stalled_client(url: str, cookie: str) -> socket.socket:
    """A WebSocket client that completes its handshake and never reads again (a frozen tab), with a
    small receive buffer; the bytes after the handshake are left unread."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    extra = f"Cookie: {cookie}\r\n" if cookie else ""
    sock.sendall(
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n".encode()
    )
    response = b""
    while not response.endswith(b"\r\n\r\n"):
        response += sock.recv(1)
    if not response.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"stalled client refused: {response[:40]!r}")
    return sock


def watch_resets(socks: list[socket.socket], began: list[float], ends: dict[int, float], stop: threading.Event) -> None:
    """Record when the server ends each stalled connection (RST or FIN), without reading from it."""
    poller = select.poll()
    for sock in socks:
        poller.register(sock, select.POLLERR | select.POLLHUP | select.POLLRDHUP)
    while not stop.is_set() and len(ends) < len(socks):
        for fd, _ in poller.poll(100):
            if fd not in ends and began:
                ends[fd] = time.monotonic() - began[0]
                poller.unregister(fd)


def measure(  # type: ignore[no-untyped-def]
    name: str, pid: int, clients: int, events: int, url: str, cookie: str, work: Path, send, *, rate: float = 1.0, stalled: int = 0
) -> Round:
    result = Round(name, clients, stalled=stalled)
    idle_cpu = cpu_seconds(pid)
    time.sleep(5)
    idle_rate = (cpu_seconds(pid) - idle_cpu) / 5
    cpu0, rss0 = cpu_seconds(pid), rss_bytes(pid)
    began = time.monotonic()
    procs = spawn_clients(url, clients, cookie, events, work)
    wait_ready(procs)
    connect_seconds = result.connect_s = time.monotonic() - began
    result.connect_cpu_ms = max(0.0, cpu_seconds(pid) - cpu0 - idle_rate * connect_seconds) * 1000 / clients
    result.memory_kb = (rss_bytes(pid) - rss0) / 1024 / clients
    frozen = [stalled_client(url, cookie) for _ in range(stalled)]
    first_event: list[float] = []
    ends: dict[int, float] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=watch_resets, args=(frozen, first_event, ends, stop), daemon=True)
    watcher.start()
    cpu1, began = cpu_seconds(pid), time.monotonic()
    first_event.append(began)
    for i in range(events):
        send(i)
        time.sleep(max(0.0, began + (i + 1) / rate - time.monotonic()))
    elapsed = time.monotonic() - began
    result.event_cpu_ms = max(0.0, cpu_seconds(pid) - cpu1 - idle_rate * elapsed) * 1000 / events
    got = collect(procs)
    grace = time.monotonic() + STALL_GRACE  # a write deadline runs from when the socket stopped taking data
    while len(ends) < stalled and time.monotonic() < grace:
        time.sleep(0.2)
    stop.set()
    watcher.join()
    result.reset = len(ends)
    if ends:
        result.reset_after_s = max(ends.values())
    for sock in frozen:
        sock.close()
    received: list[int] = got["received"]  # type: ignore[assignment]
    result.lost = sum(max(0, events - r) for r in received) + events * (clients - len(received))
    result.extra = sum(max(0, r - events) for r in received)
    result.disorder = int(got["disorder"])  # type: ignore[call-overload]
    latencies: list[float] = got["latencies"]  # type: ignore[assignment]
    result.p50_ms, result.p99_ms = pct(latencies, 50) * 1000, pct(latencies, 99) * 1000
    return result


def bare_round(clients: int, events: int, work: Path, payload: str, *, rate: float = 1.0, stalled: int = 0) -> Round:
    from bench.stack import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--bare", str(port)], stdin=subprocess.PIPE)
    try:
        time.sleep(1.0)

        def send(i: int) -> None:
            text = json.dumps(
                {"seq": 1000 + i, "channel": "meeting-1", "kind": "bench", "data": {"t": time.time(), "i": i, "pad": payload}}
            )
            assert server.stdin is not None
            server.stdin.write(text.encode() + b"\n")
            server.stdin.flush()

        url = f"ws://127.0.0.1:{port}/"
        return measure("bare websockets", server.pid, clients, events, url, "", work, send, rate=rate, stalled=stalled)
    finally:
        server.kill()
        server.wait()


def project_round(stack, clients: int, events: int, work: Path, payload: str, *, rate: float = 1.0, stalled: int = 0) -> Round:  # type: ignore[no-untyped-def]
    import httpx

    from demo.directory import DEMO_PASSWORD
    from services.db import Database
    from services.events.service import publish

    with httpx.Client(base_url=stack.base_url) as http:
        page = http.get("/login")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        http.post("/login", data={"username": "lan.nguyen", "password": DEMO_PASSWORD, "csrf_token": token})
        me = http.get("/api/me").json()
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    # The clients follow a meeting as its room page does: one socket for the user's channel (the
    # navigation's badges) and the meeting's, whose rule reads whether the user takes part (the
    # signed-in user is the chair). The events go to the meeting.
    channel = f"meeting-{_meeting(stack.base_url, chair_id=me['id'])}"
    database = Database(stack.database_url)
    loop = asyncio.new_event_loop()

    async def emit(i: int) -> None:
        async with database.session() as session:
            await publish(session, channel=channel, kind="bench", payload={"t": time.time(), "i": i, "pad": payload})

    url = stack.base_url.replace("http", "ws") + f"/ws?channels=user-{me['id']},{channel}"
    try:
        head = loop.run_until_complete(_head(database))
        result = measure(
            "Liên Thông /ws" + (f", {stalled} stalled" if stalled else ""),
            stack.procs["web"].pid,
            clients,
            events,
            url,
            cookie,
            work,
            lambda i: loop.run_until_complete(emit(i)),
            rate=rate,
            stalled=stalled,
        )
        if stalled:
            # A stalled client wakes and reconnects with the last number it had seen.
            got = loop.run_until_complete(_replay(f"{url}&after={head}", cookie, events))
            result.replayed = f"{got} of {events}"
        return result
    finally:
        loop.run_until_complete(database.dispose())
        loop.close()


def _meeting(base_url: str, *, chair_id: int) -> int:
    """A draft meeting of the province, made through the API by its organiser."""
    import httpx

    from demo.directory import DEMO_PASSWORD, PROVINCE_CODE

    with httpx.Client(base_url=base_url, headers={"accept": "application/json"}) as api:
        answer = api.post(
            "/api/v1/tokens", json={"username": "mai.tran", "password": DEMO_PASSWORD, "name": "bench", "scope": "full", "days": 30}
        )
        answer.raise_for_status()
        api.headers["authorization"] = f"Bearer {answer.json()['token']}"
        province = next(o["id"] for o in api.get("/api/v1/organizations").json() if o["code"] == PROVINCE_CODE)
        starts = datetime.now().astimezone() + timedelta(days=1)
        meeting = api.post(
            "/api/v1/meetings",
            json={
                "organization_id": province,
                "title": "bench_live",
                "chair_id": chair_id,
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=2)).isoformat(),
                "mode": "online",
            },
        )
        meeting.raise_for_status()
        return int(meeting.json()["id"])


async def _head(database) -> int:  # type: ignore[no-untyped-def]
    from services.events.service import last_seq

    async with database.read() as session:
        return await last_seq(session)


async def _replay(url: str, cookie: str, expect: int) -> int:
    """How many bench events a client reconnecting with `after=` receives (replayed or told to resync)."""
    import websockets

    got = 0
    async with websockets.connect(url, additional_headers={"Cookie": cookie}, max_queue=None) as ws:
        with contextlib.suppress(TimeoutError):
            while got < expect:
                message = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if message.get("kind") == "resync":
                    return -1
                got += message.get("kind") == "bench"
    return got


def plot_latency(rows: list[Round], path: Path) -> None:
    """p50 and p99 latency of each server against the client count, as a PNG beside RESULTS.md."""
    from bench.plot import line_chart

    series = []
    for name in dict.fromkeys(row.name for row in rows):
        mine = [row for row in rows if row.name == name]
        series.append((f"{name} p50", [(row.clients, row.p50_ms) for row in mine]))
        series.append((f"{name} p99", [(row.clients, row.p99_ms) for row in mine]))
    line_chart(
        path,
        title="Live channel: latency from publish to receipt (one event a second)",
        x_label="clients following one meeting (log scale)",
        y_label="ms",
        series=series,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[1000])
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1.0, help="events a second")
    parser.add_argument("--payload", type=int, default=120, help="padding characters per event (a typical agenda change)")
    parser.add_argument("--postgres", action="store_true", help="the project on a PostgreSQL cluster of its own instead of SQLite")
    parser.add_argument(
        "--stalled", type=int, default=0, help="overload: this many more clients stop reading after their handshake (also a round without)"
    )
    args = parser.parse_args()
    from bench.stack import Stack

    payload = "x" * args.payload
    rows: list[Round] = []
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp, Stack(Path(tmp) / "stack", postgres=args.postgres) as stack:
        if args.postgres:
            stack.init_postgres()
        stack.prepare()
        stack.start_web()
        for clients in args.clients:
            pace = {"rate": args.rate}
            rows.append(bare_round(clients, args.events, Path(tmp), payload, stalled=args.stalled, **pace))
            rows.append(project_round(stack, clients, args.events, Path(tmp), payload, **pace))
            if args.stalled:
                rows.append(project_round(stack, clients, args.events, Path(tmp), payload, stalled=args.stalled, **pace))
            print(*rows[-3 if args.stalled else -2 :], sep="\n", flush=True)
    command = (
        f"`python bench/bench_live.py --clients {' '.join(map(str, args.clients))} --events {args.events}"
        f"{f' --rate {args.rate:g}' if args.rate != 1 else ''}{f' --payload {args.payload}' if args.payload != 120 else ''}"
        f"{f' --stalled {args.stalled}' if args.stalled else ''}{' --postgres' if args.postgres else ''}`"
    )
    lines = [
        f"\n## bench_live — {datetime.now():%Y-%m-%d %H:%M}, {platform.node()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
        f"{command}; {'PostgreSQL' if args.postgres else 'SQLite'}; one meeting's channel, {args.rate:g} event(s) a second, "
        f"{args.payload + 90}-byte messages.\n",
    ]
    if args.stalled:
        lines += [
            "| readers | server | stalled clients | ended by the server (slowest, from the first event) | readers: lost / extra / out of order "
            "| readers' latency p50 / p99 | CPU / event | a stalled client reconnecting gets |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            ended = (
                f"{row.reset} of {row.stalled} ({row.reset_after_s:.1f} s)"
                if row.reset
                else (f"0 of {row.stalled}" if row.stalled else "—")
            )
            lines.append(
                f"| {row.clients} | {row.name} | {row.stalled} | {ended} | {row.lost} / {row.extra} / {row.disorder} | "
                f"{row.p50_ms:.0f} / {row.p99_ms:.0f} ms | {row.event_cpu_ms:.1f} ms | {row.replayed} |"
            )
    else:
        lines += [
            "| clients | server | all connected in | CPU / connect | CPU / event | ratio | memory / client "
            "| lost / extra / out of order | latency p50 / p99 |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for bare, ours in zip(rows[::2], rows[1::2]):
            for row in (bare, ours):
                ratio = f"{row.event_cpu_ms / bare.event_cpu_ms:.2f}×" if bare.event_cpu_ms else "—"
                lines.append(
                    f"| {row.clients} | {row.name} | {row.connect_s:.1f} s | {row.connect_cpu_ms:.2f} ms | {row.event_cpu_ms:.1f} ms | {ratio} | "
                    f"{row.memory_kb:.1f} KB | {row.lost} / {row.extra} / {row.disorder} | {row.p50_ms:.0f} / {row.p99_ms:.0f} ms |"
                )
        if len(args.clients) > 1:
            plot_latency(rows, PLOT)
            lines.append(f"\n![Latency from publish to receipt against clients, p50 and p99 of each server]({PLOT.name})")
    text = "\n".join(lines) + "\n"
    print(text)
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        url, count, cookie, expect, out, ready = sys.argv[2:8]
        asyncio.run(_clients(url, int(count), cookie, int(expect), Path(out), Path(ready)))
    elif len(sys.argv) > 1 and sys.argv[1] == "--bare":
        asyncio.run(_bare(int(sys.argv[2])))
    else:
        main()
