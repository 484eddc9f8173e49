"""Authorisation before fuelling at head office (docs/fleets.md "Authorisation before fuelling", "Cards and
authorisation"): ask → decide → reserve; release; the expiry of unused reservations.

A station server asks (``Authorise``, ``FleetAsk``) with its own authorisation number. Under the card's row lock
(and, first, its enterprise's when the card spends the enterprise's credit, since every credit card of the
enterprise shares that line) head office reads what the card has used in the day, week and month (captured
sales and open reservations), the money it may spend (balance or remaining credit, less open reservations),
checks the PIN, and asks ``limits.decide``. The answer is written as one ``fleet_authorisations`` row, reserved
for the preset or refused with the reason, and a retried ask with the same number answers from that row. A
reservation ends when the sale is captured (``payments.py``), released by the station (the fuelling never
started), or expired (``release_expired``, a job; an expired reservation already holds nothing back).

PIN: a card with ``pin_hash`` needs the PIN; a wrong one is refused and counted, and after ``PIN_TRIES`` wrong
PINs in a row the card refuses every ask until its PIN is reset on the cards page (a right PIN clears the count).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.access.handlers import HASHER
from business_services.audit.model import AuditEntry
from business_services.fleets.cards import (
    PIN_TRIES,
    FleetNotFound,
    FleetRefused,
    available_fen,
    card,
    card_of_plate,
    limits_of,
    lock_enterprise,
)
from business_services.fleets.limits import Ask, Decision, Usage, decide, periods, refused
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork
from telemetry.contracts.fleets import FleetAnswer, FleetAsk

log = logging.getLogger(__name__)
#: an unused reservation is released this long after the ask (a fuelling and its payment take minutes)
RESERVATION_TTL = timedelta(minutes=30)
TASK, CRON = "release_expired_fleet_reservations", "* * * * *"


@dataclass(frozen=True, slots=True)
class Authorise:
    ask: FleetAsk


@dataclass(frozen=True, slots=True)
class Release:
    auth_no: str
    at: datetime


_USAGE = """WITH used AS (
                SELECT paid_at AS at, amount_fen AS fen FROM business.fleet_payments
                WHERE card_no = %(card)s AND paid_at >= %(since)s AND paid_at <= %(until)s
                UNION ALL
                SELECT asked_at, reserved_fen FROM business.fleet_authorisations
                WHERE card_no = %(card)s AND state = 'reserved' AND expires_at > %(until)s
                  AND asked_at >= %(since)s)
            SELECT coalesce(sum(fen) FILTER (WHERE at >= %(day)s), 0)::bigint,
                   coalesce(sum(fen) FILTER (WHERE at >= %(week)s), 0)::bigint,
                   coalesce(sum(fen) FILTER (WHERE at >= %(month)s), 0)::bigint,
                   count(*) FILTER (WHERE at >= %(day)s), count(*) FILTER (WHERE at >= %(week)s),
                   count(*) FILTER (WHERE at >= %(month)s)
            FROM used"""


async def usage(conn: psycopg.AsyncConnection, card_no: str, at: datetime) -> Usage:
    """What the card used in the local day, ISO week and month containing ``at``: captured sales (up to ``at``)
    and reservations still open at ``at``."""
    day, week, month = periods(at)
    cur = await conn.execute(_USAGE, {"card": card_no, "since": min(week, month), "until": at, "day": day,
                                      "week": week, "month": month})
    ((day_fen, week_fen, month_fen, day_fills, week_fills, month_fills),) = await cur.fetchall()
    return Usage(day_fen, week_fen, month_fen, day_fills, week_fills, month_fills)


async def authorisation(conn: psycopg.AsyncConnection, auth_no: str, *, lock: bool = False) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("""SELECT a.*, e.name AS enterprise_name FROM business.fleet_authorisations a
                             JOIN business.fleet_enterprises e ON e.code = a.enterprise
                             WHERE a.auth_no = %s""" + (" FOR UPDATE OF a" if lock else ""), (auth_no,))  # noqa: S608
        return await cur.fetchone()


def answer_of(row: dict[str, Any]) -> FleetAnswer:
    """The answer an authorisation row gave (and gives again to a retry)."""
    allowed = row["state"] != "refused"
    return FleetAnswer(auth_no=row["auth_no"], allowed=allowed, preset_fen=row["reserved_fen"], code=row["code"],
                       reason=row["reason"], card_no=row["card_no"], enterprise=row["enterprise"],
                       enterprise_name=row["enterprise_name"], plate=row["plate"],
                       expires_at=row["expires_at"] if allowed else None, offline=row["offline"])


def _same_ask(row: dict[str, Any], ask: FleetAsk) -> bool:
    return (row["station"], row["nozzle"]) == (ask.station, ask.nozzle) and ask.card_no in (None, row["card_no"])


def _plate_refusal(row: dict[str, Any]) -> Decision | None:
    """车牌无感支付 asks no PIN, so only a card whose enterprise allowed it pays so (every limit still holds)."""
    if row["drive_through"]:
        return None
    return refused("drive_through", "此车辆卡未开通车牌无感支付，请收银员收款 (the card does not pay by its plate: "
                                    "the cashier takes it)")


async def _pin_refusal(uow: UnitOfWork, row: dict[str, Any], pin: str | None) -> Decision | None:
    """None when the card asks no PIN or ``pin`` is right; else the refusal (a wrong PIN counted)."""
    if row["pin_hash"] is None:
        return None
    if row["pin_failures"] >= PIN_TRIES:
        return refused("pin_locked", "密码错误次数过多，卡已锁定，请车队管理员重置密码 (the PIN is locked: "
                                     "ask the fleet's manager to reset it)")
    if pin is None:
        return refused("pin", "此卡需要密码，请让司机输入密码 (the card needs its PIN)")
    if HASHER.verify(pin, row["pin_hash"]):
        if row["pin_failures"]:
            await uow.conn.execute("UPDATE business.fleet_cards SET pin_failures = 0 WHERE card_no = %s",
                                   (row["card_no"],))
        return None
    failures = row["pin_failures"] + 1
    await uow.conn.execute("UPDATE business.fleet_cards SET pin_failures = %s WHERE card_no = %s",
                           (failures, row["card_no"]))
    if failures >= PIN_TRIES:
        await uow.audit(AuditEntry("fleet.card.pin_locked", f"fleet_card:{row['id']}", row["maintaining_station"],
                                   {"pin_failures": failures - 1}, {"pin_failures": failures}))
        return refused("pin_locked", "密码错误次数过多，卡已锁定，请车队管理员重置密码 (the PIN is now locked)")
    return refused("pin", f"密码错误，还可再试 {PIN_TRIES - failures} 次 (wrong PIN)")


async def authorise(command: Authorise, uow: UnitOfWork) -> FleetAnswer:
    """The answer to ``command.ask``: a reserved preset or the reason why not; the same ask again, the same
    answer. A number that names another ask (another nozzle or card) is refused (``FleetRefused``)."""
    ask, conn = command.ask, uow.conn
    card_no = ask.card_no or (await card_of_plate(conn, ask.plate) if ask.plate else None)
    row = None if card_no is None else await card(conn, card_no)
    if row is None:
        done = await authorisation(conn, ask.auth_no)
        if done is not None:
            return _retried(done, ask)
        return FleetAnswer(auth_no=ask.auth_no, allowed=False, preset_fen=0, code="unknown_card",
                           reason="没有这张车队卡，请核对卡号或车牌 (no such fleet card: check the number or plate)",
                           plate=ask.plate)
    if row["pays_from"] == "credit":
        await lock_enterprise(conn, row["enterprise"])
    row = await card(conn, row["card_no"], lock=True)
    assert row is not None                               # noqa: S101 -- cards are closed, never deleted
    done = await authorisation(conn, ask.auth_no)        # read after the lock: a concurrent retry has committed
    if done is not None:
        return _retried(done, ask)
    decision = _plate_refusal(row) if ask.drive_through else await _pin_refusal(uow, row, ask.pin)
    if decision is None and row["enterprise_review"] != "approved":
        decision = refused("enterprise_status", "企业尚未审核通过，不能加油 (the enterprise is not approved yet)")
    if decision is None:
        decision = decide(limits_of(row), await usage(conn, row["card_no"], ask.at),
                          Ask(ask.station, ask.grade, ask.fen_per_l, ask.at, ask.plate, ask.wanted_fen),
                          await available_fen(conn, row, ask.at))
    await conn.execute(
        """INSERT INTO business.fleet_authorisations (auth_no, card_no, enterprise, station, nozzle, grade, plate,
                                                      state, reserved_fen, refusal, code, reason, asked_at,
                                                      expires_at)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (auth_no) DO NOTHING""",          # the same number asked for another card at once
        (ask.auth_no, row["card_no"], row["enterprise"], ask.station, ask.nozzle, ask.grade,
         ask.plate or row["plate"], "reserved" if decision.allowed else "refused", decision.preset_fen,
         None if decision.allowed else decision.reason, decision.code, decision.reason, ask.at,
         ask.at + RESERVATION_TTL))
    found = await authorisation(conn, ask.auth_no)
    assert found is not None                             # noqa: S101 -- written just above, or by the other
    return _retried(found, ask)


def _retried(done: dict[str, Any], ask: FleetAsk) -> FleetAnswer:
    if not _same_ask(done, ask):
        raise FleetRefused(f"授权号 {ask.auth_no} 已用于另一次授权，请重新发起 (that authorisation number is used)")
    return answer_of(done)


async def release(command: Release, uow: UnitOfWork) -> dict[str, Any]:
    """End a reservation that was not (or not wholly) used: {auth_no, state}. A captured, refused or released
    authorisation is left as it is (a retried release changes nothing)."""
    row = await authorisation(uow.conn, command.auth_no, lock=True)
    if row is None:
        raise FleetNotFound(command.auth_no)
    if row["state"] == "reserved":
        await uow.conn.execute("UPDATE business.fleet_authorisations SET state = 'released', closed_at = %s "
                               "WHERE auth_no = %s", (command.at, command.auth_no))
        return {"auth_no": command.auth_no, "state": "released", "released_fen": row["reserved_fen"]}
    return {"auth_no": command.auth_no, "state": row["state"], "released_fen": 0}


async def release_expired(conn: psycopg.AsyncConnection[Any], now: datetime) -> int:
    """Release every reservation past its ``expires_at`` (the job); how many."""
    cur = await conn.execute("""UPDATE business.fleet_authorisations SET state = 'released', closed_at = %s
                                WHERE state = 'reserved' AND expires_at <= %s""", (now, now))
    if cur.rowcount:
        log.info("released %d expired fleet reservations", cur.rowcount)
    return cur.rowcount


async def release_expired_now(conn: psycopg.AsyncConnection[Any]) -> int:
    """The job (business_services/jobs): every minute, so what an expired reservation held is free again on the
    member list's next reading as well as in decisions (which already ignore it)."""
    return await release_expired(conn, datetime.now(UTC))


EVENT_HANDLERS: dict[str, list[Handler]] = {}
COMMAND_HANDLERS: dict[type, Handler] = {Authorise: authorise, Release: release}
