"""Fleet sales settled at head office (docs/fleets.md "Money", "Cards and authorisation"): the capture of a sale
against its reservation, the station's ``payment.captured`` / ``payment.refunded`` with ``fleet_credit``, and
refunds. These rows are what statements are made of.

Each sale is one ``fleet_payments`` row by station and payment number and one ``fleet_payment_entry`` (its key
``fleet.paid:<station>:<payment_no>``): captured online (``Capture``, ``POST /api/v1/fleet-payments``), reported
after an offline sale, or both, it is recorded and posted once. Online, a sale may not spend more than the card's
balance or the enterprise's remaining credit (its own reservation counted back in): refused with the reason.
Offline, the sale happened: it is recorded whatever the limits say by then, and flagged (``flag``) when it went
past them; one the card's balance cannot cover is charged to the enterprise's receivable (挂账) instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.fleets.authorisation import authorisation, usage
from business_services.fleets.cards import (
    FleetNotFound,
    FleetRefused,
    available_fen,
    card,
    limits_of,
    listed,
    lock_enterprise,
    money_fen,
)
from business_services.fleets.limits import Ask, decide
from business_services.ledger import repository as ledger
from business_services.ledger.model import fleet_payment_entry, fleet_refund_entry
from business_services.messagebus import Handler
from business_services.station_orders import views as station_orders
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.events import CloudEvent
from telemetry.contracts.events.payments import Method, PaymentCaptured, PaymentRefunded
from telemetry.contracts.fleets import FleetCapture

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Capture:
    capture: FleetCapture


@dataclass(frozen=True, slots=True)
class Refund:
    station: str
    payment_no: str
    refund_no: str
    amount_fen: int
    at: datetime


async def payment(conn: psycopg.AsyncConnection, station: str, payment_no: str, *,
                  lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT p.*, coalesce((SELECT sum(r.amount_fen) FROM business.fleet_refunds r
                                                  WHERE (r.station, r.payment_no) = (p.station, p.payment_no)),
                                                 0)::bigint AS refunded_fen
                             FROM business.fleet_payments p WHERE station = %s AND payment_no = %s"""  # noqa: S608
                          + (" FOR UPDATE OF p" if lock else ""), (station, payment_no))
        return await cur.fetchone()


async def _answer(conn: psycopg.AsyncConnection, paid: dict[str, Any]) -> dict[str, Any]:
    """{state, station, payment_no, card_no, amount_fen, pays_from, balance_fen | remaining_credit_fen, flag}."""
    row = await card(conn, paid["card_no"])
    assert row is not None                                # noqa: S101 -- a payment's card exists
    left = await money_fen(conn, row)
    return {"state": "captured", "station": paid["station"], "payment_no": paid["payment_no"],
            "card_no": paid["card_no"], "enterprise": paid["enterprise"], "amount_fen": paid["amount_fen"],
            "pays_from": paid["pays_from"],
            "balance_fen": left if row["pays_from"] == "card" else None,
            "remaining_credit_fen": left if row["pays_from"] == "credit" else None, "flag": paid["flag"]}


def _used(payment_no: str) -> FleetRefused:
    return FleetRefused(f"支付单号 {payment_no} 已用于另一笔车队卡支付 (that payment number is used)")


def _same(paid: dict[str, Any], c: FleetCapture) -> None:
    if (paid["card_no"], paid["amount_fen"]) != (c.card_no, c.amount_fen):
        raise _used(c.payment_no)


async def _offline_flag(conn: psycopg.AsyncConnection, row: dict[str, Any], c: FleetCapture, room: int) -> str:
    """Why an offline sale is flagged ('' when it kept within the card's limits and money); a sale that names
    no grade is not judged by the card's grades."""
    if c.amount_fen > room:
        return f"超出可用金额 {max(room, 0) / 100:.2f} 元 (past the money the card could spend)"
    limits = limits_of(row) if c.grade is not None else replace(limits_of(row), grades=())
    fen_per_l = max(1, c.amount_fen * 1000 // c.litres_ml) if c.litres_ml else 1
    decision = decide(limits, await usage(conn, row["card_no"], c.paid_at),
                      Ask(c.station, c.grade or 0, fen_per_l, c.paid_at, c.plate, None), room)
    if not decision.allowed:
        return decision.reason
    return f"超出限额：{decision.reason}" if c.amount_fen > decision.preset_fen else ""


async def _offline_authorisation(conn: psycopg.AsyncConnection, row: dict[str, Any], c: FleetCapture) -> None:
    """The station's own authorisation of an offline sale, recorded as made (head office never saw the ask)."""
    await conn.execute(
        """INSERT INTO business.fleet_authorisations (auth_no, card_no, enterprise, station, nozzle, grade, plate,
                                                      state, reserved_fen, code, reason, offline, asked_at,
                                                      closed_at, expires_at)
           VALUES (%s, %s, %s, %s, 'offline', %s, %s, 'captured', %s, 'ok', '离线授权', true, %s, %s, %s)""",
        (c.auth_no, row["card_no"], row["enterprise"], c.station, c.grade or 0, c.plate or row["plate"],
         c.amount_fen, c.paid_at, c.paid_at, c.paid_at))


async def capture(command: Capture, uow: UnitOfWork) -> dict[str, Any]:
    """Record and post the sale once; the authorisation it was fuelled under is captured (the rest of its
    reservation released). A retry answers as the first time; the same number for another sale is refused."""
    c, conn = command.capture, uow.conn
    paid = await payment(conn, c.station, c.payment_no)
    if paid is not None:
        _same(paid, c)
        return await _answer(conn, paid)
    row = await card(conn, c.card_no)
    if row is None:
        raise FleetNotFound(c.card_no)
    if row["pays_from"] == "credit":
        await lock_enterprise(conn, row["enterprise"])
    row = await card(conn, c.card_no, lock=True)
    assert row is not None                                # noqa: S101 -- cards are closed, never deleted
    paid = await payment(conn, c.station, c.payment_no)   # read after the lock: a concurrent retry has committed
    if paid is not None:
        _same(paid, c)
        return await _answer(conn, paid)
    auth = None if c.auth_no is None else await authorisation(conn, c.auth_no, lock=True)
    if auth is None and c.auth_no is not None and c.offline:
        await _offline_authorisation(conn, row, c)
        auth = await authorisation(conn, c.auth_no)
    pays_from, flag = row["pays_from"], ""
    if c.auth_no is not None and (auth is None or (auth["card_no"], auth["station"]) != (c.card_no, c.station)):
        foreign = f"授权号 {c.auth_no} 不是本站此卡的授权 (the authorisation is not this card's here)"
        if not c.offline:
            raise FleetRefused(foreign)
        auth, flag = None, foreign                        # the sale happened: recorded without the link
    held = auth["reserved_fen"] if auth and auth["state"] == "reserved" and auth["expires_at"] > c.paid_at else 0
    room = await available_fen(conn, row, c.paid_at) + held
    if not c.offline:
        if auth is None and row["status"] != "active":
            raise FleetRefused("卡不可用（冻结、挂失或注销），请改用其他方式支付 (the card may not pay)")
        if c.amount_fen > room:
            what = "卡余额" if pays_from == "card" else "企业挂账额度"
            raise FleetRefused(f"{what}不足，可用 {max(room, 0) / 100:.2f} 元，请改用其他方式支付 "
                               f"(not enough {'balance' if pays_from == 'card' else 'credit'})")
    else:
        flag = flag or await _offline_flag(conn, row, c, room)
        if pays_from == "card" and await money_fen(conn, row) < c.amount_fen:
            pays_from = "credit"                          # the sale happened: the enterprise owes it
    cur = await conn.execute(
        """INSERT INTO business.fleet_payments (station, payment_no, auth_no, enterprise, card_no, pays_from,
                                                order_nos, plate, grade, litres_ml, amount_fen, offline, paid_at,
                                                flag)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (station, payment_no) DO NOTHING RETURNING 1""",   # the number used for another card at once
        (c.station, c.payment_no, auth and auth["auth_no"], row["enterprise"], c.card_no, pays_from, list(c.order_nos),
         c.plate or (auth["plate"] if auth else None) or row["plate"], c.grade, c.litres_ml, c.amount_fen,
         c.offline, c.paid_at, flag))
    if await cur.fetchone() is None:
        raise _used(c.payment_no)
    entry = fleet_payment_entry(c.station, c.payment_no, row["enterprise"],
                                c.card_no if pays_from == "card" else None, c.amount_fen, c.paid_at)
    try:
        await ledger.post_within_balance(conn, entry)
    except ledger.Overdrawn:
        raise FleetRefused("卡余额不足，请改用其他方式支付 (not enough balance)") from None
    if auth is not None and auth["state"] in ("reserved", "released"):
        await conn.execute("UPDATE business.fleet_authorisations SET state = 'captured', closed_at = %s "
                           "WHERE auth_no = %s", (c.paid_at, c.auth_no))
    if flag:
        log.warning("offline fleet sale %s/%s flagged: %s", c.station, c.payment_no, flag)
    await listed(conn, c.card_no, c.paid_at)
    paid = await payment(conn, c.station, c.payment_no)
    assert paid is not None                               # noqa: S101 -- written just above
    return await _answer(conn, paid)


async def refund(command: Refund, uow: UnitOfWork) -> dict[str, Any]:
    """Part or all of a fleet sale back where it came from (the card, or the enterprise's debt), once by its
    number and never more than is left: {state, refund_no, amount_fen, refunded_fen}."""
    conn = uow.conn
    paid = await payment(conn, command.station, command.payment_no, lock=True)
    if paid is None:
        raise FleetNotFound(f"{command.station}/{command.payment_no}")
    done = await (await conn.execute("SELECT payment_no, amount_fen FROM business.fleet_refunds "
                                     "WHERE station = %s AND refund_no = %s",
                                     (command.station, command.refund_no))).fetchone()
    if done is not None:
        if tuple(done) != (command.payment_no, command.amount_fen):
            raise FleetRefused(f"退款单号 {command.refund_no} 已用于另一笔退款 (that refund number is used)")
    else:
        left = paid["amount_fen"] - paid["refunded_fen"]
        if command.amount_fen > left:
            raise FleetRefused(f"退款金额超过可退金额 {left / 100:.2f} 元 (more than is left to refund)")
        await conn.execute("""INSERT INTO business.fleet_refunds (station, refund_no, payment_no, enterprise, card_no,
                                                                  amount_fen, refunded_at)
                              VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                           (command.station, command.refund_no, command.payment_no, paid["enterprise"],
                            paid["card_no"], command.amount_fen, command.at))
        await ledger.post(conn, fleet_refund_entry(command.station, command.refund_no, paid["enterprise"],
                                                   paid["card_no"] if paid["pays_from"] == "card" else None,
                                                   command.amount_fen, command.at))
        await listed(conn, paid["card_no"], command.at)
    refunded = await payment(conn, command.station, command.payment_no)
    assert refunded is not None                           # noqa: S101 -- locked above
    return {"state": "refunded", "refund_no": command.refund_no, "amount_fen": command.amount_fen,
            "refunded_fen": refunded["refunded_fen"]}


# ---- the stations' events ----------------------------------------------------------------------------------

async def payment_captured(event: CloudEvent, uow: UnitOfWork) -> None:
    """A fleet sale the station reports: nothing when it was captured online, else recorded now (offline), with
    the grade, litres and plate of its orders as head office's copy of them has them."""
    captured = PaymentCaptured.from_event(event)
    if captured.method is not Method.FLEET_CREDIT:
        return
    if captured.card_no is None or await card(uow.conn, captured.card_no) is None:
        log.warning("fleet sale %s/%s names no fleet card of ours: left in the station's clearing account",
                    captured.station, captured.payment_no)
        return
    if await payment(uow.conn, captured.station, captured.payment_no) is not None:
        return
    order_nos = tuple(a.order_no for a in captured.allocations)
    fuelled = [o for o in [await station_orders.one(uow.conn, captured.station, n) for n in order_nos] if o]
    grades = {o["grade"] for o in fuelled if o["grade"] is not None}
    plates = {o["plate"] for o in fuelled if o["plate"]}
    await capture(Capture(FleetCapture(
        station=captured.station, payment_no=captured.payment_no, auth_no=captured.auth_no,
        card_no=captured.card_no, amount_fen=captured.amount_fen, order_nos=order_nos,
        litres_ml=int(sum(o["volume_l"] or 0 for o in fuelled) * 1000),
        grade=grades.pop() if len(grades) == 1 else None, plate=plates.pop() if len(plates) == 1 else None,
        paid_at=captured.captured_at, offline=True)), uow)


async def payment_refunded(event: CloudEvent, uow: UnitOfWork) -> None:
    """A refund of a fleet sale at the station: back where the sale's money came from (once)."""
    refunded = PaymentRefunded.from_event(event)
    if refunded.method is not Method.FLEET_CREDIT:
        return
    if await payment(uow.conn, refunded.station, refunded.payment_no) is None:
        log.warning("fleet refund %s/%s names no fleet sale of ours: left in the station's clearing account",
                    refunded.station, refunded.refund_no)
        return
    try:
        await refund(Refund(refunded.station, refunded.payment_no, refunded.refund_no, refunded.amount_fen,
                            refunded.refunded_at), uow)
    except FleetRefused as why:
        log.warning("fleet refund %s/%s not applied: %s", refunded.station, refunded.refund_no, why.message)


EVENT_HANDLERS: dict[str, list[Handler]] = {
    PaymentCaptured.TYPE: [payment_captured],
    PaymentRefunded.TYPE: [payment_refunded],
}
COMMAND_HANDLERS: dict[type, Handler] = {Capture: capture, Refund: refund}
