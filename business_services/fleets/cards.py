"""Fleet cards (车队卡) at head office (docs/fleets.md "Cards and numbers", "Cards and authorisation"): the card
number rule, a card's limits as ``limits.CardLimits``, the money it may spend now, and its entry on the member
list. The commands that issue and change cards are below the reading half.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.cards.model import card_number
from business_services.fleets.limits import CardLimits
from business_services.ledger import views as ledger
from business_services.ledger.model import card as card_account
from business_services.ledger.model import fleet_receivable
from business_services.member_list import repository as member_list
from telemetry.contracts.members import ListedFleetCard

#: fleet card numbers: this prefix, the enterprise's six digits, a five-digit serial, the Luhn digit (16 digits)
FLEET_PREFIX = "9100"
MAX_SERIAL = 99_999
#: wrong PINs in a row after which the card's PIN is locked until the fleet's manager resets it
PIN_TRIES = 5


class FleetError(Exception):
    """A request a rule refuses (422): the message says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class FleetRefused(FleetError):
    """Refused by the state of things (409): the message says why."""


class FleetNotFound(FleetError):
    """No such card, authorisation or payment (404)."""


def fleet_card_no(enterprise: str, serial: int) -> str:
    """The ``serial``-th card of ``enterprise`` (E + six digits): 9100, the six digits, five digits, Luhn."""
    if not 1 <= serial <= MAX_SERIAL:
        raise FleetError(f"企业 {enterprise} 的卡号已用完 (no card numbers left for {enterprise})")
    return card_number(FLEET_PREFIX + enterprise[1:], 16, serial)


# ---- reading ------------------------------------------------------------------------------------------------

_CARD = """SELECT c.*, e.name AS enterprise_name, e.status AS enterprise_status, e.review AS enterprise_review,
                  e.maintaining_station, e.credit_limit_fen
           FROM business.fleet_cards c JOIN business.fleet_enterprises e ON e.code = c.enterprise"""


async def card(conn: psycopg.AsyncConnection, card_no: str, *, lock: bool = False) -> dict[str, Any] | None:
    """The card with its enterprise's name, status, review, station and credit line; ``lock``: the card's row
    FOR UPDATE (its enterprise's is locked apart, by ``lock_enterprise``, first)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_CARD + " WHERE c.card_no = %s" + (" FOR UPDATE OF c" if lock else ""), (card_no,))
        return await cur.fetchone()


async def card_of_plate(conn: psycopg.AsyncConnection, plate: str) -> str | None:
    """The number of the plate's open vehicle card (one a plate), if any."""
    row = await (await conn.execute("SELECT card_no FROM business.fleet_cards WHERE plate = %s AND status <> 'closed'",
                                    (plate,))).fetchone()
    return None if row is None else str(row[0])


async def lock_enterprise(conn: psycopg.AsyncConnection, code: str) -> None:
    """The enterprise's row FOR UPDATE: what its credit cards spend is decided one at a time."""
    await conn.execute("SELECT 1 FROM business.fleet_enterprises WHERE code = %s FOR UPDATE", (code,))


def limits_of(row: dict[str, Any]) -> CardLimits:
    hours = None if row["hours_from"] is None else (row["hours_from"], row["hours_to"])
    return CardLimits(row["card_no"], row["enterprise"], row["status"], row["enterprise_status"], row["plate"],
                      tuple(row["grades"]), tuple(row["stations"]), hours, row["per_fill_fen"],
                      row["litres_per_fill"], row["daily_fen"], row["weekly_fen"], row["monthly_fen"],
                      row["fills_per_day"], row["fills_per_week"], row["fills_per_month"])


async def reserved_fen(conn: psycopg.AsyncConnection, row: dict[str, Any], at: datetime) -> int:
    """What open reservations hold back from the money ``row``'s card may spend: the card's own (it pays from its
    balance) or those of every credit card of its enterprise (they share the credit line). An expired one holds
    nothing, whether or not the release job has come by yet."""
    if row["pays_from"] == "card":
        sql = "a.card_no = %(card)s"
    else:
        sql = "a.enterprise = %(enterprise)s AND c.pays_from = 'credit'"
    cur = await conn.execute(f"""SELECT coalesce(sum(a.reserved_fen), 0)::bigint
                                 FROM business.fleet_authorisations a JOIN business.fleet_cards c USING (card_no)
                                 WHERE a.state = 'reserved' AND a.expires_at > %(at)s AND {sql}""",  # noqa: S608
                             {"card": row["card_no"], "enterprise": row["enterprise"], "at": at})
    ((fen,),) = await cur.fetchall()
    return int(fen)


async def money_fen(conn: psycopg.AsyncConnection, row: dict[str, Any]) -> int:
    """The card's balance, or its enterprise's remaining credit (credit line less debt), before reservations."""
    if row["pays_from"] == "card":
        return await ledger.balance(conn, card_account(row["card_no"]).code)
    return int(row["credit_limit_fen"]) - await ledger.balance(conn, fleet_receivable(row["enterprise"]).code)


async def available_fen(conn: psycopg.AsyncConnection, row: dict[str, Any], at: datetime) -> int:
    """What the card may spend at ``at``: ``money_fen`` less open reservations."""
    return await money_fen(conn, row) - await reserved_fen(conn, row, at)


async def listed(conn: psycopg.AsyncConnection, card_no: str, at: datetime) -> None:
    """The card on the member list as it is now (with the money it may spend), or off it once closed."""
    row = await card(conn, card_no)
    if row is None or row["status"] == "closed":
        await member_list.unlist(conn, "fleet_card", card_no)
        return
    limits = limits_of(row)
    await member_list.record(conn, ListedFleetCard(
        card_no=card_no, enterprise=row["enterprise"], enterprise_name=row["enterprise_name"],
        status=row["status"], enterprise_status=row["enterprise_status"], pays_from=row["pays_from"],
        plate=row["plate"], pin_hash=row["pin_hash"], grades=limits.grades, stations=limits.stations,
        hours=limits.hours, per_fill_fen=row["per_fill_fen"], litres_per_fill=row["litres_per_fill"],
        daily_fen=row["daily_fen"], weekly_fen=row["weekly_fen"], monthly_fen=row["monthly_fen"],
        fills_per_day=row["fills_per_day"], fills_per_week=row["fills_per_week"],
        fills_per_month=row["fills_per_month"], offline_limit_fen=row["offline_limit_fen"],
        available_fen=await available_fen(conn, row, at)))
