"""Schema migrations: numbered SQL files, applied in order, once each, under an advisory lock.

Each package keeps its files in a ``migrations/`` folder (``0001_name.sql``): the telemetry store, the
business plane's shared tables (``business_services/migrations``: handled events, dead letters, outbox),
then each bounded context's own folder (``business_services/<context>/migrations``, package
``business.<context>``), contexts in name order, so a context never depends on another's tables. Files named
``*.tsdb.sql`` run only when TimescaleDB is available and ``*.plain.sql`` only when it is not,
so one number can have both variants and the same tables and queries work either way. An
applied file whose text changed is an error, not a silent skip.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

LOCK_KEY = 0x466F7265  # "Fore"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+(\.tsdb|\.plain)?\.sql$")

_ROOT = Path(__file__).resolve().parent.parent
MIGRATION_DIRS: list[tuple[str, Path]] = [
    ("telemetry", _ROOT / "telemetry" / "storage" / "migrations"),
    ("alarms", _ROOT / "telemetry" / "alarms" / "migrations"),
    ("business", _ROOT / "business_services" / "migrations"),
    *((f"business.{folder.parent.name}", folder)
      for folder in sorted((_ROOT / "business_services").glob("*/migrations")) if folder.is_dir()),
]


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    package: str
    path: Path

    @property
    def version(self) -> str:
        return f"{self.package}:{self.path.name.split('_', 1)[0]}"

    @property
    def needs_timescale(self) -> bool:
        return self.path.name.endswith(".tsdb.sql")

    @property
    def needs_plain(self) -> bool:
        return self.path.name.endswith(".plain.sql")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(dirs: list[tuple[str, Path]] = MIGRATION_DIRS) -> list[Migration]:
    found: list[Migration] = []
    for package, folder in dirs:
        for path in sorted(folder.glob("*.sql")):
            if not _NAME.match(path.name):
                raise MigrationError(f"{path}: migration files are named NNNN_words[.tsdb|.plain].sql")
            found.append(Migration(package, path))
    return found


def timescale_available(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
    return row is not None


def migrate(url: str, dirs: list[tuple[str, Path]] = MIGRATION_DIRS) -> list[str]:
    """Apply what is missing; returns the versions applied now. Safe to run from many processes."""
    applied_now: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            conn.execute("""CREATE TABLE IF NOT EXISTS public.schema_migrations (
                version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())""")
            tsdb = timescale_available(conn)
            if tsdb:
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            done = {v: c for v, c in conn.execute("SELECT version, checksum FROM public.schema_migrations")}
            for m in discover(dirs):
                if (m.needs_timescale and not tsdb) or (m.needs_plain and tsdb):
                    continue
                if m.version in done:
                    if done[m.version] != m.checksum:
                        raise MigrationError(f"{m.path.name} was changed after it was applied; "
                                             "add a new migration instead of editing an old one")
                    continue
                with conn.transaction():
                    conn.execute(m.path.read_text(encoding="utf-8"))
                    conn.execute("INSERT INTO public.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                                 (m.version, m.path.name, m.checksum))
                log.info("applied migration %s", m.path.name)
                applied_now.append(m.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    return applied_now
