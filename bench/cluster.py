"""A production-like cluster without Docker, with processes killed under it.

    PYTHONPATH=. python -m bench.cluster [--items 30] [--keep DIR]

PostgreSQL (a cluster of the run's own), the Temporal dev server, two `lienthong web` processes
behind nginx (Debian's, passing WebSockets), two `lienthong worker` processes and the dev PKI's
trust services. Live clients follow one open meeting: one connected straight to each web process
and two through the proxy. The chair changes the agenda through the proxy (so the changes are
committed by both web processes, each reaching the other's clients by LISTEN/NOTIFY) while an
incoming, an outgoing and a report-request flow run. Midway, the first web process is SIGKILLed
(its clients reconnect through the proxy, asking for what came after the last event they have)
and then the first worker, mid-flow.

Checked: every client received exactly the channel's events after it joined, in order, none
twice; the clients of the killed web process reconnected; every flow reached its final state with
no effect twice (the fault harness's invariants); `lienthong audit verify` passes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench import drive
from bench.faults import (
    Checker,
    Flows,
    Outcome,
    _tracebacks,
    add_pki_arguments,
    await_finals,
    borrowed_pki,
    check_invariants,
    incoming_flow,
    outgoing_flow,
    report_flow,
)
from bench.stack import Stack, free_port


@dataclass
class LiveClient:
    """Follows one channel; on a lost connection, reconnects through the proxy from its last event."""

    name: str
    first_url: str  # where it connects first (a web process, or the proxy)
    proxy_url: str
    cookie: str
    channel: str
    joined_at: int | None = None  # the head when it first joined: it must get everything after
    seqs: list[int] = field(default_factory=list)  # the meeting channel's events it got
    last: int | None = None  # the last event it got on any channel (its user's too): a reconnect's `after`
    connects: int = 0
    resyncs: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        url = self.first_url
        while not self.stop.is_set():
            query = f"?channels={self.channel}" + (
                f"&after={self.last if self.last is not None else self.joined_at}" if self.connects else ""
            )
            try:
                async with connect(url + query, additional_headers={"cookie": self.cookie}, open_timeout=30) as ws:
                    self.connects += 1
                    async for raw in ws:
                        message = json.loads(raw)
                        if message.get("kind") == "hello":
                            if self.joined_at is None:
                                self.joined_at = message["seq"]
                            self.ready.set()
                        elif message.get("kind") == "resync":
                            self.resyncs += 1
                        elif "seq" in message:
                            self.last = message["seq"]
                            if message.get("channel") == self.channel:  # (every socket follows its user's channel too)
                                self.seqs.append(message["seq"])
            except (OSError, ConnectionClosed, TimeoutError):
                pass
            url = self.proxy_url  # whoever served it before is gone: ask the proxy
            if not self.stop.is_set():
                await asyncio.sleep(0.2)


async def _drive(stack: Stack, args: argparse.Namespace, outcome: Outcome, web_ports: list[int]) -> None:
    directory = await drive.load_directory(str(stack.database_url))
    names = ["mai.tran", "lan.nguyen", "thu.le", "hanh.pham", "tpbentre.chutich", "chauthanh.chutich", "mocaynam.chutich"]
    browsers = {n: drive.Browser(stack.base_url, n) for n in names}
    for browser in browsers.values():
        await browser.sign_in()
    checker = Checker(stack)
    flows = Flows()
    rng = random.Random(args.seed)
    chair = browsers["lan.nguyen"]

    meeting = await drive.meeting_create(browsers["mai.tran"], directory, "cụm")
    await drive.meeting_schedule(browsers["mai.tran"], meeting)
    await drive.meeting_open(chair, meeting)
    cookie = "; ".join(f"{k}={v}" for k, v in chair.client.cookies.items())
    proxy = stack.base_url.replace("http", "ws", 1) + "/ws"
    firsts = [f"ws://127.0.0.1:{web_ports[0]}/ws", f"ws://127.0.0.1:{web_ports[1]}/ws", proxy, proxy]
    clients = [LiveClient(f"client-{i}", url, proxy, cookie, f"meeting-{meeting}") for i, url in enumerate(firsts)]
    tasks = [asyncio.create_task(c.run()) for c in clients]
    await asyncio.wait_for(asyncio.gather(*(c.ready.wait() for c in clients)), 60)

    async def agenda() -> None:
        for i in range(args.items):
            await chair.live(f"/meetings/{meeting}/live/add-item", {"title": f"Nội dung {i + 1}", "planned_minutes": 5})
            if i == args.items // 3:
                escaped = await asyncio.to_thread(stack.kill, "web-1")
                outcome.kills.append({"what": "web", "name": "web-1", "at_item": i + 1, "escaped_children": escaped})
                outcome.held.append(f"web-1 SIGKILLed after agenda change {i + 1} of {args.items}")
                print(f"[cluster] SIGKILL web-1 after agenda change {i + 1}", flush=True)
            await asyncio.sleep(args.gap)

    async def kill_worker_mid_flow() -> None:
        await asyncio.sleep(rng.uniform(3, 6))
        escaped = await asyncio.to_thread(stack.kill, "worker-1")
        at = round(time.monotonic() - started, 1)
        outcome.kills.append({"what": "worker", "name": "worker-1", "at_s": at, "escaped_children": escaped})
        outcome.held.append(f"worker-1 SIGKILLed {at} s into the flows")
        print("[cluster] SIGKILL worker-1", flush=True)

    started = time.monotonic()
    jobs = {
        "agenda": agenda(),
        "worker kill": kill_worker_mid_flow(),
        "incoming": incoming_flow(browsers, directory, flows, "c-i", random.Random(1)),
        "outgoing": outgoing_flow(browsers, directory, flows, "c-o", random.Random(2), args.deadline),
        "report": report_flow(browsers, directory, flows, "c-r", random.Random(3), checker, args.deadline),
    }
    results = await asyncio.gather(*jobs.values(), return_exceptions=True)
    for name, result in zip(jobs, results):
        if isinstance(result, BaseException):
            outcome.failures.append(f"{name}: {result!r}")

    await await_finals(checker, flows, outcome, args.deadline)
    await check_invariants(checker, flows, outcome, directory)

    # Every client has exactly the channel's events after it joined, in order.
    async def complete() -> bool:
        head = await checker.scalar("SELECT max(seq) FROM events WHERE channel = :c", c=f"meeting-{meeting}")
        return all(c.seqs and c.seqs[-1] == head for c in clients)

    try:
        await drive.until(complete, timeout=60, every=0.2, what="every live client at the channel's head")
    except TimeoutError as exc:
        outcome.failures.append(str(exc))
    for client in clients:
        client.stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    expected_all = [r[0] for r in await checker.rows("SELECT seq FROM events WHERE channel = :c ORDER BY seq", c=f"meeting-{meeting}")]
    for client in clients:
        expected = [s for s in expected_all if s > (client.joined_at or 0)]
        ok = client.seqs == expected and not client.resyncs
        text = (
            f"{client.name} (first on {client.first_url.split('/')[2]}): {len(client.seqs)} events in order, none missing or twice,"
            f" {client.connects} connection(s)"
        )
        if ok:
            outcome.held.append(text)
        else:
            missing = sorted(set(expected) - set(client.seqs))
            outcome.failures.append(f"{client.name}: got {client.seqs}, expected {expected} (missing {missing}, resyncs {client.resyncs})")
    if clients[0].connects < 2:
        outcome.failures.append("the client of the killed web process did not reconnect")
    outcome.held.append(f"{args.items} agenda changes through the proxy, {len(expected_all)} meeting events in all")
    for browser in browsers.values():
        outcome.retried_503 += browser.retries
        outcome.lost_in_flight += browser.uncertain
        await browser.close()
    await checker.close()


def run(args: argparse.Namespace) -> Outcome:
    outcome = Outcome(backend="postgresql (own cluster), 2 web + 2 workers behind nginx")
    started = time.monotonic()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="lienthong-cluster-"))
    stack = Stack(root, task_queue="cluster", postgres=True, **borrowed_pki(args))
    stack.proxy_port = free_port()  # the public address every process is told about
    web_ports = [free_port(), free_port()]
    try:
        stack.init_postgres()
        stack.start_temporal()
        stack.prepare(pki=True)
        if not args.pki_from:  # a borrowed PKI's trust services already answer
            stack.start_trust_services()
        for i, port in enumerate(web_ports, 1):
            stack.start_web(f"web-{i}", port)
            stack.start_worker(f"worker-{i}")
        stack.start_proxy(web_ports)
        asyncio.run(_drive(stack, args, outcome, web_ports))
        verify = stack.cli("audit", "verify", check=False)
        (outcome.held if verify.returncode == 0 else outcome.failures).append(
            f"`lienthong audit verify` exit {verify.returncode}: {(verify.stdout + verify.stderr).strip()[:300]}"
        )
    except Exception as exc:  # noqa: BLE001 - reported as a failure of the run
        outcome.failures.append(f"harness error: {exc!r}")
    finally:
        stack.close()
        outcome.seconds = time.monotonic() - started
        for name in ("web-1", "web-2", "worker-1", "worker-2"):
            outcome.server_errors += _tracebacks(stack.logs / f"{name}.log")
        print(f"logs: {stack.logs}", flush=True)
    return outcome


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n\n")[0])
    p.add_argument("--items", type=int, default=30, help="agenda changes by the chair")
    p.add_argument("--gap", type=float, default=0.3, help="seconds between agenda changes")
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--deadline", type=float, default=300.0, help="generous limit for each wait")
    p.add_argument("--keep", help="run in this directory and keep it")
    add_pki_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    outcome = run(parser().parse_args(argv))
    print(outcome.summary(), flush=True)
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
