"""The PGlite server behaves like a PostgreSQL server towards one client after another (tools/pglite/wire.mjs):
each client starts a clean session, COPY FROM STDIN works (large, failing, in a transaction), SSL is declined."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.integration


def test_each_client_starts_a_clean_session(timescale_url: str) -> None:
    left = psycopg.connect(timescale_url)                    # not autocommit: a transaction stays open
    left.execute("CREATE TEMP TABLE scratch (x int)")
    left.execute("SET search_path = pg_catalog")
    for i in range(8):                                       # psycopg prepares _pg3_0 after 5 runs
        left.execute("SELECT %s::int", (i,))
    assert left.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    left.close()                                             # gone without COMMIT or ROLLBACK
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert conn.execute("SELECT to_regclass('pg_temp.scratch')").fetchone() == (None,)
        assert conn.execute("SHOW search_path").fetchone() == ("public",)
        assert conn.execute("SHOW client_min_messages").fetchone() == ("notice",)
        assert [conn.execute("SELECT %s::int", (i,)).fetchone() for i in range(8)] == [(i,) for i in range(8)]


def test_copy_from_stdin_works_like_on_postgresql(timescale_url: str) -> None:
    with psycopg.connect(timescale_url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE copied (n int, label text)")
        with cur.copy("COPY copied FROM STDIN") as copy:     # several TCP chunks of data
            for n in range(50_000):
                copy.write_row((n, f"row {n} " + "x" * 20))
        assert cur.execute("SELECT count(*), sum(n) FROM copied").fetchone() == (50_000, sum(range(50_000)))
        with pytest.raises(psycopg.errors.InvalidTextRepresentation), cur.copy("COPY copied FROM STDIN") as copy:
            copy.write_row(("not a number", "x"))
        with conn.transaction():                             # the connection is still usable, and COPY in a block
            with cur.copy("COPY copied (n, label) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int4", "text"])
                copy.write_row((-1, "binary"))
            assert cur.execute("SELECT label FROM copied WHERE n = -1").fetchone() == ("binary",)


def test_ssl_is_declined_so_prefer_falls_back_to_plain(timescale_url: str) -> None:
    with psycopg.connect(timescale_url.replace("sslmode=disable", "sslmode=prefer")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(timescale_url.replace("sslmode=disable", "sslmode=require"), connect_timeout=10)
