"""The station's side of 每次确认 (docs/vision.md "Drive-through payment", docs/h5.md): asking head office what the
members answered.

``settle`` (each round of ``service.pay_forever``, before ``pay_due``): the station's awaiting orders, their
answers asked in one call over the station server's ``HeadOfficeLink`` (``GET /api/v1/stations/{station}/
drive-through/confirmations?ids=…``, the station's API key), each decided by ``model.settled``: confirmed → due
(``pay_due`` then pays it exactly as an unconfirmed member's order), declined or unanswered past the window →
the cashier with the reason. Head office unreachable, or answering anything but 200: every order waits, also
past its window (an answer may be there; nothing is lost: the order stays payable at the POS meanwhile). A
station with no head office set up can hear no answer: its awaiting orders go to the cashier when the window
closes.
"""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg

from business_services.drive_through import model, repository
from business_services.online_payments.station_client import HeadOfficeDown, HeadOfficeLink

log = logging.getLogger(__name__)


async def answers(link: HeadOfficeLink, station: str, recognition_ids: list[str]) -> dict[str, str] | None:
    """Head office's answer per recognition id (absent: it has not heard of it yet); None when it did not answer."""
    try:
        status, data = await link.call("GET", f"/api/v1/stations/{station}/drive-through/confirmations"
                                              f"?ids={','.join(recognition_ids)}")
    except HeadOfficeDown:
        return None
    if status != 200:
        log.warning("drive-through confirmations of %s: head office answered %s", station, status)
        return None
    return {str(item["recognition_id"]): str(item["state"]) for item in data.get("items", [])}


async def settle(conn: psycopg.AsyncConnection, link: HeadOfficeLink | None, station: str, now: datetime) -> int:
    """Decide what the answers allow; how many awaiting orders were settled. ``conn`` in autocommit."""
    waiting = await repository.awaiting(conn, station)
    if not waiting:
        return 0
    heard: dict[str, str] = {}
    if link is not None:
        found = await answers(link, station, [a.recognition_id for a in waiting])
        if found is None:
            return 0                                  # head office unreachable: they wait
        heard = found
    settled = 0
    for a in waiting:
        outcome = model.settled(heard.get(a.recognition_id), now, a.expires_at)
        if outcome is not None:
            settled += await repository.settle(conn, a.recognition_id, *outcome, now)
    return settled
