"""Head office's database init script (deploy/head-office/initdb/) on a real PostgreSQL, as the image runs it.

The TimescaleDB image runs ``docker-entrypoint-initdb.d/*.sh`` once on a new volume, before any Forecourt
service has migrated; the script must leave Grafana's login able to read every table the migrations make
afterwards, and nothing more.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import errors, sql

from forecourt.local import EmbeddedPostgres
from forecourt.migrations import migrate

pytestmark = [pytest.mark.integration, pytest.mark.serial]

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "head-office" / "initdb" / "10-grafana-reader.sh"
READER, READER_PASSWORD = "grafana_reader", "reader-secret-1"


def _url(server: str, database: str, login: str | None = None) -> str:
    """The server's URL for ``database``, as the server's own user or as ``user:password`` given in ``login``."""
    parts = urlsplit(server)
    netloc = f"{login}@{parts.netloc.rpartition('@')[2]}" if login else parts.netloc
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}"))


@pytest.fixture
def new_database(postgres_server: str) -> Iterator[str]:
    """An empty database, as the image's POSTGRES_DB is when the init scripts run; the reader role removed after."""
    name = f"fc_deploy_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {READER}")  # type: ignore[arg-type]
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    yield name
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        conn.execute(f"DROP ROLE IF EXISTS {READER}")  # type: ignore[arg-type]


def test_grafana_reader_reads_what_the_migrations_make_and_writes_nothing(postgres_server: str,
                                                                          new_database: str) -> None:
    server = urlsplit(postgres_server)
    owner = server.username or "postgres"
    psql = shutil.which("psql") or EmbeddedPostgres._bin("psql")
    env = {**os.environ, "PATH": f"{Path(psql).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PGHOST": server.hostname or "127.0.0.1", "PGPORT": str(server.port or 5432),
           "POSTGRES_USER": owner, "POSTGRES_DB": new_database, "GRAFANA_READER_PASSWORD": READER_PASSWORD}
    if server.password:
        env["PGPASSWORD"] = server.password
    result = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr

    migrate(_url(postgres_server, new_database))   # what every service does at start, as the owner

    with psycopg.connect(_url(postgres_server, new_database, f"{READER}:{READER_PASSWORD}"), autocommit=True) as conn:
        tables = conn.execute("SELECT table_schema, table_name FROM information_schema.tables "
                              "WHERE table_schema IN ('telemetry', 'business')").fetchall()
        assert {("telemetry", "points"), ("telemetry", "metrics")} <= set(tables)   # it sees them: it may read them
        for schema, table in tables:
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, table)))
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("DELETE FROM telemetry.metrics")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE telemetry.mine (x int)")
