"""Real servers for tests.

PostgreSQL: ``FORECOURT_TEST_DATABASE_URL`` names a server (CI has one on 127.0.0.1:5432); without it
an embedded PostgreSQL is started for the run. Every run makes its own migrated template database and
every test that asks for ``database_url`` gets a fresh copy of it (``tests/support/databases.py``), so runs
and tests never collide.

MQTT: ``FORECOURT_TEST_MQTT_URL`` names a broker; without it one is started (mosquitto if on PATH,
else amqtt). Tests isolate their traffic with a unique Sparkplug group (fixture ``group``).

In parallel (``scripts/test.sh``: pytest-xdist, two workers, ``--dist loadgroup``) a test file runs whole on one
worker (its module fixtures are made once), the browser tests all on one (one Chromium at a time), and tests
marked ``serial`` (timing-critical: outages, a restart on the same port, one-second service levels, bursts of
requests at once against an API pool's 2 s wait; or names the whole server shares) are left to a second, serial
run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from forecourt.local import EmbeddedPostgres, LocalBroker
from forecourt.migrations import migrate
from telemetry.contracts.broker import BrokerAddress
from tests.support.databases import DatabaseCopies


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's xdist group (``--dist loadgroup``): its file's, or ``browser`` for the browser tests."""
    web = Path(__file__).parent / "e2e" / "web"
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            where = "browser" if item.path.is_relative_to(web) else str(item.path.relative_to(Path(__file__).parent))
            item.add_marker(pytest.mark.xdist_group(where))


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    url = os.environ.get("FORECOURT_TEST_DATABASE_URL")
    if url:
        yield url
        return
    # not under pytest's temp root: pytest keeps that at mode 0700, and the server runs as its own user
    data_dir = Path(tempfile.mkdtemp(prefix="forecourt-test-pg-"))
    pg = EmbeddedPostgres(data_dir)
    try:
        yield pg.start()
    finally:
        pg.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def database_copies(postgres_server: str) -> Iterator[DatabaseCopies]:
    copies = DatabaseCopies(postgres_server)
    yield copies
    copies.close()


@pytest.fixture(scope="session")
def template_database(postgres_server: str, database_copies: DatabaseCopies) -> Iterator[str]:
    name = f"fc_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    migrate(_with_database(postgres_server, name))
    yield name
    database_copies.release(name)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture
def database_url(database_copies: DatabaseCopies, template_database: str) -> Iterator[str]:
    """A fresh, migrated database for one test (head office's, where a test has two roles)."""
    with database_copies.fresh(template_database) as url:
        yield url


@pytest.fixture
def station_database_url(database_copies: DatabaseCopies, template_database: str) -> Iterator[str]:
    """The station server's own database (the station role), beside head office's on one PostgreSQL."""
    with database_copies.fresh(template_database) as url:
        yield url


class _BrokerThread:
    """A broker with its own event loop in a thread, so that it outlives each test's loop."""

    def __init__(self, data_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.broker = LocalBroker(data_dir)
        self.thread.start()

    def start(self) -> BrokerAddress:
        return asyncio.run_coroutine_threadsafe(self.broker.start(), self.loop).result(30)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.broker.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="session")
def session_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerAddress]:
    url = os.environ.get("FORECOURT_TEST_MQTT_URL")
    if url:
        yield BrokerAddress.from_url(url)
        return
    runner = _BrokerThread(Path(tmp_path_factory.mktemp("mqtt")))
    yield runner.start()
    runner.stop()


@pytest.fixture
def broker(session_broker: BrokerAddress) -> BrokerAddress:
    return session_broker


@pytest.fixture
def group() -> str:
    """A Sparkplug group of this test's own, so that tests sharing a broker never see each other."""
    return f"t{uuid.uuid4().hex[:10]}"
