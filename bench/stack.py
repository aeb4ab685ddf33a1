"""Real processes for benchmarks and fault tests: a Temporal dev server, `lienthong worker`,
`lienthong web`, the dev PKI's trust services and, on request, a PostgreSQL cluster of the run's
own (initdb in the run's directory, its own port; never the machine's shared server), each in its
own process group, on free ports, with all state in one temporary directory.

Every process gets a marker in its environment (`LIENTHONG_STACK_RUN=<id>`); killing a process
"with its children" kills its process group and then every process still carrying the marker
that belonged to it (the document converter starts LibreOffice in a session of its own, which a
process-group kill does not reach). `Stack.close()` kills whatever is left, so nothing outlives
a run even when it fails.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARKER = "LIENTHONG_STACK_RUN"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def temporal_binary() -> str:
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.exists():
        return str(candidate)
    from web.runtime import temporal_binary as find

    return find()


def _pg_bin(name: str) -> str:
    """A PostgreSQL server program: the newest /usr/lib/postgresql/<version>/bin, else PATH."""
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    found = versions[-1] if versions else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: install the Debian package postgresql")
    return found


def _postgres_account() -> str | None:
    """The account PostgreSQL runs as: ours, unless we are root (then `postgres`)."""
    return "postgres" if os.geteuid() == 0 else None


def _marked_pids(marker: str) -> list[int]:
    """PIDs of our user's processes whose environment carries `marker` (read from /proc)."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if needle in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


@dataclass
class Proc:
    """One subprocess in its own process group, with a per-process environment marker."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    user: str | None = None  # run as this account (PostgreSQL refuses to run as root)
    popen: subprocess.Popen[bytes] | None = None
    marker: str = ""
    starts: int = 0
    orphans_killed: int = 0
    escaped_names: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.marker = f"{self.name}-{uuid.uuid4().hex[:10]}"
        env = {**self.env, MARKER: self.marker}
        with self.log.open("ab") as out:
            out.write(f"\n===== start #{self.starts + 1} {time.strftime('%H:%M:%S')} =====\n".encode())
            out.flush()
            self.popen = subprocess.Popen(
                self.argv,
                env=env,
                cwd=str(REPO),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                user=self.user,
            )
        self.starts += 1

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, *, leader_only: bool = False) -> int:
        """SIGKILL the process group, then any process of ours that escaped it; returns how many escaped.

        `leader_only`: SIGKILL just the group's leader (PostgreSQL's postmaster) and give its
        children a few seconds to notice and exit on their own, as they do after a crash."""
        escaped = 0
        if self.popen is not None and leader_only:
            try:
                os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            deadline = time.monotonic() + 10
            while self.marker and _marked_pids(self.marker) and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.popen is not None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self.marker:
            for _ in range(3):  # a process may fork while we look
                pids = _marked_pids(self.marker)
                if not pids:
                    break
                for pid in pids:
                    try:
                        with open(f"/proc/{pid}/comm") as handle:
                            self.escaped_names.append(handle.read().strip())
                    except OSError:
                        pass
                    try:
                        os.killpg(pid, signal.SIGKILL)  # its own group leader (soffice, bridge)
                    except (ProcessLookupError, PermissionError):
                        pass
                    try:
                        os.kill(pid, signal.SIGKILL)
                        escaped += 1
                    except (ProcessLookupError, PermissionError):
                        pass
                time.sleep(0.1)
        self.orphans_killed += escaped
        self.popen = None
        return escaped


def nginx_conf(root: Path, port: int, web_ports: list[int]) -> str:
    """A reverse proxy like production's (the same proxy rules, deploy/nginx-proxy.conf): round
    robin over the web processes, WebSockets passed on, a web process that refuses connections
    skipped for the next."""
    temp = root / "nginx-temp"
    temp.mkdir(exist_ok=True)
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=30s;" for p in web_ports)
    user = "user root;" if os.geteuid() == 0 else ""  # workers write the temp files of our run
    return f"""{user}
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/logs/proxy-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {root}/logs/proxy-access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream lienthong {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            include {REPO / "deploy" / "nginx-proxy.conf"};
        }}
    }}
}}
"""


@dataclass
class Stack:
    """All the processes of one run and their shared settings."""

    root: Path
    database_url: str | None = None
    postgres: bool = False  # a PostgreSQL cluster of the run's own instead of SQLite
    task_queue: str = "lienthong"
    extra_env: dict[str, str] = field(default_factory=dict)
    temporal_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    trust_port: int = field(default_factory=free_port)
    pg_port: int = field(default_factory=free_port)
    proxy_port: int | None = None  # set by start_proxy: the public address is then the proxy's
    # A dev PKI (a `pki` directory) to copy instead of making one: its keys cost seconds of CPU.
    # Its certificates name its trust services' address: pass their port as `trust_port`.
    pki_from: Path | None = None
    procs: dict[str, Proc] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir = self.root / "data"
        self.data_dir.mkdir(exist_ok=True)
        self.logs = self.root / "logs"
        self.logs.mkdir(exist_ok=True)
        self.pg_dir: Path | None = None
        if self.database_url is None and self.postgres:
            self.database_url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.pg_port}/lienthong"
        if self.database_url is None:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'lienthong.db'}"

    # --- environment -----------------------------------------------------------------------------

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port or self.web_port}"

    def env(self) -> dict[str, str]:
        # Of our own settings only the test suite's password hashing cost comes along (set by
        # tests/conftest.py; a benchmark run from a shell hashes at the standard cost).
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIENTHONG_") or k == "LIENTHONG_PASSWORD_HASHING"}
        env.update(
            {
                "PYTHONPATH": str(REPO),
                "PYTHONUNBUFFERED": "1",
                "LIENTHONG_DATA_DIR": str(self.data_dir),
                "LIENTHONG_DATABASE_URL": str(self.database_url),
                "LIENTHONG_TEMPORAL_ADDRESS": self.temporal_address,
                "LIENTHONG_SECRET_KEY": "stack-secret-key",
                "LIENTHONG_TASK_QUEUE": self.task_queue,
                "LIENTHONG_TRUST_SERVICES_PORT": str(self.trust_port),
                "LIENTHONG_BASE_URL": self.base_url,
            }
        )
        env.update(self.extra_env)
        return env

    def cli(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run `lienthong ARGS` with the stack's settings; output returned."""
        return self._python(["-m", "web.cli", *args], f"lienthong {' '.join(args)}", check=check, timeout=timeout)

    def cli_in_one_process(self, *commands: list[str]) -> None:
        """Run several `lienthong` commands one after the other in one process (each Python start
        costs a second or more of CPU in imports); stops at the first that fails."""
        script = f"from web.cli import main\nfor argv in {list(commands)!r}:\n    if main(argv):\n        raise SystemExit(1)"
        self._python(["-c", script], " then ".join(f"lienthong {' '.join(c)}" for c in commands))

    def _python(self, argv: list[str], what: str, *, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, *argv], env=self.env(), cwd=str(REPO), capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"{what} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    # --- processes ---------------------------------------------------------------------------------

    def _proc(self, name: str, argv: list[str]) -> Proc:
        proc = self.procs.get(name) or Proc(name=name, argv=argv, env=self.env(), log=self.logs / f"{name}.log")
        self.procs[name] = proc
        return proc

    def wait_port(self, port: int, proc: Proc, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_open(port):
                return
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode if proc.popen else '?'}); see {proc.log}")
            time.sleep(0.1)
        raise RuntimeError(f"{proc.name} did not open port {port} within {timeout:.0f} s; see {proc.log}")

    def start_temporal(self) -> Proc:
        proc = self._proc(
            "temporal",
            [
                temporal_binary(),
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(self.temporal_port),
                "--db-filename",
                str(self.root / "temporal.db"),
                "--namespace",
                "default",
                "--log-level",
                "warn",
            ],
        )
        proc.start()
        self.wait_port(self.temporal_port, proc)
        return proc

    # --- PostgreSQL of the run's own ------------------------------------------------------------------

    def init_postgres(self) -> None:
        """initdb a throw-away cluster (trust auth, UTF-8) and create the `lienthong` database.

        Its directory is a fresh temporary one that the `postgres` account owns when we run as
        root (PostgreSQL refuses root, and the run's directory may not be reachable for it)."""
        self.pg_dir = Path(tempfile.mkdtemp(prefix="lienthong-pg-"))
        user = _postgres_account()
        if user:
            entry = pwd.getpwnam(user)
            os.chown(self.pg_dir, entry.pw_uid, entry.pw_gid)
        log = self.logs / "postgres.log"
        with log.open("ab") as out:
            subprocess.run(
                [
                    _pg_bin("initdb"),
                    "-D",
                    str(self.pg_dir / "data"),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ],
                check=True,
                stdout=out,
                stderr=subprocess.STDOUT,
                user=user,
                cwd=str(self.pg_dir),
            )
        self.start_postgres()
        subprocess.run(
            [
                _pg_bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.pg_port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                "CREATE DATABASE lienthong",
            ],
            check=True,
            capture_output=True,
        )

    def start_postgres(self) -> Proc:
        """Start the postmaster (in the foreground, so its PID is ours to kill); back once it
        accepts connections, crash recovery included."""
        assert self.pg_dir is not None, "init_postgres first"
        proc = self._proc(
            "postgres",
            [
                _pg_bin("postgres"),
                "-D",
                str(self.pg_dir / "data"),
                "-p",
                str(self.pg_port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.pg_dir}",
                "-c",
                "max_connections=200",
            ],
        )
        proc.user = _postgres_account()
        proc.start()
        self.wait_port(self.pg_port, proc)
        deadline = time.monotonic() + 120
        while (
            subprocess.run(
                [_pg_bin("pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-d", "postgres"], check=False
            ).returncode
            != 0
        ):
            if not proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections; see {proc.log}")
            time.sleep(0.1)
        return proc

    def prepare(self, *, pki: bool = False) -> None:
        """Migrate and seed a fresh database; with `pki`, create the dev PKI for the directory."""
        commands = [["migrate"], ["seed-demo"]]
        if pki and self.pki_from:
            shutil.copytree(self.pki_from, self.data_dir / "pki")  # `pki init` below only checks it covers the directory
        if pki:
            commands.append(["pki", "init", "--base-url", f"http://127.0.0.1:{self.trust_port}"])
        self.cli_in_one_process(*commands)

    def start_trust_services(self) -> Proc:
        proc = self._proc("trust", [sys.executable, "-m", "web.cli", "pki", "serve", "--port", str(self.trust_port)])
        proc.start()
        self.wait_port(self.trust_port, proc)
        return proc

    def start_worker(self, name: str = "worker") -> Proc:
        proc = self._proc(name, [sys.executable, "-m", "web.cli", "worker"])
        proc.start()
        return proc

    def start_web(self, name: str = "web", port: int | None = None) -> Proc:
        port = port or self.web_port
        proc = self._proc(name, [sys.executable, "-m", "web.cli", "web", "--host", "127.0.0.1", "--port", str(port)])
        proc.start()
        self.wait_port(port, proc)
        return proc

    def start_proxy(self, web_ports: list[int]) -> Proc:
        """nginx (Debian's) in front of the web processes, passing WebSockets, as in production;
        from now on the stack's public address (`base_url`) is the proxy's."""
        port = self.proxy_port or free_port()
        conf = self.root / "nginx.conf"
        conf.write_text(nginx_conf(self.root, port, web_ports), encoding="utf-8")
        proc = self._proc("proxy", [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(self.root), "-c", str(conf)])
        proc.start()
        self.wait_port(port, proc)
        self.proxy_port = port
        return proc

    def kill(self, name: str) -> int:
        # PostgreSQL: SIGKILL the postmaster alone; its backends notice and exit, as after a crash.
        return self.procs[name].kill(leader_only=name == "postgres")

    def close(self) -> None:
        """Kill every process of the run (group, then escapees), whatever state it is in; drop
        the run's PostgreSQL cluster."""
        for proc in reversed(list(self.procs.values())):
            proc.kill()
        if self.pg_dir is not None:
            shutil.rmtree(self.pg_dir, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
