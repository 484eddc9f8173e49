"""Authorise a pump for a fleet card (docs/fleets.md "At the station").

``authorise``: number the ask and write it before anybody is asked; read the nozzle's grade and price; ask head
office (``POST /api/v1/fleet-authorisations``, ``FleetAsk``, Idempotency-Key ``fleet-auth:<auth_no>``) while it
answers, else decide alone from the member list (``decide_offline``, under the listed card's row lock). An
allowed preset is sent to the pump (``Pump``: ``command.authorize_nozzle`` by amount through the edge); a pump
that does not take it releases the reservation at once. A refused ask sends nothing to the pump.
``release``: a fuelling that never started gives its reservation back, here and at head office (told again by
``tell_releases`` when head office was unreachable; its own reservations also expire).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from business_services.fleets.limits import Ask, decide, periods
from business_services.online_payments.station_client import HeadOfficeDown, HeadOfficeLink
from business_services.station_fleets import repository
from business_services.station_fleets.model import (
    NEEDS_PIN,
    NO_OFFLINE,
    NO_PLATE_PAYMENT,
    UNKNOWN_CARD,
    WRONG_PIN,
    Authorisation,
    FleetRuleError,
    card_limits,
    nozzle,
    offline_available,
    usage,
)
from telemetry.contracts.fleets import FleetAnswer, FleetAsk

log = logging.getLogger(__name__)
_PINS = PasswordHash((Argon2Hasher(),))

#: authorise the pump: (device, fuelling point, nozzle, preset fen) → None when it took the preset, else why not
Pump = Callable[[str, int, int, int], Awaitable[str | None]]
#: take a pump's authorisation back: (device, fuelling point) → None when it did, else why not
StopPump = Callable[[str, int], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class FleetRequest:
    station: str
    nozzle: str
    card_no: str | None = None
    plate: str | None = None
    pin: str | None = None
    wanted_fen: int | None = None
    drive_through: bool = False      # 车牌无感支付: the recognised plate pays after the fuelling, no PIN (the card
                                     # must allow it)


async def authorise(conn: psycopg.AsyncConnection, link: HeadOfficeLink | None, pump: Pump,
                    request: FleetRequest, at: datetime | None = None) -> Authorisation:
    """The decided authorisation (``state`` reserved or refused). ``conn`` in autocommit."""
    if not request.card_no and not request.plate:
        raise FleetRuleError("请刷卡、输入卡号或车牌 (give the card's number or the plate)")
    at = at or datetime.now(UTC)
    n = nozzle(request.nozzle)
    async with conn.transaction():
        grade = await repository.nozzle_grade(conn, request.station, n)
        if grade is None:
            raise FleetRuleError(f"本站没有油枪 {n.key} (no such nozzle at this station)", 404)
        fen_per_l = await repository.price(conn, request.station, n, grade)
        if fen_per_l is None:
            raise FleetRuleError(f"油枪 {n.key} 还没有价格，请先下发油价 (the nozzle has no price yet)", 409)
        asked = await repository.add(conn, request.station, n, grade, fen_per_l, request.card_no, request.plate,
                                     request.wanted_fen, at)
    if link is not None and not link.down:
        await tell_releases(conn, link, request.station)      # what it missed while unreachable, first
    answer = await _ask_head_office(link, asked, request.pin, request.drive_through) \
        if link is not None and not link.down else None
    if answer is not None:
        await repository.decided(conn, asked.auth_no, "reserved" if answer.allowed else "refused", answer.preset_fen,
                                 answer.code, answer.reason, False, answer.card_no, answer.enterprise, answer.plate)
    else:
        await decide_offline(conn, asked, request.pin, request.drive_through)
    decided = await repository.found(conn, asked.auth_no)
    if decided.state == "reserved":
        why = await pump(decided.device, decided.fuelling_point, decided.nozzle, decided.preset_fen)
        if why is not None:
            await release(conn, link, decided.auth_no)
            await repository.pump_refused(conn, decided.auth_no,
                                          f"加油机未接受授权：{why} (the pump did not take the preset)")
            decided = await repository.found(conn, asked.auth_no)
    return decided


async def _ask_head_office(link: HeadOfficeLink, a: Authorisation, pin: str | None,
                           drive_through: bool = False) -> FleetAnswer | None:
    """Head office's answer; None when it cannot be reached (or failed): the station then decides alone."""
    ask = FleetAsk(auth_no=a.auth_no, station=a.station, card_no=a.card_no, plate=a.plate, pin=pin,
                   nozzle=a.nozzle_key, grade=a.grade, fen_per_l=a.fen_per_l, wanted_fen=a.wanted_fen, at=a.asked_at,
                   drive_through=drive_through)
    try:
        status, data = await link.call("POST", "/api/v1/fleet-authorisations", ask.model_dump(mode="json"),
                                       idempotency_key=f"fleet-auth:{a.auth_no}")
    except HeadOfficeDown:
        return None
    if status == 200:
        data.pop("_replayed", None)
        return FleetAnswer.model_validate(data)
    if status >= 500:
        log.warning("head office answered %s to fleet authorisation %s: deciding here", status, a.auth_no)
        return None
    why = str(data.get("detail") or f"总部拒绝授权 (head office answered {status})")
    return FleetAnswer(auth_no=a.auth_no, allowed=False, preset_fen=0, code="refused", reason=why[:200])


async def decide_offline(conn: psycopg.AsyncConnection, a: Authorisation, pin: str | None,
                         drive_through: bool = False) -> None:
    """Decide ``a`` alone from the listed card, under its row lock (two pumps wait for each other here).
    ``drive_through``: no PIN, if the card allows paying by its plate."""
    async with conn.transaction():
        found = await repository.fleet_card(conn, a.card_no, a.plate, lock=True)
        if found is None:
            await repository.decided(conn, a.auth_no, "refused", 0, "unknown", UNKNOWN_CARD, True, None, None, None)
            return
        card, listed_at = found
        refusal = (None if card.drive_through else ("drive_through", NO_PLATE_PAYMENT)) if drive_through \
            else _pin_refusal(card.pin_hash, pin)
        if refusal is None and card.offline_limit_fen == 0:
            refusal = ("offline", NO_OFFLINE)
        if refusal is not None:
            await repository.decided(conn, a.auth_no, "refused", 0, refusal[0], refusal[1], True, card.card_no,
                                     card.enterprise, card.plate)
            return
        day, week, month = periods(a.asked_at)
        held = await repository.held_of(conn, card.card_no, min(month, listed_at))
        ask = Ask(a.station, a.grade, a.fen_per_l, a.asked_at, a.plate, a.wanted_fen)
        decision = decide(card_limits(card), usage(held, day, week, month), ask,
                          offline_available(card, held, listed_at, day))
        await repository.decided(conn, a.auth_no, "reserved" if decision.allowed else "refused",
                                 decision.preset_fen, decision.code, decision.reason, True, card.card_no,
                                 card.enterprise, card.plate)


def _pin_refusal(pin_hash: str | None, pin: str | None) -> tuple[str, str] | None:
    if pin_hash is None:
        return None
    if not pin:
        return "pin", NEEDS_PIN
    return None if _PINS.verify(pin, pin_hash) else ("pin", WRONG_PIN)


async def release(conn: psycopg.AsyncConnection, link: HeadOfficeLink | None, auth_no: str,
                  stop: StopPump | None = None) -> bool:
    """Give a reservation back (the fuelling never started); False when it was no longer open. ``stop``: the pump's
    authorisation is taken back first, so nobody fuels on a released preset (a fuelling already flowing stops
    there, and its order is paid another way)."""
    found = await repository.get(conn, auth_no)
    if found is None:
        raise FleetRuleError(f"没有授权 {auth_no} (no such authorisation)", 404)
    if found.state == "reserved" and stop is not None:
        why = await stop(found.device, found.fuelling_point)
        if why is not None:
            log.warning("the pump kept authorisation %s's preset: %s", auth_no, why)
    if not await repository.released(conn, auth_no, told=False):
        return False
    if not found.offline:
        await _tell(conn, link, auth_no)
    return True


async def _tell(conn: psycopg.AsyncConnection, link: HeadOfficeLink | None, auth_no: str) -> None:
    if link is None or link.down:
        return
    try:
        status, _ = await link.call("POST", f"/api/v1/fleet-authorisations/{auth_no}/release", {},
                                    idempotency_key=f"fleet-release:{auth_no}")
    except HeadOfficeDown:
        return
    if status < 500:          # released, or head office no longer holds it (expired, captured): nothing to tell
        await repository.told(conn, auth_no)


async def tell_releases(conn: psycopg.AsyncConnection, link: HeadOfficeLink | None, station: str) -> int:
    """Tell head office the releases it missed while unreachable; how many are still untold."""
    for auth_no in await repository.untold(conn, station):
        await _tell(conn, link, auth_no)
    return len(await repository.untold(conn, station))

