"""`forecourt audit verify` names the row after an audit row is edited, deleted or inserted behind the app's back."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest

from business_services.audit.model import canonical, chain_hash
from business_services.audit.verify import verify
from forecourt.cli import main
from tests.support.audit_chain import row, write_chain

pytestmark = pytest.mark.integration


async def cli(*argv: str) -> int:
    """``forecourt …`` as the shell runs it (in a thread: the command has its own event loop)."""
    return await asyncio.to_thread(main, list(argv))


async def chain(database_url: str, count: int = 100) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        await write_chain(conn, count)


async def tamper(database_url: str, *statements: str | tuple[str, tuple[object, ...]]) -> None:
    """Change the table behind the application's back (each statement: SQL, or SQL with its parameters)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for statement in statements:
            sql, params = (statement, ()) if isinstance(statement, str) else statement
            await conn.execute(sql, params)  # type: ignore[arg-type]


async def verdict_of(database_url: str, from_seq: int = 1):  # type: ignore[no-untyped-def]
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        return await verify(conn, from_seq)


async def test_an_untouched_chain_passes_and_reports_its_head(database_url: str) -> None:
    await chain(database_url)
    verdict = await verdict_of(database_url)
    assert verdict.ok and verdict.checked == 100 and verdict.last_seq == 100
    assert await cli("audit", "verify", "--database-url", database_url) == 0


async def test_an_edited_field_names_the_row(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    await chain(database_url)
    await tamper(database_url, """UPDATE business.audit_log SET after = '{"price_fen": 1}' WHERE seq = 40""")
    verdict = await verdict_of(database_url)
    assert verdict.broken is not None and (verdict.broken.seq, verdict.broken.kind) == (40, "edited")
    assert verdict.checked == 39
    assert await cli("audit", "verify", "--database-url", database_url) == 1
    out = capsys.readouterr().out
    assert "seq 40" in out and "已被修改" in out and "user5" in out and "auth.login" in out


async def test_an_edit_with_a_recomputed_hash_is_caught_at_the_next_link(database_url: str) -> None:
    await chain(database_url)
    fields = list(row(40))
    fields[2] = "somebody.else"
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT prev_hash FROM business.audit_log WHERE seq = 40")
        prev = (await cur.fetchone())[0]  # type: ignore[index]
    forged = chain_hash(bytes(prev), canonical(*fields))  # type: ignore[arg-type]
    await tamper(database_url, ("UPDATE business.audit_log SET actor = 'somebody.else', hash = %s WHERE seq = 40",
                                (forged,)))
    verdict = await verdict_of(database_url)
    assert verdict.broken is not None and (verdict.broken.seq, verdict.broken.kind) == (40, "rewritten")


async def test_a_deleted_row_is_named(database_url: str) -> None:
    await chain(database_url)
    await tamper(database_url, "DELETE FROM business.audit_log WHERE seq = 57")
    verdict = await verdict_of(database_url)
    assert verdict.broken is not None and (verdict.broken.seq, verdict.broken.kind) == (57, "deleted")
    assert "57" in verdict.broken.reason


async def test_a_deletion_hidden_by_renumbering_is_caught(database_url: str) -> None:
    await chain(database_url)
    await tamper(database_url, "DELETE FROM business.audit_log WHERE seq = 57",
                 "UPDATE business.audit_log SET seq = -(seq - 1) WHERE seq > 57",
                 "UPDATE business.audit_log SET seq = -seq WHERE seq < 0")
    verdict = await verdict_of(database_url)
    assert verdict.broken is not None and (verdict.broken.seq, verdict.broken.kind) == (57, "inserted")


async def test_a_forged_row_slipped_in_with_a_plausible_hash_is_named(database_url: str) -> None:
    await chain(database_url)
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT hash FROM business.audit_log WHERE seq = 50")
        prev = bytes((await cur.fetchone())[0])  # type: ignore[index]
    fields = (51, row(51)[1], "intruder", None, *row(51)[4:])   # well-formed, chained correctly onto row 50
    forged = chain_hash(prev, canonical(*fields))  # type: ignore[arg-type]
    await tamper(database_url,
                 "UPDATE business.audit_log SET seq = -(seq + 1) WHERE seq > 50",
                 "UPDATE business.audit_log SET seq = -seq WHERE seq < 0",
                 ("INSERT INTO business.audit_log SELECT 51, at, 'intruder', NULL, source, station, action, target, "
                  "before, after, prev_hash, %s FROM business.audit_log WHERE seq = 52", (forged,)))
    verdict = await verdict_of(database_url)
    assert verdict.broken is not None and (verdict.broken.seq, verdict.broken.kind) == (51, "inserted")


async def test_a_forged_row_at_the_end_is_named(database_url: str) -> None:
    await chain(database_url)
    await tamper(database_url,
                 "INSERT INTO business.audit_log SELECT 101, at, actor, actor_id, source, station, 'refund.create', "
                 "target, before, after, hash, sha256(hash) FROM business.audit_log WHERE seq = 100")
    verdict = await verdict_of(database_url)
    assert verdict.broken is not None and (verdict.broken.seq, verdict.broken.kind) == (101, "edited")


async def test_verify_from_a_checkpoint_checks_only_the_rest(database_url: str) -> None:
    await chain(database_url)
    await tamper(database_url, "UPDATE business.audit_log SET target = 'x' WHERE seq = 10")
    assert (await verdict_of(database_url, from_seq=60)).checked == 41          # row 10 is before the checkpoint
    assert (await verdict_of(database_url, from_seq=60)).ok
    await tamper(database_url, "DELETE FROM business.audit_log WHERE seq = 59")
    late = await verdict_of(database_url, from_seq=60)   # the anchor itself is gone: row 60 links to nothing
    assert late.broken is not None and late.broken.seq == 59
    assert await cli("audit", "verify", "--database-url", database_url, "--from", "60") == 1


async def test_a_long_chain_passes_and_a_late_edit_in_it_is_found(database_url: str) -> None:
    await chain(database_url, 10_000)
    assert (await verdict_of(database_url)).checked == 10_000
    await tamper(database_url, "UPDATE business.audit_log SET station = 'demo-09' WHERE seq = 9999")
    late = await verdict_of(database_url)
    assert late.broken is not None and late.broken.seq == 9_999 and late.checked == 9_998


@pytest.mark.slow   # about a minute on a busy 2-core machine (writing the rows is most of it); -m slow
async def test_an_untouched_chain_of_100000_rows_passes(database_url: str) -> None:
    await chain(database_url, 100_000)
    started = time.perf_counter()
    verdict = await verdict_of(database_url)
    assert verdict.ok and verdict.checked == 100_000 and verdict.last_seq == 100_000
    print(f"verified 100000 rows in {time.perf_counter() - started:.1f} s")
