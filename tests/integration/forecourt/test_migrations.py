"""Migrations: applied once, in order, safe from several processes, and an edited one is refused."""

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from forecourt.migrations import MIGRATION_DIRS, MigrationError, migrate

pytestmark = pytest.mark.integration


def test_migrated_database_has_the_telemetry_tables_and_nothing_is_applied_twice(database_url: str) -> None:
    assert migrate(database_url) == []   # the fixture database is already migrated
    with psycopg.connect(database_url) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'telemetry'")}
    assert {"metrics", "points", "latest", "sources", "dead_letters"} <= tables


def test_concurrent_runs_apply_each_file_once(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "0001_one.sql").write_text("CREATE TABLE public.once (x int);")
    (folder / "0002_two.sql").write_text("INSERT INTO public.once VALUES (1);")
    dirs = [("extra", folder)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: migrate(database_url, dirs), range(4)))
    assert sorted(v for r in results for v in r) == ["extra:0001", "extra:0002"]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM public.once").fetchone() == (1,)


def test_an_edited_migration_is_refused(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "m"
    shutil.copytree(MIGRATION_DIRS[0][1], folder)
    first = sorted(folder.glob("0001_*.sql"))[0]
    first.write_text(first.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(database_url, [("telemetry", folder)])
