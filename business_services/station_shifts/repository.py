"""SQL that writes head office's shift copies, the documents received per shift and the verdicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from business_services.station_shifts.model import Evaluation, Verdict
from telemetry.contracts.events.shifts import ShiftClosed, ShiftOpened


async def record_opened(conn: psycopg.AsyncConnection, e: ShiftOpened) -> bool:
    """A new copy, or the definition added to one that ``shift.closed`` created first; False: nothing new."""
    cur = await conn.execute(
        """INSERT INTO business.station_shifts AS s (station, shift_no, definition, opened_by, opened_at)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (station, shift_no) DO UPDATE SET definition = EXCLUDED.definition
           WHERE s.definition IS NULL AND EXCLUDED.definition IS NOT NULL""",
        (e.station, e.shift_no, e.definition, e.opened_by, e.opened_at))
    return cur.rowcount == 1


async def record_closed(conn: psycopg.AsyncConnection, e: ShiftClosed) -> bool:
    """The close's report on the copy (created here when ``shift.opened`` has not arrived); a copy already
    closed keeps its first report: False."""
    takings = [t.model_dump(mode="json") for t in e.takings]
    cur = await conn.execute(
        """INSERT INTO business.station_shifts AS s (station, shift_no, opened_by, opened_at, closed_by, closed_at,
               order_count, sales_fen, volume_l, takings, cash_expected_fen, cash_counted_fen, over_short_fen,
               unpaid_orders, override_reason)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (station, shift_no) DO UPDATE SET
               closed_by = EXCLUDED.closed_by, closed_at = EXCLUDED.closed_at,
               order_count = EXCLUDED.order_count, sales_fen = EXCLUDED.sales_fen, volume_l = EXCLUDED.volume_l,
               takings = EXCLUDED.takings, cash_expected_fen = EXCLUDED.cash_expected_fen,
               cash_counted_fen = EXCLUDED.cash_counted_fen, over_short_fen = EXCLUDED.over_short_fen,
               unpaid_orders = EXCLUDED.unpaid_orders, override_reason = EXCLUDED.override_reason
           WHERE s.closed_at IS NULL""",
        (e.station, e.shift_no, e.opened_by, e.opened_at, e.closed_by, e.closed_at, e.order_count, e.sales_fen,
         e.volume_l, Jsonb(takings), e.cash_expected_fen, e.cash_counted_fen, e.over_short_fen,
         Jsonb(list(e.unpaid_orders)), e.override_reason))
    return cur.rowcount == 1


async def record_document(conn: psycopg.AsyncConnection, *, station: str, kind: str, document_no: str,
                          shift_no: str, method: str, net_fen: int, occurred_at: datetime) -> bool:
    """One payment or refund counted for its shift; False when this document was already counted."""
    cur = await conn.execute(
        """INSERT INTO business.station_shift_documents
               (station, kind, document_no, shift_no, method, net_fen, occurred_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        (station, kind, document_no, shift_no, method, net_fen, occurred_at))
    return cur.rowcount == 1


async def reopen_if_matched(conn: psycopg.AsyncConnection, station: str, shift_no: str, now: datetime) -> bool:
    """A document for a matched shift: the verdict becomes late_documents (and joins the history)."""
    cur = await conn.execute(
        """UPDATE business.station_shifts SET status = %s, checked_at = %s
           WHERE station = %s AND shift_no = %s AND status = %s""",
        (Verdict.LATE_DOCUMENTS.value, now, station, shift_no, Verdict.MATCHED.value))
    if cur.rowcount == 0:
        return False
    await _history(conn, station, shift_no, Evaluation(Verdict.LATE_DOCUMENTS), now)
    return True


async def lock(conn: psycopg.AsyncConnection, station: str, shift_no: str) -> dict[str, Any] | None:
    """The copy, locked for its evaluation (a document arriving meanwhile waits, then sees the new verdict)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT opened_at, closed_at, takings, status, gaps FROM business.station_shifts
                             WHERE station = %s AND shift_no = %s FOR UPDATE""", (station, shift_no))
        return await cur.fetchone()


async def record_verdict(conn: psycopg.AsyncConnection, station: str, shift_no: str, evaluation: Evaluation,
                         now: datetime, *, changed: bool) -> None:
    await conn.execute(
        """UPDATE business.station_shifts SET status = %s, gaps = %s, checked_at = %s
           WHERE station = %s AND shift_no = %s""",
        (evaluation.verdict.value, Jsonb(evaluation.gaps_json()), now, station, shift_no))
    if changed:
        await _history(conn, station, shift_no, evaluation, now)


async def _history(conn: psycopg.AsyncConnection, station: str, shift_no: str, evaluation: Evaluation,
                   now: datetime) -> None:
    await conn.execute(
        """INSERT INTO business.station_shift_verdicts (station, shift_no, status, gaps, decided_at)
           VALUES (%s, %s, %s, %s, %s)""",
        (station, shift_no, evaluation.verdict.value, Jsonb(evaluation.gaps_json()), now))


async def open_questions(conn: psycopg.AsyncConnection) -> list[tuple[str, str]]:
    """Every shift whose verdict may still change: all but the matched ones."""
    cur = await conn.execute("""SELECT station, shift_no FROM business.station_shifts WHERE status <> 'matched'
                                ORDER BY station, shift_no""")
    return [(station, shift_no) for station, shift_no in await cur.fetchall()]
