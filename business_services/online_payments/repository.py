"""SQL of the online payments context (tables in migrations/0001_online_payments.sql)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.online_payments.model import Notice, Outcome
from business_services.payments.providers import ChargeRequest, ChargeState
from telemetry.contracts.events.payments import Method

_SELECT = ("SELECT payment_no, station, method, amount_fen, state, provider_ref, qr_code_url, message, captured_fen, "
           "refunded_fen FROM business.online_payments WHERE payment_no = %s")
_LOCKED = _SELECT + " FOR UPDATE"


async def insert(conn: psycopg.AsyncConnection, r: ChargeRequest) -> bool:
    """True when this is the first request for ``payment_no`` (a retry finds the row and inserts nothing)."""
    cur = await conn.execute(
        "INSERT INTO business.online_payments (payment_no, station, method, amount_fen, description, scanned, "
        "member_no) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (payment_no) DO NOTHING RETURNING 1",
        (r.payment_no, r.station, r.method.value, r.amount_fen, r.description, r.auth_code is not None,
         r.member_no if r.method is Method.AGREEMENT else None))
    return await cur.fetchone() is not None


async def payment(conn: psycopg.AsyncConnection, payment_no: str, *, lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_LOCKED if lock else _SELECT, (payment_no,))
        return await cur.fetchone()


async def settle(conn: psycopg.AsyncConnection, payment_no: str, o: Outcome) -> bool:
    """Record what the provider said; only a pending payment changes (succeeded and failed are final)."""
    cur = await conn.execute(
        """UPDATE business.online_payments SET state = %(state)s,
               captured_fen = CASE WHEN %(state)s = 'succeeded' THEN amount_fen ELSE 0 END,
               provider_ref = coalesce(%(ref)s, provider_ref), qr_code_url = coalesce(%(qr)s, qr_code_url),
               message = %(message)s, settled_at = CASE WHEN %(state)s = 'pending' THEN NULL ELSE now() END
           WHERE payment_no = %(no)s AND state = 'pending' RETURNING 1""",
        {"state": o.state.value, "ref": o.provider_ref, "qr": o.qr_code_url, "message": o.message, "no": payment_no})
    return await cur.fetchone() is not None


async def record_callback(conn: psycopg.AsyncConnection, provider: str, n: Notice) -> bool:
    """True for a notification seen the first time; a repeat only counts as a duplicate."""
    cur = await conn.execute(
        """INSERT INTO business.online_payment_callbacks (provider, notification_id, payment_no, state, amount_fen)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (provider, notification_id) DO UPDATE SET duplicates = online_payment_callbacks.duplicates + 1
           RETURNING duplicates""", (provider, n.notification_id, n.payment_no, n.state.value, n.amount_fen))
    row = await cur.fetchone()
    return row is not None and row[0] == 0


async def refund(conn: psycopg.AsyncConnection, refund_no: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT refund_no, payment_no, amount_fen, state, provider_ref, message "
                          "FROM business.online_refunds WHERE refund_no = %s", (refund_no,))
        return await cur.fetchone()


async def reserve_refund(conn: psycopg.AsyncConnection, refund_no: str, payment_no: str, amount_fen: int,
                         reason: str) -> None:
    """The refund row, and its amount counted against the capture (call with the payment's row locked)."""
    await conn.execute("INSERT INTO business.online_refunds (refund_no, payment_no, amount_fen, reason) "
                       "VALUES (%s, %s, %s, %s)", (refund_no, payment_no, amount_fen, reason))
    await conn.execute("UPDATE business.online_payments SET refunded_fen = refunded_fen + %s WHERE payment_no = %s",
                       (amount_fen, payment_no))


async def finish_refund(conn: psycopg.AsyncConnection, refund_no: str, o: Outcome) -> None:
    """A pending refund becomes succeeded, or failed and its amount released."""
    cur = await conn.execute(
        "UPDATE business.online_refunds SET state = %s, provider_ref = %s, message = %s "
        "WHERE refund_no = %s AND state = 'pending' RETURNING payment_no, amount_fen",
        (o.state.value, o.provider_ref, o.message, refund_no))
    row = await cur.fetchone()
    if row is not None and o.state == ChargeState.FAILED:
        await conn.execute("UPDATE business.online_payments SET refunded_fen = refunded_fen - %s "
                           "WHERE payment_no = %s", (row[1], row[0]))


async def pending_since(conn: psycopg.AsyncConnection, older_than_s: float, limit: int) -> list[str]:
    cur = await conn.execute("SELECT payment_no FROM business.online_payments WHERE state = 'pending' "
                             "AND created_at < now() - make_interval(secs => %s) ORDER BY created_at LIMIT %s",
                             (older_than_s, limit))
    return [row[0] for row in await cur.fetchall()]


# --- payment agreements (免密支付, migrations/0002_agreements.sql) ---------------------------------------------

_AGREEMENT = ("SELECT out_contract_code, member_no, state, contract_id, sign_url, started_by, started_at, signed_at, "
              "ended_at, end_reason FROM business.payment_agreements")


async def open_agreement(conn: psycopg.AsyncConnection, member_no: str, *, lock: bool = False) -> dict[str, Any] | None:
    """The member's agreement being signed or active (at most one)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_AGREEMENT + " WHERE member_no = %s AND state IN ('signing', 'active')"
                          + (" FOR UPDATE" if lock else ""), (member_no,))
        return await cur.fetchone()


async def latest_agreement(conn: psycopg.AsyncConnection, member_no: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_AGREEMENT + " WHERE member_no = %s ORDER BY started_at DESC LIMIT 1",
                          (member_no,))
        return await cur.fetchone()


async def agreement(conn: psycopg.AsyncConnection, out_contract_code: str, *,
                    lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_AGREEMENT + " WHERE out_contract_code = %s" + (" FOR UPDATE" if lock else ""),
                          (out_contract_code,))
        return await cur.fetchone()


async def start_agreement(conn: psycopg.AsyncConnection, member_no: str, plan_id: int, by: str) -> str:
    """A new agreement being signed; its out_contract_code (the member number, ``A``, the member's next serial).
    Call with no open agreement of the member (the partial unique index refuses a second)."""
    cur = await conn.execute("SELECT count(*) FROM business.payment_agreements WHERE member_no = %s", (member_no,))
    row = await cur.fetchone()
    code = f"{member_no}A{(row[0] if row else 0) + 1}"
    await conn.execute("INSERT INTO business.payment_agreements (out_contract_code, member_no, plan_id, started_by) "
                       "VALUES (%s, %s, %s, %s)", (code, member_no, plan_id, by))
    return code


async def agreement_page(conn: psycopg.AsyncConnection, out_contract_code: str, sign_url: str) -> None:
    await conn.execute("UPDATE business.payment_agreements SET sign_url = %s WHERE out_contract_code = %s",
                       (sign_url, out_contract_code))


async def agreement_signed(conn: psycopg.AsyncConnection, out_contract_code: str, contract_id: str) -> bool:
    """A signing agreement becomes active; False when it was not being signed (a repeat, or ended meanwhile)."""
    cur = await conn.execute(
        "UPDATE business.payment_agreements SET state = 'active', contract_id = %s, signed_at = now() "
        "WHERE out_contract_code = %s AND state = 'signing' RETURNING 1", (contract_id, out_contract_code))
    return await cur.fetchone() is not None


async def agreement_ended(conn: psycopg.AsyncConnection, out_contract_code: str, reason: str) -> bool:
    """An open agreement ends; False when it had ended already (nothing changes twice)."""
    cur = await conn.execute(
        "UPDATE business.payment_agreements SET state = 'ended', ended_at = now(), end_reason = %s "
        "WHERE out_contract_code = %s AND state <> 'ended' RETURNING 1", (reason[:200], out_contract_code))
    return await cur.fetchone() is not None


async def active_contract(conn: psycopg.AsyncConnection, member_no: str) -> str | None:
    """The provider's contract id of the member's active agreement (what a deduction names)."""
    cur = await conn.execute("SELECT contract_id FROM business.payment_agreements WHERE member_no = %s "
                             "AND state = 'active'", (member_no,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])
