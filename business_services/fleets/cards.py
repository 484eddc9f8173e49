"""Fleet cards (车队卡) at head office (docs/fleets.md "Cards and numbers", "Cards and authorisation"): the card
number rule, a card's limits as ``limits.CardLimits``, the money it may spend now, and its entry on the member
list. The commands that issue and change cards are below the reading half.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from business_services.access.handlers import HASHER
from business_services.audit.model import AuditEntry
from business_services.cards.model import card_number, mask_card_no, mask_plate
from business_services.fleets.limits import CardLimits
from business_services.ledger import views as ledger
from business_services.ledger.model import card as card_account
from business_services.ledger.model import fleet_receivable
from business_services.member_list import repository as member_list
from business_services.members.model import MemberConflict
from business_services.messagebus import Handler
from business_services.unit_of_work import UnitOfWork
from business_services.vehicles import handlers as vehicles
from business_services.vehicles.model import JoinFleet
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
        available_fen=await available_fen(conn, row, at), drive_through=row["drive_through"]))


async def listed_enterprise(conn: psycopg.AsyncConnection, enterprise: str, at: datetime) -> int:
    """Every open card of the enterprise listed again (its status, name or credit changed: the enterprise
    context calls this in the same transaction); how many."""
    cur = await conn.execute("SELECT card_no FROM business.fleet_cards WHERE enterprise = %s AND status <> 'closed' "
                             "ORDER BY card_no", (enterprise,))
    card_nos = [card_no for (card_no,) in await cur.fetchall()]
    for card_no in card_nos:
        await listed(conn, card_no, at)
    return len(card_nos)


# ---- issuing and changing cards -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CardRules:
    """Every limit a card carries (docs/fleets.md "Cards and numbers"); None or empty: no such limit."""

    grades: tuple[int, ...] = ()
    stations: tuple[str, ...] = ()
    hours_from: int | None = None
    hours_to: int | None = None
    per_fill_fen: int | None = None
    litres_per_fill: int | None = None
    daily_fen: int | None = None
    weekly_fen: int | None = None
    monthly_fen: int | None = None
    fills_per_day: int | None = None
    fills_per_week: int | None = None
    fills_per_month: int | None = None
    offline_limit_fen: int = 0

    def __post_init__(self) -> None:
        if (self.hours_from is None) != (self.hours_to is None):
            raise FleetError("加油时段请同时填写开始和结束 (give both hours or neither)")
        if self.hours_from is not None and self.hours_to is not None and self.hours_from >= self.hours_to:
            raise FleetError("加油时段的结束应晚于开始 (the end hour must be after the start)")

    def columns(self) -> dict[str, Any]:
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in ((f, getattr(self, f)) for f in self.__slots__)}


@dataclass(frozen=True, slots=True)
class IssueFleetCard:
    enterprise: str
    holder: str                      # vehicle (names its plate) or driver
    pays_from: str                   # card (its own balance) or credit (the enterprise's line)
    rules: CardRules
    plate: str | None = None
    driver: str = ""
    pin: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class SetCardRules:
    card_no: str
    rules: CardRules
    driver: str | None = None        # None: unchanged
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class SetPin:
    card_no: str
    pin: str | None                  # None: the card asks no PIN any more
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class AllowDriveThrough:
    """车牌无感支付: the vehicle card pays by its recognised plate without the PIN (or no longer does)."""

    card_no: str
    allowed: bool
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class ChangeCardStatus:
    card_no: str
    action: str                      # one of ACTIONS
    reason: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


#: what each action does: the statuses it applies to, and the status after
ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "freeze": (frozenset({"active"}), "frozen"),
    "unfreeze": (frozenset({"frozen"}), "active"),
    "lost": (frozenset({"active", "frozen"}), "lost"),
    "close": (frozenset({"active", "frozen", "lost"}), "closed"),
}
STATUS_NAMES = {"active": "正常", "frozen": "冻结", "lost": "挂失", "closed": "注销"}
ACTION_NAMES = {"freeze": "冻结", "unfreeze": "解冻", "lost": "挂失", "close": "注销"}


def next_status(status: str, action: str) -> str:
    """The card's status after ``action``, or why not (``FleetRefused``)."""
    allowed, after = ACTIONS[action]
    if status not in allowed:
        raise FleetRefused(f"卡状态为{STATUS_NAMES[status]}，不能{ACTION_NAMES[action]} "
                           f"(a {status} card cannot be {after})")
    return after


def shown_card(row: dict[str, Any]) -> dict[str, Any]:
    """A card for the audit chain: its id, masked number and plate (never the PIN's hash)."""
    return {"id": row["id"], "card_no": mask_card_no(row["card_no"]),
            "plate": mask_plate(row["plate"]) if row["plate"] else None}


async def _enterprise(conn: psycopg.AsyncConnection, code: str) -> dict[str, Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM business.fleet_enterprises WHERE code = %s FOR UPDATE", (code,))
        row = await cur.fetchone()
    if row is None:
        raise FleetNotFound(code)
    return row


async def issue(c: IssueFleetCard, uow: UnitOfWork) -> dict[str, Any]:
    """A new card of the enterprise, numbered by its next serial; a vehicle card's plate joins the enterprise's
    whitelist. {card_no, id}."""
    conn = uow.conn
    enterprise = await _enterprise(conn, c.enterprise)
    if enterprise["review"] != "approved" or enterprise["status"] == "closed":
        raise FleetRefused("企业未审核通过或已注销，不能发卡 (the enterprise is not approved, or is closed)")
    if c.pays_from == "credit" and enterprise["settlement"] != "credit":
        raise FleetRefused("该企业不是挂账结算，车队卡只能用卡内余额 (the enterprise has no credit: the card pays "
                           "from its own balance)")
    if (c.holder == "vehicle") != (c.plate is not None):
        raise FleetError("车辆卡须填写车牌，司机卡不填车牌 (a vehicle card names its plate; a driver card none)")
    if c.plate is not None:
        if await card_of_plate(conn, c.plate) is not None:
            raise FleetRefused("该车牌已有未注销的车队卡 (the plate has an open fleet card)")
        try:
            await vehicles.join_fleet(JoinFleet(c.plate, enterprise["id"]), uow)
        except MemberConflict as clash:
            raise FleetRefused(clash.message) from None
    card_no = fleet_card_no(c.enterprise, enterprise["next_card_serial"])
    await conn.execute("UPDATE business.fleet_enterprises SET next_card_serial = next_card_serial + 1 "
                       "WHERE code = %s", (c.enterprise,))
    values = {"card_no": card_no, "enterprise": c.enterprise, "holder": c.holder, "plate": c.plate,
              "driver": c.driver, "pays_from": c.pays_from, "pin_hash": None if c.pin is None else HASHER.hash(c.pin),
              "issued_by": uow.actor.name, "issued_at": c.at, **c.rules.columns()}
    await conn.execute(f"INSERT INTO business.fleet_cards ({', '.join(values)}) "  # noqa: S608 (our own names)
                       f"VALUES ({', '.join(['%s'] * len(values))})", list(values.values()))
    row = await card(conn, card_no)
    assert row is not None                               # noqa: S101 -- written just above
    await uow.audit(AuditEntry("fleet.card.issue", f"fleet_card:{row['id']}", enterprise["maintaining_station"],
                               None, shown_card(row) | {"enterprise": c.enterprise, "holder": c.holder,
                                                        "pays_from": c.pays_from, "pin": c.pin is not None,
                                                        **c.rules.columns()}))
    await listed(conn, card_no, c.at)
    return {"card_no": card_no, "id": row["id"]}


async def _locked(conn: psycopg.AsyncConnection, card_no: str) -> dict[str, Any]:
    row = await card(conn, card_no)
    if row is None:
        raise FleetNotFound(card_no)
    if row["pays_from"] == "credit":                      # the same order as an authorisation: no deadlock
        await lock_enterprise(conn, row["enterprise"])
    locked = await card(conn, card_no, lock=True)
    assert locked is not None                            # noqa: S101 -- cards are closed, never deleted
    return locked


async def set_rules(c: SetCardRules, uow: UnitOfWork) -> dict[str, Any]:
    row = await _locked(uow.conn, c.card_no)
    if row["status"] == "closed":
        raise FleetRefused("卡已注销，不能修改 (the card is closed)")
    changes = c.rules.columns() | ({} if c.driver is None else {"driver": c.driver})
    before = {k: row[k] for k in changes}
    if before != changes:
        sets = ", ".join(f"{k} = %s" for k in changes)
        await uow.conn.execute(f"UPDATE business.fleet_cards SET {sets} WHERE card_no = %s",  # noqa: S608
                               [*changes.values(), c.card_no])
        await uow.audit(AuditEntry("fleet.card.limits", f"fleet_card:{row['id']}", row["maintaining_station"],
                                   before, changes))
        await listed(uow.conn, c.card_no, c.at)
    return {"card_no": c.card_no, "changed": before != changes}


async def set_pin(c: SetPin, uow: UnitOfWork) -> dict[str, Any]:
    """Set, reset or remove the PIN; the count of wrong PINs starts again (a locked PIN is unlocked)."""
    row = await _locked(uow.conn, c.card_no)
    if row["status"] == "closed":
        raise FleetRefused("卡已注销，不能设置密码 (the card is closed)")
    await uow.conn.execute("UPDATE business.fleet_cards SET pin_hash = %s, pin_failures = 0 WHERE card_no = %s",
                           (None if c.pin is None else HASHER.hash(c.pin), c.card_no))
    await uow.audit(AuditEntry("fleet.card.pin", f"fleet_card:{row['id']}", row["maintaining_station"],
                               {"pin": row["pin_hash"] is not None, "pin_failures": row["pin_failures"]},
                               {"pin": c.pin is not None, "pin_failures": 0}))
    await listed(uow.conn, c.card_no, c.at)
    return {"card_no": c.card_no, "pin": c.pin is not None}


async def allow_drive_through(c: AllowDriveThrough, uow: UnitOfWork) -> dict[str, Any]:
    """Let the vehicle card pay by its recognised plate (no PIN; every limit still holds), or stop it:
    {card_no, drive_through}. A driver card has no plate to recognise."""
    row = await _locked(uow.conn, c.card_no)
    if c.allowed and row["plate"] is None:
        raise FleetError("司机卡没有车牌，不能开通车牌无感支付 (a driver card has no plate to pay by)")
    if row["status"] == "closed":
        raise FleetRefused("卡已注销 (the card is closed)")
    await uow.conn.execute("UPDATE business.fleet_cards SET drive_through = %s WHERE card_no = %s",
                           (c.allowed, c.card_no))
    await uow.audit(AuditEntry("fleet.card.drive_through", f"fleet_card:{row['id']}", row["maintaining_station"],
                               {"drive_through": row["drive_through"]}, {"drive_through": c.allowed}))
    await listed(uow.conn, c.card_no, c.at)
    return {"card_no": c.card_no, "drive_through": c.allowed}


async def change_status(c: ChangeCardStatus, uow: UnitOfWork) -> dict[str, Any]:
    """Freeze, unfreeze, report lost or close; a card with money on it is closed only once it is taken back
    (划拨回收) to the enterprise. {card_no, status}."""
    row = await _locked(uow.conn, c.card_no)
    status = next_status(row["status"], c.action)
    if status == "closed" and row["pays_from"] == "card" and await money_fen(uow.conn, row) != 0:
        raise FleetRefused("卡内还有余额，请先划拨回企业再注销 (take the card's balance back to the enterprise "
                           "first)")
    await uow.conn.execute("UPDATE business.fleet_cards SET status = %s WHERE card_no = %s", (status, c.card_no))
    await uow.audit(AuditEntry(f"fleet.card.{c.action}", f"fleet_card:{row['id']}", row["maintaining_station"],
                               {"status": row["status"]}, {"status": status, "reason": c.reason}))
    await listed(uow.conn, c.card_no, c.at)
    return {"card_no": c.card_no, "status": status}


EVENT_HANDLERS: dict[str, list[Handler]] = {}
COMMAND_HANDLERS: dict[type, Handler] = {IssueFleetCard: issue, SetCardRules: set_rules, SetPin: set_pin,
                                         ChangeCardStatus: change_status,
                                         AllowDriveThrough: allow_drive_through}
